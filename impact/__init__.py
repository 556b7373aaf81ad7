"""Impact analysis on a topology snapshot: blast radius, dependencies, single points of
failure, designed availability, and rendering; :mod:`impact.report` wraps them for a store."""

from impact.blast import Affected, BlastRadius, blast_radius

__all__ = ["Affected", "BlastRadius", "blast_radius"]
