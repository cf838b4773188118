#!/usr/bin/env bash
# The shipped Prometheus pieces: config/prometheus/pantau.yml passes
# `promtool check config` (with its token file in place), pantau.rules.yml
# passes `promtool check rules`, and every pantau_* metric the rules name is
# one a real pantaud exports on /metrics (fetched with a token, with a webhook
# configured so its metrics are there), so a renamed metric fails here.
. "$(dirname "$0")/lib.sh"
t_begin
if ! command -v promtool >/dev/null 2>&1; then
    t_fail "promtool is installed (package prometheus; scripts/deps)"
    t_end
    exit
fi
src=$T_ROOT/config/prometheus
d=$T_TMP
if promtool check rules "$src/pantau.rules.yml" >"$d/rules.out" 2>&1; then
    t_ok "promtool check rules: pantau.rules.yml ($(grep -o '[0-9]* rules found' "$d/rules.out"))"
else
    t_fail "promtool check rules: pantau.rules.yml" "$(cat "$d/rules.out")"
fi
# The config names its token file by its installed path; the test's stands in.
cp "$src/pantau.rules.yml" "$d/"
echo viewer-token-for-prometheus-1 >"$d/pantau.token"
sed "s|/etc/prometheus/pantau.token|$d/pantau.token|" "$src/pantau.yml" >"$d/pantau.yml"
if promtool check config "$d/pantau.yml" >"$d/config.out" 2>&1; then
    t_ok "promtool check config: pantau.yml (and the rules it loads)"
else
    t_fail "promtool check config: pantau.yml" "$(cat "$d/config.out")"
fi
t_check "the scrape config sends a bearer token" grep -q 'type: Bearer' "$src/pantau.yml"

port=$(t_free_port)
cat >"$d/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
user root
log_dest stderr
CONF
t_check "mosquitto runs" t_broker "$d/mosquitto.conf" "$d/broker.log"
http=$(t_free_port)
cat >"$d/pantau.ini" <<INI
[mqtt]
uri = tcp://127.0.0.1:$port
client_id = pantaud-prometheus-$$
[store]
path = $d/pantau.db
[http]
listen = 127.0.0.1:$http
[auth]
viewer = viewer-token-for-prometheus-1
[alerts]
webhook = http://127.0.0.1:9/pantau
INI
t_check "pantaud subscribes" t_pantaud pantaud "$d/pantau.ini"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$http/metrics")
t_check "/metrics without the token: 401 (got $code)" test "$code" = 401
curl -s --max-time 5 -H "Authorization: Bearer $(cat "$d/pantau.token")" \
    "http://127.0.0.1:$http/metrics" >"$d/metrics.txt"
exported=$(sed -n 's/^# TYPE \(pantau_[a-z0-9_]*\) .*/\1/p' "$d/metrics.txt" | sort -u)
t_check "/metrics with the token file's token exports pantau metrics ($(wc -w <<<"$exported"))" \
    test "$(wc -w <<<"$exported")" -ge 20

named=$(grep -oE 'pantau_[a-z0-9_]+' "$src/pantau.rules.yml" | sort -u)
missing=
for m in $named; do
    grep -qxF "$m" <<<"$exported" || missing="$missing $m"
done
t_check "the rules name $(wc -w <<<"$named") pantau metrics, each exported by pantaud" \
    test -z "$missing" -a "$(wc -w <<<"$named")" -ge 6
[ -n "$missing" ] && echo "  not on /metrics:$missing" >&2
for m in pantau_mqtt_connected pantau_ingest_held_back pantau_rejected_total \
    pantau_webhook_dropped_total pantau_loop_slow_turns_total; do
    t_check "a rule watches $m" grep -qw "$m" <<<"$named"
done
t_end
