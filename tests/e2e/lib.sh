# shellcheck shell=bash disable=SC2034 # (variables set here are for the scripts that source it)
# Shared by the end-to-end scripts in tests/e2e/ (sourced, not run). Everything listens
# on 127.0.0.1, on ports the kernel hands out; every wait is bounded; every process a
# script starts is stopped when it exits, whatever happens.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_DIR="$ROOT/tests/e2e"
HOOKTAP_BIN=${HOOKTAP_BIN:-$ROOT/target/debug/hooktap}
case $HOOKTAP_BIN in /*) ;; *) HOOKTAP_BIN="$ROOT/$HOOKTAP_BIN" ;; esac
if [ ! -x "$HOOKTAP_BIN" ]; then
  echo "hooktap binary not found at $HOOKTAP_BIN: run \`cargo build\` or set HOOKTAP_BIN" >&2
  exit 2
fi
# Where this script's processes write; removed at exit unless E2E_KEEP=1.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hooktap-e2e.XXXXXX")
PASSED=0
FAILED=0
PIDS=()
# The hooktap commands never open a terminal UI here and log warnings only.
export HOOKTAP_LOG=${HOOKTAP_LOG:-info}
# Nothing here goes through an HTTP proxy, whatever the environment says.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export NO_PROXY='*' no_proxy='*'

cleanup() {
  local status=$?
  local pid
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    stop_pid "$pid"
  done
  if [ "$FAILED" -gt 0 ] || [ "$status" -ne 0 ] || [ "${E2E_KEEP:-0}" = 1 ]; then
    echo "logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# A free TCP port on 127.0.0.1 (the kernel's pick; free when this returns).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME CMD...: runs CMD in the background, output in $WORK/NAME.log; sets PID.
# It is stopped with SIGTERM, as systemd and Docker stop a service: hooktap's clean stop
# (requests in flight finish and are recorded, tunnels closed), and what the apps and
# nginx stop on. (A script's background jobs ignore SIGINT.)
start() {
  local name=$1
  shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
}

# stop_pid PID: SIGTERM (see start), then SIGKILL after 10 s.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  echo "pid $pid did not stop on SIGTERM: killed" >&2
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# wait_for SECONDS CMD...: runs CMD every 0.1 s until it succeeds; fails after SECONDS.
wait_for() {
  local seconds=$1
  shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.1
  done
}

# wait_log SECONDS FILE PATTERN: until FILE has a line matching PATTERN (grep -E).
wait_log() {
  wait_for "$1" grep -Eq -- "$3" "$2"
}

# http_up URL: any HTTP answer from URL within 2 s.
http_up() {
  curl -s -o /dev/null --max-time 2 "$1"
}

# check DESCRIPTION CMD...: one test; counts it and says how it went.
check() {
  local description=$1
  shift
  if "$@"; then
    PASSED=$((PASSED + 1))
    echo "ok   - $description"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL - $description"
  fi
}

# expect_eq ACTUAL EXPECTED [WHAT]: true when equal, else says what differed.
expect_eq() {
  if [ "$1" = "$2" ]; then
    return 0
  fi
  echo "     expected ${3:-value} '$2', got '$1'" >&2
  return 1
}

# start_relay NAME ARGS...: a relay on a kernel-picked port; sets RELAY_PORT.
start_relay() {
  local name=$1
  shift
  start "$name" "$HOOKTAP_BIN" relay --listen 127.0.0.1:0 "$@"
  RELAY_PID=$PID
  if ! wait_log 20 "$WORK/$name.log" 'serving http://127\.0\.0\.1:[0-9]+'; then
    echo "the relay did not start:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
  fi
  RELAY_PORT=$(grep -Eo 'serving http://127\.0\.0\.1:[0-9]+' "$WORK/$name.log" | head -1 | sed 's/.*://')
}

# start_agent NAME ARGS...: `hooktap listen` with NDJSON output; sets AGENT_PID and
# PUBLIC_URL from its `ready` event, which comes once the relay has welcomed the tunnel
# (fails after 20 s).
start_agent() {
  local name=$1
  shift
  start "$name" "$HOOKTAP_BIN" listen --no-tui --json --capture-addr 127.0.0.1:0 --api-addr off "$@"
  AGENT_PID=$PID
  if ! wait_log 20 "$WORK/$name.log" '"event":"ready"'; then
    echo "the agent did not start:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
  fi
  PUBLIC_URL=$(grep -m1 '"event":"ready"' "$WORK/$name.log" |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["public_url"] or "")')
}

# summary: the closing line CI reads, and the exit status.
summary() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
