"""The package under test is the installed one, and it is complete."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import agent_safe
from conftest import REPO


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
