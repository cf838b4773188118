#!/usr/bin/env bash
# docs/FIELD-UNITS.md works as written: its "```sh example" blocks (with this
# test's broker, port, CA and password in place of the examples') run against
# a real mosquitto with the production config and a real pantaud, and every
# sample and the $status they send are stored; its Python unit runs too when
# python3-paho-mqtt is installed.
. "$(dirname "$0")/lib.sh"
t_begin
d=$T_TMP
doc=$T_ROOT/docs/FIELD-UNITS.md
t_certs "$d" || t_fail "openssl makes certificates"
mosquitto_passwd -c -b "$d/passwd" pantaud pantaud-secret-1 &&
    mosquitto_passwd -b "$d/passwd" van-01 rahasia-van-01 &&
    mosquitto_passwd -b "$d/passwd" van-02 rahasia-van-02
# The shipped ACL with each unit bound to its program, as the guide says.
cp "$T_ROOT/config/mosquitto/acl" "$d/acl"
printf 'user %s\ntopic write pantau/paduka-lamteng/%s/#\n' van-01 van-01 van-02 van-02 >>"$d/acl"
tls=$(t_free_port)
plain=$(t_free_port)
while [ "$plain" = "$tls" ]; do plain=$(t_free_port); done
sed -e "s|/etc/mosquitto/certs/|$d/|" -e "s|/etc/mosquitto/pantau.passwd|$d/passwd|" \
    -e "s|/etc/mosquitto/pantau.acl|$d/acl|" \
    -e "s|^listener 8883$|listener $tls 127.0.0.1|" -e "s|^listener 1883 127.0.0.1$|listener $plain 127.0.0.1|" \
    "$T_ROOT/config/mosquitto/mosquitto.conf" >"$d/mosquitto.conf"
printf "user root\nlog_type information\nlog_dest stderr\n" >>"$d/mosquitto.conf"
t_check "mosquitto runs the production config" t_broker "$d/mosquitto.conf" "$d/broker.log"

http_port=$(t_free_port)
db=$d/pantau.db
cat >"$d/pantau.ini" <<INI
[mqtt]
uri = tcp://127.0.0.1:$plain
client_id = pantaud-field-units-$$
username = pantaud
password = pantaud-secret-1
[store]
path = $db
[http]
listen = 127.0.0.1:$http_port
INI
t_check "pantaud subscribes" t_pantaud pantaud "$d/pantau.ini"

# The examples, in order, with the settings replaced by this test's.
awk '/^```sh example$/ { on = 1; next } /^```$/ { on = 0 } on' "$doc" |
    grep -vE '^(BROKER|PORT|CA|PASS)=' >"$d/examples.sh"
n_pub=$(grep -c '^mqtt ' "$d/examples.sh")
t_check "the guide has mosquitto_pub examples ($n_pub)" test "$n_pub" -ge 4
if (BROKER=127.0.0.1 PORT=$tls CA=$d/ca.crt PASS=rahasia-van-01 &&
    set -e && . "$d/examples.sh") >"$d/examples.out" 2>&1; then
    t_ok "every example exits 0"
else
    t_fail "every example exits 0" "$(cat "$d/examples.out")"
fi
got=$(t_wait_api_count "$http_port" unit=van-01 6 10)
t_check "their 6 samples are stored (got $got)" test "$got" = 6
t_check "the unit is online" test "$(t_wait_sql "$db" "SELECT online FROM units WHERE unit = 'van-01'" 1 5)" = 1
labelled=$(sqlite3 -readonly "$db" "SELECT count(*) FROM series WHERE unit = 'van-01' AND
    labels = '{\"doc\":\"ktp\",\"kampung\":\"gunung-sugih\"}'")
t_check "the labels arrived" test "$labelled" = 1
# (The unit's row takes its position within a minute: ask the API.)
t_check "the position arrived" test "$(curl -sf "http://127.0.0.1:$http_port/api/v1/units" |
    python3 -c 'import json, sys; print(sum(u["unit"] == "van-01" and u["lat"] is not None
        for u in json.load(sys.stdin)["units"]))')" = 1

# The Python unit: three readings, then a clean "offline".
awk '/^```python$/ { on = 1; next } /^```$/ { on = 0 } on' "$doc" >"$d/unit.py"
if /usr/bin/python3 -c 'import paho.mqtt.client' 2>/dev/null; then
    if BROKER=127.0.0.1 PORT=$tls CA=$d/ca.crt UNIT=van-02 PASS=rahasia-van-02 SAMPLES=3 INTERVAL=0.2 \
        timeout 60 /usr/bin/python3 "$d/unit.py" >"$d/unit.out" 2>&1; then
        t_ok "the Python unit runs"
    else
        t_fail "the Python unit runs" "$(cat "$d/unit.out")"
    fi
    t_check "its 3 readings are stored" test "$(t_wait_api_count "$http_port" unit=van-02 3 10)" = 3
    t_check "it said offline at the end" test "$(t_wait_sql "$db" "SELECT online FROM units WHERE unit = 'van-02'" 0 5)" = 0
else
    t_check "the Python unit is valid Python" python3 -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" "$d/unit.py"
    t_skip "the Python unit is not run: python3-paho-mqtt is not installed"
fi
t_check "pantaud stops cleanly" t_stop "$PANTAUD_PID"
t_check "nothing was rejected" grep -q "stats at exit: .* rejected=0 " "$PANTAUD_LOG"
t_end
