#!/usr/bin/env bash
# The shipped config/pantau.ini against cfg.c's table of keys (as test_man.sh
# does for the man pages): every key cfg.c accepts is in the file, under its
# section (set to its default, or commented out as "; key = example" when it
# has none), and every key the file names is one cfg.c accepts there; the
# file passes --check-config; each value set in it is the default
# pantau.ini(5) gives.
. "$(dirname "$0")/lib.sh"
t_begin
ini=$T_ROOT/config/pantau.ini
man=$T_ROOT/man/pantau.ini.5

# "section key" per line, from cfg.c's entries[].
grep -oE '^\s+\{"[a-z]+", "[a-z_]+"' "$T_ROOT/daemon/cfg.c" | sed -E 's/.*"([a-z]+)", "([a-z_]+)"/\1 \2/' |
    sort -u >"$T_TMP/cfg"
# "section key" per line for each key the file sets or shows commented out
# ("; key = ..."), under "[section]" or "; [section]"; set keys also in
# "$T_TMP/set" as "section key value".
awk -v set="$T_TMP/set" '
    /^[;#]? *\[[a-z]+\] *$/ { s = $0; gsub(/[^a-z]/, "", s); next }
    /^[a-z_]+ *=/ { k = $0; sub(/ *=.*/, "", k); v = $0; sub(/^[^=]*= */, "", v); sub(/ +;.*/, "", v)
                   print s, k; print s, k, v > set; next }
    /^[;#] *[a-z_]+ = / { k = $0; sub(/^[;#] */, "", k); sub(/ *=.*/, "", k); print s, k }
' "$ini" | sort -u >"$T_TMP/ini"

n=$(wc -l <"$T_TMP/cfg")
[ "$n" -ge 30 ] && t_ok "cfg.c's table read ($n keys)" || t_fail "cfg.c's table read" "only $n keys: has its layout changed?"

missing=$(comm -23 "$T_TMP/cfg" "$T_TMP/ini")
if [ -z "$missing" ]; then
    t_ok "config/pantau.ini lists every key of cfg.c"
else
    why=$(echo "$missing" | while read -r s k; do
        if grep -qE "^[;#]? *\[$s\]" "$ini"; then
            echo "  [$s] $k: cfg.c accepts it, config/pantau.ini does not list it: add \"$k = <default>\" under [$s] in config/pantau.ini (or \"; $k = <example>\" if it has no default), with a comment saying what it does"
        else
            echo "  [$s] $k: cfg.c accepts it, config/pantau.ini has no [$s] section: add one, with \"$k = <default>\" (or \"; $k = <example>\" if it has no default) and a comment"
        fi
    done)
    t_fail "config/pantau.ini lists every key of cfg.c" "$(printf '\n%s' "$why")"
fi

unknown=$(comm -13 "$T_TMP/cfg" "$T_TMP/ini")
if [ -z "$unknown" ]; then
    t_ok "every key config/pantau.ini names is one cfg.c accepts"
else
    t_fail "every key config/pantau.ini names is one cfg.c accepts" \
        "$(printf '\n  [%s] %s: in config/pantau.ini, not in daemon/cfg.c entries[]: fix its name or section, or remove it' $unknown)"
fi

if out=$("$T_PANTAUD" --check-config -c "$ini" 2>&1); then
    t_ok "config/pantau.ini passes pantaud --check-config"
else
    t_fail "config/pantau.ini passes pantaud --check-config" "$out"
fi

# pantau.ini(5) gives each default as ".BR key " = " \fIvalue\fP" under ".SH [section]".
awk '
    /^\.SH \[[a-z]+\]/ { s = $2; gsub(/[^a-z]/, "", s); next }
    /^\.SH / { s = "" }
    s != "" && /^\.BR [a-z_]+ " = " \\fI/ { v = $0; sub(/.*\\fI/, "", v); sub(/\\fP.*/, "", v); gsub(/\\-/, "-", v); print s, $2, v }
' "$man" | sort >"$T_TMP/man"
differ=$(join <(awk '{print $1"/"$2, $3}' "$T_TMP/set" | sort) <(awk '{print $1"/"$2, $3}' "$T_TMP/man" | sort) |
    awk '$2 != $3 { printf "  [%s]: config/pantau.ini sets %s, pantau.ini(5) gives the default %s\n", $1, $2, $3 }')
checked=$(join <(awk '{print $1"/"$2}' "$T_TMP/set" | sort) <(awk '{print $1"/"$2}' "$T_TMP/man" | sort) | wc -l)
if [ -z "$differ" ] && [ "$checked" -ge 15 ]; then
    t_ok "config/pantau.ini's values are pantau.ini(5)'s defaults ($checked keys)"
else
    t_fail "config/pantau.ini's values are pantau.ini(5)'s defaults ($checked keys compared)" "$(printf '\n%s' "$differ")"
fi
t_end
