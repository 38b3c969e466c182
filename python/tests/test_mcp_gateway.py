"""`agent-safe mcp` end to end: the official Python MCP SDK is the agent's
client, a real MCP server (mcp/upstream.py) is the upstream and records every
call it receives, and the gateway between them is the real binary.

The Python wheel is built without the gateway, so the binary comes from
$AGENT_SAFE_MCP_BIN (set by scripts/python-ci.sh) or the cargo build in
target/. Without `mcp` installed or a binary, the tests skip, except when
$AGENT_SAFE_MCP_BIN is set: then a missing binary fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

mcp = pytest.importorskip("mcp")

import anyio  # noqa: E402  (after the importorskip)
from conftest import PARITY, REPO, audit_lines, free_port  # noqa: E402
from mcp import types  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

UPSTREAM = Path(__file__).parent / "mcp" / "upstream.py"


def gateway_bin() -> str:
    given = os.environ.get("AGENT_SAFE_MCP_BIN")
    if given:
        assert Path(given).is_file(), f"AGENT_SAFE_MCP_BIN={given} does not exist"
        return given
    for profile in ("debug", "release"):
        exe = REPO / "target" / profile / "agent-safe"
        if exe.is_file():
            return str(exe)
    pytest.skip("no agent-safe binary with the MCP gateway (cargo build -p agent-safe-cli)")


MAPPING = """
  caller: mcp-test-agent
  tools:
    scale:
      action: scale-deployment
      params: {namespace: "{ns}", deployment: "{name}", replicas: "{count}", reason: "{note}"}
    delete_namespace:
      action: delete-namespace
      target: "ns/{name}"
      params: {namespace: "{name}"}
    hang:
      action: rollout-status
      params: {namespace: "{ns}", deployment: "{name}"}
    scale_slowly:
      action: scale-deployment
      params: {namespace: "{ns}", deployment: "{name}", replicas: "{count}"}
    crash:
      action: rollout-status
      params: {namespace: "{ns}", deployment: "{name}"}
