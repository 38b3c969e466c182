#!/usr/bin/env bash
# Release packaging that works offline from crates.io's point of view (only the
# index is read): the crates carry the metadata `cargo publish` needs, and the
# Python source distribution builds. The wheel itself is built, installed into a
# fresh venv and tested by scripts/python-ci.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

echo "== cargo publish --dry-run (agent-safe-core, agent-safe-server, agent-safe-cli)"
cargo publish --workspace --dry-run --no-verify --allow-dirty --locked

echo "== maturin sdist"
venv=${AGENT_SAFE_PY_VENV:-$root/target/py-ci-venv}
if [ ! -x "$venv/bin/maturin" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "maturin>=1.9.4,<2"
fi
out=$(mktemp -d "$root/target/sdist.XXXXXX")
"$venv/bin/maturin" sdist -o "$out"
sdist=$(ls "$out"/agent_safe-*.tar.gz)
# The sdist must carry the Rust sources it builds from and the Python package.
tar -tzf "$sdist" > "$out/contents.txt"
for must in pyproject.toml crates/agent-safe-py/Cargo.toml crates/agent-safe-core/catalogue/actions/drain-node.yaml python/agent_safe/__init__.py \
  python/build_backend/agent_safe_backend.py crates/agent-safe-cli/src/main.rs; do
  grep -q "/$must\$" "$out/contents.txt" || { echo "sdist lacks $must" >&2; exit 1; }
done
echo "ok: $(basename "$sdist") ($(wc -l < "$out/contents.txt") files)"
rm -rf "$out"
