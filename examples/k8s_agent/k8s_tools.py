"""The demo agent's tools: Kubernetes operations through the official ``kubernetes`` client.

One tool per catalogue action, named after it (``restart_deployment`` is the
action ``restart-deployment``) and taking the action's parameters under the
same names, so agent-safe's naming convention maps each call to its action
with no configuration. Each tool sends what ``kubectl`` would send; against the
simulated API server or a real cluster alike. They never ask agent-safe
anything themselves: the middleware does, before they run.

``dry_run=True`` adds the server-side ``dryRun=All`` to every change: the API
server validates and answers, and persists nothing (a safe first run against a
real cluster).
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from langchain_core.tools import BaseTool, tool

__all__ = ["make_tools"]

_TIMEOUT = 15  # seconds, per API request


def _seconds(duration: str | None) -> int | None:
    """``"30s"``, ``"10m"``, ``"1h"`` → seconds (the catalogue's duration syntax)."""
    if not duration:
        return None
    m = re.fullmatch(r"([1-9][0-9]*)([smh])", duration)
    if not m:
        raise ValueError(f"not a duration: {duration!r} (use e.g. 30s, 10m, 1h)")
    return int(m[1]) * {"s": 1, "m": 60, "h": 3600}[m[2]]


def _api_error(what: str, e: ApiException) -> str:
    try:
        message = json.loads(e.body or "{}").get("message") or e.reason
    except ValueError:
        message = e.reason
    return f"error: {what} failed: HTTP {e.status}: {message}"


def make_tools(api: client.ApiClient, *, dry_run: bool = False) -> list[BaseTool]:
    """Build the demo's tools, bound to one Kubernetes API client."""
    apps = client.AppsV1Api(api)
    core = client.CoreV1Api(api)
    dry = "All" if dry_run else None
    note = " (server-side dry run: nothing was changed)" if dry_run else ""

    @tool
    def restart_deployment(namespace: str, deployment: str, reason: str | None = None) -> str:
        """Restart a Deployment, rolling, like `kubectl rollout restart deployment`.

        Replaces every pod according to the Deployment's rollout strategy.
        """
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body: dict[str, Any] = {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}
                }
            }
        }
        if reason:
            body["metadata"] = {"annotations": {"kubernetes.io/change-cause": reason}}
        try:
            dep = apps.patch_namespaced_deployment(
                deployment, namespace, body, dry_run=dry, _request_timeout=_TIMEOUT
            )
        except ApiException as e:
            return _api_error(f"restarting deployment {namespace}/{deployment}", e)
        rev = (dep.metadata.annotations or {}).get("deployment.kubernetes.io/revision", "?")
        return (
            f"deployment {namespace}/{deployment} restarted{note}: generation "
            f"{dep.metadata.generation}, revision {rev}, restartedAt {now}"
        )

    @tool
    def scale_deployment(
        namespace: str, deployment: str, replicas: int, reason: str | None = None
    ) -> str:
        """Set the replica count of a Deployment, like `kubectl scale deployment --replicas`."""
        try:
            before = apps.read_namespaced_deployment_scale(
                deployment, namespace, _request_timeout=_TIMEOUT
            )
            after = apps.patch_namespaced_deployment_scale(
                deployment,
                namespace,
                {"spec": {"replicas": replicas}},
                dry_run=dry,
                _request_timeout=_TIMEOUT,
            )
        except ApiException as e:
            return _api_error(f"scaling deployment {namespace}/{deployment}", e)
        return (
            f"deployment {namespace}/{deployment} scaled from {before.spec.replicas} "
            f"to {after.spec.replicas} replicas{note}"
        )

    @tool
    def rollout_status(namespace: str, deployment: str, timeout: str = "5m") -> str:
        """Wait for a Deployment's rollout to finish, like `kubectl rollout status`."""
        deadline = time.monotonic() + (_seconds(timeout) or 300)
        while True:
            try:
                dep = apps.read_namespaced_deployment(
                    deployment, namespace, _request_timeout=_TIMEOUT
                )
            except ApiException as e:
                return _api_error(f"reading deployment {namespace}/{deployment}", e)
            spec, st = dep.spec.replicas or 0, dep.status
            if (st.observed_generation or 0) < (dep.metadata.generation or 0):
                state = "waiting for the deployment spec update to be observed"
            elif (st.updated_replicas or 0) < spec:
                state = f"{st.updated_replicas or 0} of {spec} updated replicas are available"
            elif (st.replicas or 0) > (st.updated_replicas or 0):
                old = (st.replicas or 0) - (st.updated_replicas or 0)
                state = f"{old} old replicas are pending termination"
            elif (st.available_replicas or 0) < (st.updated_replicas or 0):
                state = (
                    f"{st.available_replicas or 0} of {st.updated_replicas} updated replicas "
                    "are available"
                )
            else:
                return (
                    f'deployment "{deployment}" successfully rolled out ({spec}/{spec} available)'
                )
            if time.monotonic() >= deadline:
                return (
                    f"error: timed out waiting for the rollout of {namespace}/{deployment}: {state}"
                )
            time.sleep(1)

    @tool
    def list_pods(namespace: str, label_selector: str | None = None, limit: int = 500) -> str:
        """List the pods of a namespace with phase, readiness, restarts and node."""
        try:
            core.read_namespace(namespace, _request_timeout=_TIMEOUT)
            pods = core.list_namespaced_pod(
                namespace, label_selector=label_selector, limit=limit, _request_timeout=_TIMEOUT
            )
        except ApiException as e:
            return _api_error(f"listing pods in {namespace}", e)
        rows = []
        for p in pods.items:
            cs = p.status.container_statuses or []
            ready = sum(1 for c in cs if c.ready)
            restarts = sum(c.restart_count or 0 for c in cs)
            rows.append(
                f"{p.metadata.name}  {ready}/{len(cs)}  {p.status.phase}  "
                f"restarts={restarts}  node={p.spec.node_name}"
            )
        return "\n".join(rows) or f"no pods in namespace {namespace}"

    @tool
    def get_pod_logs(
        namespace: str,
        pod: str,
        container: str | None = None,
        tail_lines: int = 200,
        since: str | None = None,
        previous: bool = False,
    ) -> str:
        """Read the last lines of a pod container's log, like `kubectl logs --tail`."""
        try:
            text = core.read_namespaced_pod_log(
                pod,
                namespace,
                container=container,
                tail_lines=tail_lines,
                since_seconds=_seconds(since),
                previous=previous,
                _request_timeout=_TIMEOUT,
            )
        except ApiException as e:
            return _api_error(f"reading the log of pod {namespace}/{pod}", e)
        return text

    @tool
    def delete_pod(
        namespace: str, pod: str, grace_period: str | None = None, reason: str | None = None
    ) -> str:
        """Delete one pod that a controller will replace (the cure for a wedged pod)."""
        try:
            obj = core.read_namespaced_pod(pod, namespace, _request_timeout=_TIMEOUT)
            refs = [r for r in obj.metadata.owner_references or [] if r.controller]
            if not refs:
                return (
                    f"error: pod {namespace}/{pod} has no controller; "
                    "deleting it would lose it for good"
                )
            core.delete_namespaced_pod(
                pod,
                namespace,
                grace_period_seconds=_seconds(grace_period),
                dry_run=dry,
                _request_timeout=_TIMEOUT,
            )
        except ApiException as e:
            return _api_error(f"deleting pod {namespace}/{pod}", e)
        return f"pod {namespace}/{pod} deleted{note}; its {refs[0].kind} {refs[0].name} replaces it"

    def _set_unschedulable(node: str, value: bool) -> str | None:
        try:
            core.patch_node(
                node, {"spec": {"unschedulable": value}}, dry_run=dry, _request_timeout=_TIMEOUT
            )
        except ApiException as e:
            return _api_error(f"{'cordoning' if value else 'uncordoning'} node {node}", e)
        return None

    @tool
    def cordon_node(node: str, reason: str | None = None) -> str:
        """Mark a node unschedulable, like `kubectl cordon`; its pods keep running."""
        return _set_unschedulable(node, True) or f"node/{node} cordoned{note}"

    @tool
    def uncordon_node(node: str, reason: str | None = None) -> str:
        """Mark a node schedulable again, like `kubectl uncordon`."""
        return _set_unschedulable(node, False) or f"node/{node} uncordoned{note}"

    @tool
    def drain_node(
        node: str,
        grace_period: str | None = None,
        ignore_daemonsets: bool = True,
        delete_emptydir_data: bool = False,
        timeout: str = "10m",
        reason: str | None = None,
    ) -> str:
        """Cordon a node and evict its pods through the Eviction API, like `kubectl drain`."""
        failed = _set_unschedulable(node, True)
        if failed:
            return failed
        try:
            pods = core.list_pod_for_all_namespaces(
                field_selector=f"spec.nodeName={node}", _request_timeout=_TIMEOUT
            ).items
        except ApiException as e:
            return _api_error(f"listing the pods of node {node}", e)
        evict, skipped, blockers = [], [], []
        for p in pods:
            md = p.metadata
            refs = [r for r in md.owner_references or [] if r.controller]
            if "kubernetes.io/config.mirror" in (md.annotations or {}):
                skipped.append(f"{md.namespace}/{md.name} (mirror pod)")
            elif refs and refs[0].kind == "DaemonSet":
                if ignore_daemonsets:
                    skipped.append(f"{md.namespace}/{md.name} (DaemonSet)")
                else:
                    blockers.append(f"{md.namespace}/{md.name} is managed by a DaemonSet")
            elif not refs:
                blockers.append(f"{md.namespace}/{md.name} has no controller")
            elif any(v.empty_dir for v in p.spec.volumes or []) and not delete_emptydir_data:
                blockers.append(f"{md.namespace}/{md.name} uses emptyDir data")
            else:
                evict.append(p)
        if blockers:
            return f"error: node/{node} cordoned but not drained: " + "; ".join(blockers)
        grace = _seconds(grace_period)
        evicted = []
        for p in evict:
            md = p.metadata
            body = client.V1Eviction(
                api_version="policy/v1",
                kind="Eviction",
                metadata=client.V1ObjectMeta(name=md.name, namespace=md.namespace),
                delete_options=client.V1DeleteOptions(grace_period_seconds=grace)
                if grace is not None
                else None,
            )
            try:
                core.create_namespaced_pod_eviction(
                    md.name, md.namespace, body, dry_run=dry, _request_timeout=_TIMEOUT
                )
            except ApiException as e:
                return _api_error(f"evicting pod {md.namespace}/{md.name}", e) + (
                    f" (node/{node} is cordoned; evicted so far: {', '.join(evicted) or 'none'})"
                )
            evicted.append(f"{md.namespace}/{md.name}")
        if not dry_run:
            deadline = time.monotonic() + (_seconds(timeout) or 600)
            names = {(p.metadata.namespace, p.metadata.name) for p in evict}
            while True:
                left = [
                    p
                    for p in core.list_pod_for_all_namespaces(
                        field_selector=f"spec.nodeName={node}", _request_timeout=_TIMEOUT
                    ).items
                    if (p.metadata.namespace, p.metadata.name) in names
                ]
                if not left:
                    break
                if time.monotonic() >= deadline:
                    return f"error: timed out waiting for {len(left)} pods to leave node/{node}"
                time.sleep(1)
        lines = [f"node/{node} cordoned and drained{note}: evicted {len(evicted)} pods"]
        lines += [f"  evicted {name}" for name in evicted]
        lines += [f"  skipped {name}" for name in skipped]
        return "\n".join(lines)

    return [
        restart_deployment,
        scale_deployment,
        rollout_status,
        list_pods,
        get_pod_logs,
        delete_pod,
        cordon_node,
        uncordon_node,
        drain_node,
    ]
