#!/usr/bin/env bash
# pantaud --backup PATH while pantaud runs and ingests: the copy is 0600,
# passes PRAGMA integrity_check, holds the samples stored before it began
# (those still in pantaud's head too: the backup reads its head log), and is
# one self-contained file (no -wal, no -head beside it, every sample in its
# chunk rows); a missing database or an unwritable destination is an error
# with a message and a non-zero status.
. "$(dirname "$0")/lib.sh"
t_begin

port=$(t_free_port)
cat >"$T_TMP/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
max_queued_messages 0
log_dest stderr
CONF
t_broker "$T_TMP/mosquitto.conf" "$T_TMP/broker.log" || t_fail "broker starts" "$(cat "$T_TMP/broker.log")"

db=$T_TMP/pantau.db
http_port=$(t_free_port)
cat >"$T_TMP/pantau.ini" <<INI
[mqtt]
uri = tcp://127.0.0.1:$port
client_id = pantaud-backup-test-$$
[store]
path = $db
[http]
listen = 127.0.0.1:$http_port
INI
t_check "pantaud starts" t_pantaud pantaud "$T_TMP/pantau.ini"

# Ingesting throughout: 2000 samples/s until stopped.
t_spawn "$T_TMP/sim.log" "$T_BUILD/pantau-sim" --mqtt "tcp://127.0.0.1:$port" --rate 2000 \
    --ts-mode seq --seed 7
sim=$BG_PID
n=0
for _ in $(seq 1 100); do
    n=$(t_api_count "$http_port") || n=0
    [ "${n:-0}" -ge 2000 ] && break
    sleep 0.1
done
[ "${n:-0}" -ge 2000 ] && t_ok "samples are flowing ($n stored)" || t_fail "samples are flowing" "only ${n:-0}"

out=$T_TMP/copy.db
before=$(t_api_count "$http_port")
if "$T_PANTAUD" -c "$T_TMP/pantau.ini" --backup "$out" >"$T_TMP/backup.out" 2>&1; then
    t_ok "pantaud --backup exits 0 while ingesting"
else
    t_fail "pantaud --backup exits 0 while ingesting" "$(cat "$T_TMP/backup.out")"
fi
after=$(t_api_count "$http_port")
kill -0 "$sim" 2>/dev/null && t_ok "ingest went on during the backup" || t_fail "ingest went on" "sim exited"

t_check "the copy is mode 0600" test "$(stat -c %a "$out" 2>/dev/null)" = 600
t_check "integrity_check on the copy is ok" test "$(sqlite3 -readonly "$out" 'PRAGMA integrity_check')" = ok
copied=$(t_db_count "$out")
if [ "$copied" -ge "$before" ] && [ "$copied" -le "$after" ]; then
    t_ok "the copy has the samples ($before <= $copied <= $after)"
else
    t_fail "the copy has the samples" "before $before, copy $copied, after $after"
fi
t_check "the copy is one file (journal_mode delete, no -wal, no -head)" \
    test "$(sqlite3 "$out" 'PRAGMA journal_mode')" = delete -a ! -e "$out-wal" -a ! -e "$out-head"
t_check "no temporary file is left" test -z "$(ls "$T_TMP" | grep 'copy.db.tmp')"

# A second backup over the first replaces it.
"$T_PANTAUD" -c "$T_TMP/pantau.ini" --backup "$out" >/dev/null 2>&1
again=$(t_db_count "$out")
t_check "a second backup replaces the first" test "$again" -ge "$copied"

t_stop "$sim"
t_check "pantaud stops cleanly" t_stop "$PANTAUD_PID"

# Errors: a database that does not exist is not created; an unwritable
# destination is refused.
if "$T_PANTAUD" --db "$T_TMP/none.db" --backup "$T_TMP/x.db" 2>"$T_TMP/err1"; then
    t_fail "a missing database is an error" "exit 0"
else
    grep -q "backup failed: cannot open the database" "$T_TMP/err1" && [ ! -e "$T_TMP/none.db" ] &&
        t_ok "a missing database is an error (and is not created)" ||
        t_fail "a missing database is an error" "$(cat "$T_TMP/err1")"
fi
if "$T_PANTAUD" --db "$db" --backup "$T_TMP/no/such/dir/x.db" 2>"$T_TMP/err2"; then
    t_fail "an unwritable destination is an error" "exit 0"
else
    grep -q "backup failed: cannot create" "$T_TMP/err2" && t_ok "an unwritable destination is an error" ||
        t_fail "an unwritable destination is an error" "$(cat "$T_TMP/err2")"
fi
t_end
