#!/usr/bin/env bash
# Load benchmark of the HTTP sidecar: POST /v1/check on loopback.
#
# Builds the server in release mode, starts it on a free 127.0.0.1 port
# against a copy of tests/parity/project (once with `durability: process`,
# once with `durability: sync`), drives it with wrk for a bounded time, and
# prints throughput and latency percentiles. Then stops the server with
# SIGTERM (it must exit 0) and checks that the audit log holds one event per
# answered request (and verifies the chain when the `agent-safe` CLI builds).
#
# The load generator runs on the same machine and shares its cores with the
# server: on a 2-core machine the numbers are for both together.
#
# Usage: scripts/load-bench.sh [-d SECONDS] [-c CONNECTIONS] [-t WRK_THREADS]
#                              [-m process|sync|both] [-e auto|inline|blocking]
#                              [-r RATE] [--quiet-log] [--no-build] [--check]
#   -r RATE      pace the load at about RATE requests/s in all (each connection
#                waits CONNECTIONS/RATE between its requests, in whole ms): the
#                latency at a given load, instead of at saturation
#   --quiet-log  turn the per-request access log off (AGENT_SAFE_LOG=info,agent_safe_server::access=off)
#   --no-build   use the binaries already in target/release
#   --check      exit 1 unless `process` meets the budget (> 20k/s, p99 < 2 ms)
# Environment: SERVER_CMD overrides the server command (default: the
# `agent-safe serve` of the CLI, or the `agent-safe-serve` example of
# crates/agent-safe-server, the same serve(), when the CLI lacks `serve` or
# -e is given).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=10
CONNS=64
THREADS=1
MODES="process sync"
EXECUTION=auto
LOG_FILTER=info
CHECK=0
BUILD=1
RATE=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    -d) DURATION=$2; shift 2 ;;
    -c) CONNS=$2; shift 2 ;;
    -t) THREADS=$2; shift 2 ;;
    -m) case "$2" in both) MODES="process sync" ;; process|sync) MODES=$2 ;; *) echo "bad -m $2" >&2; exit 2 ;; esac; shift 2 ;;
    -e) EXECUTION=$2; shift 2 ;;
    -r) RATE=$2; shift 2 ;;
    --quiet-log) LOG_FILTER=info,agent_safe_server::access=off; shift ;;
    --check) CHECK=1; shift ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

cd "$ROOT"
WORK="$ROOT/target/load-bench"
rm -rf "$WORK"
mkdir -p "$WORK"

# --- the load generator -----------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found; installing it from Debian's packages" >&2
  if command -v apt-get >/dev/null 2>&1; then
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  fi
  command -v wrk >/dev/null 2>&1 || { echo "error: install wrk (apt-get install wrk)" >&2; exit 1; }
fi

# --- the server ---------------------------------------------------------------
CLI_OK=0
if [[ $BUILD == 1 ]]; then
  echo "building the server and the CLI (release)..." >&2
  cargo build --release --quiet -p agent-safe-server --example agent-safe-serve
  if cargo build --release --quiet -p agent-safe-cli >/dev/null 2>&1; then
    CLI_OK=1
  fi
elif [[ -x target/release/agent-safe ]]; then
  CLI_OK=1
fi
if [[ -n "${SERVER_CMD:-}" ]]; then
  read -r -a SERVER <<<"$SERVER_CMD"
elif [[ $EXECUTION != auto ]]; then
  # Only the example has --execution (the CLI picks by durability).
  SERVER=(target/release/examples/agent-safe-serve)
elif [[ $CLI_OK == 1 ]] && target/release/agent-safe serve --help >/dev/null 2>&1; then
  SERVER=(target/release/agent-safe serve)
else
  SERVER=(target/release/examples/agent-safe-serve)
fi
EXTRA=()
if [[ $EXECUTION != auto ]]; then
  if [[ ${SERVER[0]} == *agent-safe-serve ]]; then
    EXTRA=(--execution "$EXECUTION")
  else
    echo "warning: -e needs the example server; ignoring it" >&2
  fi
fi

cat >"$WORK/check.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"action":"restart-deployment","target":"staging/api","caller":"bench-agent","params":{"namespace":"staging","deployment":"api"}}'
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
if pause > 0 then
  function delay() return pause end
end
LUA
DELAY_MS=0
if [[ $RATE != 0 ]]; then
  DELAY_MS=$(( (CONNS * 1000 + RATE / 2) / RATE ))
  (( DELAY_MS >= 1 )) || DELAY_MS=1
fi

SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# Prints "<value in ms>" for a wrk latency like 812.00us, 1.23ms, 2.01s.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else { printf "%s", v } }'
}

