#!/usr/bin/env bash
# The Python package's CI: build the wheel, install it into a fresh venv, lint,
# check the stubs against the native module, and run pytest against the
# *installed* package (from a directory where the source tree's python/ is not
# importable). Called by .ci/run; runs on its own from the repository root:
#
#   bash scripts/python-ci.sh
#
# Environment: PYTHON (default python3), AGENT_SAFE_PY_VENV (default
# target/py-ci-venv), AGENT_SAFE_PY_MINIMAL=1 (skip the langchain extra),
# PYTEST_ARGS (extra pytest arguments).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
python=${PYTHON:-python3}
venv=${AGENT_SAFE_PY_VENV:-$root/target/py-ci-venv}
start=$SECONDS

step() { printf '\n== %s (%ss)\n' "$*" "$((SECONDS - start))"; }

step "fresh venv at $venv"
mkdir -p "$root/target"
rm -rf "$venv"
"$python" -m venv "$venv"
vpy=$venv/bin/python
"$vpy" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$vpy" -m pip install --quiet --disable-pip-version-check "maturin>=1.9.4,<2"

step "build the wheel (release) through the PEP 517 backend, as pip install does"
# A directory of its own: another build writing to target/wheels at the same
# time cannot hand us its wheel. The backend (python/build_backend) is
# maturin's plus the native `agent-safe` binary as the wheel's script; a plain
# `maturin build` would ship the slower Python console script instead.
# maturin's PEP 517 hooks run the `maturin` executable found on PATH: the
# venv's, since the build is --no-build-isolation.
export PATH="$venv/bin:$PATH"
wheels=$(mktemp -d "$root/target/py-ci-wheels.XXXXXX")
"$vpy" -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation \
  -w "$wheels" "$root"
wheel=$(ls "$wheels"/agent_safe-*.whl)
mkdir -p "$root/target/wheels"
mv "$wheel" "$root/target/wheels/"
rmdir "$wheels"
wheel=$root/target/wheels/$(basename "$wheel")
echo "$wheel"

step "install the wheel with the dev, langchain, claude and openai-agents extras"
# The extras and the kubernetes client let the LangGraph middleware, the
# Claude Agent SDK and OpenAI Agents SDK adapters and the demos' tests run
# instead of skipping (AGENT_SAFE_PY_MINIMAL=1: only [dev]). The agent SDKs
# are pinned: their hook and approval APIs move between minor versions.
if [ "${AGENT_SAFE_PY_MINIMAL:-0}" = 1 ]; then
  "$vpy" -m pip install --quiet --disable-pip-version-check "${wheel}[dev]"
else
  "$vpy" -m pip install --quiet --disable-pip-version-check \
    "${wheel}[dev,langchain,claude,openai-agents]" kubernetes \
    "claude-agent-sdk==0.2.189" "openai-agents==0.24.0"
fi

step "the installed agent-safe is the native binary (issue 23)"
# Not a Python console script: an ELF executable that reports the package's
# version. test_install.py asserts the same; cli-bench.py prints the timings.
head -c 4 "$venv/bin/agent-safe" | grep -q "ELF" \
  || { echo "$venv/bin/agent-safe is not the native binary" >&2; exit 1; }
pkg_version=$("$vpy" -c "import agent_safe; print(agent_safe.__version__)")
cli_version=$("$venv/bin/agent-safe" --version)
[ "$cli_version" = "agent-safe $pkg_version" ] \
  || { echo "agent-safe --version says '$cli_version', the package is $pkg_version" >&2; exit 1; }
"$vpy" scripts/cli-bench.py --runs 10 --native "$root/target/release/agent-safe"
"$vpy" - "$wheel" <<'PY'
import os, sys, zipfile
w = sys.argv[1]
unpacked = sum(i.file_size for i in zipfile.ZipFile(w).infolist())
print(f"{os.path.basename(w)}: {os.path.getsize(w) / 2**20:.1f} MiB ({unpacked / 2**20:.1f} MiB unpacked)")
PY

step "the MCP gateway's end-to-end tests: the binary, the MCP SDK, kubernetes-mcp-server"
# The wheel is built without the gateway (it would link an MCP stack into every
# Python process), so test_mcp_gateway.py drives the cargo-built binary. The
# official MCP SDK is the agent's client and the upstream's server; the real
# kubernetes-mcp-server comes from its npm platform package, which ships the
# binary (the PyPI package downloads it at first run, which fails offline).
cargo build --quiet -p agent-safe-cli
export AGENT_SAFE_MCP_BIN=$root/target/debug/agent-safe
"$vpy" -m pip install --quiet --disable-pip-version-check "mcp==2.3.0"
k8s_mcp_dir=$root/target/kubernetes-mcp-server
k8s_mcp=$k8s_mcp_dir/package/bin/kubernetes-mcp-server-linux-amd64
if [ ! -x "$k8s_mcp" ] && [ "$(uname -sm)" = "Linux x86_64" ]; then
  mkdir -p "$k8s_mcp_dir"
  (cd "$k8s_mcp_dir" && npm pack --silent kubernetes-mcp-server-linux-amd64@0.0.67 >/dev/null \
    && tar xzf kubernetes-mcp-server-linux-amd64-0.0.67.tgz)
fi
if [ -x "$k8s_mcp" ]; then export KUBERNETES_MCP_SERVER_BIN=$k8s_mcp; fi

step "ruff"
"$venv/bin/ruff" check python scripts
"$venv/bin/ruff" format --check python scripts

step "mypy (strict) and stubtest"
# The package (what users type-check against), the SDK tests and the bench.
# The LangGraph tests drive third-party APIs whose stubs are not strict-clean.
mapfile -t sdk_tests < <(ls python/tests/*.py | grep -v -e /test_langchain -e /test_k8s -e /test_mcp)
"$vpy" -m mypy python/agent_safe scripts/py-bench.py scripts/cli-bench.py "${sdk_tests[@]}"
# stubtest imports the installed native module and checks the hand-written
# stubs against it; run from outside the tree so it sees the installed copy.
(cd "$venv" && "$vpy" -m mypy.stubtest agent_safe._native \
  --allowlist "$root/python/stubtest-allowlist.txt")

step "pytest against the installed package"
# The getting-started test installs this same wheel into a venv of its own.
export AGENT_SAFE_WHEEL=$wheel
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  # -c: the config (and rootdir) is the repository's; `-p no:cacheprovider`
  # keeps .pytest_cache out of the tree. python/ is never on sys.path.
  "$vpy" -m pytest -c "$root/pyproject.toml" --rootdir "$root" -p no:cacheprovider \
    ${PYTEST_ARGS:-} "$root/python/tests"
)

step "done"
