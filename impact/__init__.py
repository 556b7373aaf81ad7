"""Impact analysis on a topology snapshot: blast radius, dependencies, single points of
failure, designed availability and rendering. :mod:`impact.report` wraps them for a store, for
the CLI and the API to call in one line each."""

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
