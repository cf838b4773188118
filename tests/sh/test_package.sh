#!/usr/bin/env bash
# The Debian package and make install: `make deb` builds pantau_<version>_amd64.deb
# (dpkg-buildpackage, in build-deb/, reused between runs), lintian finds no
# error, it holds the expected files with /etc/pantau as conffiles, and the
# installed pantaud (dpkg -x into a throwaway root, no maintainer scripts)
# accepts the installed configuration with each installed catalog.
# `make install DESTDIR=` installs the same set, keeps an edited
# configuration, and `make uninstall` removes all it installed.
. "$(dirname "$0")/lib.sh"
t_begin
if [ "${SANITIZE:-}" = 1 ] || [ "${TSAN:-}" = 1 ]; then
    t_skip "under SANITIZE=1 or TSAN=1: the package is built with Debian's flags, not the sanitizers; make check covers it"
    t_end
    exit
fi
for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null 2>&1 || t_fail "$tool is installed (scripts/deps)"
done
# The one version (tests/sh/test_version.sh: everything follows it).
version=$(cd "$T_ROOT" && dpkg-parsechangelog -S Version)
t_check "debian/changelog gives a version ($version)" test -n "$version"

out=$T_TMP/deb
if make -C "$T_ROOT" --no-print-directory deb DEB_OUT="$out" >"$T_TMP/build.log" 2>&1; then
    t_ok "make deb builds the package"
else
    t_fail "make deb builds the package" "$(tail -20 "$T_TMP/build.log")"
fi
deb=$out/pantau_${version}_amd64.deb
t_check "it is named pantau_${version}_amd64.deb" test -f "$deb"

lintian "$deb" >"$T_TMP/lintian.out" 2>&1
grep '^[EW]:' "$T_TMP/lintian.out" | sed 's/^/  lintian: /' >&2
t_check "lintian: no errors" test -z "$(grep '^E:' "$T_TMP/lintian.out")"

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$T_TMP/deb.list"
missing=
for f in /usr/bin/pantaud /usr/bin/pantau-sim /etc/pantau/pantau.ini \
    /etc/pantau/catalog/lampung-tengah.ini /etc/pantau/catalog/lombok-utara.ini \
    /lib/systemd/system/pantaud.service /usr/lib/sysusers.d/pantau.conf \
    /usr/share/man/man8/pantaud.8.gz /usr/share/man/man5/pantau.ini.5.gz \
    /usr/share/man/man5/pantau-catalog.5.gz /usr/share/man/man1/pantau-sim.1.gz \
    /usr/share/doc/pantau/examples/mosquitto.conf /usr/share/doc/pantau/examples/mosquitto.acl \
    /usr/share/doc/pantau/examples/pantau-backup.timer /usr/share/doc/pantau/FIELD-UNITS.md.gz \
    /usr/lib/tmpfiles.d/pantau.conf /usr/share/doc/pantau/README.md \
    /usr/share/doc/pantau/examples/proxy/nginx.conf /usr/share/doc/pantau/examples/proxy/Caddyfile \
    /usr/share/doc/pantau/examples/prometheus/pantau.yml \
    /usr/share/doc/pantau/examples/prometheus/pantau.rules.yml \
    /usr/share/pantau/dashboard/index.html; do
    grep -qxF "$f" "$T_TMP/deb.list" || missing="$missing $f"
