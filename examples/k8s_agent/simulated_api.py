"""A SIMULATED Kubernetes API server, for the demo and its tests. Not a cluster.

It speaks just enough of the Kubernetes REST API, on 127.0.0.1, for the
demo's tools to run through the official ``kubernetes`` Python client exactly
as they would against a real cluster:

- ``GET /api/v1/namespaces[/NAME]``
- ``GET|PATCH /apis/apps/v1/namespaces/NS/deployments/NAME`` and its
  ``/scale`` subresource, ``GET .../deployments`` (list)
- ``GET /api/v1/pods`` and ``GET /api/v1/namespaces/NS/pods`` (list; the
  ``fieldSelector`` ``spec.nodeName=N`` and equality ``labelSelector`` work),
  ``GET|DELETE .../pods/NAME``, ``GET .../pods/NAME/log``
- ``POST .../pods/NAME/eviction`` (the Eviction API a drain uses)
- ``GET /api/v1/nodes[/NAME]``, ``PATCH /api/v1/nodes/NAME``
- ``POST .../deployments``, ``DELETE .../deployments/NAME``
- what ``agent-safe inventory sync`` and the sidecar's live inventory read:
  the cluster-wide list of every kind they sync (namespaces, nodes,
  deployments, statefulsets, daemonsets, cronjobs, horizontalpodautoscalers,
  pods, configmaps, secrets, networkpolicies), with ``labelSelector``,
  ``limit``/``continue`` paging, metadata-only answers
  (``Accept: ...;as=PartialObjectMetadataList``) and ``watch=true`` from a
  ``resourceVersion`` (a stream of ADDED/MODIFIED/DELETED events)

Every request it receives is recorded (method, path, query, body) so that a
test can assert what reached "the cluster" and what did not. A tiny stand-in
for the controllers keeps the state plausible: a restarted or scaled
Deployment is immediately rolled out, a deleted or evicted pod of a
Deployment is replaced on another schedulable node. ``dryRun=All`` is
honoured: the request is validated and answered, nothing changes.

Nothing here authenticates or authorises anything; it binds to loopback only.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["RecordedRequest", "SimulatedCluster", "SimulatedKubeAPI"]

CREATED = "2026-01-05T09:00:00Z"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the simulated API server received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    content_type: str | None

    @property
    def mutating(self) -> bool:
        """True for requests that change state (everything but GET)."""
        return self.method not in ("GET", "HEAD")

    def __str__(self) -> str:
        q = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"{self.method} {self.path}{'?' + q if q else ''}"


def _suffix(*parts: str, n: int = 5) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    # Kubernetes' random suffixes avoid vowels; these are deterministic.
    table = "bcdfghjklmnpqrstvwxz2456789"
    return "".join(table[int(digest[i * 2 : i * 2 + 2], 16) % len(table)] for i in range(n))


def _status(code: int, reason: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
        **extra,
    }


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 JSON merge patch (for these maps, what a strategic merge does too)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


class _ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


@dataclass
class SimulatedCluster:
    """The state behind the simulated API server: a small two-environment estate.

    Mirrors the demo's inventory (``examples/k8s_agent/project/inventory.yaml``):
    namespaces ``staging`` and ``prod``, Deployments ``api``, ``web`` and
    ``worker`` in each, nodes ``staging-node-1``, ``prod-node-1`` and
    ``prod-node-2``, and a ``kube-proxy`` DaemonSet pod on every node.
    """

    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The other kinds the inventory sync reads, by resource name.
    others: dict[str, dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    resource_version: int = 1000
    # Every change, in order, for watches: (resourceVersion, resource, type, object).
    events: list[tuple[int, str, str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def demo(cls) -> SimulatedCluster:
        """Build the demo's estate."""
        c = cls()
        for ns in ("default", "kube-system", "staging", "prod"):
            c.namespaces[ns] = _namespace(ns)
        for node in ("staging-node-1", "prod-node-1", "prod-node-2"):
            c.nodes[node] = _node(node)
            c._add_pod(
                "kube-system",
                f"kube-proxy-{_suffix(node)}",
                node,
                app="kube-proxy",
                owner=("DaemonSet", "kube-proxy"),
            )
        layout = {
            "staging": {"api": 2, "web": 1, "worker": 1},
            "prod": {"api": 3, "web": 2, "worker": 2},
        }
        for ns, deployments in layout.items():
            node_pool = ["staging-node-1"] if ns == "staging" else ["prod-node-1", "prod-node-2"]
            for name, replicas in deployments.items():
                c.deployments[(ns, name)] = _deployment(ns, name, replicas)
                rs = f"{name}-{_suffix(ns, name, 'rs', n=9)}"
                for i in range(replicas):
                    c._add_pod(
                        ns,
                        f"{rs}-{_suffix(ns, name, str(i))}",
                        node_pool[i % len(node_pool)],
                        app=name,
                        owner=("ReplicaSet", rs),
                    )
        for resource, ns, name, extra in (
            ("statefulsets", "prod", "db", {}),
            ("daemonsets", "kube-system", "kube-proxy", {}),
            ("cronjobs", "staging", "nightly-report", {}),
            ("horizontalpodautoscalers", "prod", "api", {}),
            ("configmaps", "prod", "api-config", {"data": {"LOG_LEVEL": "info"}}),
            ("secrets", "prod", "api-credentials", {"data": {"password": "c2VjcmV0"}}),
            ("networkpolicies", "prod", "default-deny", {}),
        ):
            c.others.setdefault(resource, {})[(ns, name)] = _generic(resource, ns, name, **extra)
        return c

    def collection(self, resource: str) -> dict[tuple[str, str], dict[str, Any]]:
        """The objects of one resource, keyed by (namespace, name); ``""`` for cluster-scoped."""
        if resource == "namespaces":
            return {("", n): o for n, o in self.namespaces.items()}
        if resource == "nodes":
            return {("", n): o for n, o in self.nodes.items()}
        if resource == "deployments":
            return self.deployments
        if resource == "pods":
            return self.pods
        return self.others.setdefault(resource, {})

    def record(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        """Give ``obj`` a new resourceVersion and log the change for watches."""
        rv = self.bump()
        obj["metadata"]["resourceVersion"] = rv
        self.events.append((int(rv), resource, kind, copy.deepcopy(obj)))

    def add_configmaps(self, n: int, namespace: str = "bulk") -> None:
        """Add ``n`` ConfigMaps (and their namespace): a large estate for measuring."""
        if namespace not in self.namespaces:
            self.namespaces[namespace] = _namespace(namespace)
        cms = self.collection("configmaps")
        for i in range(n):
            name = f"cm-{i:06d}"
            cms[(namespace, name)] = _generic("configmaps", namespace, name, labels={"app": f"a{i % 50}"})

    # -- helpers used by the handler ---------------------------------------

    def bump(self) -> str:
        """Advance the resourceVersion and return it."""
        self.resource_version += 1
        return str(self.resource_version)

    def _add_pod(self, ns: str, name: str, node: str, *, app: str, owner: tuple[str, str]) -> None:
        self.pods[(ns, name)] = _pod(ns, name, node, app=app, owner=owner)

    def replace_pod(self, ns: str, name: str) -> None:
        """Remove a pod and, as its ReplicaSet controller would, start a replacement."""
        pod = self.pods.pop((ns, name))
        self.record("pods", "DELETED", pod)
        refs = pod["metadata"].get("ownerReferences") or []
        if not refs or refs[0]["kind"] != "ReplicaSet":
            return
        schedulable = [
            n
            for n, obj in sorted(self.nodes.items())
            if not obj["spec"].get("unschedulable")
            and n.split("-")[0] == pod["spec"]["nodeName"].split("-")[0]
            and n != pod["spec"]["nodeName"]
        ]
        if not schedulable:
            return  # pending forever, as on a real cluster with no room
        rs = refs[0]["name"]
        new_name = f"{rs}-{_suffix(name, 'replacement')}"
        self._add_pod(
            ns,
            new_name,
            schedulable[0],
            app=pod["metadata"]["labels"]["app"],
            owner=("ReplicaSet", rs),
        )
        self.record("pods", "ADDED", self.pods[(ns, new_name)])


def _namespace(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "uid": _uid("ns", ns),
            "creationTimestamp": CREATED,
            "labels": {"kubernetes.io/metadata.name": ns},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


# resource -> (apiVersion, kind, namespaced), for every kind the inventory sync reads.
RESOURCES: dict[str, tuple[str, str, bool]] = {
    "namespaces": ("v1", "Namespace", False),
    "nodes": ("v1", "Node", False),
    "pods": ("v1", "Pod", True),
    "configmaps": ("v1", "ConfigMap", True),
    "secrets": ("v1", "Secret", True),
    "deployments": ("apps/v1", "Deployment", True),
    "statefulsets": ("apps/v1", "StatefulSet", True),
    "daemonsets": ("apps/v1", "DaemonSet", True),
    "cronjobs": ("batch/v1", "CronJob", True),
    "horizontalpodautoscalers": ("autoscaling/v2", "HorizontalPodAutoscaler", True),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy", True),
}


def _generic(
    resource: str, ns: str, name: str, *, labels: dict[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    api_version, kind, _ = RESOURCES[resource]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": _uid(resource, ns, name),
            "resourceVersion": "1000",
            "creationTimestamp": CREATED,
            "labels": labels if labels is not None else {"app": name},
        },
        **body,
    }


def _collection_path(path: str) -> str | None:
    """The resource of a cluster-wide collection path the sync lists, else None."""
    m = re.fullmatch(r"/api/v1/([a-z]+)|/apis/([a-z0-9.]+)/(v[0-9]+)/([a-z]+)", path)
    if m is None:
        return None
    resource = m[1] or m[4]
    if resource not in RESOURCES:
        return None
    api_version = RESOURCES[resource][0]
    if m[1] is not None:
        return resource if api_version == "v1" else None
    return resource if api_version == f"{m[2]}/{m[3]}" else None


def _metadata_only(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": copy.deepcopy(obj["metadata"]),
    }


def _uid(*parts: str) -> str:
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "uid": _uid("node", name),
            "creationTimestamp": CREATED,
            "labels": {
                "kubernetes.io/hostname": name,
                "node.kubernetes.io/instance-type": "sim.large",
            },
        },
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status (simulated)",
                    "lastHeartbeatTime": CREATED,
                    "lastTransitionTime": CREATED,
                },
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": "sim",
                "containerRuntimeVersion": "containerd://2.1.0",
                "kernelVersion": "6.12.0",
                "kubeProxyVersion": "v1.34.0",
                "kubeletVersion": "v1.34.0",
                "machineID": "sim",
                "operatingSystem": "linux",
                "osImage": "Simulated Linux",
                "systemUUID": "sim",
            },
        },
    }


