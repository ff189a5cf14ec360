#!/bin/sh
# Fail on an #include that goes up a layer, or sideways between two method
# folders (docs/architecture.md, "Layers").  Run by `make check`.
#
#   1 core  2 kernels  3 data  4 learning  5 shared (teacher, rl, policy,
#   solver)  6 methods (krrst, kd, orl, vdd, mask: peers)  7 tools
set -u
cd "$(dirname "$0")/.." || exit 2

METHODS="krrst kd orl vdd mask"

is_method() { case " $METHODS " in *" $1 "*) return 0 ;; esac; return 1; }

# The layer of a source folder.
dir_layer() {
    case "$1" in
        core) echo 1 ;; kernels) echo 2 ;; data) echo 3 ;; nn) echo 4 ;;
        solver|teacher|rl|policy|diffusion) echo 5 ;;
        cli) echo 7 ;;
        *) if is_method "$1"; then echo 6; else echo "?"; fi ;;
    esac
}

# The layer of a public header, and the method it belongs to (or -).
header_layer() {
    case "$1" in
        export.h|version.h|status.h|core.h|io.h) echo "1 -" ;;
        kernels.h) echo "2 -" ;;
        data.h) echo "3 -" ;;
        model.h|optim.h) echo "4 -" ;;
        teacher.h|ssl.h|env.h|rl.h|policy.h|diffusion.h|experimental.h|transfer.h) echo "5 -" ;;
        distill.h) echo "7 -" ;;
        *) m=${1%.h}; if is_method "$m"; then echo "6 $m"; else echo "? -"; fi ;;
    esac
}

bad=0
complain() { echo "check-layers: $1" >&2; bad=1; }

# A file at layer $2 (method $3, or -) includes "$4" (as written in $1).
check_one() {
    file=$1 layer=$2 method=$3 inc=$4
    case "$inc" in
        distill/*) set -- $(header_layer "${inc#distill/}") ;;
        ../*/*) d=${inc#../}; d=${d%%/*}; set -- "$(dir_layer "$d")" "$d"
                is_method "$2" || set -- "$1" - ;;
        */*) return 0 ;;            # test or tool paths (-Isrc) are not library code
        *) return 0 ;;              # the file's own folder
    esac
    to_layer=$1 to_method=$2
    if [ "$to_layer" = "?" ]; then
        complain "$file includes \"$inc\", which belongs to no known layer"
    elif [ "$to_layer" -gt "$layer" ]; then
        complain "$file (layer $layer) includes \"$inc\" (layer $to_layer): up a layer"
    elif [ "$method" != - ] && [ "$to_method" != - ] && [ "$to_method" != "$method" ]; then
        complain "$file (method $method) includes \"$inc\" (method $to_method): sideways between methods"
    fi
}

# Library sources.
for f in src/*/*.c src/*/*.h; do
    [ -e "$f" ] || continue
    d=${f#src/}; d=${d%%/*}
    layer=$(dir_layer "$d")
    [ "$layer" = "?" ] && { complain "$f: folder src/$d has no layer (add it to scripts/check-layers.sh)"; continue; }
    method=-; is_method "$d" && method=$d
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        check_one "$f" "$layer" "$method" "$inc"
    done
done

# Public headers include one another without the distill/ prefix.
for f in include/distill/*.h; do
    set -- $(header_layer "${f##*/}")
    layer=$1 method=$2
    [ "$layer" = "?" ] && { complain "$f has no layer (add it to scripts/check-layers.sh)"; continue; }
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        check_one "$f" "$layer" "$method" "distill/$inc"
    done
done

[ $bad -eq 0 ] && echo "check-layers: every include stays in its layer or goes down; methods never include each other"
exit $bad
