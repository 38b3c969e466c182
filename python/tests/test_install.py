"""The package under test is the installed one, and it is complete."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import agent_safe
import pytest
from conftest import REPO, cli


def test_imported_from_site_packages_not_the_source_tree() -> None:
    here = Path(agent_safe.__file__).resolve()
    assert not here.is_relative_to(REPO / "python"), (
        f"agent_safe was imported from the source tree ({here}): install the wheel "
        "and run pytest from elsewhere (scripts/python-ci.sh does)"
    )
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert here.is_relative_to(site), f"{here} is not in {site}"


def test_typing_files_are_shipped() -> None:
    pkg = Path(agent_safe.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_native.pyi").is_file()
    assert list(pkg.glob("_native*.so")), "the native module is missing"


def test_version_is_the_workspace_version() -> None:
    cargo = (REPO / "Cargo.toml").read_text()
    section = cargo.split("[workspace.package]", 1)[1]
    match = re.search(r'^version = "([^"]+)"', section, re.M)
    assert match
    assert agent_safe.__version__ == match.group(1)


def test_public_names() -> None:
    for name in agent_safe.__all__:
        assert hasattr(agent_safe, name), name
        obj = getattr(agent_safe, name)
        if isinstance(obj, type):
            assert obj.__doc__, f"{name} has no docstring"
    assert agent_safe.AgentSafe.__module__ == "agent_safe"
    assert agent_safe.Decision.__module__ == "agent_safe"


def test_import_does_not_pull_langchain_or_httpx() -> None:
    code = (
        "import sys, agent_safe; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('langchain', 'langgraph', 'httpx')]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_methods_are_documented() -> None:
    for name in (
        "check",
        "check_plan",
        "list_actions",
        "get_action",
        "reload",
        "verify_audit",
        "create_token",
        "record_approval",
        "from_config",
    ):
        assert getattr(agent_safe.AgentSafe, name).__doc__, name


def test_the_installed_command_is_the_native_binary() -> None:
    """The wheel's `agent-safe` is the compiled CLI, not a Python console script:
    no interpreter starts for `agent-safe check` (issue 23)."""
    exe = Path(cli())
    with exe.open("rb") as f:
        magic = f.read(4)
    assert magic == b"\x7fELF", f"{exe} starts with {magic!r}: a script, not the native binary"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["agent-safe", agent_safe.__version__]


def test_python_m_agent_safe_runs_the_same_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agent_safe", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["agent-safe", agent_safe.__version__]


# What `import agent_safe` must not load: a check needs none of it (issue 23).
HEAVY = (
    "agent_safe._async_remote",
    "agent_safe._audit",
    "agent_safe._errors",
    "agent_safe._remote",
    "agent_safe._types",
    "agent_safe.langchain",
    "agent_safe.tlog",
    "dataclasses",
    "email",
    "http.client",
    "httpx",
    "inspect",
    "json",
    "urllib.request",
)


def test_import_loads_only_what_a_check_needs() -> None:
    code = (
        "import sys, agent_safe\n"
        "safe = agent_safe.AgentSafe(policies=sys.argv[1])\n"
        "d = safe.check('restart-deployment', target='staging/api', caller='a')\n"
        "assert not d.allowed\n"  # no inventory: an unknown target
        "print(' '.join(sorted(sys.modules)))\n"
    )
    policies = REPO / "tests" / "parity" / "project" / "policies"
    out = subprocess.run(
        [sys.executable, "-c", code, str(policies)], capture_output=True, text=True, check=True
    )
    loaded = set(out.stdout.split())
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_lazy_public_names() -> None:
    """Every public name resolves on first use, says it is agent_safe's, and
    pickles by that name; unknown names are an AttributeError."""
    import pickle

    for name in agent_safe.__all__:
        obj = getattr(agent_safe, name)
        if isinstance(obj, type):
            assert obj.__module__ == "agent_safe", name
            assert pickle.loads(pickle.dumps(obj)) is obj, name
        assert name in dir(agent_safe), name
    assert agent_safe.tlog.__name__ == "agent_safe.tlog"
    with pytest.raises(AttributeError, match="no_such_name"):
        agent_safe.no_such_name  # noqa: B018
    assert hasattr(agent_safe, "tlog")
