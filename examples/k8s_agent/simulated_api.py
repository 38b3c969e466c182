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
    resource_version: int = 1000

    @classmethod
    def demo(cls) -> SimulatedCluster:
        """Build the demo's estate."""
        c = cls()
        for ns in ("default", "kube-system", "staging", "prod"):
            c.namespaces[ns] = {
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
        return c

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

    def __init__(self, cluster: SimulatedCluster | None = None, *, port: int = 0) -> None:
        self.cluster = cluster or SimulatedCluster.demo()
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
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
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SimulatedKubeAPI:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="simulated-kube-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
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
        with self._lock:
            self.requests.append(RecordedRequest(h.command, parts.path, query, body, content_type))
            try:
                code, payload = self._route(h.command, parts.path, query, body, content_type)
            except _ApiError as e:
                code, payload = e.code, _status(e.code, e.reason, e.message)
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

        if method == "GET" and path == "/api/v1/namespaces":
            return 200, _list("NamespaceList", "v1", list(c.namespaces.values()), c.bump())
        if m := re.fullmatch(r"/api/v1/namespaces/([^/]+)", path):
            if method != "GET":
                raise _method(method, path)
            return 200, self._namespace(m[1])

        # -- deployments
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
                new["metadata"]["resourceVersion"] = c.bump()
                c.deployments[(ns, name)] = new
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
                new["metadata"]["resourceVersion"] = c.bump()
                c.nodes[m[1]] = new
            return 200, new

        raise _ApiError(404, "NotFound", f"the simulated API server does not serve {method} {path}")

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
