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

step "build the wheel (release)"
# A directory of its own: another build writing to target/wheels at the same
# time cannot hand us its wheel.
wheels=$(mktemp -d "$root/target/py-ci-wheels.XXXXXX")
"$venv/bin/maturin" build --release --quiet -o "$wheels"
wheel=$(ls "$wheels"/agent_safe-*.whl)
mkdir -p "$root/target/wheels"
mv "$wheel" "$root/target/wheels/"
rmdir "$wheels"
wheel=$root/target/wheels/$(basename "$wheel")
echo "$wheel"

step "install the wheel with the dev and langchain extras"
# The langchain extra and the kubernetes client let the LangGraph middleware
# and demo tests run instead of skipping (AGENT_SAFE_PY_MINIMAL=1: only [dev]).
if [ "${AGENT_SAFE_PY_MINIMAL:-0}" = 1 ]; then
  "$vpy" -m pip install --quiet --disable-pip-version-check "${wheel}[dev]"
else
  "$vpy" -m pip install --quiet --disable-pip-version-check "${wheel}[dev,langchain]" kubernetes
fi

step "ruff"
"$venv/bin/ruff" check python scripts
"$venv/bin/ruff" format --check python scripts

step "mypy (strict) and stubtest"
# The package (what users type-check against), the SDK tests and the bench.
# The LangGraph tests drive third-party APIs whose stubs are not strict-clean.
mapfile -t sdk_tests < <(ls python/tests/*.py | grep -v -e /test_langchain -e /test_k8s)
"$vpy" -m mypy python/agent_safe scripts/py-bench.py "${sdk_tests[@]}"
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
