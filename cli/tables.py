"""Tables that several commands show: whom to call (the suppliers of an impact answer)."""

from __future__ import annotations

from typing import Any

from cli import output

__all__ = ["emit_suppliers"]


def few(ids: list[str], total: int, k: int = 3) -> str:
    return ", ".join(ids[:k]) + (f" +{total - k}" if total > k else "")


def emit_suppliers(suppliers: list[dict[str, Any]], *, title: str = "Whom to call") -> None:
    """The suppliers of an impact answer (its ``suppliers`` in JSON), as one table: who, how
    to reach them, for which CIs, under which contracts."""
    if not suppliers:
        return
    failing = any(s["failing"] for s in suppliers)
    rows = [
        {
            "supplier_id": s["id"] or "(none)",
            "contact": s["contact"] or "",
            "failing": ", ".join(s["failing"]),
            "supplies": few(list(s["cis"]), s["total"]),
            "contracts": ", ".join(c["id"] for c in s["contracts"]),
        }
        for s in suppliers
    ]
    output.emit_table(
        rows,
        ["supplier_id", "contact", *(["failing"] if failing else []), "supplies", "contracts"],
        title=title,
        caption="supplies: the CIs of this answer they supply (first few); contracts: their "
        "underpinning contracts covering them (--format json for targets)",
    )
