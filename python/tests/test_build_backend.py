"""The wheel's build backend (python/build_backend): how it builds the native
command and rewrites the wheel. The end-to-end proof is the installed wheel
itself (test_install.py: the command is an ELF binary with the package's
version); these cases pin the translation of maturin's options to cargo's and
the rewriting of a real wheel file."""

from __future__ import annotations

import importlib
import stat
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO


@pytest.fixture(scope="module")
def backend() -> Any:
    pytest.importorskip("maturin", reason="the backend wraps maturin's")
    sys.path.insert(0, str(REPO / "python" / "build_backend"))
    try:
        return importlib.import_module("agent_safe_backend")
    finally:
        sys.path.pop(0)


DEFAULT = ["--profile", "release", "--no-default-features", "--features", "agent-safe-py/default"]


@pytest.mark.parametrize(
    ("maturin_args", "cargo_args"),
    [
        ([], DEFAULT),
        (["--release"], DEFAULT),
        (["--profile", "dev"], ["--profile", "dev", *DEFAULT[2:]]),
        (["--profile=bench"], ["--profile", "bench", *DEFAULT[2:]]),
        (["--no-default-features"], ["--profile", "release", "--no-default-features"]),
        (
            ["--no-default-features", "--features", "serve"],
            [
                "--profile",
                "release",
                "--no-default-features",
                "--features",
                "agent-safe-py/serve",
            ],
        ),
        (
            ["-F", "a,b"],
            [*DEFAULT, "--features", "agent-safe-py/a", "--features", "agent-safe-py/b"],
        ),
        (["--features", "uuid/v4"], [*DEFAULT, "--features", "uuid/v4"]),
        (["--locked", "--offline"], [*DEFAULT, "--locked", "--offline"]),
        (
            ["--target", "aarch64-unknown-linux-gnu"],
            [*DEFAULT, "--target", "aarch64-unknown-linux-gnu"],
        ),
    ],
)
def test_maturin_options_become_cargo_options(
    backend: Any, monkeypatch: pytest.MonkeyPatch, maturin_args: list[str], cargo_args: list[str]
) -> None:
    monkeypatch.delenv("CARGO_BUILD_TARGET", raising=False)
    assert backend._cargo_args(maturin_args) == cargo_args


ENTRY_POINTS = [
    ("[console_scripts]\nagent-safe = agent_safe._cli:main\n", ""),
    (
        "[console_scripts]\nagent-safe=agent_safe._cli:main\nother = m:f\n",
        "[console_scripts]\nother = m:f\n",
    ),
    (
        "[console_scripts]\nagent-safe = agent_safe._cli:main\n\n[x.plugins]\np = m:p\n",
        "[x.plugins]\np = m:p\n",
    ),
]


@pytest.mark.parametrize(("before", "after"), ENTRY_POINTS)
def test_the_console_script_leaves_the_entry_points(backend: Any, before: str, after: str) -> None:
    assert backend._without_console_script(before) == after


def test_the_binary_becomes_the_wheels_script(backend: Any, tmp_path: Path) -> None:
    wheel = tmp_path / "agent_safe-1.2.3-cp310-abi3-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("agent_safe/__init__.py", "")
        z.writestr(
            "agent_safe-1.2.3.dist-info/entry_points.txt",
            "[console_scripts]\nagent-safe = agent_safe._cli:main\n",
        )
        z.writestr("agent_safe-1.2.3.dist-info/RECORD", "stale\n")
    binary = tmp_path / "agent-safe"
    binary.write_bytes(b"\x7fELF not really")

    backend._add_script(wheel, binary)

    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert names == [
            "agent_safe/__init__.py",
            "agent_safe-1.2.3.data/scripts/agent-safe",
            "agent_safe-1.2.3.dist-info/RECORD",
        ]
        script = z.getinfo("agent_safe-1.2.3.data/scripts/agent-safe")
        assert stat.S_IMODE(script.external_attr >> 16) == 0o755
        assert z.read(script) == b"\x7fELF not really"
        record = z.read("agent_safe-1.2.3.dist-info/RECORD").decode().splitlines()
    assert record == [
        "agent_safe/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0",
        "agent_safe-1.2.3.data/scripts/agent-safe,"
        + backend._record_line("x", b"\x7fELF not really").split(",", 1)[1],
        "agent_safe-1.2.3.dist-info/RECORD,,",
    ]
