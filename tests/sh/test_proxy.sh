#!/usr/bin/env bash
# HTTPS in front of pantaud: config/proxy/nginx.conf, run by a real nginx on
# loopback ports with a self-signed certificate, before a real pantaud (with
# tokens) and mosquitto. Through it over HTTPS: the dashboard page, an API
# call with a token (and 401 without), plain HTTP sent to HTTPS, a websocket
# upgrade to /api/v1/live that gets its hello and a live sample, a CSV export
# streamed (chunked, not buffered), and pantaud's peer is nginx. A second
# nginx with the same file before a header-echoing server shows what pantaud
# is told on each location: X-Forwarded-For (a client's own claim replaced),
# X-Forwarded-Proto https and the Host with its port. Caddyfile: `caddy adapt`
# when caddy is installed.
. "$(dirname "$0")/lib.sh"
t_begin
if ! command -v nginx >/dev/null 2>&1; then
    t_fail "nginx is installed (scripts/deps)"
    t_end
    exit
fi
d=$T_TMP
ws_mod=$T_ROOT/tests/js/node_modules/ws
[ -d "$ws_mod" ] || t_fail "tests/js/node_modules has ws (make deps)"

# A certificate for 127.0.0.1, signed by a CA of the test's own.
(cd "$d" &&
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pantau-proxy-test-ca \
        -keyout ca.key -out ca.crt &&
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout proxy.key -out proxy.csr &&
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext &&
    openssl x509 -req -in proxy.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile san.ext -out proxy.crt) >/dev/null 2>&1 || t_fail "openssl makes the certificate"

broker=$(t_free_port)
cat >"$d/mosquitto.conf" <<CONF
listener $broker 127.0.0.1
allow_anonymous true
user root
log_dest stderr
CONF
t_check "mosquitto runs" t_broker "$d/mosquitto.conf" "$d/broker.log"
http=$(t_free_port)
viewer=viewer-token-proxy-test-1
cat >"$d/pantau.ini" <<INI
[mqtt]
uri = tcp://127.0.0.1:$broker
client_id = pantaud-proxy-$$
[store]
path = $d/pantau.db
[http]
listen = 127.0.0.1:$http
[auth]
viewer = $viewer
INI
t_check "pantaud subscribes" t_pantaud pantaud "$d/pantau.ini"

# proxy_conf NAME UPSTREAM_PORT: an nginx prefix dir running the shipped file
# on two free loopback ports (HTTP_PORT, HTTPS_PORT are set); starts it.
proxy_conf() {
    local p=$d/$1
    mkdir -p "$p/tmp" "$p/logs"
    HTTP_PORT=$(t_free_port)
    HTTPS_PORT=$(t_free_port)
    while [ "$HTTPS_PORT" = "$HTTP_PORT" ]; do HTTPS_PORT=$(t_free_port); done
    sed -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$2;|" \
        -e "s|^\( *\)listen 80;|\1listen 127.0.0.1:$HTTP_PORT;|" \
        -e "s|^\( *\)listen 443 ssl http2;|\1listen 127.0.0.1:$HTTPS_PORT ssl http2;|" \
        -e '/listen \[::\]/d' \
        -e "s|/etc/ssl/certs/pantau.example.go.id.crt|$d/proxy.crt|" \
        -e "s|/etc/ssl/private/pantau.example.go.id.key|$d/proxy.key|" \
        -e "s|/var/log/nginx/pantau.access.log|$p/logs/access.log|" \
        "$T_ROOT/config/proxy/nginx.conf" >"$p/site.conf"
    {
        [ "$(id -u)" -eq 0 ] && echo "user root;"
        cat <<NGINX
daemon off;
worker_processes 1;
pid $p/nginx.pid;
error_log $p/logs/error.log info;
events { worker_connections 64; }
http {
    client_body_temp_path $p/tmp/body;
    proxy_temp_path $p/tmp/proxy;
    fastcgi_temp_path $p/tmp/fastcgi;
    uwsgi_temp_path $p/tmp/uwsgi;
    scgi_temp_path $p/tmp/scgi;
    include $p/site.conf;
}
NGINX
    } >"$p/nginx.conf"
    if ! nginx -t -p "$p" -e "$p/logs/error.log" -c "$p/nginx.conf" >"$p/t.out" 2>&1; then
        t_fail "nginx -t accepts the shipped file" "$(cat "$p/t.out")"
        return 1
    fi
    t_spawn "$p/stderr.log" nginx -p "$p" -e "$p/logs/error.log" -c "$p/nginx.conf"
    NGINX_PID=$BG_PID
    local i
    for i in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$HTTPS_PORT") 2>/dev/null && return 0
        sleep 0.1
    done
    t_fail "nginx listens" "$(cat "$p/logs/error.log")"
    return 1
}

proxy_conf nginx "$http" && t_ok "nginx runs config/proxy/nginx.conf (nginx -t accepts it)"
base=https://127.0.0.1:$HTTPS_PORT
curl_p() { curl -s --max-time 10 --cacert "$d/ca.crt" "$@"; }
auth=(-H "Authorization: Bearer $viewer")

code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' --max-time 5 "http://127.0.0.1:$HTTP_PORT/x?y=1")
t_check "plain HTTP is sent to HTTPS (got $code)" test "$code" = "301 https://127.0.0.1/x?y=1"

if [ -f "$(dirname "$T_PANTAUD")/dashboard/index.html" ]; then
    page=$(curl_p "${auth[@]}" "$base/")
    t_check "the dashboard page over HTTPS" grep -q '<script[^>]*assets/app-' <<<"$page"
else
    t_fail "the dashboard page over HTTPS" "no dashboard beside $T_PANTAUD (make dashboard)"
