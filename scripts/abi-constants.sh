#!/bin/sh
# The public integer constants of libdistill, one `NAME VALUE` a line, sorted.
#
#   abi-constants.sh CC INCLUDE_DIR OUTPUT        write the list
#   abi-constants.sh --check BASELINE CURRENT     every baseline line must be in
#                                             CURRENT unchanged (new names are fine)
#
# INCLUDE_DIR is the directory holding the public headers (include/distill),
# or its parent (include).  The constants are
#   * every object-like macro DISTILL_* whose value is an integer constant
#     expression (a compile probe decides: `case (NAME):` accepts nothing else),
#     except DISTILL_VERSION_* (they change each release) and header guards;
#   * every enumerator DISTILL_* of the headers, named or anonymous enum;
#     abixml never sees an anonymous enum that no declaration uses, so this
#     list is what keeps `enum { DISTILL_KD_GENERALIZED = 0, ... }` stable.
# Their values are printed by a small program compiled against the headers,
# so expressions (`= 1 << 3`, `= DISTILL_X + 1`) are evaluated by the compiler.
set -eu

usage() {
    echo "usage: $0 CC INCLUDE_DIR OUTPUT | $0 --check BASELINE CURRENT" >&2
    exit 2
}

# ---- the check -----------------------------------------------------------------
check() {
    base=$1 cur=$2
    for f in "$base" "$cur"; do
        [ -r "$f" ] || { echo "constants: cannot read $f" >&2; exit 2; }
    done
    bad=0
    # Lines of the baseline that are not in the current list, verbatim.
    missing=$(LC_ALL=C sort "$base" | LC_ALL=C comm -23 - "$(sorted "$cur")")
    if [ -n "$missing" ]; then
        bad=1
        printf '%s\n' "$missing" | while read -r name value; do
            now=$(awk -v n="$name" '$1 == n { print $2 }' "$cur")
            if [ -z "$now" ]; then
                echo "ABI BREAK: constant $name: removed (was $value)"
            else
                echo "ABI BREAK: constant $name: value changed $value -> $now"
            fi
        done
    fi
    n_base=$(wc -l < "$base" | tr -d ' ')
    n_added=$(awk 'NR == FNR { seen[$1] = 1; next } !($1 in seen)' "$base" "$cur" | wc -l | tr -d ' ')
    if [ "$bad" -ne 0 ]; then
        echo "constants: $(printf '%s\n' "$missing" | wc -l | tr -d ' ') of $n_base baseline constants changed or removed ($n_added added)"
        exit 1
    fi
    echo "constants: all $n_base baseline constants unchanged, $n_added added"
    exit 0
}

sorted() {
    # comm wants sorted input in the C locale; the lists are, but do not trust it.
    LC_ALL=C sort "$1" > "$tmp/sorted"
    echo "$tmp/sorted"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/constants.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

[ $# -eq 3 ] || usage
if [ "$1" = "--check" ]; then
    check "$2" "$3"
fi

# ---- the list ------------------------------------------------------------------
cc=$1 dir=$2 out=$3
[ -d "$dir/distill" ] && dir=$dir/distill
dir=$(cd "$dir" && pwd)
set -- "$dir"/*.h
[ -e "$1" ] || { echo "constants: no headers in $dir" >&2; exit 2; }

# One unit that includes every public header.
for h in "$dir"/*.h; do
    printf '#include "%s"\n' "$h"
done > "$tmp/all.h"
probe_cc() { $cc -std=c99 -pedantic-errors "$@"; }

# Object-like macros (no `(` right after the name) named DISTILL_*, with a
# non-empty value; not versions, not header guards.
probe_cc -dM -E "$tmp/all.h" |
    sed -n 's/^#define \(DISTILL_[A-Za-z0-9_]*\) \(.*[^ ].*\)$/\1/p' |
    grep -v '^DISTILL_VERSION_' | grep -v '_H$' | LC_ALL=C sort -u > "$tmp/macro-candidates"

# Keep a macro only if its value is an integer constant expression: a case
# label accepts exactly those (a string, a double, an attribute or an empty
# expansion is a compile error under -pedantic-errors).
: > "$tmp/names"
while read -r name; do
    cat > "$tmp/probe.c" <<EOF
#include "$tmp/all.h"
int distill_constants_probe(long long v);
int distill_constants_probe(long long v) { switch (v) { case ($name): return 1; default: return 0; } }
EOF
    if probe_cc -fsyntax-only "$tmp/probe.c" 2>/dev/null; then
        echo "$name" >> "$tmp/names"
    fi
done < "$tmp/macro-candidates"

# Enumerators: run the headers through the preprocessor (no comments, no
# disabled #if branches), join the lines, and take from every `enum ... { }`
# body the names that start an item (after `{` or `,`).
probe_cc -E -P "$tmp/all.h" | tr '\n' ' ' | awk '
    {
        s = $0
        while (match(s, /enum[^{};]*\{[^}]*\}/)) {
            body = substr(s, RSTART, RLENGTH)
            s = substr(s, RSTART + RLENGTH)
            sub(/^[^{]*\{/, "", body)
            sub(/\}$/, "", body)
            n = split(body, items, ",")
            for (i = 1; i <= n; i++) {
                item = items[i]
                sub(/^[ \t]+/, "", item)
                if (match(item, /^DISTILL_[A-Za-z0-9_]*/))
                    print substr(item, 1, RLENGTH)
            }
        }
    }' | grep -v '^DISTILL_VERSION_' >> "$tmp/names" || true

LC_ALL=C sort -u "$tmp/names" > "$tmp/names.sorted"

# The program that prints the values.
{
    echo '#include <stdio.h>'
    echo "#include \"$tmp/all.h\""
    echo 'int main(void) {'
    while read -r name; do
        printf '    printf("%%s %%lld\\n", "%s", (long long)(%s));\n' "$name" "$name"
    done < "$tmp/names.sorted"
    echo '    return 0;'
    echo '}'
} > "$tmp/print.c"
$cc -std=c99 -o "$tmp/print" "$tmp/print.c"
"$tmp/print" | LC_ALL=C sort > "$tmp/out"
mv "$tmp/out" "$out"
echo "constants: $(wc -l < "$out" | tr -d ' ') constants from $dir written to $out" >&2
