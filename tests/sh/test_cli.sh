#!/usr/bin/env bash
# test_cli.sh — pantaud's command line: every override is applied however
# many are given (an 8-slot array once dropped the 8th), root is refused
# without --allow-root, and a new database is created 0600 (its -wal and
# -shm too).
. "$(dirname "$0")/lib.sh"
t_begin

# Seven harmless overrides, then a bad --listen as the 8th and a 9th after
# it: the bad one must still be seen.
args=()
for _ in 1 2 3 4 5 6 7; do args+=(--log-level info); done
if "$T_PANTAUD" "${args[@]}" --listen not-an-address --db "$T_TMP/x.db" --check-config \
    >"$T_TMP/over.out" 2>&1; then
    t_fail "the 8th override is applied" "--check-config accepted a bad --listen given 8th"
else
    t_check "the 8th override is applied" grep -q 'listen: "not-an-address"' "$T_TMP/over.out"
fi

if [ "$(id -u)" -eq 0 ]; then
    port=$(t_free_port)
    if timeout 10 "$T_PANTAUD" --db "$T_TMP/root.db" --listen "127.0.0.1:$port" \
        --mqtt tcp://127.0.0.1:1 >"$T_TMP/root.out" 2>&1; then
        t_fail "root is refused without --allow-root" "exit 0"
    else
        t_check "root is refused without --allow-root" grep -q "refusing to run as root" "$T_TMP/root.out"
    fi
    t_check "a refused start creates no database" test ! -e "$T_TMP/root.db"
else
    t_skip "not root: the refusal cannot be seen"
fi

# `user` (CONTRACT §8): no --allow-root needed, the database is created
# 0600, the password comes on standard input, the list has no secret.
if echo 'rahasia-sekali-1' | "$T_PANTAUD" --db "$T_TMP/users.db" user add budi --role admin \
    >"$T_TMP/user.out" 2>&1; then
    t_ok "user add runs without --allow-root and creates the database"
else
    t_fail "user add runs without --allow-root and creates the database" "$(cat "$T_TMP/user.out")"
fi
mode=$(stat -c %a "$T_TMP/users.db" 2>/dev/null)
[ "$mode" = 600 ] && t_ok "the accounts' database is created 0600" ||
    t_fail "the accounts' database is created 0600" "mode ${mode:-missing}"
t_check "user list prints NAME ROLE PROGRAMS" \
    test "$("$T_PANTAUD" --db "$T_TMP/users.db" user list)" = "budi admin -"
echo short | "$T_PANTAUD" --db "$T_TMP/users.db" user add ani --role viewer >/dev/null 2>&1
rc=$?
[ "$rc" = 3 ] && t_ok "a weak password exits 3" || t_fail "a weak password exits 3" "exit $rc"
"$T_PANTAUD" --db "$T_TMP/users.db" user frobnicate >/dev/null 2>&1
rc=$?
[ "$rc" = 2 ] && t_ok "an unknown user command exits 2" || t_fail "an unknown user command exits 2" "exit $rc"

port=$(t_free_port)
t_spawn "$T_TMP/db.log" "$T_PANTAUD" --allow-root --db "$T_TMP/new.db" \
    --listen "127.0.0.1:$port" --mqtt tcp://127.0.0.1:1
pid=$BG_PID
t_wait_log "$T_TMP/db.log" "pantaud 0." 10
for f in new.db new.db-wal new.db-shm; do
    mode=$(stat -c %a "$T_TMP/$f" 2>/dev/null)
    [ "$mode" = 600 ] && t_ok "$f is created 0600" || t_fail "$f is created 0600" "mode ${mode:-missing}"
done
t_check "pantaud stops cleanly" t_stop "$pid"
t_end
