#!/usr/bin/env bash
# Validates Kubernetes manifests offline against the Kubernetes JSON schemas.
#
# Uses kubernetes-validate (PyPI), which bundles the OpenAPI-derived schemas of
# every recent Kubernetes release, so validation needs no cluster and no
# network once the tool is installed (into a venv under target/, the first
# time). Validation is strict: an unknown field (a typo) is an error, and so
# is a kind the schemas do not know.
#
# What it checks:
#   * every *.yaml / *.yml under the given paths (default: deploy/kubernetes),
#     except kustomization.yaml, against Kubernetes 1.29 (the first release
#     with native sidecars on by default, which deployment.yaml uses) and the
#     newest bundled release;
#   * the Role/ClusterRole manifests `agent-safe rbac` generates for the
#     example project of `agent-safe init` (skip with --no-rbac);
#   * a self-test first: deliberately broken copies of the manifests (a
#     misspelt field, a wrong type, an unknown kind) must be rejected, or the
#     script fails, so a validator that passes everything cannot go unnoticed.
#
# Usage: scripts/validate-manifests.sh [--no-rbac] [PATH...]
# Exit status: 0 when everything validates, 1 otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VALIDATOR_VERSION=1.37.0
K8S_VERSIONS=${K8S_VERSIONS:-"1.29.0 1.37.0"}
VENV="$ROOT/target/validate-venv"
RBAC=1
PATHS=()
for arg in "$@"; do
  case "$arg" in
    --no-rbac) RBAC=0 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "unknown option $arg" >&2; exit 2 ;;
    *) PATHS+=("$arg") ;;
  esac
done
[[ ${#PATHS[@]} -gt 0 ]] || PATHS=(deploy/kubernetes)

# --- the validator ------------------------------------------------------------
KV="$VENV/bin/kubernetes-validate"
if ! "$KV" --version 2>/dev/null | grep -qx "$VALIDATOR_VERSION"; then
  echo "installing kubernetes-validate $VALIDATOR_VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "kubernetes-validate==$VALIDATOR_VERSION"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# validate FILE... : 0 when every resource of every file validates against
# every version in K8S_VERSIONS. A kind without a schema is a failure (the
# tool itself only warns).
validate() {
  local status=0 out version
  for version in $K8S_VERSIONS; do
    if ! out=$("$KV" --strict --quiet -k "$version" "$@" 2>&1); then
      status=1
    fi
    if grep -q "Couldn't find schema" <<<"$out"; then
      status=1
    fi
    [[ -z "$out" ]] || printf '%s\n' "$out" >&2
  done
  return $status
}

# --- self-test: broken manifests must be rejected -------------------------------
self_test() {
  local dir="$TMP/broken" good=deploy/kubernetes/deployment.yaml
  mkdir -p "$dir"
  [[ -f $good ]] || { echo "self-test: $good is missing" >&2; return 1; }
  sed 's/imagePullPolicy:/imagePulPolicy:/' "$good" >"$dir/misspelt-field.yaml"
  sed 's/replicas: 1$/replicas: "one"/' "$good" >"$dir/wrong-type.yaml"
  printf 'apiVersion: v1\nkind: ConfigMapp\nmetadata:\n  name: x\n' >"$dir/unknown-kind.yaml"
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  replicas: 3\n' >"$dir/number-in-configmap.yaml"
  for f in "$dir"/*.yaml; do
    cmp -s "$f" "$good" && { echo "self-test: $f is not broken" >&2; return 1; }
    if validate "$f" 2>/dev/null; then
      echo "self-test FAILED: $(basename "$f") was accepted" >&2
      return 1
    fi
  done
  echo "self-test: 4 broken manifests rejected" >&2
}
self_test

# --- the manifests ----------------------------------------------------------------
FILES=()
for p in "${PATHS[@]}"; do
  if [[ -d $p ]]; then
    while IFS= read -r f; do FILES+=("$f"); done < <(
      find "$p" -type f \( -name '*.yaml' -o -name '*.yml' \) ! -name 'kustomization.yaml' ! -name 'kustomization.yml' | sort)
  elif [[ -f $p ]]; then
    FILES+=("$p")
  else
    echo "error: $p does not exist" >&2
    exit 1
  fi
done
[[ ${#FILES[@]} -gt 0 ]] || { echo "error: no manifests found in ${PATHS[*]}" >&2; exit 1; }

STATUS=0
if validate "${FILES[@]}"; then
  echo "ok: ${#FILES[@]} files valid against Kubernetes $K8S_VERSIONS" >&2
else
  echo "FAILED: manifests in ${PATHS[*]}" >&2
  STATUS=1
fi

# --- generated RBAC ---------------------------------------------------------------
if [[ $RBAC == 1 ]]; then
  cargo build --quiet --locked -p agent-safe-cli
  CLI="${CARGO_TARGET_DIR:-$ROOT/target}/debug/agent-safe"
  "$CLI" init "$TMP/project" >/dev/null
  n=0
  for args in "--caller deploy-agent --roles deployer --namespace staging" \
              "--caller ops-agent --roles sre" \
              "--caller deploy-agent --roles deployer --unattended --namespace prod"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    (cd "$TMP/project" && "$CLI" rbac $args) >"$TMP/rbac-$n.yaml"
    if [[ ! -s "$TMP/rbac-$n.yaml" ]]; then
      echo "FAILED: agent-safe rbac $args printed nothing" >&2
      STATUS=1
    elif validate "$TMP/rbac-$n.yaml"; then
      echo "ok: agent-safe rbac $args" >&2
    else
      echo "FAILED: agent-safe rbac $args" >&2
      STATUS=1
    fi
  done
fi

exit $STATUS
