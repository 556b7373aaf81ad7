"""Discovery throughput: reconciling a 10k-object scan shaped like a Kubernetes manifest set,
first run and re-run, against a plain ``store.apply`` of the equivalent batch. Prints a
markdown table.

Run (from the repository root)::

    .venv/bin/python -m bench.bench_discovery --objects 10000

The scan is synthetic (no YAML parsing: that is the scanner's cost, not the reconciler's):
namespaces, each with Deployments (one ConfigMap and a Service each, and a dependency on another
namespace's Service), keyed, attributed and scoped the way ``discovery/kubernetes.py`` does
(``k8s:<ns>/<Kind>/<name>``, ``kind``/``namespace``/``name`` attributes, the namespace as parent,
one scope element per file).

- *reconcile, first run*: :func:`cmdb.reconcile.reconcile` into an empty store (identification
  in bulk, precedence, validation, the run record, one batch).
- *reconcile, re-run*: the same scan again: every CI and relationship is unchanged, only
  ``last_seen`` moves (and the stale check covers the scope).
- *baseline*: :meth:`GraphStore.apply` of the first run's batch into another empty store, then
  of the re-run's batch into that store: the cost of writing the same data without planning.

The ratio is reconcile time / baseline time in the same process.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cmdb.reconcile import plan, reconcile
from cmdb.registry import load_registry
from cmdb.scan import ScanResult, SeenCI, SeenRelationship
from cmdb.settings import Settings
from cmdb.store import open_store


def manifest_scan(objects: int, *, per_namespace: int = 100) -> ScanResult:
    """About ``objects`` sightings: per namespace one Namespace and, per Deployment, the
    Deployment, its Service and its ConfigMap."""
    cis: list[SeenCI] = []
    rels: list[SeenRelationship] = []
    files: list[str] = []
    namespaces = max(1, objects // (3 * per_namespace + 1))
    for n in range(namespaces):
        ns = f"ns{n:03d}"
        scope = f"file:/manifests/{ns}.yaml"
        files.append(scope)
        ns_key = f"k8s:Namespace/{ns}"
        cis.append(
            SeenCI(
                key=ns_key,
                ci_class="namespace",
                name=ns,
                scope=scope,
                attributes={"kind": "Namespace", "name": ns},
            )
        )
        for d in range(per_namespace):
            name = f"app{d:03d}"
            keys = {
                kind: f"k8s:{ns}/{kind}/{name}" for kind in ("Deployment", "Service", "ConfigMap")
            }
            for kind, cls in (
                ("Deployment", "application"),
                ("Service", "technical_service"),
                ("ConfigMap", "configuration"),
            ):
                cis.append(
                    SeenCI(
                        key=keys[kind],
                        ci_class=cls,
                        name=name,
                        parent=ns_key,
                        scope=scope,
                        origin=f"/manifests/{ns}.yaml:{d * 30 + 1}",
                        attributes={"kind": kind, "namespace": ns, "name": name, "replicas": 2}
                        if kind == "Deployment"
                        else {"kind": kind, "namespace": ns, "name": name},
                    )
                )
            rels.append(
                SeenRelationship(
                    source=keys["Deployment"], type="depends_on", target=keys["ConfigMap"]
                )
            )
            rels.append(
                SeenRelationship(source=keys["Deployment"], type="provides", target=keys["Service"])
            )
            if n:
                other = f"k8s:ns{n - 1:03d}/Service/app{d:03d}"
                rels.append(
                    SeenRelationship(source=keys["Deployment"], type="depends_on", target=other)
                )
    return ScanResult(source="kubernetes", scope=files, complete=True, cis=cis, relationships=rels)


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--objects", type=int, default=10_000)
    args = ap.parse_args()
    registry = load_registry()
    scan = manifest_scan(args.objects)
    n = len(scan.cis)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Settings(db=Path(tmp) / "r.db"), registry=registry, create=True)
        base = open_store(Settings(db=Path(tmp) / "b.db"), registry=registry, create=True)
        first, t_first = _timed(lambda: reconcile(store, scan))
        _, t_base_first = _timed(lambda: base.apply(first.plan.batch, actor="bench"))
        _, t_plan = _timed(lambda: plan(store, scan))
        again, t_again = _timed(lambda: reconcile(store, scan))
        _, t_base_again = _timed(lambda: base.apply(again.plan.batch, actor="bench"))
        assert again.plan.updates == () and again.plan.creates == ()
        store.close()
        base.close()
    rows = [
        ("reconcile, first run (creates)", t_first, t_base_first),
        ("reconcile, re-run (all unchanged)", t_again, t_base_again),
    ]
    print(
        f"{n:,} CIs and {len(scan.relationships):,} relationships "
        f"({len(scan.scope)} files); plan only (re-run): {t_plan:.2f} s\n"
    )
    print("| run | reconcile | CIs/s | baseline `store.apply` | CIs/s | ratio |")
    print("|---|---|---|---|---|---|")
    for label, t, tb in rows:
        print(
            f"| {label} | {t:.2f} s | {n / t:,.0f} | {tb:.2f} s | {n / tb:,.0f} | {t / tb:.2f}× |"
        )


if __name__ == "__main__":
    main()
