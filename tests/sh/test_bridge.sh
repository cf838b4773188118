#!/usr/bin/env bash
# The federation's transport with real brokers (CONTRACT §7): a regency's
# mosquitto running config/mosquitto/bridge.conf forwards its pantaud's
# STATEs over TLS (a CA made here by openssl; the bridge checks the hub's
# certificate) to a hub's mosquitto running mosquitto.conf with
# config/mosquitto/hub-acl; a hub pantaud lists the region. The hub's broker
# stopped while the regency keeps generating states (a sample changes its
# data meanwhile), then started again: the states queued by the bridge
# reach the hub as history, and the hub has the new state. The ACL refuses
# a regency writing another region's topic. The shipped files run with this
# test's paths, ports and passwords; the bridge retries every 1-3 s here
# (restart_timeout 5 60 shipped).
. "$(dirname "$0")/lib.sh"
t_begin
d=$T_TMP

for tool in mosquitto mosquitto_pub mosquitto_sub mosquitto_passwd openssl curl sqlite3; do
    command -v "$tool" >/dev/null || { t_skip "$tool is not installed"; t_end; exit; }
done
t_check "openssl makes a CA and the hub broker's certificate" t_certs "$d"
mosquitto_passwd -c -b "$d/passwd" pantaud hub-secret-1 &&
    mosquitto_passwd -b "$d/passwd" lampung-tengah lamteng-secret-2 &&
    mosquitto_passwd -b "$d/passwd" lombok-utara klu-secret-3
t_check "the hub's password file: its pantaud and two regencies' bridges" test -s "$d/passwd"

# The hub's broker: the shipped mosquitto.conf with hub-acl, persistence on
# (as Debian's main config has it) so a restart keeps sessions and queues.
tls=$(t_free_port)
plain=$(t_free_port)
while [ "$plain" = "$tls" ]; do plain=$(t_free_port); done
mkdir -p "$d/hubdata"
sed -e "s|/etc/mosquitto/certs/|$d/|" -e "s|/etc/mosquitto/pantau.passwd|$d/passwd|" \
    -e "s|/etc/mosquitto/pantau.acl|$d/hub-acl|" -e "s|^listener 8883$|listener $tls 127.0.0.1|" \
    -e "s|^listener 1883 127.0.0.1$|listener $plain 127.0.0.1|" \
    "$T_ROOT/config/mosquitto/mosquitto.conf" >"$d/hub.conf"
printf "user root\nlog_type information\nlog_dest stderr\npersistence true\npersistence_location %s/\n" \
    "$d/hubdata" >>"$d/hub.conf"
cp "$T_ROOT/config/mosquitto/hub-acl" "$d/hub-acl"
if t_broker "$d/hub.conf" "$d/hub-broker.log"; then
    t_ok "the hub's mosquitto runs mosquitto.conf with hub-acl"
else
    t_fail "the hub's mosquitto runs" "$(cat "$d/hub-broker.log")"
fi
HUB_BROKER=$BROKER_PID

# The regency's broker: plain on loopback for its pantaud, and the shipped
# bridge to the hub.
rport=$(t_free_port)
cat >"$d/regency.conf" <<CONF
listener $rport 127.0.0.1
allow_anonymous true
max_queued_messages 0
persistence false
user root
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
CONF
sed -e "s|^address .*|address 127.0.0.1:$tls|" -e "s|^remote_password .*|remote_password lamteng-secret-2|" \
    -e "s|/etc/mosquitto/certs/hub-ca.crt|$d/ca.crt|" -e "s|^restart_timeout .*|restart_timeout 1 3|" \
    "$T_ROOT/config/mosquitto/bridge.conf" >>"$d/regency.conf"
if t_broker "$d/regency.conf" "$d/regency-broker.log" && t_wait_log "$d/regency-broker.log" \
    "Connecting bridge" 5; then
    t_ok "the regency's mosquitto runs bridge.conf"
else
    t_fail "the regency's mosquitto runs bridge.conf" "$(cat "$d/regency-broker.log")"
fi

# Every state the regency's broker sees, to compare with the hub's history.
t_spawn "$d/regency-states.out" mosquitto_sub -h 127.0.0.1 -p "$rport" -q 1 -v -t 'pantau-fed/#'

cat >"$d/hub-catalog.ini" <<INI
[regency]
id = ntb
name = Provinsi Nusa Tenggara Barat
[region lampung-tengah]
name = Kabupaten Lampung Tengah
code = 18.02
INI
hub_http=$(t_free_port)
cat >"$d/hub.ini" <<INI
[mqtt]
uri = ssl://127.0.0.1:$tls
client_id = pantaud-hub-$$
username = pantaud
password = hub-secret-1
ca_file = $d/ca.crt
[store]
path = $d/hub.db
[http]
listen = 127.0.0.1:$hub_http
[catalog]
file = $d/hub-catalog.ini
[federation]
hub = yes
INI
if t_pantaud hub "$d/hub.ini"; then
    t_ok "the hub pantaud subscribes over TLS with its password (hub-acl lets it read)"
else
    t_fail "the hub pantaud subscribes" "$(tail -5 "$PANTAUD_LOG")"
fi
HUB_PID=$PANTAUD_PID
HUB_LOG=$PANTAUD_LOG

