#!/usr/bin/env bash
# pantau-sim against a secured broker (a password file, no anonymous clients,
# and TLS), as README's recipe sets one up: with --username and --password, or
# the password in PANTAU_SIM_PASSWORD (then ps does not show it), its samples
# arrive; a wrong password, and a host name its certificate does not carry
# (the host name rule), fail with exit 1 within the connect timeout.
. "$(dirname "$0")/lib.sh"
t_begin
sim=${PANTAU_SIM:-$T_BUILD/pantau-sim}
case $sim in /*) ;; *) sim=$T_ROOT/$sim ;; esac
d=$T_TMP
t_certs "$d" || t_fail "openssl makes certificates"
mosquitto_passwd -c -b "$d/passwd" smoke smoke-secret-1 &&
    mosquitto_passwd -b "$d/passwd" watcher watcher-secret-1 || t_fail "mosquitto_passwd"
plain=$(t_free_port)
tls=$(t_free_port)
while [ "$plain" = "$tls" ]; do tls=$(t_free_port); done
cat >"$d/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous false
password_file $d/passwd
listener $plain 127.0.0.1
listener $tls 127.0.0.1
cafile $d/ca.crt
certfile $d/broker.crt
keyfile $d/broker.key
user root
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
CONF
t_check "mosquitto runs with a password file and TLS" t_broker "$d/mosquitto.conf" "$d/broker.log"

# A watcher counts what arrives; the units' $status messages are not samples.
t_spawn "$d/sub.out" mosquitto_sub -h 127.0.0.1 -p "$plain" -u watcher -P watcher-secret-1 \
    -q 1 -t 'pantau/#' -v
t_check "a watcher signs in to count what arrives" t_wait_log "$d/broker.log" "u'watcher'" 5
samples() { grep -vc '/\$status ' "$d/sub.out"; }
wait_samples() { # WANT: polls up to 10 s; prints the last count
    local i n=0
    for i in $(seq 1 100); do
        n=$(samples)
        [ "$n" -ge "$1" ] && break
        sleep 0.1
    done
    echo "$n"
}
run_sim() { # LOG ARGS...: one unit, 20 samples, as fast as the broker takes them
    local log=$1
    shift
    timeout 60 "$sim" --programs paduka-lamteng --units 1 --count 20 --rate 200 --ts-mode seq "$@" \
        >"$log" 2>&1
}

if run_sim "$d/sim1.out" --mqtt "tcp://127.0.0.1:$plain" --username smoke --password smoke-secret-1; then
    t_ok "--username and --password: pantau-sim signs in and exits 0"
else
    t_fail "--username and --password: pantau-sim exits 0" "$(tail -3 "$d/sim1.out")"
fi
n=$(wait_samples 20)
t_check "its 20 samples arrive (got $n)" test "$n" -ge 20

# The password from the environment, and not on the command line while it runs.
before=$(samples)
PANTAU_SIM_PASSWORD=smoke-secret-1 t_spawn "$d/sim2.out" "$sim" --mqtt "tcp://127.0.0.1:$plain" \
    --username smoke --programs paduka-lamteng --units 1 --count 200 --rate 50 --ts-mode seq
pid=$BG_PID
sleep 0.5
if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q smoke-secret-1; then
    t_fail "PANTAU_SIM_PASSWORD keeps the password out of ps"
else
    t_ok "PANTAU_SIM_PASSWORD keeps the password out of ps"
fi
n=$(wait_samples $((before + 200)))
t_check "with PANTAU_SIM_PASSWORD its 200 samples arrive (got $((n - before)))" test "$((n - before))" -ge 200
t_stop "$pid"

# Over TLS, with the CA: the host as the certificate names it (IP 127.0.0.1).
before=$(samples)
if run_sim "$d/sim3.out" --mqtt "ssl://127.0.0.1:$tls" --ca-file "$d/ca.crt" --username smoke \
    --password smoke-secret-1; then
    t_ok "ssl:// with --ca-file: pantau-sim exits 0"
else
    t_fail "ssl:// with --ca-file: pantau-sim exits 0" "$(tail -3 "$d/sim3.out")"
fi
n=$(wait_samples $((before + 20)))
t_check "over TLS its 20 samples arrive (got $((n - before)))" test "$((n - before))" -ge 20

# Refusals, side by side (each waits out the 10 s connect timeout).
start=$(date +%s)
run_sim "$d/bad_pw.out" --mqtt "tcp://127.0.0.1:$plain" --username smoke --password wrong-password &
bad_pw=$!
run_sim "$d/bad_host.out" --mqtt "ssl://localhost:$tls" --ca-file "$d/ca.crt" --username smoke \
    --password smoke-secret-1 &
bad_host=$!
wait "$bad_pw"
rc_pw=$?
wait "$bad_host"
rc_host=$?
took=$(($(date +%s) - start))
t_check "a wrong password: exit 1 (got $rc_pw)" test "$rc_pw" = 1
t_check "a host name the certificate does not carry (localhost): exit 1 (got $rc_host)" \
    test "$rc_host" = 1
t_check "both within 30 s (took $took s)" test "$took" -le 30
t_check "the refused ones say they cannot connect" grep -q 'cannot connect' "$d/bad_pw.out"
t_check "no refused unit's sample arrived" test "$(samples)" = "$n"
t_end