"""


@pytest.fixture
def gw_project(tmp_path: Path) -> Path:
    """The parity project with an `mcp:` section whose upstream is the
    recording test server over stdio."""
    dest = tmp_path / "project"
    shutil.copytree(PARITY / "project", dest, ignore=shutil.ignore_patterns("audit"))
    upstream = (
        "mcp:\n"
        "  upstream:\n"
        f"    command: {json.dumps(sys.executable)}\n"
        f"    args: [{json.dumps(str(UPSTREAM))}]\n"
        f"    env: {{MCP_UPSTREAM_LOG: {json.dumps(str(dest / 'upstream.jsonl'))}}}\n"
        "    timeout_ms: 20000\n"
    )
    with open(dest / "agent-safe.yaml", "a", encoding="utf-8") as f:
        f.write(upstream + MAPPING)
    return dest


def received(project: Path) -> list[dict[str, Any]]:
    """Every call the upstream received."""
    log = project / "upstream.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


Answer = types.ElicitResult | None


async def run_stdio(
    project: Path,
    calls: list[tuple[str, dict[str, Any]]],
    answer: Answer = None,
    elicit: bool = True,
) -> tuple[list[types.CallToolResult], list[str], list[str]]:
    """Connects to `agent-safe mcp` over stdio, lists the tools, makes the
    calls; returns the results, the tool names listed and the elicitation
    messages seen."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SAFE_")}
    env["AGENT_SAFE_LOG"] = "warn"
    params = StdioServerParameters(command=gateway_bin(), args=["mcp"], cwd=str(project), env=env)
    asked: list[str] = []

    async def on_elicit(_ctx: Any, p: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(p.message)
        assert answer is not None
        return answer

    results = []
    with (project / "gateway.err").open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (r, w):
            kwargs: dict[str, Any] = {"elicitation_callback": on_elicit} if elicit else {}
            async with ClientSession(r, w, **kwargs) as s:
                await s.initialize()
                listed = await s.list_tools()
                for name, args in calls:
                    with anyio.fail_after(30):
                        results.append(await s.call_tool(name, args))
    return results, [t.name for t in listed.tools], asked


def text(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


STAGING = {"ns": "staging", "name": "api", "count": 3, "note": "more traffic"}
PROD = {"ns": "prod", "name": "api", "count": 5, "note": "launch"}


def test_allowed_calls_arrive_unchanged_and_the_rest_never(gw_project: Path) -> None:
    results, listed, _ = anyio.run(
        run_stdio,
        gw_project,
        [
            ("scale", STAGING),
            ("delete_namespace", {"name": "prod"}),
            ("read_secret", {"name": "db-password"}),
        ],
    )
    # Only mapped tools are listed, each saying calls are policy-checked.
    assert sorted(listed) == ["crash", "delete_namespace", "hang", "scale", "scale_slowly"]
    allowed, denied, unmapped = results
    assert not allowed.is_error, text(allowed)
    assert "upstream ran scale" in text(allowed)
    assert denied.is_error
    assert "denied by agent-safe policy: Namespaces in prod are never deleted" in text(denied)
    assert "audit id" in text(denied)
    assert unmapped.is_error
    assert "not in agent-safe's tool mapping" in text(unmapped)
    # The upstream saw exactly the agent's one allowed call, arguments unchanged.
    assert received(gw_project) == [{"tool": "scale", "arguments": STAGING}]
    # Every call is audited under the session's correlation id.
    events = audit_lines(gw_project / "audit" / "audit.jsonl")
    assert [e["decision"] for e in events] == ["allow", "deny", "deny"]
    assert len({e["correlation_id"] for e in events}) == 1
    assert events[0]["params"] == {
        "namespace": "staging",
        "deployment": "api",
        "replicas": 3,
        "reason": "more traffic",
    }
    assert events[0]["caller"] == "mcp-test-agent"
    assert events[2]["action"] == "mcp:unmapped:read_secret"


@pytest.mark.parametrize("approve", [True, False])
def test_approval_through_elicitation(gw_project: Path, approve: bool) -> None:
    answer = types.ElicitResult(
        action="accept", content={"approve": approve, "comment": "checked the dashboard"}
    )
    results, _, asked = anyio.run(run_stdio, gw_project, [("scale", PROD)], answer)
    (result,) = results
    assert len(asked) == 1 and "scale-deployment" in asked[0] and "prod/api" in asked[0]
    events = audit_lines(gw_project / "audit" / "audit.jsonl")
    decision, approval = events
    assert decision["decision"] == "require_approval"
    assert approval["kind"] == "approval"
    assert approval["decision"] == ("approve" if approve else "reject")
    assert approval["correlation_id"] == decision["correlation_id"]
    assert approval["reason"] == "checked the dashboard"
    assert approval["context"] == {"audit_id": decision["event_id"]}
    if approve:
        assert not result.is_error, text(result)
        assert received(gw_project) == [{"tool": "scale", "arguments": PROD}]
    else:
        assert result.is_error and "rejected by a human" in text(result)
        assert received(gw_project) == []


def test_declined_elicitation_is_a_rejection(gw_project: Path) -> None:
    results, _, _ = anyio.run(
        run_stdio, gw_project, [("scale", PROD)], types.ElicitResult(action="decline")
    )
    assert results[0].is_error
    assert received(gw_project) == []
    assert audit_lines(gw_project / "audit" / "audit.jsonl")[-1]["decision"] == "reject"


def test_approval_without_elicitation_names_the_audit_id(gw_project: Path) -> None:
    results, _, _ = anyio.run(run_stdio, gw_project, [("scale", PROD)], None, False)
    (result,) = results
    events = audit_lines(gw_project / "audit" / "audit.jsonl")
    assert result.is_error
    assert "approval required" in text(result)
    assert events[0]["event_id"] in text(result)
    assert received(gw_project) == []


def test_upstream_crash_mid_call_is_an_error_result_and_logged(gw_project: Path) -> None:
    crash_args = {"ns": "staging", "name": "api"}
    results, _, _ = anyio.run(run_stdio, gw_project, [("crash", crash_args), ("scale", STAGING)])
    crashed, after = results
    assert crashed.is_error and "upstream MCP server failed" in text(crashed)
    # The upstream is gone: later calls fail closed too.
    assert after.is_error
    assert received(gw_project) == [{"tool": "crash", "arguments": crash_args}]
    log = (gw_project / "gateway.err").read_text()
    assert "the upstream call failed" in log


def test_progress_notifications_reach_the_agent(gw_project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SAFE_")}
    params = StdioServerParameters(
        command=gateway_bin(), args=["mcp"], cwd=str(gw_project), env=env
    )
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async def session() -> types.CallToolResult:
        async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            with anyio.fail_after(30):
                return await s.call_tool(
                    "scale_slowly",
                    {"ns": "staging", "name": "api", "count": 2},
                    progress_callback=on_progress,
                )

    result = anyio.run(session)
    assert not result.is_error, text(result)
    assert [p for p, _, _ in seen] == [1, 2, 3]
    assert seen[-1] == (3, 3, "step 3 of 3")


def test_the_agents_cancellation_reaches_the_upstream(gw_project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SAFE_")}
    params = StdioServerParameters(
        command=gateway_bin(), args=["mcp"], cwd=str(gw_project), env=env
    )
    args = {"ns": "staging", "name": "api"}

    async def session() -> None:
        async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            with anyio.move_on_after(3):
                await s.call_tool("hang", args)
            for _ in range(100):
                if len(received(gw_project)) == 2:
                    break
                await anyio.sleep(0.05)

    anyio.run(session)
    assert received(gw_project) == [
        {"tool": "hang", "arguments": args},
        {"tool": "hang-cancelled", "arguments": {}},
    ]


@contextmanager
def http_upstream(project: Path) -> Iterator[str]:
    port = free_port()
    env = dict(os.environ, MCP_UPSTREAM_LOG=str(project / "upstream.jsonl"))
    proc = subprocess.Popen(
        [sys.executable, str(UPSTREAM), "http", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def wait_port(port: int) -> None:
    import socket

    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"nothing listens on port {port}")


@contextmanager
def http_gateway(project: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SAFE_")}
    env["AGENT_SAFE_LOG"] = "warn"
    proc = subprocess.Popen(
        [gateway_bin(), "mcp", "--http", f"127.0.0.1:{port}"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def token(project: Path, agent_id: str, roles: str = "deployer") -> str:
    out = subprocess.run(
        [gateway_bin(), "token", "create", "--agent-id", agent_id, "--roles", roles],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_streamable_http_both_ways_with_a_bearer_token(gw_project: Path) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    config = gw_project / "agent-safe.yaml"
    text_before = config.read_text()
    with http_upstream(gw_project) as upstream_url:
        # The upstream over streamable HTTP instead of a child process.
        head, _, rest = text_before.partition("  upstream:\n")
        _, _, mapping = rest.partition("    timeout_ms: 20000\n")
        config.write_text(f"{head}  upstream:\n    url: {upstream_url}\n{mapping}")
        jwt = token(gw_project, "deploy-bot")
        with http_gateway(gw_project) as url:

            async def session() -> list[types.CallToolResult]:
                headers = {"Authorization": f"Bearer {jwt}"}
                async with (
                    httpx2.AsyncClient(headers=headers, timeout=30) as http,
                    streamable_http_client(url, http_client=http) as (r, w),
                    ClientSession(r, w) as s,
                ):
                    await s.initialize()
                    return [
                        await s.call_tool("scale", STAGING),
                        await s.call_tool("delete_namespace", {"name": "prod"}),
                    ]

            allowed, denied = anyio.run(session)
    assert not allowed.is_error, text(allowed)
    assert denied.is_error
    assert received(gw_project) == [{"tool": "scale", "arguments": STAGING}]
    events = audit_lines(gw_project / "audit" / "audit.jsonl")
    # The caller is the verified token's agent id, never the raw token.
    assert [e["caller"] for e in events] == ["deploy-bot", "deploy-bot"]


def test_a_foreign_host_header_is_refused(gw_project: Path) -> None:
    """DNS rebinding: a request that reaches the loopback gateway under another
    host name is refused before any MCP message is read."""
    import http.client
    from urllib.parse import urlsplit

    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "rebinder", "version": "1"},
        },
    }
    jwt = token(gw_project, "deploy-bot")
    with http_gateway(gw_project) as url:
        parts = urlsplit(url)
        statuses = {}
        for host in ("attacker.example", f"127.0.0.1:{parts.port}"):
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
            conn.request(
                "POST",
                parts.path,
                body=json.dumps(init),
                headers={
                    "Host": host,
                    "Content-Type": "application/json",
                    "Accept": "application/json, text/event-stream",
                    "Authorization": f"Bearer {jwt}",
                },
            )
            statuses[host] = conn.getresponse().status
            conn.close()
    assert statuses["attacker.example"] in (400, 403, 421), statuses
    assert statuses[f"127.0.0.1:{parts.port}"] == 200, statuses


# -- `list: allowed`: each caller sees the tools it could ever be allowed -------

LISTING_POLICY = """
rules:
  - name: deployers-scale
    match:
      actions: [scale-deployment]
      callers: {roles: [deployer]}
    decision: allow
    reason: Deployers scale deployments
  - name: anyone-reads-rollouts
    match:
      actions: [rollout-status]
    decision: allow
    reason: Reading a rollout's status is harmless
"""


@pytest.fixture
def listing_project(gw_project: Path) -> Path:
    """The gateway project with `list: allowed` and a policy under which only
    deployers may scale, anyone may read rollouts, and nobody may delete a
    namespace."""
    for f in (gw_project / "policies").iterdir():
        f.unlink()
    (gw_project / "policies" / "listing.yaml").write_text(LISTING_POLICY)
    config = gw_project / "agent-safe.yaml"
    config.write_text(
        config.read_text().replace(
            "  caller: mcp-test-agent\n", "  caller: mcp-test-agent\n  list: allowed\n"
        )
    )
    return gw_project


def test_list_allowed_shows_each_bearer_only_what_it_could_be_allowed(
    listing_project: Path,
) -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    deployer = token(listing_project, "deploy-bot", "deployer")
    viewer = token(listing_project, "view-bot", "viewer")

    async def session(jwt: str) -> tuple[list[str], types.CallToolResult]:
        headers = {"Authorization": f"Bearer {jwt}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            streamable_http_client(url, http_client=http) as (r, w),
            ClientSession(r, w) as s,
        ):
            await s.initialize()
            listed = await s.list_tools()
            # `scale` is listed for the deployer only; the viewer calls it anyway.
            return sorted(t.name for t in listed.tools), await s.call_tool("scale", STAGING)

    with http_gateway(listing_project) as url:
        deployer_sees, deployer_scaled = anyio.run(session, deployer)
        viewer_sees, viewer_scaled = anyio.run(session, viewer)
    assert deployer_sees == ["crash", "hang", "scale", "scale_slowly"]
    assert viewer_sees == ["crash", "hang"]
    assert not deployer_scaled.is_error, text(deployer_scaled)
    # The hidden tool's call is still checked, refused and audited.
    assert viewer_scaled.is_error
    assert "denied by agent-safe policy" in text(viewer_scaled)
    assert received(listing_project) == [{"tool": "scale", "arguments": STAGING}]
    events = audit_lines(listing_project / "audit" / "audit.jsonl")
    assert [(e["caller"], e["action"], e["decision"]) for e in events] == [
        ("deploy-bot", "scale-deployment", "allow"),
        ("view-bot", "scale-deployment", "deny"),
    ]
    assert events[1]["event_id"] in text(viewer_scaled)


def test_list_allowed_over_stdio_uses_the_configured_caller(listing_project: Path) -> None:
    # `mcp-test-agent` is a plain agent id with no roles: it may only read rollouts.
    results, listed, _ = anyio.run(
        run_stdio, listing_project, [("scale", STAGING), ("delete_namespace", {"name": "prod"})]
    )
    assert sorted(listed) == ["crash", "hang"]
    assert all(r.is_error for r in results)
    assert received(listing_project) == []
    events = audit_lines(listing_project / "audit" / "audit.jsonl")
    assert [(e["action"], e["decision"]) for e in events] == [
        ("scale-deployment", "deny"),
        ("delete-namespace", "deny"),
    ]


def test_validate_reports_a_bad_list_value(gw_project: Path) -> None:
    config = gw_project / "agent-safe.yaml"
    config.write_text(
        config.read_text().replace(
            "  caller: mcp-test-agent\n", "  caller: mcp-test-agent\n  list: permitted\n"
        )
    )
    out = subprocess.run(
        [gateway_bin(), "validate"], cwd=gw_project, capture_output=True, text=True, check=False
    )
    # A config that does not load: exit 2, the position and the choices on stderr.
    assert out.returncode == 2
    assert "agent-safe.yaml:20:9: error: invalid `list` value `permitted`" in out.stderr
    assert "expected one of `mapped`, `allowed`" in out.stderr


def test_validate_reports_a_mapping_to_an_unknown_action(gw_project: Path) -> None:
    config = gw_project / "agent-safe.yaml"
    config.write_text(config.read_text().replace("action: rollout-status", "action: rollout-sttus"))
    out = subprocess.run(
        [gateway_bin(), "validate"], cwd=gw_project, capture_output=True, text=True, check=False
    )
    assert out.returncode == 1
    assert "agent-safe.yaml:" in out.stdout
    assert "tool `crash` maps to `rollout-sttus`" in out.stdout


# -- the real kubernetes-mcp-server ---------------------------------------------

K8S_POLICIES = """
rules:
  - name: no-pod-deletion-in-prod
    priority: 100
    match:
      actions: [delete-pod]
      targets: {environments: [prod]}
    decision: deny
    reason: Pods in prod are not deleted by agents; ask the on-call engineer
  - name: reads-on-staging
    priority: 10
    match:
      targets: {environments: [staging]}
      risk_classes: [low]
    decision: allow
    reason: Reading staging is fine
"""

K8S_INVENTORY = """
targets:
  - {id: ns/staging, type: k8s-namespace, environment: staging, sensitivity: internal,
     name: staging}
  - {id: prod/web-pod, type: k8s-pod, environment: prod, sensitivity: restricted,
     namespace: prod, name: web-7d9f8-abcde}
"""


def kubernetes_mcp_server() -> str:
    given = os.environ.get("KUBERNETES_MCP_SERVER_BIN")
    if given:
        assert Path(given).is_file(), f"KUBERNETES_MCP_SERVER_BIN={given} does not exist"
        return given
    found = shutil.which("kubernetes-mcp-server")
    if found is None:
        pytest.skip("kubernetes-mcp-server is not installed (see scripts/python-ci.sh)")
    return found


def test_real_kubernetes_mcp_server_behind_the_gateway(tmp_path: Path) -> None:
    binary = kubernetes_mcp_server()
    sys.path.insert(0, str(REPO))
    try:
        from examples.k8s_agent.simulated_api import SimulatedKubeAPI
    finally:
        sys.path.remove(str(REPO))
    proj = tmp_path / "k8s"
    (proj / "policies").mkdir(parents=True)
    (proj / "policies" / "p.yaml").write_text(K8S_POLICIES)
    (proj / "inventory.yaml").write_text(K8S_INVENTORY)
    (proj / "agent-safe.yaml").write_text(
        "policies: policies\ninventory: inventory.yaml\naudit: {path: audit/audit.jsonl}\n"
        "mcp: mcp.yaml\n"
    )
    # The scaffolding writes the shipped mapping; only the binary's path and
    # the kubeconfig are this machine's.
    init = subprocess.run(
        [gateway_bin(), "mcp", "--init", "kubernetes-mcp-server"],
        cwd=proj,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote mcp.yaml" in init.stdout
    with SimulatedKubeAPI() as api:
        kubeconfig = api.write_kubeconfig(str(tmp_path / "kubeconfig"))
        shipped = (proj / "mcp.yaml").read_text()
        (proj / "mcp.yaml").write_text(
            shipped.replace("command: kubernetes-mcp-server", f"command: {json.dumps(binary)}")
            .replace(
                "args: [--disable-multi-cluster]",
                f"args: [--disable-multi-cluster, --kubeconfig, {json.dumps(kubeconfig)}]",
            )
            .replace("caller_env: AGENT_SAFE_CALLER", "caller: k8s-agent")
        )
        check = subprocess.run(
            [gateway_bin(), "validate"], cwd=proj, capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr

        async def session() -> tuple[list[str], list[types.CallToolResult], list[int]]:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SAFE_")}
            params = StdioServerParameters(
                command=gateway_bin(), args=["mcp"], cwd=str(proj), env=env
            )
            seen = []
            async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
                await s.initialize()
                listed = [t.name for t in (await s.list_tools()).tools]
                out = []
                for name, args in [
                    ("pods_delete", {"namespace": "prod", "name": "web-7d9f8-abcde"}),
                    ("configuration_view", {}),
                    ("pods_list_in_namespace", {"namespace": "staging"}),
                ]:
                    before = len(api.received())
                    with anyio.fail_after(60):
                        out.append(await s.call_tool(name, args))
                    seen.append(len(api.received()) - before)
            return listed, out, seen

        listed, (deleted, config_view, listed_pods), requests = anyio.run(session)
    # Only the mapped tools that the real server offers are listed.
    assert "configuration_view" not in listed and "resources_delete" not in listed
    assert {"pods_delete", "pods_list_in_namespace", "pods_log", "events_list"} <= set(listed)
    # The denial and the unmapped tool never reached the cluster.
    assert deleted.is_error and "Pods in prod are not deleted" in text(deleted)
    assert config_view.is_error and "not in agent-safe's tool mapping" in text(config_view)
    assert requests[:2] == [0, 0]
    # The allowed read went to the real server, which talked to the API server
    # (its answer is relayed unchanged, whatever it is).
    assert requests[2] > 0, text(listed_pods)
    events = audit_lines(proj / "audit" / "audit.jsonl")
    assert [(e["action"], e["decision"]) for e in events] == [
        ("delete-pod", "deny"),
        ("mcp:unmapped:configuration_view", "deny"),
        ("list-pods", "allow"),
    ]
