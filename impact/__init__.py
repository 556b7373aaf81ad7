"""Impact analysis on a topology snapshot: blast radius, dependencies, single points of
failure, designed availability and rendering. :mod:`impact.report` wraps them for a store, for
the CLI and the API to call in one line each, and returns the typed, frozen results of
:mod:`impact.results`.

Analysis only: nothing here writes to a store or reads a file. The writes that need an analysis
first (opening incidents and problems, recording changes) are the workflows of
:mod:`cmdb.workflows`, and configuration such as change-risk weights comes in as data."""

from impact.availability import Availability, designed_availability
from impact.blast import Affected, BlastRadius, blast_radius
from impact.depends import Dependencies, Dependency, depends_on
from impact.render import to_dot, to_mermaid
from impact.spof import SinglePoint, single_points_of_failure

__all__ = [
    "Affected",
    "Availability",
    "BlastRadius",
    "Dependencies",
    "Dependency",
    "SinglePoint",
    "blast_radius",
    "depends_on",
    "designed_availability",
    "single_points_of_failure",
    "to_dot",
    "to_mermaid",
]
