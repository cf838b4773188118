#!/usr/bin/env bash
# The production broker config (config/mosquitto/mosquitto.conf + acl), run
# by a real mosquitto on free loopback ports with certificates made here by
# openssl and a password file made by mosquitto_passwd: pantaud ingests over
# TLS with a username and password; a unit publishes its own metrics and
# $status but cannot publish as another unit, nor under another program
# (its ACL block binds it to its own, CONTRACT §10), nor read; pantaud
# cannot publish; unknown, anonymous and wrong-password clients are refused.
. "$(dirname "$0")/lib.sh"
t_begin
d=$T_TMP
t_check "openssl makes a CA and a broker certificate" t_certs "$d"

# The users: pantaud and three units of two programs, as an operator would
# add them (a password each, and a block in the ACL: the ACL's comment).
mosquitto_passwd -c -b "$d/passwd" pantaud pantaud-secret-1 &&
    mosquitto_passwd -b "$d/passwd" van-01 van01-secret-2 &&
    mosquitto_passwd -b "$d/passwd" van-02 van02-secret-3 &&
    mosquitto_passwd -b "$d/passwd" truck-07 truck07-secret-4
t_check "mosquitto_passwd writes the password file" test -s "$d/passwd"

tls=$(t_free_port)
plain=$(t_free_port)
while [ "$plain" = "$tls" ]; do plain=$(t_free_port); done
# The shipped files, with this test's paths and ports.
sed -e "s|/etc/mosquitto/certs/|$d/|" -e "s|/etc/mosquitto/pantau.passwd|$d/passwd|" \
    -e "s|/etc/mosquitto/pantau.acl|$d/acl|" -e "s|^listener 8883$|listener $tls 127.0.0.1|" \
    -e "s|^listener 1883 127.0.0.1$|listener $plain 127.0.0.1|" \
    "$T_ROOT/config/mosquitto/mosquitto.conf" >"$d/mosquitto.conf"
# Started as root it would switch to user mosquitto; "running" is an information line.
printf "user root\nlog_type information\nlog_dest stderr\n" >>"$d/mosquitto.conf"
cp "$T_ROOT/config/mosquitto/acl" "$d/acl"
printf 'user %s\ntopic write pantau/%s/%s/#\n' van-01 paduka-lamteng van-01 van-02 paduka-lamteng van-02 \
    truck-07 pjs truck-07 >>"$d/acl"
if t_broker "$d/mosquitto.conf" "$d/broker.log"; then
    t_ok "mosquitto runs the production config"
else
    t_fail "mosquitto runs the production config" "$(cat "$d/broker.log")"
fi

http_port=$(t_free_port)
db=$d/pantau.db
cat >"$d/pantau.ini" <<INI
[mqtt]
uri = ssl://127.0.0.1:$tls
client_id = pantaud-broker-test-$$
username = pantaud
password = pantaud-secret-1
ca_file = $d/ca.crt
[store]
path = $db
[http]
listen = 127.0.0.1:$http_port
INI
if t_pantaud pantaud "$d/pantau.ini"; then
    t_ok "pantaud subscribes over TLS with its username and password"
else
    t_fail "pantaud subscribes over TLS" "$(tail -5 "$PANTAUD_LOG")"
fi

# pub USER PASS TOPIC MESSAGE: one QoS 1 message over TLS; the exit status is
# mosquitto_pub's.
pub() {
    mosquitto_pub -h 127.0.0.1 -p "$tls" --cafile "$d/ca.crt" -u "$1" -P "$2" -i "pub-$1-$RANDOM" \
        -q 1 -t "$3" -m "$4"
}

# A second reader with pantaud's rights sees what reaches subscribers.
t_spawn "$d/sub.out" mosquitto_sub -h 127.0.0.1 -p "$tls" --cafile "$d/ca.crt" \
    -u pantaud -P pantaud-secret-1 -i "watcher-$$" -q 1 -v -t 'pantau/#'
# A unit that subscribes gets nothing (units read nothing).
t_spawn "$d/unit-sub.out" mosquitto_sub -h 127.0.0.1 -p "$tls" --cafile "$d/ca.crt" \
    -u van-02 -P van02-secret-3 -i "unit-reader-$$" -q 1 -v -t 'pantau/#'
sleep 0.5

