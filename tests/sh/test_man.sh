#!/usr/bin/env bash
# The man pages: mandoc -Tlint finds nothing; each page documents what the
# code has (every key of cfg.c's table in pantau.ini(5), every key catalog.c
# accepts in pantau-catalog(5), every option of pantaud and pantau-sim in
# theirs); pantau-catalog(5)'s examples pass pantaud --check-config.
. "$(dirname "$0")/lib.sh"
t_begin
man=$T_ROOT/man

for page in "$man"/*.[1-8]; do
    if command -v mandoc >/dev/null 2>&1; then
        out=$(mandoc -Tlint -Wwarning "$page" 2>&1)
    else
        out=$(groff -ww -z -man "$page" 2>&1)
    fi
    [ -z "$out" ] && t_ok "lint: $(basename "$page")" || t_fail "lint: $(basename "$page")" "$out"
done

# documented PAGE WORD...: each WORD is the first word of a .B/.BR/.BI/.TP item.
documented() {
    local page=$1 word missing=
    shift
    for word in "$@"; do
        grep -qE "^\.(B|BR|BI|IP|TP)? ?\\\\?\"?$(printf '%s' "$word" | sed 's/-/\\\\-/g')\b" "$page" ||
            grep -qE "^\.(B|BR|BI) $(printf '%s' "$word" | sed 's/-/\\\\-/g')([ \"]|$)" "$page" ||
            missing="$missing $word"
    done
    [ -z "$missing" ] && return 0
    echo "  not documented:$missing" >&2
    return 1
}

cfg_keys=$(grep -oE '^\s+\{"[a-z]+", "[a-z_]+"' "$T_ROOT/daemon/cfg.c" | sed -E 's/.*"([a-z_]+)"$/\1/' | sort -u)
t_check "pantau.ini(5) has every key of cfg.c ($(echo $cfg_keys | wc -w))" documented "$man/pantau.ini.5" $cfg_keys
for s in $(grep -oE '^\s+\{"[a-z]+", ' "$T_ROOT/daemon/cfg.c" | grep -oE '[a-z]+' | sort -u); do
    grep -q "^\.SH \[$s\]" "$man/pantau.ini.5" || t_fail "pantau.ini(5) has section [$s]"
done

cat_keys=$(sed -n '/^static const char \*const regency_keys/,/^};/p;/^static const char \*const rule_keys/,/^};/p;/_keys\[\] = {/,/};/p' \
    "$T_ROOT/daemon/catalog.c" | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
t_check "pantau-catalog(5) has every key of catalog.c ($(echo $cat_keys | wc -w))" \
    documented "$man/pantau-catalog.5" $cat_keys

opts=$(grep -oE '\{"[a-z-]+", (required|no)_argument' "$T_ROOT/daemon/main.c" | grep -oE '"[a-z-]+"' | tr -d '"')
missing=
for o in $opts; do grep -qF -- "\\-\\-$(echo "$o" | sed 's/-/\\-/g')" "$man/pantaud.8" || missing="$missing --$o"; done
[ -z "$missing" ] && t_ok "pantaud(8) has every option of main.c" || t_fail "pantaud(8) has every option" "$missing"
missing=
for o in $("$T_BUILD/pantau-sim" --help 2>&1 | grep -oE '^  --[a-z-]+' | sed 's/^  --//'); do
    grep -qF -- "\\-\\-$(echo "$o" | sed 's/-/\\-/g')" "$man/pantau-sim.1" || missing="$missing --$o"
done
[ -z "$missing" ] && t_ok "pantau-sim(1) has every option of pantau-sim --help" ||
    t_fail "pantau-sim(1) has every option" "$missing"

# pantau-catalog(5)'s examples, with the [regency] and the programs they name.
{
    printf '[regency]\nid = contoh\nname = Kabupaten Contoh\n\n'
    for p in simas-bapokting tawes-sehat penurunan-stunting; do
        printf '[program %s]\nname = %s\ndimension = living\n\n' "$p" "$p"
    done
    sed -n '/^\.EX$/,/^\.EE$/p' "$man/pantau-catalog.5" | grep -v '^\.E[XE]$' | sed 's/\\-/-/g; s/\\e/\\/g'
} >"$T_TMP/examples.ini"
if "$T_PANTAUD" --check-config --catalog "$T_TMP/examples.ini" >"$T_TMP/check.out" 2>&1; then
    t_ok "pantau-catalog(5)'s examples are a valid catalog"
else
    t_fail "pantau-catalog(5)'s examples are a valid catalog" "$(cat "$T_TMP/check.out")"
fi
t_end
