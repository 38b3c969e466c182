"""The PEP 517 build backend of the agent-safe wheel: maturin's, plus the native command.

maturin builds the extension module `agent_safe._native` and cannot put a
binary target in the same wheel (PyO3/maturin#368). A console script that
imports Python and then calls the CLI inside the extension pays the
interpreter's start-up on every `agent-safe check`: several times what the
check itself costs. So `build_wheel` lets maturin build the wheel, then builds
the `agent-safe` binary of crates/agent-safe-cli with cargo, in the same
target directory, profile and feature set (the libraries are the ones the
extension was just linked from: only the binary is linked), and puts it in the
wheel's scripts directory (``agent_safe-VERSION.data/scripts/agent-safe``),
which installers copy to the environment's ``bin/`` as an executable. The
Python console script of the same name is dropped from the wheel's entry
points, so the command is the native one and nothing else.

This works the same from the repository, from the sdist (which carries this
file and every crate) and through pip, build or uv. Editable installs
(``pip install -e``, ``maturin develop``) keep maturin's console script
(``agent_safe._cli:main``): same behaviour, Python's start-up time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import maturin
from maturin import (  # every other hook is maturin's own
    build_editable,
    build_sdist,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

COMMAND = "agent-safe"
MANIFEST = Path("crates") / "agent-safe-py" / "Cargo.toml"
CONSOLE_SCRIPT = f"{COMMAND} = agent_safe._cli:main"


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: Mapping[str, Any] | None = None
) -> str:
    """The metadata maturin writes, without the console script the binary replaces."""
    name = str(maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings))
    entry_points = Path(metadata_directory) / name / "entry_points.txt"
    if entry_points.is_file():
        text = _without_console_script(entry_points.read_text())
        if text:
            entry_points.write_text(text)
        else:
            entry_points.unlink()
    return name


def build_wheel(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """The wheel maturin builds, with the native ``agent-safe`` as its script."""
    name = str(maturin.build_wheel(wheel_directory, config_settings, metadata_directory))
    wheel = Path(wheel_directory) / name
    version = name.split("-")[1]
    args = maturin.get_maturin_pep517_args(config_settings)
    binary = _build_cli(args)
    if _target(args) is None:
        _check_version(binary, version)
    _add_script(wheel, binary)
    return name


# -- building the binary ------------------------------------------------------------


def _option(args: list[str], *names: str) -> str | None:
    """The value of the last ``--name value`` or ``--name=value`` in `args`."""
    found = None
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                found = args[i + 1]
            elif arg.startswith(name + "="):
                found = arg.split("=", 1)[1]
    return found


def _target(args: list[str]) -> str | None:
    return _option(args, "--target") or os.environ.get("CARGO_BUILD_TARGET") or None


def _cargo_args(args: list[str]) -> list[str]:
    """The cargo options that make the binary of the build maturin just made.

    Both packages are selected so that cargo resolves features as it did for
    the extension (e.g. uuid's `fast-rng`, which only agent-safe-py turns on)
    and reuses every library it compiled; the CLI itself is built without its
    own defaults, i.e. without the MCP gateway, exactly as the extension
    links it.
    """
    profile = _option(args, "--profile")
    if profile is None:
        profile = "dev" if ("--debug" in args or "-d" in args) else "release"
    out = ["--profile", profile, "--no-default-features"]
    if "--no-default-features" not in args:
        out += ["--features", "agent-safe-py/default"]
    for value in (v for i, v in enumerate(args[1:]) if args[i] in ("--features", "-F")):
        for feature in value.replace(",", " ").split():
            out += ["--features", feature if "/" in feature else f"agent-safe-py/{feature}"]
    if "--all-features" in args:
        out += ["--features", "agent-safe-py/serve"]
    for flag in ("--locked", "--frozen", "--offline"):
        if flag in args:
            out.append(flag)
    target = _target(args)
    if target is not None:
        out += ["--target", target]
    return out


def _build_cli(args: list[str]) -> Path:
    cargo = os.environ.get("CARGO", "cargo")
    command = [
        cargo,
        "build",
        "--manifest-path",
        str(MANIFEST),
        "--package",
        "agent-safe-py",
        "--package",
        "agent-safe-cli",
        "--bin",
        COMMAND,
        "--message-format",
        "json-render-diagnostics",
        *_cargo_args(args),
    ]
    print(f"agent-safe: building the native command: {shlex.join(command)}", file=sys.stderr)
    sys.stderr.flush()
    result = subprocess.run(command, stdout=subprocess.PIPE, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"`{shlex.join(command)}` failed (exit {result.returncode})")
    binary = None
    for line in result.stdout.decode().splitlines():
        message = json.loads(line) if line.startswith("{") else {}
        target = message.get("target", {})
        if (
            message.get("reason") == "compiler-artifact"
            and target.get("name") == COMMAND
            and "bin" in target.get("kind", [])
        ):
            binary = message.get("executable")
    if not binary:
        raise RuntimeError(f"`{shlex.join(command)}` reported no `{COMMAND}` executable")
    return Path(binary)


def _check_version(binary: Path, version: str) -> None:
    """The command must report the package's version (they come from one Cargo.toml)."""
    out = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    if out[-1:] != [version]:
        raise RuntimeError(
            f"{binary} --version says {' '.join(out)!r}, the wheel's version is {version}"
        )


# -- the wheel ----------------------------------------------------------------------


def _without_console_script(entry_points: str) -> str:
    """entry_points.txt without ``agent-safe = ...``; "" when nothing is left."""
    sections: list[list[str]] = []
    for line in entry_points.splitlines():
        if line.startswith("["):
            sections.append([line])
        elif sections and line.replace(" ", "") != CONSOLE_SCRIPT.replace(" ", ""):
            sections[-1].append(line)
    kept = [s for s in sections if any(line.strip() for line in s[1:])]
    return "\n".join("\n".join(s).rstrip() + "\n" for s in kept)


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _add_script(wheel: Path, binary: Path) -> None:
    """Rewrites `wheel` with `binary` as its script.

    The binary goes to ``<name>.data/scripts/agent-safe`` (mode 755), the
    console script leaves entry_points.txt, and RECORD lists both changes.
    """
    with zipfile.ZipFile(wheel) as zin:
        infos = zin.infolist()
        contents = {info.filename: zin.read(info) for info in infos}
    record = next(n for n in contents if n.endswith(".dist-info/RECORD"))
    dist_info = record.rsplit("/", 1)[0]
    script = dist_info.removesuffix(".dist-info") + f".data/scripts/{COMMAND}"
    tmp = wheel.with_suffix(".tmp")
    lines = []
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            name = info.filename
            data = contents[name]
            if name in (record, script):
                continue
            if name == f"{dist_info}/entry_points.txt":
                data = _without_console_script(data.decode()).encode()
                if not data:
                    continue
            zout.writestr(info, data)
            lines.append(_record_line(name, data))
        exe = zipfile.ZipInfo(script, date_time=infos[0].date_time)
        exe.external_attr = (0o100755 & 0xFFFF) << 16
        exe.compress_type = zipfile.ZIP_DEFLATED
        data = binary.read_bytes()
        zout.writestr(exe, data)
        lines.append(_record_line(script, data))
        lines.append(f"{record},,")
        record_info = zipfile.ZipInfo(record, date_time=infos[0].date_time)
        zout.writestr(record_info, "\n".join(lines) + "\n")
    tmp.replace(wheel)