SUMMARY=()
STATUS=0
for mode in $MODES; do
  dir="$WORK/$mode"
  mkdir -p "$dir"
  cp -r tests/parity/project/. "$dir/"
  rm -rf "$dir/audit"
  if [[ $mode == sync ]]; then
    sed -i 's|^  path: audit/audit.jsonl$|  path: audit/audit.jsonl\n  durability: sync|' "$dir/agent-safe.yaml"
    grep -q 'durability: sync' "$dir/agent-safe.yaml"
  fi

  log="$dir/server.log"
  AGENT_SAFE_LOG=$LOG_FILTER "${SERVER[@]}" --config "$dir/agent-safe.yaml" --listen 127.0.0.1:0 "${EXTRA[@]}" \
    >/dev/null 2>"$log" &
  SERVER_PID=$!
  addr=
  for _ in $(seq 1 200); do
    addr=$(grep -m1 '"message":"listening"' "$log" 2>/dev/null | sed -n 's/.*"addr":"\([^"]*\)".*/\1/p' || true)
    [[ -n "$addr" ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$log" >&2; echo "error: the server did not start" >&2; exit 1; }
    sleep 0.05
  done
  [[ -n "$addr" ]] || { cat "$log" >&2; echo "error: no listening address in the log" >&2; exit 1; }
  execution=$(grep -m1 '"message":"listening"' "$log" | sed -n 's/.*"execution":"\([^"]*\)".*/\1/p')
  case "$addr" in 127.*) ;; *) echo "error: refusing to load a non-loopback address $addr" >&2; exit 1 ;; esac

  # Warm up, then measure.
  wrk -t1 -c8 -d1s -s "$WORK/check.lua" "http://$addr/v1/check" >/dev/null
  before=$(wc -l <"$dir/audit/audit.jsonl")
  out="$dir/wrk.txt"
  WRK_DELAY_MS=$DELAY_MS wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/check.lua" \
    "http://$addr/v1/check" | tee "$out" >&2
  metrics=$(curl -s "http://$addr/metrics" 2>/dev/null || true)

  kill -TERM "$SERVER_PID"
  set +e
  wait "$SERVER_PID"
  code=$?
  set -e
  SERVER_PID=
  if [[ $code != 0 ]]; then
    echo "error: the server exited $code after SIGTERM" >&2
    tail -5 "$log" >&2
    STATUS=1
  fi

  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  total=$(awk '/requests in/ {print $1}' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  p90=$(to_ms "$(awk '$1 == "90%" {print $2}' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  bad=$(awk '/Non-2xx/ {print $NF}' "$out")
  errors=$(awk '/Socket errors/ {print}' "$out")
  after=$(wc -l <"$dir/audit/audit.jsonl")
  logged=$((after - before))
  syncs=$(sed -n 's/^agent_safe_audit_syncs_total \(.*\)/\1/p' <<<"$metrics")
  appends=$(sed -n 's/^agent_safe_audit_appends_total \(.*\)/\1/p' <<<"$metrics")
  if [[ -n "$bad" ]]; then
    echo "error: $bad responses were not 2xx" >&2
    STATUS=1
  fi
  # wrk counts only completed responses; a response can be cut off by the
  # end of the run after its event was logged, never the other way round.
  if (( logged < total )); then
    echo "error: $total requests answered but only $logged events logged" >&2
    STATUS=1
  fi
  verify="skipped (the agent-safe CLI does not build)"
  if [[ $CLI_OK == 1 ]]; then
    if target/release/agent-safe audit verify "$dir/audit" >"$dir/verify.txt" 2>&1; then
      verify="ok"
    else
      verify="FAILED"
      cat "$dir/verify.txt" >&2
      STATUS=1
    fi
  fi
  SUMMARY+=("$(printf '%-8s %-9s %10s %9s %9s %9s %10s %8s  %s %s' \
    "$mode" "$execution" "$rps" "$p50" "$p90" "$p99" "$logged" "${syncs:-?}/${appends:-?}" "$verify" "$errors")")
  if [[ $CHECK == 1 && $mode == process ]]; then
    if ! awk -v r="$rps" -v p="$p99" 'BEGIN { exit !(r > 20000 && p < 2.0) }'; then
      echo "budget missed: $rps checks/s, p99 ${p99} ms (budget > 20000/s, p99 < 2 ms)" >&2
      STATUS=1
    fi
  fi
done

echo
pacing="saturating (closed loop)"
[[ $DELAY_MS == 0 ]] || pacing="paced: ${DELAY_MS} ms between requests per connection (~$(( CONNS * 1000 / DELAY_MS ))/s at most)"
echo "POST /v1/check, $CONNS connections, $THREADS wrk thread(s), ${DURATION}s, $pacing,"
echo "$(nproc) cores shared by server and load generator, access log: $LOG_FILTER"
printf '%-8s %-9s %10s %9s %9s %9s %10s %8s  %s\n' durability execution "checks/s" "p50 ms" "p90 ms" "p99 ms" "events" "syncs/appends" "audit verify"
for line in "${SUMMARY[@]}"; do
  echo "$line"
done
exit $STATUS
