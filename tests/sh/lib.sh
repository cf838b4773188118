# lib.sh — what the shell tests share: a temp dir, TAP-like cases ending in
# the "# NAME: N passed, M failed" line scripts/run-tests reads, processes
# started in the background and killed by PID at exit, free loopback ports,
# polling bounded in time, and a broker + pantaud started as the C harness
# does (tests/harness.c).
#
# A test sources it, calls t_begin, runs `t_ok NAME` / `t_fail NAME WHY`
# (or `t_check NAME CMD...`), and ends with t_end.
set -u
# The summary names the script as scripts/run-tests does: its file name.
T_NAME=$(basename "$0")
T_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T_BUILD=${BUILD:-build}
case $T_BUILD in /*) ;; *) T_BUILD=$T_ROOT/$T_BUILD ;; esac
T_PANTAUD=${PANTAUD:-$T_BUILD/pantaud}
case $T_PANTAUD in /*) ;; *) T_PANTAUD=$T_ROOT/$T_PANTAUD ;; esac
T_PASSED=0
T_FAILED=0
T_N=0
T_PIDS=()

t_cleanup() {
    local pid
    for pid in "${T_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null && { sleep 0.2; kill -KILL "$pid" 2>/dev/null; }
    done
    wait 2>/dev/null
    if [ -n "${T_TMP:-}" ] && [ -z "${PANTAU_KEEP_TMP:-}" ]; then rm -rf "$T_TMP"; fi
}

t_begin() {
    T_TMP=$(mktemp -d "/tmp/pantau-${T_NAME%.sh}-XXXXXX")
    trap t_cleanup EXIT
    trap 'exit 1' INT TERM
}

t_ok() {
    T_N=$((T_N + 1)) T_PASSED=$((T_PASSED + 1))
    echo "ok $T_N - $1"
}

t_fail() {
    T_N=$((T_N + 1)) T_FAILED=$((T_FAILED + 1))
    echo "not ok $T_N - $1"
    shift
    [ $# -gt 0 ] && echo "  $*" >&2
    return 0
}

# t_check NAME CMD...: a case that passes when CMD exits 0.
t_check() {
    local name=$1
    shift
    if "$@"; then t_ok "$name"; else t_fail "$name" "failed: $*"; fi
}

# A case that cannot run here: counted as neither, said clearly.
t_skip() {
    echo "ok - # SKIP $*"
}

t_end() {
    echo "# $T_NAME: $T_PASSED passed, $T_FAILED failed"
    [ "$T_FAILED" -eq 0 ]
}

# Starts "$@" in the background with its output in $LOG; records its PID in
# T_PIDS and in $BG_PID.
t_spawn() {
    local log=$1
    shift
    "$@" >>"$log" 2>&1 &
    BG_PID=$!
    T_PIDS+=("$BG_PID")
}

# SIGTERM and wait (up to 10 s) for one PID; prints nothing, returns its status.
t_stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# A TCP port on 127.0.0.1 nobody answered on a moment ago, below the
# kernel's ephemeral range: a port in it may be an outgoing connection's
# local port, which nobody answers on but a listener cannot bind (mosquitto
# once failed so: "Address already in use").
t_free_port() {
    local p low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null) || low=32768
    [ "${low:-0}" -gt 12000 ] || low=32768
    while :; do
        p=$((10000 + RANDOM % (low - 10000)))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# t_wait_log FILE NEEDLE [SECONDS]: true once FILE holds NEEDLE.
t_wait_log() {
    local i
    for i in $(seq 1 $((${3:-10} * 10))); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# t_wait_sql DB SQL WANT [SECONDS]: polls until the query prints WANT; prints
# the last value seen.
t_wait_sql() {
    local i v=
    for i in $(seq 1 $((${4:-10} * 10))); do
        v=$(sqlite3 -readonly "$1" "$2" 2>/dev/null)
        [ "$v" = "$3" ] && break
        sleep 0.1
    done
    echo "$v"
}

# t_api_rows PORT [ARGS]: a running pantaud's samples (every one, or those
# the query ARGS "unit=U&..." select) as its export.csv's rows, without the
# header: the newest are in its head, not in the file (issue 20).
t_api_rows() {
    local body
    body=$(curl -sf --max-time 30 "http://127.0.0.1:$1/api/v1/export.csv?from=0&to=3162240000000${2:+&$2}") ||
        return 1
    printf '%s\n' "$body" | tr -d '\r' | tail -n +2 | grep . || true
}

# t_api_count PORT [ARGS]: how many rows t_api_rows gives.
t_api_count() {
    local rows
    rows=$(t_api_rows "$@") || return 1
    printf '%s' "$rows" | grep -c . || true
}

# t_wait_api_count PORT ARGS WANT [SECONDS]: polls t_api_count until it
# is WANT; prints the last count seen (-1: no answer).
t_wait_api_count() {
    local i v=
    for i in $(seq 1 $((${4:-10} * 10))); do
        v=$(t_api_count "$1" "$2") || v=-1
        [ "$v" = "$3" ] && break
        sleep 0.1
    done
    echo "$v"
}

# t_db_count DB [WHERE]: the samples at rest in DB's chunk rows (after a
# clean stop, all of them); WHERE filters on series' columns.
t_db_count() {
    sqlite3 -readonly "$1" "SELECT coalesce(sum(n), 0) FROM chunks JOIN series ON series.id = \
chunks.series WHERE data IS NOT NULL AND (${2:-1})" 2>/dev/null || echo -1
}

# t_certs DIR: a CA, and a broker certificate for 127.0.0.1 signed by it.
t_certs() {
    (cd "$1" &&
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=pantau-test-ca \
            -keyout ca.key -out ca.crt &&
        openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout broker.key -out broker.csr &&
        printf 'subjectAltName=IP:127.0.0.1\n' >san.ext &&
        openssl x509 -req -in broker.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile san.ext -out broker.crt) >/dev/null 2>&1
}

# t_broker CONF LOG: starts mosquitto; true once it runs. BROKER_PID is set.
t_broker() {
    t_spawn "$2" mosquitto -c "$1"
    BROKER_PID=$BG_PID
    t_wait_log "$2" "running" 5
}

# t_pantaud NAME INI: starts pantaud -c INI (--allow-root: the suite may run
# as root); true once it has subscribed.
# PANTAUD_PID and PANTAUD_LOG are set.
t_pantaud() {
    PANTAUD_LOG=$T_TMP/$1.log
    t_spawn "$PANTAUD_LOG" "$T_PANTAUD" --allow-root -c "$2"
    PANTAUD_PID=$BG_PID
    # generous: under ASan on a loaded 2-core machine a start can take seconds
    t_wait_log "$PANTAUD_LOG" "mqtt: subscribed" 30
}
