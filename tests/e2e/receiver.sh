#!/usr/bin/env bash
# End-to-end: an example receiver (flask or axum) behind `hooktap listen`, through a real
# `hooktap relay`, all on 127.0.0.1. Usage: tests/e2e/receiver.sh flask|axum
# (tests/e2e/flask.sh and axum.sh call it). Every webhook is sent by `hooktap send` to the
# public URL, signed with the app's secrets (--tamper and --stale for the rejection paths).
# Prints `N passed, N failed`; exits 1 on any failure.
#
# Environment: HOOKTAP_BIN (default target/debug/hooktap); E2E_VENV, the Flask virtual
# environment (default target/e2e-venv, made with `python3 -m venv` and
# examples/requirements.txt when missing); AXUM_RECEIVER_BIN (default
# examples/axum-receiver/target/debug/axum-receiver, built with cargo when missing);
# E2E_KEEP=1 keeps the logs.
set -euo pipefail
kind=${1:-}
case $kind in flask | axum) ;; *)
  echo "usage: $0 flask|axum" >&2
  exit 2
  ;;
esac
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

GITHUB_SECRET="e2e-github-$RANDOM$RANDOM"
STRIPE_SECRET="whsec_e2e$RANDOM$RANDOM"
TOKEN="e2e-token-$RANDOM$RANDOM"
NAME="e2e-$kind"
FAIL_FILE="$WORK/app-fails"
STORE="$WORK/store.db"

# --- the app -----------------------------------------------------------------------------
case $kind in
flask)
  VENV=${E2E_VENV:-$ROOT/target/e2e-venv}
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import flask' 2>/dev/null; then
    log "making the Flask virtual environment in $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/examples/requirements.txt"
  fi
  APP=("$VENV/bin/python" "$ROOT/examples/flask_receiver.py")
  ;;
axum)
  AXUM_BIN=${AXUM_RECEIVER_BIN:-$ROOT/examples/axum-receiver/target/debug/axum-receiver}
  if [ ! -x "$AXUM_BIN" ]; then
    log "building examples/axum-receiver"
    cargo build --locked --quiet --manifest-path "$ROOT/examples/axum-receiver/Cargo.toml"
    AXUM_BIN=$ROOT/examples/axum-receiver/target/debug/axum-receiver
  fi
  APP=("$AXUM_BIN")
  ;;
esac
APP_PORT=$(free_port)
start app env GITHUB_WEBHOOK_SECRET="$GITHUB_SECRET" STRIPE_WEBHOOK_SECRET="$STRIPE_SECRET" \
  FAIL_FILE="$FAIL_FILE" HOST=127.0.0.1 PORT="$APP_PORT" "${APP[@]}"
APP_LOG="$WORK/app.log"
if ! wait_for 30 http_up "http://127.0.0.1:$APP_PORT/health"; then
  echo "the $kind receiver did not start:" >&2
  cat "$APP_LOG" >&2
  exit 1
fi

# --- relay and agent ---------------------------------------------------------------------
start_relay relay --token "$TOKEN" --data-dir "$WORK/relay-data"
RELAY_LOG="$WORK/relay.log"
AGENT_ARGS=("$APP_PORT" --relay "ws://127.0.0.1:$RELAY_PORT" --token "$TOKEN" --name "$NAME"
  --store "$STORE" --verify "github=$GITHUB_SECRET" --verify "stripe=$STRIPE_SECRET")
start_agent agent "${AGENT_ARGS[@]}"
log "$kind receiver on :$APP_PORT, relay on :$RELAY_PORT, public URL $PUBLIC_URL"

# field JSON KEY...: a field of a JSON object (nested keys), as text.
field() {
  python3 -c '
import json, sys
value = json.loads(sys.argv[1])
for key in sys.argv[2:]:
    value = value[int(key)] if isinstance(value, list) else value.get(key)
    if value is None:
        break
print("" if value is None else value if isinstance(value, str) else json.dumps(value))
' "$@"
}

# send EVENT URL [ARGS...]: `hooktap send EVENT --to URL ARGS...` (the URL has a path, so
# it is used as is); sets STATUS (0 when nothing answered), DELIVERY (the id send prints:
# X-GitHub-Delivery, or a Stripe event's evt_ id) and ANSWER (the body's first lines).
# Its output is kept in $WORK/send.N.out.
SENDS=0
send() {
  local event=$1 url=$2 out
  shift 2
  SENDS=$((SENDS + 1))
  out="$WORK/send.$SENDS.out"
  "$HOOKTAP_BIN" send "$event" --to "$url" "$@" >"$out" 2>&1 || true
  # "hooktap: sent EVENT to URL (ID, how it was signed)", then "STATUS Reason in TIME",
  # then the body.
  DELIVERY=$(sed -n '1s/^hooktap: sent [^ ]* to [^ ]* (\([^,]*\),.*/\1/p' "$out")
  STATUS=$(sed -n '2s/^\([0-9][0-9][0-9]\) .*/\1/p' "$out")
  STATUS=${STATUS:-0}
  ANSWER=$(tail -n +3 "$out")
  if [ "$STATUS" = 0 ] || [ -z "$DELIVERY" ]; then
    echo "     hooktap send $event did not give a status and an id:" >&2
    cat "$out" >&2
  fi
}