def _deployment(ns: str, name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": _uid("deploy", ns, name),
            "generation": 1,
            "resourceVersion": "1000",
            "creationTimestamp": CREATED,
            "labels": labels,
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": f"registry.example/{name}:1.4.2"}]},
            },
            "progressDeadlineSeconds": 600,
            "revisionHistoryLimit": 10,
        },
        "status": _rolled_out(replicas, 1),
    }


def _rolled_out(replicas: int, generation: int) -> dict[str, Any]:
    return {
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
                "lastUpdateTime": CREATED,
                "lastTransitionTime": CREATED,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": "ReplicaSet has successfully progressed.",
                "lastUpdateTime": CREATED,
                "lastTransitionTime": CREATED,
            },
        ],
    }


def _pod(ns: str, name: str, node: str, *, app: str, owner: tuple[str, str]) -> dict[str, Any]:
    kind, owner_name = owner
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": _uid("pod", ns, name),
            "creationTimestamp": CREATED,
            "labels": {"app": app},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": kind,
                    "name": owner_name,
                    "uid": _uid(kind, ns, owner_name),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": app, "image": f"registry.example/{app}:1.4.2"}],
            "terminationGracePeriodSeconds": 30,
        },
        "status": {
            "phase": "Running",
            "podIP": "10.244.0." + str(int(_suffix(name, n=2).encode().hex(), 16) % 250 + 2),
            "startTime": CREATED,
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": CREATED}],
            "containerStatuses": [
                {
                    "name": app,
                    "ready": True,
                    "restartCount": 0,
                    "started": True,
                    "image": f"registry.example/{app}:1.4.2",
                    "imageID": f"registry.example/{app}@sha256:sim",
                    "state": {"running": {"startedAt": CREATED}},
                }
            ],
        },
    }


