#!/usr/bin/env bash
# The systemd unit: systemd-analyze verify accepts it (generated for this
# build's binary) and the backup examples, `systemd-analyze security` rates it
# 2.0 or lower, and it keeps what pantaud needs (Type=notify, the watchdog,
# user pantau, its state and configuration directories).
. "$(dirname "$0")/lib.sh"
t_begin
if ! command -v systemd-analyze >/dev/null 2>&1; then
    t_skip "systemd-analyze is not installed (package systemd): the unit is not checked"
    t_end
    exit
fi
bindir=$(dirname "$T_PANTAUD")
unit=$T_TMP/pantaud.service
sed -e "s|@BINDIR@|$bindir|g" -e 's|@SYSCONFDIR@|/etc|g' -e 's|@STATEDIR@|/var/lib/pantau|g' \
    -e 's|@DOCDIR@|/usr/share/doc/pantau|g' "$T_ROOT/systemd/pantaud.service.in" >"$unit"
t_check "no @VARIABLE@ is left in the generated unit" test -z "$(grep -o '@[A-Z]*@' "$unit")"

# --man=no: the pages are in man/, not installed on this machine.
if systemd-analyze verify --man=no "$unit" >"$T_TMP/verify.out" 2>&1; then
    t_ok "systemd-analyze verify: pantaud.service"
else
    t_fail "systemd-analyze verify: pantaud.service" "$(cat "$T_TMP/verify.out")"
fi
# The backup examples name /usr/bin/pantaud: verify them as files.
for f in pantau-backup.timer pantau-backup.service; do
    if systemd-analyze verify --man=no "$T_ROOT/systemd/$f" 2>&1 | grep -v 'usr/bin/pantaud' | grep . >"$T_TMP/v.out"; then
        t_fail "systemd-analyze verify: $f" "$(cat "$T_TMP/v.out")"
    else
        t_ok "systemd-analyze verify: $f"
    fi
done

systemd-analyze security --offline=true "$unit" >"$T_TMP/security.out" 2>&1
rating=$(sed -n 's/.*Overall exposure level for pantaud.service: \([0-9.]*\).*/\1/p' "$T_TMP/security.out")
if [ -z "$rating" ]; then
    t_fail "systemd-analyze security rates the unit" "$(tail -5 "$T_TMP/security.out")"
elif awk -v r="$rating" 'BEGIN { exit !(r <= 2.0) }'; then
    t_ok "systemd-analyze security: $rating (at most 2.0)"
else
    grep '✗' "$T_TMP/security.out" >&2
    t_fail "systemd-analyze security: $rating, above 2.0"
fi

for want in Type=notify WatchdogSec=30 User=pantau StateDirectory=pantau ConfigurationDirectory=pantau \
    "ExecStart=$bindir/pantaud -c /etc/pantau/pantau.ini"; do
    t_check "the unit has $want" grep -qxF "$want" "$unit"
done
t_end