# record_for DELIVERY: the stored record (`hooktap show --json`) whose request carries
# DELIVERY in its body or headers, once it is committed (waits up to 10 s). `requests
# --json` is newest first, so the search stops at the first match.
record_for() {
  local delivery=$1 deadline=$((SECONDS + 10))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$HOOKTAP_BIN" requests --json --limit 20 --store "$STORE" 2>/dev/null | python3 -c '
import json, subprocess, sys
delivery, binary, store = sys.argv[1:4]
for row in json.load(sys.stdin):
    shown = subprocess.run([binary, "show", row["id"], "--json", "--store", store],
                           capture_output=True, text=True).stdout
    if delivery in shown:
        print(shown)
        sys.exit(0)
sys.exit(1)
' "$delivery" "$HOOKTAP_BIN" "$STORE"; then
      return 0
    fi
    sleep 0.2
  done
  echo "     no record carries $delivery" >&2
  return 1
}

# --- 1. signed webhooks are accepted -----------------------------------------------------
send github.push "$PUBLIC_URL/webhooks/github" --secret "$GITHUB_SECRET"
delivery=$DELIVERY
check "$kind: hooktap send github.push to the public URL is accepted (200)" \
  expect_eq "$STATUS" 200 status
check "$kind: the app saw the push's delivery id" wait_log 5 "$APP_LOG" "200 github push $delivery"
record=$(record_for "$delivery" || true)
check "$kind: hooktap recorded the push with the verdict valid" \
  expect_eq "$(field "$record" verdict verdict)" valid verdict

send stripe.payment_intent.succeeded "$PUBLIC_URL/webhooks/stripe" --secret "$STRIPE_SECRET"
delivery=$DELIVERY
check "$kind: hooktap send stripe.payment_intent.succeeded is accepted (200)" \
  expect_eq "$STATUS" 200 status
record=$(record_for "$delivery" || true)
check "$kind: hooktap recorded the Stripe event with the verdict valid" \
  expect_eq "$(field "$record" verdict verdict)" valid verdict

# --- 2. a tampered webhook is rejected by the app, and hooktap says invalid -------------
send github.push "$PUBLIC_URL/webhooks/github" --secret "$GITHUB_SECRET" --tamper
delivery=$DELIVERY
check "$kind: hooktap send github.push --tamper is rejected by the app (401)" \
  expect_eq "$STATUS" 401 status
check "$kind: the app's answer names the reason" grep -q "does not match" <<<"$ANSWER"
record=$(record_for "$delivery" || true)
check "$kind: hooktap show --json gives the tampered push the verdict invalid" \
  expect_eq "$(field "$record" verdict verdict)" invalid verdict
check "$kind: hooktap's verdict gives the cause" \
  grep -q "does not match" <<<"$(field "$record" verdict reason)"
listed=$("$HOOKTAP_BIN" requests --json --limit 20 --store "$STORE")
check "$kind: hooktap requests --json lists the tampered push as invalid" \
  expect_eq "$(python3 -c 'import json, sys; print(" ".join(r["verdict"]["verdict"] for r in json.load(sys.stdin) if r["status"] == 401))' <<<"$listed")" invalid "verdicts of the 401s"

# --- 3. a stale Stripe event: rejected by the app, expired for hooktap -------------------
send stripe.payment_intent.succeeded "$PUBLIC_URL/webhooks/stripe" --secret "$STRIPE_SECRET" --stale
delivery=$DELIVERY
check "$kind: hooktap send --stale (a Stripe event signed an hour ago) is rejected by the app (401)" \
  expect_eq "$STATUS" 401 status
record=$(record_for "$delivery" || true)
check "$kind: hooktap gives the stale Stripe event the verdict expired" \
  expect_eq "$(field "$record" verdict verdict)" expired verdict

# --- 4. the app fails, is fixed, and `hooktap replay --failed` delivers ------------------
echo 500 >"$FAIL_FILE"
send github.push "$PUBLIC_URL/hooks/retry" --secret "$GITHUB_SECRET"
delivery=$DELIVERY
check "$kind: the app made to fail answers 500 through the tunnel" \
  expect_eq "$STATUS" 500 status
record_for "$delivery" >/dev/null || true
rm -f "$FAIL_FILE"
replayed=$("$HOOKTAP_BIN" replay --failed --path /hooks/retry --json --store "$STORE" 2>&1 || true)
echo "$replayed" >"$WORK/replay.out"
check "$kind: after the fix, hooktap replay --failed delivers it (200)" \
  grep -q '"status":200' <<<"$replayed"
check "$kind: the app got the replayed delivery" wait_log 5 "$APP_LOG" "200 github push $delivery"

# --- 5. agent stopped: the relay queues (202); agent back: the app gets it --------------
stop_pid "$AGENT_PID"
wait_log 10 "$RELAY_LOG" "agent disconnected" || true
send github.push "$PUBLIC_URL/webhooks/github" --secret "$GITHUB_SECRET"
delivery=$DELIVERY
check "$kind: with the agent stopped the relay answers hooktap send with 202" \
  expect_eq "$STATUS" 202 status
check "$kind: ... saying it is queued until the agent reconnects" \
  grep -Eq "offline; queued as [0-9]+, delivered when it reconnects" <<<"$ANSWER"
check "$kind: ... and the app has not seen it yet" bash -c "! grep -q '$delivery' '$APP_LOG'"
start_agent agent2 "${AGENT_ARGS[@]}"
check "$kind: the restarted agent gets its old name back" \
  expect_eq "${PUBLIC_URL##*/}" "$NAME" name
check "$kind: the app gets the queued webhook once the agent is back" \
  wait_log 15 "$APP_LOG" "200 github push $delivery"
record=$(record_for "$delivery" || true)
check "$kind: hooktap recorded it as delivered from the queue" \
  expect_eq "$(field "$record" source)" queued source

summary