reg_http=$(t_free_port)
cat >"$d/regency.ini" <<INI
[mqtt]
uri = tcp://127.0.0.1:$rport
client_id = pantaud-regency-$$
[store]
path = $d/regency.db
[http]
listen = 127.0.0.1:$reg_http
[catalog]
file = $T_ROOT/config/catalog/lampung-tengah.ini
[federation]
publish = yes
heartbeat = 10s
INI
if t_pantaud regency "$d/regency.ini"; then t_ok "the regency pantaud runs"; else
    t_fail "the regency pantaud runs" "$(tail -5 "$PANTAUD_LOG")"
fi
REG_PID=$PANTAUD_PID

regions() { curl -sf "http://127.0.0.1:$hub_http/api/v1/regions"; }
history_count() {
    curl -sf "http://127.0.0.1:$hub_http/api/v1/regions/lampung-tengah/history?from=0" |
        grep -o '"generated_at":[0-9]*' | sort -u | wc -l
}
# wait_for SECONDS CMD...: polls until CMD succeeds.
wait_for() {
    local s=$1 i
    shift
    for i in $(seq 1 $((s * 5))); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}
heard() { regions | grep -q '"id":"lampung-tengah","name":"Kabupaten Lampung Tengah","code":"18.02","province":"Lampung","last_seen":[0-9]'; }
t_check "the hub lists the region, heard through the bridge" wait_for 30 heard

# The outage: the hub's broker stops; the regency goes on (heartbeat 10 s,
# and a sample that changes a KPI).
t_stop "$HUB_BROKER"
sleep 1
before=$(grep -c '^pantau-fed/lampung-tengah/state ' "$d/regency-states.out")
mosquitto_pub -h 127.0.0.1 -p "$rport" -q 1 -t pantau/paduka-lamteng/van-01/documents_issued \
    -m '{"value": 9, "labels": {"doc": "ktp", "kampung": "gunung-sugih"}}'
states_during() {
    grep '^pantau-fed/lampung-tengah/state ' "$d/regency-states.out" | tail -n +$((before + 1)) |
        grep -o '"generated_at":[0-9]*' | sort -u
}
changed() { grep '^pantau-fed/lampung-tengah/state ' "$d/regency-states.out" | tail -1 |
    grep -q '"id":"ktp","name":"KTP diterbitkan".*"current":9'; }
# Two states (the change's and a heartbeat's, 10 s apart), the last with
# the change: waited for (30 s at most), not slept.
two_and_changed() { [ "$(states_during | grep -c generated_at)" -ge 2 ] && changed; }
wait_for 30 two_and_changed
during=$(states_during)
n_during=$(echo "$during" | grep -c generated_at)
t_check "the regency generated states while the hub's broker was down ($n_during)" test "$n_during" -ge 2
t_check "one of them carries the changed KPI" changed

# Back: the bridge delivers what it queued, in order; the hub keeps each.
if t_broker "$d/hub.conf" "$d/hub-broker-2.log"; then t_ok "the hub's broker is back"; else
    t_fail "the hub's broker is back" "$(tail -5 "$d/hub-broker-2.log")"
fi
all_arrived() {
    local h g
    h=$(curl -sf "http://127.0.0.1:$hub_http/api/v1/regions/lampung-tengah/history?from=0" |
        grep -o '"generated_at":[0-9]*')
    for g in $during; do echo "$h" | grep -qx "$g" || return 1; done
}
t_check "every state generated during the outage is in the hub's history" wait_for 40 all_arrived
latest_changed() {
    curl -sf "http://127.0.0.1:$hub_http/api/v1/regions/lampung-tengah" |
        grep -q '"id":"ktp","name":"KTP diterbitkan".*"current":9'
}
t_check "the hub's region has the new state" wait_for 20 latest_changed
not_stale() { regions | grep -q '"id":"lampung-tengah".*"stale":false'; }
t_check "and is not stale" wait_for 20 not_stale

# The ACL: lampung-tengah's credentials cannot write lombok-utara's topic.
now=$(($(date +%s) * 1000))
forged="{\"regency\":{\"id\":\"lombok-utara\",\"name\":\"Forged\",\"code\":\"52.08\",\"province\":null,\"timezone\":\"+08:00\"},\"generated_at\":$now,\"programs\":[],\"dimensions\":[{\"id\":\"governance\",\"progress\":null},{\"id\":\"branding\",\"progress\":null},{\"id\":\"economy\",\"progress\":null},{\"id\":\"living\",\"progress\":null},{\"id\":\"society\",\"progress\":null},{\"id\":\"environment\",\"progress\":null}],\"alerts\":[],\"units\":{\"online\":0,\"offline\":0,\"stale\":0}}"
mosquitto_pub -h 127.0.0.1 -p "$tls" --cafile "$d/ca.crt" -u lampung-tengah -P lamteng-secret-2 \
    -i "forger-$$" -q 1 -t pantau-fed/lombok-utara/state -m "$forged" 2>"$d/forge.err"
# The same payload with lombok-utara's own credentials is taken: the ACL,
# not the payload, made the difference.
sleep 2
t_check "the ACL refuses a regency writing another's topic: nothing reached the hub" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hub_http/api/v1/regions/lombok-utara")" = 404
mosquitto_pub -h 127.0.0.1 -p "$tls" --cafile "$d/ca.crt" -u lombok-utara -P klu-secret-3 \
    -i "klu-$$" -q 1 -t pantau-fed/lombok-utara/state -m "$forged"
own() { curl -sf "http://127.0.0.1:$hub_http/api/v1/regions/lombok-utara" >/dev/null; }
t_check "a regency writing its own topic reaches the hub" wait_for 10 own

t_check "the regency pantaud stops cleanly" t_stop "$REG_PID"
t_check "the hub pantaud stops cleanly" t_stop "$HUB_PID"
t_end
