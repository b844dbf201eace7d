#!/usr/bin/env bash
# Makes assets/screenshot-ui.png and prints the same screen as text (README's block): the
# axum example on :5000 behind the real `hooktap listen` (capture on :4747) in tmux at
# 120x32, six events from `hooktap send` (one stale, one the app fails with 500, one
# tampered), the failed one replayed, the tampered one's Signature tab open.
# Needs: tmux, target/debug/hooktap, examples/axum-receiver built, python3-pil; ports 4747
# and 5000 free.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
H=$ROOT/target/debug/hooktap
DIR=$(mktemp -d)
SESSION=hooktap-shot-$$
GITHUB_WEBHOOK_SECRET=gh-demo-secret STRIPE_WEBHOOK_SECRET=whsec_demo123 FAIL_FILE="$DIR/fail" \
  HOST=127.0.0.1 PORT=5000 "$ROOT/examples/axum-receiver/target/debug/axum-receiver" >"$DIR/app.log" 2>&1 &
APP=$!
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true; kill "$APP" 2>/dev/null || true; rm -rf "$DIR"' EXIT
sleep 0.5
tmux new-session -d -s "$SESSION" -x 120 -y 32 "HOOKTAP_LOG=warn '$H' listen 5000 --api-addr off --store '$DIR/store.db' --verify github=gh-demo-secret --verify stripe=whsec_demo123"
sleep 1.5
s() { "$H" send "$@" >/dev/null; sleep 0.4; }
s github.push --secret gh-demo-secret
s stripe.payment_intent.succeeded --secret whsec_demo123
s github.pull_request --secret gh-demo-secret
s stripe.checkout.session.completed --secret whsec_demo123 --stale
echo 500 >"$DIR/fail"
s stripe.invoice.payment_failed --secret whsec_demo123
rm -f "$DIR/fail"
s github.push --secret gh-demo-secret --tamper
sleep 0.5
key() { tmux send-keys -t "$SESSION" "$1"; sleep "${2:-0.3}"; }
key j; key r 1.5; key k; key Tab; key Tab 1
tmux capture-pane -t "$SESSION" -e -p >"$DIR/screen.ansi"
tmux capture-pane -t "$SESSION" -p
key q 0.5
/usr/bin/python3 "$ROOT/assets/ansi2png.py" "$DIR/screen.ansi" "$ROOT/assets/screenshot-ui.png"
