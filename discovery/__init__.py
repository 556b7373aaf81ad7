"""Discovery scanners: each reads one kind of source and returns a :class:`~cmdb.scan.ScanResult`.

Assumptions: scanners never write to a store; :func:`cmdb.reconcile.reconcile` is the one
writer. Every scanner module has the same shape (get, then transform, then a result that says
whether the scan was complete): ``get_*`` reads the source and raises
:class:`~cmdb.errors.ImportFormatError` naming the file and line on failure, ``transform_*`` is
pure, and ``scan(paths, **options) -> ScanResult`` is the entry point registered in
:data:`SCANNERS`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cmdb.errors import ValidationError
from cmdb.scan import ScanResult
from discovery import backstage, compose, host, inventory, kubernetes, nmap, otel

__all__ = ["SCANNERS", "Scanner", "run_scanner"]

Scanner = Callable[..., ScanResult]
"""``scan(paths, **options) -> ScanResult``."""

SCANNERS: dict[str, Scanner] = {
    "inventory": inventory.scan,
    "kubernetes": kubernetes.scan,
    "compose": compose.scan,
    "backstage": backstage.scan,
    # runtime discovery (issue 18): what runs and talks, next to what the files declare
    "nmap": nmap.scan,
    "host": host.scan,
    "otel": otel.scan,
}
"""Scanner name (as in ``cmdb discover NAME``) -> its ``scan`` function."""


def run_scanner(name: str, paths: Sequence[str | Path], **options: Any) -> ScanResult:
    """Run scanner ``name`` on ``paths`` with the options that are not None; an option the
    scanner does not take is a :class:`~cmdb.errors.ValidationError`."""
    scanner = SCANNERS.get(name)
    if scanner is None:
        raise ValidationError(f"unknown scanner '{name}' (known: {', '.join(sorted(SCANNERS))})")
    given = {k: v for k, v in options.items() if v is not None}
    params = inspect.signature(scanner).parameters
    for key in given:
        if key not in params:
            raise ValidationError(f"the {name} scanner takes no --{key.replace('_', '-')}")
    return scanner(list(paths), **given)
