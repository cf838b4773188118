#!/usr/bin/env bash
# One version, from debian/changelog: in a copy of the tree whose changelog
# has a new entry (9.8.7), pantaud --version, /healthz, the installed man
# pages' headers (version and date), the .deb's name (make deb) and the
# package's own version (dpkg-parsechangelog) all say 9.8.7, so a new release
# never ships saying the old one. Built at -O0 in the test's temp dir. And
# without the dashboard's npm packages the build stops rather than go on
# without the dashboard.
. "$(dirname "$0")/lib.sh"
t_begin
copy=$T_TMP/tree
mkdir -p "$copy"
tar -C "$T_ROOT" --exclude=./build --exclude='./build-*' --exclude=node_modules --exclude=./.git \
    --exclude=./demo -cf - Makefile daemon sim man debian systemd config docs dashboard README.md |
    tar -C "$copy" -xf -
{
    printf 'pantau (9.8.7) unstable; urgency=medium\n\n  * A test release.\n\n'
    printf ' -- Test <test@example.invalid>  Fri, 05 Mar 2027 10:00:00 +0000\n\n'
    cat "$T_ROOT/debian/changelog"
} >"$copy/debian/changelog"

b=$T_TMP/b
if nice make -C "$copy" -s -j2 BUILD="$b" OPTFLAGS=-O0 "$b/pantaud" >"$T_TMP/build.log" 2>&1; then
    t_ok "the copy builds"
else
    t_fail "the copy builds" "$(tail -5 "$T_TMP/build.log")"
fi
t_check "pantaud --version says 9.8.7" test "$("$b/pantaud" --version)" = "pantaud 9.8.7"
if command -v dpkg-parsechangelog >/dev/null 2>&1; then
    t_check "the package's version (dpkg-parsechangelog) is 9.8.7" \
        test "$(cd "$copy" && dpkg-parsechangelog -S Version)" = 9.8.7
fi
t_check "make deb would write pantau_9.8.7_amd64" \
    grep -q 'pantau_9.8.7_amd64.changes' <(make -C "$copy" -n deb BUILD="$b" 2>&1)

port=$(t_free_port)
t_spawn "$T_TMP/pantaud.log" "$b/pantaud" --allow-root --db "$T_TMP/v.db" \
    --listen "127.0.0.1:$port" --mqtt tcp://127.0.0.1:1
pid=$BG_PID
t_wait_log "$T_TMP/pantaud.log" "http: listening" 20
health=$(curl -s --max-time 5 "http://127.0.0.1:$port/healthz")
t_check "/healthz says 9.8.7" grep -q '"version":"9.8.7"' <<<"$health"
t_stop "$pid"

dest=$T_TMP/dest
make -C "$copy" -s install BUILD="$b" OPTFLAGS=-O0 PREFIX=/usr DESTDIR="$dest" >"$T_TMP/install.log" 2>&1 ||
    t_fail "make install" "$(tail -5 "$T_TMP/install.log")"
n=0 bad=
for page in "$dest"/usr/share/man/man*/*; do
    n=$((n + 1))
    head -1 "$page" | grep -q '^\.TH [^ ]* [0-9] 2027-03-05 "pantau 9.8.7"' || bad="$bad $(basename "$page")"
done
t_check "the $n installed man pages' headers say 9.8.7 of 2027-03-05" test "$n" -ge 4 -a -z "$bad"
[ -n "$bad" ] && echo "  wrong:$bad" >&2

# The copy has no dashboard/node_modules: the dashboard cannot be built, and
# make (so make deb, whose debian/rules builds it) stops saying why.
if make -C "$copy" -s BUILD="$b" dashboard >"$T_TMP/dash.out" 2>&1; then
    t_fail "make dashboard without dashboard/node_modules fails" "it exited 0"
else
    t_check "make dashboard without dashboard/node_modules fails, saying so" \
        grep -q 'node_modules is missing' "$T_TMP/dash.out"
fi

# And in the real tree: the source pages' headers may lag, but nothing that
# is built carries a version of its own.
t_check "no version is written into the Makefile" \
    test -z "$(grep -E '^VERSION *:?= *[0-9]' "$T_ROOT/Makefile")"
t_end