pub van-01 van01-secret-2 'pantau/paduka-lamteng/van-02/visits' 99 # forged: van-02's topic
pub van-01 van01-secret-2 'pantau/paduka-lamteng/van-02/$status' online
pub van-01 van01-secret-2 'pantau/pjs/van-01/pickups' 41            # forged: another program
pub van-01 van01-secret-2 'pantau/made-up/van-01/visits' 42         # a program it makes up
pub van-01 van01-secret-2 'pantau/pjs/truck-07/pickups' 43          # another program's unit
pub truck-07 truck07-secret-4 'pantau/paduka-lamteng/truck-07/visits' 44 # and the other way
pub truck-07 truck07-secret-4 'pantau/pjs/truck-07/pickups' 3 &&
    t_ok "a unit of another program publishes under its own" ||
    t_fail "a unit of another program publishes under its own"
pub pantaud pantaud-secret-1 'pantau/paduka-lamteng/van-01/visits' 77 # pantaud may not write
pub van-01 van01-secret-2 'pantau/paduka-lamteng/van-01/$status' online
pub van-01 van01-secret-2 'pantau/paduka-lamteng/van-01/visits' 5 &&
    t_ok "a unit publishes under its own topics" || t_fail "a unit publishes under its own topics"

t_check "pantaud stores the units' samples" test "$(t_wait_api_count "$http_port" "" 2 10)" = 2
t_check "the unit's \$status is applied" test "$(t_wait_sql "$db" \
    "SELECT online FROM units WHERE unit = 'van-01'" 1 5)" = 1
sleep 0.5
t_check "a unit cannot publish as another: nothing stored for van-02" test "$(sqlite3 -readonly \
    "$db" "SELECT (SELECT count(*) FROM series WHERE unit = 'van-02') + (SELECT count(*) FROM units WHERE unit = 'van-02')")" = 0
t_check "a unit of program A cannot publish under program B: only paduka-lamteng/van-01 and pjs/truck-07" \
    test "$(sqlite3 -readonly "$db" "SELECT group_concat(program || '/' || unit) FROM (SELECT DISTINCT program, unit \
    FROM series ORDER BY program, unit)")" = "paduka-lamteng/van-01,pjs/truck-07"
t_check "pantaud's publish is dropped: each unit has only its own sample" test "$(t_api_rows "$http_port" |
    awk -F, '{ print $NF }' | sort -n | paste -sd,)" = 3,5
t_check "a subscriber gets the unit's messages" grep -q '^pantau/paduka-lamteng/van-01/visits 5$' "$d/sub.out"
if grep -q 'van-02\|visits 77\|visits 99\| 4[1-4]$' "$d/sub.out"; then
    t_fail "no forged message reaches a subscriber" "$(cat "$d/sub.out")"
else
    t_ok "no forged message reaches a subscriber"
fi
t_check "a unit reads nothing" test ! -s "$d/unit-sub.out"

# Refused at CONNECT: an unknown user, a wrong password, no credentials.
pub stranger whatever-it-is 'pantau/paduka-lamteng/stranger/visits' 1 2>"$d/e1" &&
    t_fail "an unknown client cannot connect" "exit 0" ||
    t_check "an unknown client cannot connect" grep -qi "not authori" "$d/e1"
pub van-01 wrong-password 'pantau/paduka-lamteng/van-01/visits' 1 2>"$d/e2" &&
    t_fail "a wrong password cannot connect" "exit 0" ||
    t_check "a wrong password cannot connect" grep -qi "not authori" "$d/e2"
if mosquitto_pub -h 127.0.0.1 -p "$tls" --cafile "$d/ca.crt" -q 1 -t pantau/a/b/c -m 1 2>"$d/e3"; then
    t_fail "an anonymous client cannot connect" "exit 0"
else
    t_check "an anonymous client cannot connect" grep -qi "not authori" "$d/e3"
fi
if mosquitto_pub -h 127.0.0.1 -p "$tls" -u van-01 -P van01-secret-2 -q 1 -t pantau/a/van-01/c \
    -m 1 --capath /nonexistent-ca-dir 2>/dev/null; then
    t_fail "a client that does not trust the broker's certificate cannot talk to it" "exit 0"
else
    t_ok "a client that does not trust the broker's certificate cannot talk to it"
fi
t_check "pantaud stops cleanly" t_stop "$PANTAUD_PID"
t_end