fi
code=$(curl_p -o /dev/null -w '%{http_code}' "$base/api/v1/programs")
t_check "an API call without a token: 401 through the proxy (got $code)" test "$code" = 401
code=$(curl_p -o "$d/programs.json" -w '%{http_code}' "${auth[@]}" "$base/api/v1/programs")
t_check "an API call with a token: 200 through the proxy (got $code)" test "$code" = 200
t_check "its answer is pantaud's" grep -q '"programs"' "$d/programs.json"

# The websocket: hello, then a sample published to the broker, while the
# connection stays open for the peer check below (until $d/ws.done, 20 s at most).
cat >"$d/ws.mjs" <<'JS'
import { createRequire } from 'node:module';
import fs from 'node:fs';
const [modDir, url, token, ca, done] = process.argv.slice(2);
const WebSocket = createRequire(modDir + '/')('ws');
const ws = new WebSocket(url, { ca: fs.readFileSync(ca), headers: { Authorization: `Bearer ${token}` } });
let sample = false;
const end = (code) => { try { ws.close(); } catch {} setTimeout(() => process.exit(code), 100); };
const deadline = setTimeout(() => { console.log('TIMEOUT'); end(sample ? 0 : 1); }, 20000);
ws.on('message', (data) => {
  const f = JSON.parse(data.toString());
  if (f.type === 'hello') console.log(`HELLO ${f.version}`);
  if (f.type === 'samples' && !sample) {
    sample = true;
    console.log(`SAMPLE ${JSON.stringify(f.samples[0])}`);
    const poll = setInterval(() => {
      if (fs.existsSync(done)) { clearInterval(poll); clearTimeout(deadline); end(0); }
    }, 100);
  }
});
ws.on('error', (e) => { console.log(`ERROR ${e.message}`); end(1); });
ws.on('close', (code) => { if (!sample) { console.log(`CLOSED ${code}`); end(1); } });
JS
t_spawn "$d/ws.out" node "$d/ws.mjs" "$ws_mod/.." "wss://127.0.0.1:$HTTPS_PORT/api/v1/live" "$viewer" \
    "$d/ca.crt" "$d/ws.done"
ws_pid=$BG_PID
t_check "a websocket upgrade to /api/v1/live through the proxy gets its hello" \
    t_wait_log "$d/ws.out" "HELLO" 10
for i in $(seq 1 20); do
    mosquitto_pub -h 127.0.0.1 -p "$broker" -q 1 -t pantau/paduka-lamteng/van-01/visits -m 7
    t_wait_log "$d/ws.out" "SAMPLE" 1 && break
done
t_check "and a live sample" grep -q 'SAMPLE {"program":"paduka-lamteng","unit":"van-01"' "$d/ws.out"

# pantaud's peers (connections to its port) are all nginx's, the websocket's
# among them: pantaud sees the proxy, not the client.
peers=$(ss -tnpH state established "( dport = :$http )" 2>/dev/null | grep -o 'users:(("[^"]*"' | sort -u)
t_check "pantaud's peer is the proxy (${peers:-none})" test "$peers" = 'users:(("nginx"'
touch "$d/ws.done"
wait "$ws_pid"
t_check "the websocket client ends cleanly" test $? = 0

now=$(($(date +%s) * 1000))
curl_p -D "$d/export.h" -o "$d/export.csv" "${auth[@]}" \
    "$base/api/v1/export.csv?program=paduka-lamteng&from=$((now - 3600000))&to=$((now + 60000))"
t_check "an export through the proxy: its header row" test "$(head -1 "$d/export.csv" | tr -d '\r')" = \
    "ts,program,unit,metric,labels,value"
t_check "and the sample" grep -q ',paduka-lamteng,van-01,visits,' "$d/export.csv"
t_check "streamed: no Content-Length (chunks as pantaud writes them)" \
    test -z "$(grep -i "^content-length" "$d/export.h")" -a -s "$d/export.h"
t_check "the access log has no query strings (?access_token=)" \
    test -z "$(grep -F '?' "$d/nginx/logs/access.log")" -a -s "$d/nginx/logs/access.log"

# What pantaud is told, seen by a server that echoes the request's headers.
echo_port=$(t_free_port)
t_spawn "$d/echo.log" node -e '
require("http").createServer((q, s) => { s.setHeader("content-type", "application/json");
  s.end(JSON.stringify(q.headers)); }).listen(+process.argv[1], "127.0.0.1", () => console.log("READY"));
' "$echo_port"
t_wait_log "$d/echo.log" READY 10
proxy_conf echo "$echo_port"
for path in / /api/v1/live /api/v1/export.csv; do
    h=$(curl_p -H 'X-Forwarded-For: 203.0.113.9' "https://127.0.0.1:$HTTPS_PORT$path")
    t_check "$path: X-Forwarded-For is the client's address, not its claim" \
        grep -q '"x-forwarded-for":"127.0.0.1"' <<<"$h"
    t_check "$path: X-Forwarded-Proto https, Host with its port" \
        grep -q "\"x-forwarded-proto\":\"https\"" <<<"$h"
    grep -q "\"host\":\"127.0.0.1:$HTTPS_PORT\"" <<<"$h" || t_fail "$path: Host 127.0.0.1:$HTTPS_PORT" "$h"
done

if command -v caddy >/dev/null 2>&1; then
    if caddy adapt --config "$T_ROOT/config/proxy/Caddyfile" --adapter caddyfile >"$d/caddy.json" 2>"$d/caddy.err"; then
        t_ok "caddy adapt: config/proxy/Caddyfile"
    else
        t_fail "caddy adapt: config/proxy/Caddyfile" "$(cat "$d/caddy.err")"
    fi
else
    t_skip "caddy is not installed: the Caddyfile is not checked"
fi
t_end