def _list(kind: str, api_version: str, items: list[dict[str, Any]], rv: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"resourceVersion": rv},
        "items": items,
    }


def _label_selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class SimulatedKubeAPI:
    """The simulated API server, in a thread, on ``127.0.0.1`` (an ephemeral port by default).

    Use as a context manager, or ``start()``/``stop()``. ``url`` is its
    address; ``requests`` is everything received, in order.
    """

    def __init__(
        self,
        cluster: SimulatedCluster | None = None,
        *,
        port: int = 0,
        token: str | None = None,
        tls: tuple[str, str, str | None] | None = None,
    ) -> None:
        self.cluster = cluster or SimulatedCluster.demo()
        # When set, every request must carry ``Authorization: Bearer TOKEN`` (else 401).
        self.token = token
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        # Signalled at every change, for watches.
        self._changed = threading.Condition(self._lock)
        self._accept = ""
        self._stopping = False
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "agent-safe-simulated-kube-apiserver/0"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the demo prints what matters itself

            def _serve(self) -> None:
                api._handle(self)

            do_GET = do_PATCH = do_POST = do_DELETE = do_PUT = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        # tls = (certificate, key, client CA or None): serve HTTPS, and with a
        # client CA require a client certificate it signed.
        self._scheme = "http"
        if tls is not None:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            if tls[2] is not None:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(tls[2])
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    def start(self) -> SimulatedKubeAPI:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="simulated-kube-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stopping = True
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatedKubeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def received(self, since: int = 0) -> list[RecordedRequest]:
        """Return the requests received, from index ``since`` on."""
        with self._lock:
            return list(self.requests[since:])

    def kubeconfig(self) -> dict[str, Any]:
        """Return a kubeconfig (as a dict) whose only context points at this server."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "simulated", "cluster": {"server": self.url}}],
            "users": [{"name": "demo-agent", "user": {"token": "simulated-cluster-token"}}],
            "contexts": [
                {"name": "simulated", "context": {"cluster": "simulated", "user": "demo-agent"}}
            ],
            "current-context": "simulated",
        }

    def write_kubeconfig(self, path: str) -> str:
        """Write :meth:`kubeconfig` to ``path`` (JSON is valid YAML); return the path."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.kubeconfig(), f, indent=2)
        return path

    # -- request handling ----------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        content_type = h.headers.get("Content-Type")
        if self.token is not None and h.headers.get("Authorization") != f"Bearer {self.token}":
            data = json.dumps(_status(401, "Unauthorized", "Unauthorized")).encode()
            h.send_response(401)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
            return
        if h.command == "GET" and query.get("watch") in ("true", "1"):
            resource = _collection_path(parts.path)
            with self._lock:
                self.requests.append(
                    RecordedRequest(h.command, parts.path, query, None, content_type)
                )
            if resource is not None:
                self._watch(h, resource, query)
                return
        with self._lock:
            self.requests.append(RecordedRequest(h.command, parts.path, query, body, content_type))
            self._accept = h.headers.get("Accept") or ""
            try:
                code, payload = self._route(h.command, parts.path, query, body, content_type)
            except _ApiError as e:
                code, payload = e.code, _status(e.code, e.reason, e.message)
            self._changed.notify_all()
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        h.send_response(code)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _route(
        self, method: str, path: str, q: dict[str, str], body: Any, ctype: str | None
    ) -> tuple[int, Any]:
        c = self.cluster
        dry = q.get("dryRun") == "All"
        if "dryRun" in q and not dry:
            raise _ApiError(400, "BadRequest", f"unsupported dry run directive `{q['dryRun']}`")

        accept = self._accept
        metadata_only = "as=PartialObjectMetadataList" in accept
        resource = _collection_path(path)
        if method == "GET" and resource is not None and (
            metadata_only or resource not in ("namespaces", "nodes", "pods")
        ):
            return 200, self._list_all(resource, q, metadata_only)
        if method == "GET" and path == "/api/v1/namespaces":
            return 200, _list("NamespaceList", "v1", list(c.namespaces.values()), c.bump())
        if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)", path):
            if method != "GET":
                raise _method(method, path)
            return 200, self._namespace(m[1])

        # -- deployments
        if method == "POST" and (
            m := re.fullmatch(r"/apis/apps/v1/namespaces/([^/]+)/deployments", path)
        ):
            self._namespace(m[1])
            if not isinstance(body, dict) or not (body.get("metadata") or {}).get("name"):
                raise _ApiError(400, "BadRequest", "a Deployment needs metadata.name")
            name = body["metadata"]["name"]
            if (m[1], name) in c.deployments:
                raise _ApiError(409, "AlreadyExists", f'deployments.apps "{name}" already exists')
            replicas = int((body.get("spec") or {}).get("replicas", 1))
            dep = _deployment(m[1], name, replicas)
            dep["metadata"]["labels"] = (body.get("metadata") or {}).get("labels") or {}
            if not dry:
                c.deployments[(m[1], name)] = dep
                c.record("deployments", "ADDED", dep)
            return 201, dep
        if method == "DELETE" and (
            m := re.fullmatch(r"/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+)", path)
        ):
            dep = c.deployments.get((m[1], m[2]))
            if dep is None:
                raise _ApiError(404, "NotFound", f'deployments.apps "{m[2]}" not found')
            if not dry:
                del c.deployments[(m[1], m[2])]
                c.record("deployments", "DELETED", dep)
            return 200, _status(200, "", "deleted", details={"name": m[2]})
        if m := re.fullmatch(r"/apis/apps/v1/namespaces/([^/]+)/deployments", path):
            self._namespace(m[1])
            items = [d for (ns, _), d in sorted(c.deployments.items()) if ns == m[1]]
            return 200, _list("DeploymentList", "apps/v1", items, c.bump())
        if m := re.fullmatch(
            r"/apis/apps/v1/namespaces/([^/]+)/deployments/([^/]+)(/scale)?", path
        ):
            ns, name, scale = m[1], m[2], bool(m[3])
            dep = c.deployments.get((ns, name))
            if dep is None:
                raise _ApiError(404, "NotFound", f'deployments.apps "{name}" not found')
            if method == "GET":
                return 200, (_scale(dep) if scale else dep)
            if method != "PATCH":
                raise _method(method, path)
            patch = _object_patch(body, ctype)
            new = copy.deepcopy(dep)
            if scale:
                replicas = (patch.get("spec") or {}).get("replicas")
                if not isinstance(replicas, int) or replicas < 0:
                    raise _ApiError(
                        422, "Invalid", "Scale.spec.replicas: Invalid value: must be >= 0"
                    )
                new["spec"]["replicas"] = replicas
            else:
                _merge(new, patch)
            if new["spec"] != dep["spec"]:
                new["metadata"]["generation"] += 1
                if new["spec"]["template"] != dep["spec"]["template"]:
                    rev = (
                        int(new["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) + 1
                    )
                    new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(rev)
            # The simulated deployment controller finishes every rollout at once.
            new["status"] = _rolled_out(new["spec"]["replicas"], new["metadata"]["generation"])
            if not dry:
                c.deployments[(ns, name)] = new
                c.record("deployments", "MODIFIED", new)
            return 200, (_scale(new) if scale else new)

        # -- pods
        if path == "/api/v1/pods" or re.fullmatch(r"/api/v1/namespaces/[^/]+/pods", path):
            if method != "GET":
                raise _method(method, path)
            ns_filter = path.split("/")[4] if path.startswith("/api/v1/namespaces/") else None
            if ns_filter is not None:
                self._namespace(ns_filter)
            items = []
            for (ns, _), pod in sorted(c.pods.items()):
                if ns_filter is not None and ns != ns_filter:
                    continue
                fs = q.get("fieldSelector", "")
                if (
                    fs.startswith("spec.nodeName=")
                    and pod["spec"]["nodeName"] != fs.split("=", 1)[1]
                ):
                    continue
                if not _label_selector_matches(
                    q.get("labelSelector", ""), pod["metadata"]["labels"]
                ):
                    continue
                items.append(pod)
            if "limit" in q:
                items = items[: int(q["limit"])]
            return 200, _list("PodList", "v1", items, c.bump())
        if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)(/log|/eviction)?", path):
            ns, name, sub = m[1], m[2], m[3]
            pod = c.pods.get((ns, name))
            if pod is None:
                raise _ApiError(404, "NotFound", f'pods "{name}" not found')
            if sub == "/log":
                if method != "GET":
                    raise _method(method, path)
                return 200, _log(pod, q)
            if sub == "/eviction":
                if method != "POST":
                    raise _method(method, path)
                if not isinstance(body, dict) or body.get("kind") != "Eviction":
                    raise _ApiError(
                        400, "BadRequest", "the body of an eviction must be an Eviction"
                    )
                if not dry:
                    c.replace_pod(ns, name)
                    c.bump()
                # What a real API server answers to an accepted eviction.
                return 201, {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "code": 201,
                }
            if method == "GET":
                return 200, pod
            if method == "DELETE":
                gone = copy.deepcopy(pod)
                gone["metadata"]["deletionTimestamp"] = datetime.now(timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                )
                if not dry:
                    c.replace_pod(ns, name)
                    c.bump()
                return 200, gone
            raise _method(method, path)

        # -- nodes
        if path == "/api/v1/nodes":
            if method != "GET":
                raise _method(method, path)
            return 200, _list("NodeList", "v1", [c.nodes[n] for n in sorted(c.nodes)], c.bump())
        if m := re.fullmatch(r"/api/v1/nodes/([^/]+)", path):
            node = c.nodes.get(m[1])
            if node is None:
                raise _ApiError(404, "NotFound", f'nodes "{m[1]}" not found')
            if method == "GET":
                return 200, node
            if method != "PATCH":
                raise _method(method, path)
            new = copy.deepcopy(node)
            _merge(new, _object_patch(body, ctype))
            if not dry:
                c.nodes[m[1]] = new
                c.record("nodes", "MODIFIED", new)
            return 200, new

        raise _ApiError(404, "NotFound", f"the simulated API server does not serve {method} {path}")

    def change(self, fn: Any) -> Any:
        """Run ``fn(cluster)`` under the server's lock and wake the watches."""
        with self._changed:
            result = fn(self.cluster)
            self._changed.notify_all()
            return result

    def _list_all(self, resource: str, q: dict[str, str], metadata_only: bool) -> dict[str, Any]:
        c = self.cluster
        api_version, kind, _ = RESOURCES[resource]
        items = [
            o
            for _, o in sorted(c.collection(resource).items())
            if _label_selector_matches(q.get("labelSelector", ""), o["metadata"].get("labels") or {})
        ]
        start = int(q.get("continue") or 0)
        limit = int(q["limit"]) if q.get("limit") else len(items)
        page = items[start : start + limit]
        more = start + limit < len(items)
        rv = str(c.resource_version)
        if metadata_only:
            out = _list("PartialObjectMetadataList", "meta.k8s.io/v1", [_metadata_only(o) for o in page], rv)
        else:
            out = _list(f"{kind}List", api_version, page, rv)
        if more:
            out["metadata"]["continue"] = str(start + limit)
        return out

    def _watch(self, h: BaseHTTPRequestHandler, resource: str, q: dict[str, str]) -> None:
        """Stream the changes of ``resource`` after ``resourceVersion``, one JSON line each."""
        import time

        since = int(q.get("resourceVersion") or 0)
        deadline = time.monotonic() + min(int(q.get("timeoutSeconds") or 60), 600)
        metadata_only = "as=PartialObjectMetadata" in (h.headers.get("Accept") or "")
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        try:
            while True:
                with self._changed:
                    pending = [e for e in self.cluster.events if e[0] > since and e[1] == resource]
                    if not pending:
                        left = deadline - time.monotonic()
                        if left <= 0 or self._stopping:
                            break
                        self._changed.wait(timeout=min(left, 0.5))
                        continue
                for rv, _, kind, obj in pending:
                    since = rv
                    shown = _metadata_only(obj) if metadata_only else obj
                    line = json.dumps({"type": kind, "object": shown}).encode() + b"\n"
                    h.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                h.wfile.flush()
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _namespace(self, name: str) -> dict[str, Any]:
        ns = self.cluster.namespaces.get(name)
        if ns is None:
            raise _ApiError(404, "NotFound", f'namespaces "{name}" not found')
        return ns


def _method(method: str, path: str) -> _ApiError:
    return _ApiError(
        405, "MethodNotAllowed", f"{method} is not supported on {path} (simulated API server)"
    )


def _object_patch(body: Any, ctype: str | None) -> dict[str, Any]:
    kinds = ("application/merge-patch+json", "application/strategic-merge-patch+json")
    if ctype not in kinds:
        raise _ApiError(
            415,
            "UnsupportedMediaType",
            f"the simulated API server accepts merge and strategic merge patches, not `{ctype}`",
        )
    if not isinstance(body, dict):
        raise _ApiError(400, "BadRequest", "a merge patch must be a JSON object")
    return body


def _scale(dep: dict[str, Any]) -> dict[str, Any]:
    md = dep["metadata"]
    return {
        "apiVersion": "autoscaling/v1",
        "kind": "Scale",
        "metadata": {
            "name": md["name"],
            "namespace": md["namespace"],
            "uid": md["uid"],
            "resourceVersion": md["resourceVersion"],
            "creationTimestamp": CREATED,
        },
        "spec": {"replicas": dep["spec"]["replicas"]},
        "status": {"replicas": dep["status"]["replicas"], "selector": f"app={md['name']}"},
    }


def _log(pod: dict[str, Any], q: dict[str, str]) -> str:
    name = pod["metadata"]["name"]
    lines = [
        f"2026-01-05T09:00:{i:02d}Z INFO [{name}] simulated log line {i}: "
        f"request served in {5 + i % 7}ms"
        for i in range(40)
    ]
    tail = int(q.get("tailLines", len(lines)))
    return "\n".join(lines[-tail:]) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin closes: ``python3 simulated_api.py [--port N] [--configmaps N]``.

    Prints ``http://127.0.0.1:PORT`` on the first line of stdout once it is
    listening. Commands on stdin change the cluster (one per line):
    ``delete-deployment NS NAME``, ``create-deployment NS NAME``.
    """
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--configmaps", type=int, default=0, help="add N ConfigMaps in namespace `bulk`")
    ap.add_argument("--token", default=None, help="require `Authorization: Bearer TOKEN`")
    ap.add_argument("--tls-cert", default=None, help="serve HTTPS with this certificate ...")
    ap.add_argument("--tls-key", default=None, help="... and this key")
    ap.add_argument("--client-ca", default=None, help="require client certificates signed by this CA")
    args = ap.parse_args(argv)
    cluster = SimulatedCluster.demo()
    if args.configmaps:
        cluster.add_configmaps(args.configmaps)
    tls = (args.tls_cert, args.tls_key, args.client_ca) if args.tls_cert else None
    api = SimulatedKubeAPI(cluster, port=args.port, token=args.token, tls=tls).start()
    print(api.url, flush=True)
    for line in sys.stdin:
        words = line.split()
        if len(words) == 3 and words[0] == "delete-deployment":
            ns, name = words[1], words[2]

            def delete(c: SimulatedCluster, ns: str = ns, name: str = name) -> None:
                dep = c.deployments.pop((ns, name))
                c.record("deployments", "DELETED", dep)

            api.change(delete)
        elif len(words) == 3 and words[0] == "create-deployment":
            ns, name = words[1], words[2]

            def create(c: SimulatedCluster, ns: str = ns, name: str = name) -> None:
                dep = _deployment(ns, name, 1)
                c.deployments[(ns, name)] = dep
                c.record("deployments", "ADDED", dep)

            api.change(create)
        print("ok", flush=True)
    api.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