done
t_check "it holds the binaries, config, catalogs, unit, sysusers, tmpfiles, dashboard, man pages and examples" test -z "$missing"
[ -n "$missing" ] && echo "  missing:$missing" >&2
n_catalogs=$(ls "$T_ROOT"/config/catalog/*.ini | wc -l)
dpkg-deb -f "$deb" Depends | grep -q libwebsockets-evlib-uv &&
    t_ok "it depends on libwebsockets-evlib-uv (lws loads it at run time)" ||
    t_fail "it depends on libwebsockets-evlib-uv"
mkdir -p "$T_TMP/ctl"
dpkg-deb -e "$deb" "$T_TMP/ctl"
t_check "/etc/pantau/pantau.ini and the $n_catalogs catalogs are conffiles" \
    test "$(grep -c '^/etc/pantau/' "$T_TMP/ctl/conffiles")" = $((n_catalogs + 1))
t_check "postinst creates the pantau user (systemd-sysusers)" grep -q 'systemd-sysusers pantau.conf' "$T_TMP/ctl/postinst"
# /var/lib/pantau made by the package, after the user it belongs to.
users_at=$(grep -n 'systemd-sysusers pantau.conf' "$T_TMP/ctl/postinst" | cut -d: -f1 | head -1)
tmpfiles_at=$(grep -n 'systemd-tmpfiles.*--create.*pantau.conf' "$T_TMP/ctl/postinst" | cut -d: -f1 | head -1)
t_check "postinst creates /var/lib/pantau (systemd-tmpfiles) after the user" \
    test -n "$tmpfiles_at" -a "${tmpfiles_at:-0}" -gt "${users_at:-0}"

root=$T_TMP/root
dpkg-deb -x "$deb" "$root"
t_check "the installed configuration keeps the database in /var/lib/pantau" \
    grep -qx 'path = /var/lib/pantau/pantau.db' "$root/etc/pantau/pantau.ini"
t_check "the installed unit runs /usr/bin/pantaud -c /etc/pantau/pantau.ini" \
    grep -qx 'ExecStart=/usr/bin/pantaud -c /etc/pantau/pantau.ini' "$root/lib/systemd/system/pantaud.service"
t_check "the installed pantaud runs (--version)" test "$("$root/usr/bin/pantaud" --version)" = "pantaud $version"
t_check "the tmpfiles.d entry makes /var/lib/pantau 0700 for pantau" \
    grep -qx 'd /var/lib/pantau 0700 pantau pantau -' "$root/usr/lib/tmpfiles.d/pantau.conf"
bad=
for page in "$root"/usr/share/man/man*/*.gz; do
    zcat "$page" | head -1 | grep -q "\"pantau $version\"" || bad="$bad $(basename "$page")"
done
t_check "the man pages' headers say pantau $version" test -z "$bad"
[ -n "$bad" ] && echo "  wrong version:$bad" >&2
docs=$(sed -n 's/^Documentation=//p' "$root/lib/systemd/system/pantaud.service" | tr ' ' '\n' | sed -n 's|^file://||p')
bad=
for f in $docs; do [ -f "$root$f" ] || bad="$bad $f"; done
t_check "the unit's Documentation= files are in the package (${docs:-none})" test -n "$docs" -a -z "$bad"
for cat in "$root"/etc/pantau/catalog/*.ini; do
    if "$root/usr/bin/pantaud" --check-config -c "$root/etc/pantau/pantau.ini" --catalog "$cat" \
        >"$T_TMP/check.out" 2>&1; then
        t_ok "installed pantaud --check-config: pantau.ini + $(basename "$cat")"
    else
        t_fail "installed pantaud --check-config with $(basename "$cat")" "$(cat "$T_TMP/check.out")"
    fi
done

# make install into a DESTDIR: the same set as the package (which adds its
# changelog and copyright, and compresses man pages and docs).
dest=$T_TMP/dest
vars=(PREFIX=/usr UNITDIR=/lib/systemd/system DESTDIR="$dest")
make -C "$T_ROOT" --no-print-directory install "${vars[@]}" >"$T_TMP/install.log" 2>&1 ||
    t_fail "make install" "$(tail -5 "$T_TMP/install.log")"
(cd "$dest" && find . -type f | sed 's|^\./|/|') | sort >"$T_TMP/install.list"
grep -v '/$' "$T_TMP/deb.list" | grep -vE '^/usr/share/doc/pantau/(changelog.gz|copyright)$' |
    sed -E 's/\.gz$//' | sort >"$T_TMP/deb.files"
if diff "$T_TMP/deb.files" "$T_TMP/install.list" >"$T_TMP/diff.out"; then
    t_ok "make install installs what the package holds ($(wc -l <"$T_TMP/install.list") files)"
else
    t_fail "make install installs what the package holds" "$(cat "$T_TMP/diff.out")"
fi
echo "; edited" >>"$dest/etc/pantau/pantau.ini"
make -C "$T_ROOT" --no-print-directory install "${vars[@]}" >"$T_TMP/install2.log" 2>&1
t_check "a second make install keeps an edited pantau.ini" grep -q '^; edited' "$dest/etc/pantau/pantau.ini"
make -C "$T_ROOT" --no-print-directory uninstall "${vars[@]}" >"$T_TMP/uninstall.log" 2>&1
left=$(cd "$dest" && find . -type f | sed 's|^\./|/|')
t_check "make uninstall removes everything but the edited pantau.ini" test "$left" = /etc/pantau/pantau.ini
t_end
