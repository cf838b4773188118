#!/usr/bin/env bash
# make demo-federation's script (scripts/demo-federation) from start to
# Ctrl-C: the hub broker, two regency brokers bridged to it over TLS with the
# shipped bridge.conf and hub-acl, three pantauds and two simulators, on
# loopback from free port bases. The hub's /api/v1/regions lists NTB's ten
# regions, Lombok Utara and Lombok Tengah live (heard through the bridges)
# and eight waiting; each dashboard answers. Then SIGINT to its process group
# (what Ctrl-C does): the script exits 0 within 40 s (it exits 1 when any
# of its processes exited non-zero: a pantaud that did not commit, or
# under SANITIZE=1 one with a leak), every process it started is gone, its
# ports are free and its temp dir removed.
. "$(dirname "$0")/lib.sh"
t_begin

for tool in mosquitto mosquitto_passwd openssl curl node; do
    command -v "$tool" >/dev/null || { t_skip "$tool is not installed"; t_end; exit; }
done
sim=${PANTAU_SIM:-$T_BUILD/pantau-sim}
case $sim in /*) ;; *) sim=$T_ROOT/$sim ;; esac
out=$T_TMP/demo.out

# Its own process group (as a terminal's foreground job), so that SIGINT
# reaches the script and its children as Ctrl-C would: a job of a
# non-interactive shell without job control ignores SIGINT.
set -m
PANTAUD=$T_PANTAUD PANTAU_SIM=$sim DEMO_SECONDS=300 DEMO_HTTP_PORT=$(t_free_port) \
    DEMO_MQTT_PORT=$(t_free_port) "$T_ROOT/scripts/demo-federation" >"$out" 2>&1 &
demo=$!
set +m
T_PIDS+=("$demo")

t_check "it prints the hub's dashboard and API" t_wait_log "$out" "/api/v1/regions" 60
hub=$(sed -n 's|.*API \(http://127.0.0.1:[0-9]*\)/api/v1/regions.*|\1|p' "$out")
dir=$(sed -n 's|.*data, configs and logs in \(/tmp/[^ ]*\)/$|\1|p' "$out")
t_check "it names its temp dir ($dir)" test -n "$dir" -a -d "$dir"
# Every process it started, by PID, from its list.
started=()
[ -f "$dir/pids" ] && mapfile -t started < <(cut -d' ' -f1 "$dir/pids")
t_check "it started eight processes (${started[*]})" test "${#started[@]}" -eq 8
# If this test is stopped early, lib.sh's clean-up stops them too (and the
# script, killed, leaves its dir).
T_PIDS+=("${started[@]}")
trap 't_cleanup; case $dir in /tmp/pantau-demo-federation-?*) rm -rf "$dir" ;; esac' EXIT
ports=$(grep -o '127\.0\.0\.1:[0-9]*' "$out" | cut -d: -f2 | sort -u | tr '\n' ' ')
# The TLS port is printed alone: "(TLS for the bridges on N)".
ports="$ports $(sed -n 's|.*TLS for the bridges on \([0-9]*\).*|\1|p' "$out")"

# wait_for SECONDS CMD...: polls until CMD succeeds.
wait_for() {
    local s=$1
    shift
    for _ in $(seq 1 $((s * 2))); do
        "$@" && return 0
        kill -0 "$demo" 2>/dev/null || return 1
        sleep 0.5
    done
    return 1
}
# Ten regions: lombok-utara and lombok-tengah heard and not stale, eight
# never heard.
two_live() {
    curl -sf "$hub/api/v1/regions" | node -e '
        let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
            const rs = JSON.parse(s).regions;
            const live = rs.filter((r) => r.last_seen !== null && !r.stale).map((r) => r.id).sort();
            const waiting = rs.filter((r) => r.last_seen === null && r.stale).length;
            process.exit(rs.length === 10 && live.join() === "lombok-tengah,lombok-utara" && waiting === 8 ? 0 : 1);
        });'
}
t_check "the hub lists two regions live and eight waiting" wait_for 90 two_live
lu_programs() {
    curl -sf "$hub/api/v1/regions/lombok-utara" | grep -q '"programs":10,'
}
t_check "Lombok Utara's state on the hub has its ten programs" wait_for 30 lu_programs
answers() { test "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200; }
t_check "the hub serves its dashboard" answers "$hub/"
for url in $(sed -n 's|^  Lombok [A-Za-z]*: *\(http://[^ ]*\)$|\1|p' "$out"); do
    t_check "a regency's dashboard answers ($url)" answers "${url}api/v1/programs"
done
t_check "the script still runs" kill -0 "$demo"

# Ctrl-C: SIGINT to the whole group.
kill -INT -- "-$demo"
rc=
for _ in $(seq 1 400); do
    kill -0 "$demo" 2>/dev/null || { wait "$demo"; rc=$?; break; }
    sleep 0.1
done
t_check "on Ctrl-C it exits 0 within 40 s (rc=$rc)" test "$rc" = 0
alive=
for pid in "${started[@]}"; do kill -0 "$pid" 2>/dev/null && alive="$alive $pid"; done
t_check "every process it started is gone${alive:+ (left:$alive)}" test -z "$alive"
busy=
for p in $ports; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy="$busy $p"; done
t_check "its ports are free again${busy:+ (busy:$busy)}" test -z "$busy"
t_check "its temp dir is removed" test ! -e "$dir"
[ "$T_FAILED" -eq 0 ] || tail -20 "$out" >&2
t_end
