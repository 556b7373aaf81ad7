"""The ``kubernetes`` scanner: manifests and ``kubectl get -o yaml`` dumps.

Assumptions:

- Input is YAML files (or directories of them): multi-document, and ``List`` kinds
  (``kind: List`` or ``DeploymentList``...) whose ``items`` are objects. An object without
  ``metadata.namespace`` is in the ``namespace`` option (``default``).
- CIs: Namespaces (``namespace``); Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,
  CronJobs and bare Pods (``application_instance``, or what the first classifiable container
  image says: ``redis`` is a ``database_instance``, ``nginx`` a ``load_balancer``); Services
  (``technical_service``, with the DNS names ``svc``, ``svc.ns``, ``svc.ns.svc`` and
  ``svc.ns.svc.<cluster domain>`` as hostnames); Ingresses (``load_balancer``, their rule hosts
  as hostnames); ConfigMaps and Secrets (``configuration``, by name: a Secret's values are
  never read into the result). Objects that a controller owns (``ownerReferences`` with
  ``controller: true``: a Deployment's ReplicaSets and Pods in a dump) fold into their owner.
- Identity: ``metadata.uid`` when present (``k8s_uids``), and always ``kind``, ``namespace``,
  ``name`` attributes and the namespace as ``parent``.
- Relationships: every object is ``part_of`` its namespace (no impact). A Service
  ``depends_on`` the workloads whose pod-template labels its selector matches (never by name);
  an Ingress ``depends_on`` its backend Services; a workload ``depends_on`` the ConfigMaps and
  Secrets it reads. Env values, args and command, and the ConfigMap data that ``envFrom`` or
  ``configMapKeyRef`` bring in, are searched for references (:func:`discovery._common.find_refs`):
  ``svc``, ``svc.ns`` (when ``ns`` is a namespace of the input) and ``svc.ns.svc[.domain]``,
  with or without port or scheme. A reference to a Service is a ``depends_on`` to the workloads
  behind it (to the Service itself when its selector matches none); a URL whose host is an
  Ingress rule host is a ``depends_on`` that Ingress; a workload never depends on itself. A
  reference to a Service, ConfigMap, Secret or host that the input does not describe is an
  ``unresolved`` CI, never dropped. Bare words count only when they name a Service.

>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "app.yaml"
>>> _ = p.write_text('''
... apiVersion: apps/v1
... kind: Deployment
... metadata: {name: cart, namespace: shop}
... spec:
...   template:
...     metadata: {labels: {app: cart}}
...     spec:
...       containers: [{name: c, image: cart:1, env: [{name: R, value: "redis:6379"}]}]
... ''')
>>> r = scan([p])
>>> [(c.key, c.unresolved) for c in r.cis]  # doctest: +NORMALIZE_WHITESPACE
[('k8s:Namespace/shop', True), ('k8s:shop/Deployment/cart', False),
 ('k8s:shop/Service/redis', True)]
>>> [(x.source, x.type, x.target) for x in r.relationships][1]
('k8s:shop/Deployment/cart', 'depends_on', 'k8s:shop/Service/redis')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from cmdb.errors import ImportFormatError, ValidationError
from cmdb.model import Identifiers, utcnow
from cmdb.scan import ScanResult, SeenCI
from discovery._common import (
    Collector,
    Doc,
    classify_image,
    engine_of_scheme,
    expand_paths,
    file_scope,
    find_refs,
    item_lines,
    load_yaml,
    located,
    scoped_by_file,
)

__all__ = ["get_objects", "scan", "transform_objects"]

SOURCE = "kubernetes"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
KINDS = ("Namespace", *WORKLOADS, "Service", "Ingress", "ConfigMap", "Secret")


def get_objects(
    paths: Iterable[str | Path], *, strict: bool = True
) -> tuple[list[Doc], list[str], list[str]]:
    """Read every file: ``(objects, errors, files read)``. ``List`` kinds are unpacked into
    their items, each with its own line. A file that cannot be read or parsed raises
    :class:`ImportFormatError` (with ``strict=False`` it is an error in the result instead).
    A file whose documents are not Kubernetes objects raises too when no file has any."""
    objects: list[Doc] = []
    errors: list[str] = []
    files: list[str] = []
    empty: list[str] = []
    for path in expand_paths(paths):
        try:
            docs = load_yaml(path)
        except ImportFormatError as exc:
            if strict:
                raise
            errors.append(str(exc))
            continue
        files.append(str(path))
        found = [o for d in docs for o in _unpack(d)]
        objects.extend(found)
        if not found:
            empty.append(str(path))
    if empty and not objects and not errors:
        raise ImportFormatError(
            f"{', '.join(empty)}: no Kubernetes objects (documents with "
            "apiVersion, kind and metadata) in it"
        )
    return objects, errors, files


def _unpack(doc: Doc) -> list[Doc]:
    data = doc.data
    if not (isinstance(data, dict) and "kind" in data and "apiVersion" in data):
        return []
    if str(data["kind"]).endswith("List") and isinstance(data.get("items"), list):
        lines = item_lines(doc.node, "items") or [doc.line] * len(data["items"])
        return [
            Doc(item, doc.path, line)
            for item, line in zip(data["items"], lines, strict=False)
            if isinstance(item, dict)
        ]
    return [doc]


def _template(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    if kind == "Pod":
        return obj
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return obj["spec"]["template"]


def _containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(pod_spec.get("initContainers") or []), *pod_spec["containers"]]


class _Index:
    """The objects of the input by (namespace, kind, name), and what Services select."""

    def __init__(
        self, objs: list[tuple[str, str | None, str, dict[str, Any], str]], cluster_domain: str
    ):
        self.objs = {(ns, kind, name): obj for kind, ns, name, obj, _ in objs}
        self.namespaces = {ns for _, ns, _, _, _ in objs if ns} | {
            name for kind, _, name, _, _ in objs if kind == "Namespace"
        }
        self.domain = cluster_domain
        self.ingress_hosts = {
            str(rule["host"]).lower(): _key(ns, kind, name)
            for kind, ns, name, obj, _ in objs
            if kind == "Ingress"
            for rule in (obj.get("spec") or {}).get("rules") or []
            if isinstance(rule, dict) and rule.get("host")
        }
        # (namespace, label, value) -> keys of the workloads whose pod template has it, in order
        self.labelled: dict[tuple[str | None, str, str], dict[str, None]] = {}
        for kind, ns, name, obj, origin in objs:
            if kind in WORKLOADS:
                with located(origin):
                    labels = (_template(kind, obj).get("metadata") or {}).get("labels") or {}
                    for k, v in labels.items():
                        self.labelled.setdefault((ns, str(k), str(v)), {})[_key(ns, kind, name)] = (
                            None
                        )

    def selected(self, ns: str, selector: dict[str, Any]) -> list[str]:
        """Keys of the workloads in ``ns`` whose pod-template labels match ``selector``."""
        if not selector:
            return []
        sets = sorted(
            (self.labelled.get((ns, str(k), str(v)), {}) for k, v in selector.items()), key=len
        )
        return [key for key in sets[0] if all(key in s for s in sets[1:])]

    def service_of(self, host: str, ns: str) -> tuple[str, str, bool] | None:
        """``(namespace, name, certain)`` of the Service a host names, or None (not a cluster
        name). ``certain`` is False for a bare ``a.b`` whose ``b`` is a namespace."""
        parts = host.split(".")
        tail = ("svc", *self.domain.split("."))
        if len(parts) >= 3 and tuple(parts[2:]) in (tail[:1], tail):
            return parts[1], parts[0], True
        if len(parts) == 2 and parts[1] in self.namespaces:
            return parts[1], parts[0], False
        if len(parts) == 1:
            return ns, parts[0], False
        return None


def _key(ns: str | None, kind: str, name: str) -> str:
    return f"k8s:Namespace/{name}" if kind == "Namespace" else f"k8s:{ns}/{kind}/{name}"


def _hostnames(ns: str, name: str, domain: str) -> list[str]:
    return [name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{domain}"]


def transform_objects(
    objects: Sequence[Doc], *, namespace: str = "default", cluster_domain: str = "cluster.local"
) -> Collector:
    """The CIs and relationships that the objects describe (pure; see the module docstring).
    A missing required field raises a :class:`~cmdb.errors.ValidationError` at the object's
    line."""
    out = Collector()
    objs: list[tuple[str, str | None, str, dict[str, Any], str]] = []
    ignored: dict[str, int] = {}
    folded = 0
    for doc in objects:
        with located(doc.origin):
            obj = doc.data
            kind, meta = str(obj["kind"]), obj["metadata"]
            if kind not in KINDS:
                ignored[kind] = ignored.get(kind, 0) + 1
                continue
            if any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
                folded += 1
                continue
            ns = None if kind == "Namespace" else meta.get("namespace") or namespace
            objs.append((kind, ns, str(meta["name"]), obj, doc.origin))
    index = _Index(objs, cluster_domain)
    first: dict[str | None, str] = {}
    for _, ns, _, _, origin in objs:
        first.setdefault(ns, origin)
    for ns in sorted(index.namespaces):
        out.placeholder(
            _key(None, "Namespace", ns),
            "namespace",
            ns,
            origin=first.get(ns),
            attributes={"kind": "Namespace", "name": ns},
        )
    for kind, ns, name, obj, origin in objs:
        with located(origin):
            _describe(out, index, kind, ns, name, obj, origin)
    for kind, ns, name, obj, origin in objs:
        with located(origin):
            _connect(out, index, kind, ns, name, obj, origin)
    if ignored:
        kinds = ", ".join(f"{k} ({n})" for k, n in sorted(ignored.items()))
        out.warn(f"ignored objects of kinds this scanner does not model: {kinds}")
    if folded:
        out.warn(
            f"folded {folded} objects that a controller owns (ReplicaSets, Pods) into their owners"
        )
    return out


def _describe(
    out: Collector,
    index: _Index,
    kind: str,
    ns: str | None,
    name: str,
    obj: dict[str, Any],
    origin: str,
) -> None:
    key = _key(ns, kind, name)
    if key in out.cis and not out.cis[key].unresolved:
        out.warn(f"{key} is defined twice; the first definition ({out.cis[key].origin}) is kept")
        return
    meta = obj["metadata"]
    attrs: dict[str, Any] = {"kind": kind, "name": name}
    if ns:
        attrs["namespace"] = ns
    ids: dict[str, Any] = {"k8s_uids": [meta["uid"]] if meta.get("uid") else []}
    ci_class = "application_instance"
    if kind == "Namespace":
        ci_class = "namespace"
    elif kind in WORKLOADS:
        containers = _containers(_template(kind, obj)["spec"])
        images = [c["image"] for c in containers if c.get("image")]
        attrs["images"] = images
        ports = [p["containerPort"] for c in containers for p in c.get("ports") or []]
        if ports and isinstance(ports[0], int):
            attrs["port"] = ports[0]
        if "replicas" in (obj.get("spec") or {}):
            attrs["replicas"] = obj["spec"]["replicas"]
        for image in images:
            if (found := classify_image(image)) is not None:
                ci_class, extra = found
                attrs.update(extra)
                break
    elif kind == "Service":
        assert ns is not None
        ci_class = "technical_service"
        spec = obj.get("spec") or {}
        attrs.update(
            type=spec.get("type", "ClusterIP"),
            selector=spec.get("selector") or {},
            ports=[p["port"] for p in spec.get("ports") or []],
        )
        ids["hostnames"] = _hostnames(ns, name, index.domain)
    elif kind == "Ingress":
        ci_class = "load_balancer"
        rules = (obj.get("spec") or {}).get("rules") or []
        ids["hostnames"] = [r["host"] for r in rules if r.get("host")]
    else:  # ConfigMap, Secret: names (and a ConfigMap's keys), never a Secret's values
        ci_class = "configuration"
        if kind == "ConfigMap":
            attrs["keys"] = sorted(obj.get("data") or {})
    out.add(
        SeenCI(
            key=key,
            ci_class=ci_class,
            name=name,
            identifiers=Identifiers(**ids),
            attributes=attrs,
            parent=_key(None, "Namespace", ns) if ns else None,
            origin=origin,
        )
    )


def _connect(
    out: Collector,
    index: _Index,
    kind: str,
    ns: str | None,
    name: str,
    obj: dict[str, Any],
    origin: str,
) -> None:
    key = _key(ns, kind, name)
    if ns is None:
        return
    out.rel(key, "part_of", _key(None, "Namespace", ns), origin)
    spec = obj.get("spec") or {}
    if kind == "Service":
        for target in index.selected(ns, spec.get("selector") or {}):
            out.rel(key, "depends_on", target, origin, via="selector")
        if spec.get("externalName"):
            _depend(out, index, key, ns, spec["externalName"], None, None, origin, "externalName")
    elif kind == "Ingress":
        for svc in _ingress_backends(spec):
            target = _service(out, index, ns, svc, origin)
            out.rel(key, "depends_on", target, origin, via="backend")
    elif kind in WORKLOADS:
        for container in _containers(_template(kind, obj)["spec"]):
            _container_refs(out, index, key, ns, container, origin)
        for cfg_kind, cfg_name in _volume_configs(_template(kind, obj)["spec"]):
            out.rel(
                key,
                "depends_on",
                _config(out, ns, cfg_kind, cfg_name, origin),
                origin,
                via="volume",
            )


def _ingress_backends(spec: dict[str, Any]) -> list[str]:
    backends = [spec.get("defaultBackend") or spec.get("backend") or {}]
    for rule in spec.get("rules") or []:
        backends.extend(p["backend"] for p in (rule.get("http") or {}).get("paths") or [])
    names = [(b.get("service") or {}).get("name") or b.get("serviceName") for b in backends]
    return list(dict.fromkeys(n for n in names if n))


def _volume_configs(pod_spec: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for vol in pod_spec.get("volumes") or []:
        sources = [vol, *((vol.get("projected") or {}).get("sources") or [])]
        for src in sources:
            if (src.get("configMap") or {}).get("name"):
                out.append(("ConfigMap", src["configMap"]["name"]))
            if (src.get("secret") or {}).get("secretName") or (src.get("secret") or {}).get("name"):
                out.append(("Secret", src["secret"].get("secretName") or src["secret"]["name"]))
    return out


def _config(out: Collector, ns: str, kind: str, name: str, origin: str) -> str:
    return out.placeholder(
        _key(ns, kind, name),
        "configuration",
        name,
        origin=origin,
        parent=_key(None, "Namespace", ns),
        attributes={"kind": kind, "namespace": ns, "name": name},
    )


def _container_refs(
    out: Collector, index: _Index, key: str, ns: str, container: dict[str, Any], origin: str
) -> None:
    texts: list[tuple[str, str]] = []  # (where, text)
    for env in container.get("env") or []:
        if env.get("value") is not None:
            texts.append((f"env {env['name']}", str(env["value"])))
        ref = env.get("valueFrom") or {}
        for ref_kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
            if field in ref:
                cfg = ref[field]
                target = _config(out, ns, ref_kind, cfg["name"], origin)
                out.rel(key, "depends_on", target, origin, via=f"env {env['name']}")
                data = (index.objs.get((ns, ref_kind, cfg["name"])) or {}).get("data") or {}
                if ref_kind == "ConfigMap" and cfg["key"] in data:
                    texts.append(
                        (f"configmap {cfg['name']} key {cfg['key']}", str(data[cfg["key"]]))
                    )
    for src in container.get("envFrom") or []:
        for ref_kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if field in src:
                name = src[field]["name"]
                out.rel(
                    key,
                    "depends_on",
                    _config(out, ns, ref_kind, name, origin),
                    origin,
                    via="envFrom",
                )
                data = (index.objs.get((ns, ref_kind, name)) or {}).get("data") or {}
                if ref_kind == "ConfigMap":
                    texts.extend((f"configmap {name} key {k}", str(v)) for k, v in data.items())
    for field in ("command", "args"):
        texts.extend((field, str(arg)) for arg in container.get(field) or [])

    def known(word: str) -> bool:
        svc = index.service_of(word, ns)
        return svc is not None and (svc[2] or (svc[0], "Service", svc[1]) in index.objs)

    for where, text in texts:
        for ref in find_refs(text, known):
            _depend(out, index, key, ns, ref.host, ref.port, ref.scheme, origin, where)


def _service(out: Collector, index: _Index, ns: str, name: str, origin: str) -> str:
    key = _key(ns, "Service", name)
    if (ns, "Service", name) in index.objs:
        return key
    return out.placeholder(
        key,
        "technical_service",
        name,
        parent=_key(None, "Namespace", ns),
        origin=origin,
        identifiers=Identifiers(hostnames=_hostnames(ns, name, index.domain)),
        attributes={"kind": "Service", "namespace": ns, "name": name},
    )


def _depend(
    out: Collector,
    index: _Index,
    key: str,
    ns: str,
    host: str,
    port: int | None,
    scheme: str | None,
    origin: str,
    where: str,
) -> None:
    attrs: dict[str, Any] = {"via": where}
    if port:
        attrs["port"] = port
    svc = index.service_of(host, ns)
    if svc is not None:
        svc_ns, svc_name, _ = svc
        target = _service(out, index, svc_ns, svc_name, origin)
        obj = index.objs.get((svc_ns, "Service", svc_name))
        behind = index.selected(svc_ns, ((obj or {}).get("spec") or {}).get("selector") or {})
        for t in behind or [target]:
            out.rel(key, "depends_on", t, origin, **attrs)
        return
    if host in index.ingress_hosts:  # a public name of the input's own Ingress
        out.rel(key, "depends_on", index.ingress_hosts[host], origin, **attrs)
        return
    engine = engine_of_scheme(scheme)
    is_ip = host.replace(".", "").isdigit()
    ids = Identifiers(ips=[host]) if is_ip else Identifiers(hostnames=[host])
    target = out.placeholder(
        f"k8s:host/{host}",
        "database_instance" if engine else "technical_service",
        host,
        identifiers=ids,
        origin=origin,
        attributes={"engine": engine} if engine else {},
    )
    out.rel(key, "depends_on", target, origin, **attrs)


def scan(
    paths: Iterable[str | Path],
    *,
    namespace: str = "default",
    cluster_domain: str = "cluster.local",
    scope_by: str = "file",
    strict: bool = True,
) -> ScanResult:
    """Read Kubernetes YAML files and return what they describe (see the module docstring).

    ``namespace`` is where objects without one live. ``scope_by`` says what a complete run
    covers, for stale marking: ``"file"`` (each CI falls under the file it was read from, or
    that first referred to it) or ``"namespace"`` (each CI falls under its namespace: right for
    a ``kubectl get -A -o yaml`` dump of whole namespaces, wrong for a few manifests).
    ``strict=False`` reports unreadable files as errors of an incomplete result instead of
    raising.
    """
    if scope_by not in ("file", "namespace"):
        raise ValidationError(f"scope_by must be 'file' or 'namespace', not {scope_by!r}")
    started = utcnow()
    objects, errors, files = get_objects(paths, strict=strict)
    out = transform_objects(objects, namespace=namespace, cluster_domain=cluster_domain)
    if not any(not c.unresolved for c in out.cis.values()) and not errors:
        raise ImportFormatError(
            f"{', '.join(files)}: no Kubernetes objects this scanner reads "
            f"({', '.join(KINDS)}); {'; '.join(out.warnings) or 'nothing found'}"
        )
    namespaces = sorted(
        {
            str(c.attributes["namespace"])
            for c in out.cis.values()
            if not c.unresolved and "namespace" in c.attributes
        }
    )
    scope = [file_scope(f) for f in files] + [f"namespace:{ns}" for ns in namespaces]
    if scope_by == "file":
        cis = scoped_by_file(out.cis.values())
    else:
        cis = [
            c.model_copy(update={"scope": f"namespace:{_namespace_of(c)}"})
            if _namespace_of(c) in namespaces
            else c
            for c in out.cis.values()
        ]
    return ScanResult(
        source=SOURCE,
        scope=scope,
        complete=not errors,
        started_at=started,
        cis=cis,
        relationships=list(out.rels.values()),
        errors=errors,
        warnings=out.warnings,
    ).finished()


def _namespace_of(ci: SeenCI) -> str | None:
    if ci.attributes.get("kind") == "Namespace":
        return str(ci.attributes["name"])
    ns = ci.attributes.get("namespace")
    return None if ns is None else str(ns)
