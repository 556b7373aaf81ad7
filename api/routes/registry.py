"""The class and relationship registry, read-only: what a client may write and how impact
travels.

The answer is the registry the store was opened with (the built-in one merged with
``CMDB_REGISTRY``), so it is what this server validates writes against.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from api.deps import StoreDep
from api.policy import router as _router
from cmdb.enums import Propagation
from cmdb.registry import AttributeSpec, ClassSpec, RelTypeSpec

router = _router(tags=["registry"])


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True)


class AttributeInfo(_Wire):
    """One attribute of a class: its JSON type, whether a CI must or should have it, and its
    allowed values when they are a closed list."""

    type: str
    required: bool
    recommended: bool
    values: list[str] | None = None

    @classmethod
    def of(cls, spec: AttributeSpec) -> AttributeInfo:
        values = None if spec.values is None else list(spec.values)
        return cls(
            type=spec.type, required=spec.required, recommended=spec.recommended, values=values
        )


class ClassInfo(_Wire):
    """A CI class. ``group`` classes (clusters, pools) stand for redundancy groups whose
    members are joined by ``member_of``; ``availability`` is the class's default."""

    name: str
    category: str
    label: str
    group: bool
    availability: float | None
    alerts: bool
    required: list[str]
    recommended: list[str]
    attributes: dict[str, AttributeInfo]

    @classmethod
    def of(cls, spec: ClassSpec) -> ClassInfo:
        return cls(
            name=spec.name,
            category=spec.category,
            label=spec.label or spec.name,
            group=spec.group,
            availability=spec.availability,
            alerts=spec.alerts,
            required=list(spec.required),
            recommended=list(spec.recommended),
            attributes={n: AttributeInfo.of(a) for n, a in spec.attributes.items()},
        )


class ClassPair(_Wire):
    """A pair of ends a relationship type may join: a class, a category, or ``*``."""

    source: str
    target: str


class RelationshipTypeInfo(_Wire):
    """A relationship type: which way it carries impact (``to_source``: a failure of the
    target impacts the source), its inverse's name, and the ends it may join."""

    name: str
    propagation: Propagation
    inverse: str
    allowed: list[ClassPair]

    @classmethod
    def of(cls, spec: RelTypeSpec) -> RelationshipTypeInfo:
        return cls(
            name=spec.name,
            propagation=spec.propagation,
            inverse=spec.inverse,
            allowed=[ClassPair(source=s, target=t) for s, t in spec.allowed],
        )


@router.get(
    "/registry/classes",
    response_model=list[ClassInfo],
    summary="The CI classes, by name, with their attributes",
)
def list_classes(store: StoreDep) -> list[ClassInfo]:
    registry = store.registry
    return [ClassInfo.of(registry.classes[name]) for name in registry.class_names]


@router.get(
    "/registry/relationship-types",
    response_model=list[RelationshipTypeInfo],
    summary="The relationship types, by name, and how each propagates impact",
)
def list_relationship_types(store: StoreDep) -> list[RelationshipTypeInfo]:
    registry = store.registry
    return [RelationshipTypeInfo.of(registry.relationships[n]) for n in registry.rel_type_names]
