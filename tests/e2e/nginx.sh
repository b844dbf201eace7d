#!/usr/bin/env bash
# End-to-end: nginx (Debian's package) in front of a real `hooktap relay`, with the very
# config of docs/self-hosting.md (assets/nginx-relay.conf, its `# tls` lines taken out and
# its ports changed), all on 127.0.0.1: an agent gets its tunnel through nginx, webhooks
# sent to nginx reach the app by path and by subdomain, a 5 MiB body arrives intact, and a
# webhook sent while the agent is away is queued and delivered. nginx runs from a config in
# a temporary folder (not the system service). Prints `N passed, N failed`.
#
# Needs: nginx (apt-get install nginx), python3, curl. HOOKTAP_BIN as in lib.sh.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
if [ ! -x "$NGINX" ]; then
  echo "nginx not found: apt-get install nginx (or set NGINX)" >&2
  exit 2
fi
TOKEN="e2e-token-$RANDOM$RANDOM"
NAME=e2e-nginx
DOMAIN=relay.example.com
NGINX_PORT=$(free_port)
APP_PORT=$(free_port)

# --- relay, on loopback behind nginx, as docs/self-hosting.md runs it --------------------
start_relay relay --token "$TOKEN" --data-dir "$WORK/relay-data" \
  --public-url "http://127.0.0.1:$NGINX_PORT" --domain "$DOMAIN"
RELAY_LOG="$WORK/relay.log"

# --- nginx, with assets/nginx-relay.conf ------------------------------------------------
mkdir -p "$WORK/nginx/tmp"
site="$WORK/nginx/hooktap-relay.conf"
sed -e '/# tls$/d' \
  -e "s/127\.0\.0\.1:8080/127.0.0.1:$RELAY_PORT/g" \
  -e "s/^server {\$/server {\n    listen 127.0.0.1:$NGINX_PORT;/" \
  "$ROOT/assets/nginx-relay.conf" >"$site"
# The file must still be what the docs show: two proxy_pass lines changed, one listen.
check "nginx: the docs' config has its relay address and TLS lines where the test expects" \
  expect_eq "$(grep -c "proxy_pass http://127.0.0.1:$RELAY_PORT;" "$site") $(grep -Ec '^ *listen ' "$site") $(grep -c 'ssl' "$site")" "2 1 0" "proxy_pass, listen and ssl lines"
cat >"$WORK/nginx/nginx.conf" <<EOF
# One process, in the foreground, as the invoking user: only for this test.
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log info;
events { worker_connections 256; }
http {
    access_log $WORK/nginx/access.log;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    include $site;
}
EOF
NGINX_ARGS=(-p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log")
check "nginx: nginx -t accepts the config" "$NGINX" -t -q "${NGINX_ARGS[@]}"
start nginx "$NGINX" "${NGINX_ARGS[@]}"
if ! wait_for 10 http_up "http://127.0.0.1:$NGINX_PORT/_hooktap/health"; then
  echo "nginx did not start:" >&2
  cat "$WORK/nginx.log" "$WORK/nginx/error.log" >&2 || true
  exit 1
fi
health=$(curl -s --max-time 5 "http://127.0.0.1:$NGINX_PORT/_hooktap/health")
check "nginx: /_hooktap/health answers through nginx" grep -q '"status":"ok"' <<<"$health"

# --- the app and the agent, whose tunnel goes through nginx ------------------------------
start app python3 "$E2E_DIR/echo_app.py" "$APP_PORT"
APP_LOG="$WORK/app.log"
wait_for 10 http_up "http://127.0.0.1:$APP_PORT/" || { cat "$APP_LOG" >&2; exit 1; }
AGENT_ARGS=("$APP_PORT" --relay "ws://127.0.0.1:$NGINX_PORT" --token "$TOKEN" --name "$NAME"
  --store "$WORK/store.db")
start_agent agent "${AGENT_ARGS[@]}"
check "nginx: the agent gets a tunnel through nginx" \
  expect_eq "$PUBLIC_URL" "http://$NAME.$DOMAIN:$NGINX_PORT" "public URL"
check "nginx: the relay saw the agent connect" wait_log 5 "$RELAY_LOG" "agent connected name=$NAME"

# post URL ID [curl args...]: POSTs JSON with X-E2E-Id: ID; prints `STATUS BODY`.
post() {
  local url=$1 id=$2
  shift 2
  curl -s --max-time 30 -o "$WORK/answer" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H "X-E2E-Id: $id" "$@" "$url"
  printf ' '
  cat "$WORK/answer"
}
json_field() {
  python3 -c 'import json, sys; v = json.loads(sys.argv[1])
for k in sys.argv[2:]: v = v.get(k) if isinstance(v, dict) else None
print(v if v is not None else "")' "$@"
}

# --- webhooks sent to nginx reach the app ------------------------------------------------
out=$(post "http://127.0.0.1:$NGINX_PORT/t/$NAME/webhooks/github?x=1" path-1 -d '{"zen":"via nginx"}')
status=${out%% *} body=${out#* }
check "nginx: a webhook to nginx's /t/$NAME/… reaches the app (200)" expect_eq "$status" 200 status
check "nginx: ... at the app's path /webhooks/github?x=1" \
  expect_eq "$(json_field "$body" path)" "/webhooks/github?x=1" path
check "nginx: ... with X-Forwarded-For naming the sender, then nginx" \
  expect_eq "$(json_field "$body" headers x-forwarded-for)" "127.0.0.1, 127.0.0.1" X-Forwarded-For
check "nginx: ... and the Host the sender used in X-Forwarded-Host" \
  expect_eq "$(json_field "$body" headers x-forwarded-host)" "127.0.0.1" X-Forwarded-Host

out=$(post "http://$NAME.$DOMAIN:$NGINX_PORT/sub/path" sub-1 -d '{"zen":"by subdomain"}' \
  --resolve "$NAME.$DOMAIN:$NGINX_PORT:127.0.0.1")
status=${out%% *} body=${out#* }
check "nginx: a webhook to $NAME.$DOMAIN (wildcard server_name, --domain) reaches the app" \
  expect_eq "$status $(json_field "$body" path)" "200 /sub/path" "status and path"

head -c $((5 * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"
want=$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)
out=$(post "http://127.0.0.1:$NGINX_PORT/t/$NAME/big" big-1 --data-binary "@$WORK/big.bin" \
  -H 'Content-Type: application/octet-stream')
status=${out%% *} body=${out#* }
check "nginx: a 5 MiB body passes nginx (client_max_body_size) and arrives intact" \
  expect_eq "$status $(json_field "$body" sha256)" "200 $want" "status and SHA-256"

out=$(curl -s --max-time 30 -o /dev/null -w '%{http_code}' -X POST -H 'X-E2E-Id: huge-1' \
  -H 'Content-Type: application/octet-stream' --data-binary @<(head -c $((65 * 1024 * 1024)) /dev/zero) \
  "http://127.0.0.1:$NGINX_PORT/t/$NAME/huge" || true)
check "nginx: a body over client_max_body_size (65 MiB) is refused by nginx with 413" expect_eq "$out" 413 status
check "nginx: ... and never reaches the app" bash -c "! grep -q 'id=huge-1' '$WORK/app.log'"

# --- agent away: queued by the relay behind nginx, delivered when it is back -------------
stop_pid "$AGENT_PID"
wait_log 10 "$RELAY_LOG" "agent disconnected name=$NAME" || true
# nginx logs an upgraded connection when it ends.
check "nginx: nginx carried the tunnel as a WebSocket (101 in its access log)" \
  wait_log 5 "$WORK/nginx/access.log" '"GET /_hooktap/tunnel HTTP/1.1" 101'
out=$(post "http://127.0.0.1:$NGINX_PORT/t/$NAME/webhooks/late" queued-1 -d '{"zen":"while away"}')
check "nginx: with the agent stopped the relay answers 202 through nginx" \
  expect_eq "${out%% *}" 202 status
start_agent agent2 "${AGENT_ARGS[@]}"
check "nginx: the agent reconnects through nginx and the app gets the queued webhook" \
  wait_log 15 "$APP_LOG" "POST /webhooks/late id=queued-1"

summary
