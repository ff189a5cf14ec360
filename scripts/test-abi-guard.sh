#!/bin/sh
# The ABI guard must catch breaks: in a scratch copy of the tree, plant each
# kind of break and show that `make abi-check` fails on it, and that it
# passes additions.  Run by `make check` (about a minute).
#
#   test-abi-guard.sh REPO_ROOT [SCRATCH_DIR]
#
# In the copy: the committed baseline (0.1) passes with abi/renames.txt and
# fails without its line; then the baseline is refreshed to the copy itself
# (`make abi-baseline`), and each case edits the copy, runs `make abi-check`
# and undoes the edit.  Logs stay in SCRATCH_DIR/out when it is given.
# Environment: CC (cc), PYTHON (/usr/bin/python3).
set -eu

t_start=$(date +%s)
[ $# -ge 1 ] || { echo "usage: $0 REPO_ROOT [SCRATCH_DIR]" >&2; exit 2; }
repo=$(cd "$1" && pwd)
scratch=${2:-$(mktemp -d "${TMPDIR:-/tmp}/abi-guard.XXXXXX")}
PYTHON=${PYTHON:-/usr/bin/python3}
export PYTHON
mkdir -p "$scratch/src" "$scratch/out"
src=$scratch/src out=$scratch/out failures=0 cases=0

for tool in abidw git make; do
    command -v "$tool" >/dev/null || { echo "test-abi-guard: $tool not found (make deps)" >&2; exit 2; }
done

# The copy, in a throwaway repository only to undo each case's edits (git
# rewrites only the files that differ, so make rebuilds only what they touch).
(cd "$repo" && tar -cf - --exclude=./.git --exclude=./build \
    --exclude='./lib/libdistill.so*' --exclude=./lib/libdistill.a .) | tar -xf - -C "$src"
cd "$src"
git init -q .
git add -A
commit() { git -c user.name=abi-guard -c user.email=abi-guard@localhost commit -qam "$1"; }
commit pristine
restore() { git checkout -q -- . && git clean -fdq -e /build -e '/lib/libdistill*'; }

log() { echo "test-abi-guard: $*"; }

# expect NAME pass|fail [PATTERN]: run `make abi-check` (building what
# changed; CI and WERROR cleared, a planted break may warn); the verdict
# must be as expected and, for a failure, the output must match PATTERN.
expect() {
    cases=$((cases + 1))
    if make -s abi-check CI= WERROR= > "$out/$1.log" 2>&1; then got=pass; else got=fail; fi
    if [ "$got" != "$2" ]; then
        log "$1: WRONG, abi-check said $got, expected $2" >&2
        tail -15 "$out/$1.log" >&2
        failures=$((failures + 1))
    elif [ -n "${3:-}" ] && ! grep -q "$3" "$out/$1.log"; then
        log "$1: WRONG, abi-check failed but did not name the break ($3)" >&2
        tail -15 "$out/$1.log" >&2
        failures=$((failures + 1))
    else
        if [ "$got" = pass ]; then
            log "$1: abi-check passes, as it must"
        else
            log "$1: abi-check fails, as it must: $(grep -m1 'ABI BREAK' "$out/$1.log" | cut -c1-100)"
        fi
    fi
}

subst() {     # subst FILE SED-ARGS...: edit FILE in place; it must change
    file=$1
    shift
    sed "$@" "$file" > "$file.tmp"
    if cmp -s "$file" "$file.tmp"; then
        rm -f "$file.tmp"
        log "edit of $file matched nothing: $*" >&2
        exit 1
    fi
    cat "$file.tmp" > "$file" && rm -f "$file.tmp"
}

definition_file() {   # the library's .c file that defines function $1
    grep -rlE "^([A-Za-z_][A-Za-z0-9_ *]*[ *])?$1\(" src --include='*.c' | grep -v '^src/cli/' | head -1
}

remove_definition() {  # remove_definition FILE NAME: delete NAME's definition
    "$PYTHON" - "$1" "$2" <<'EOF'
import re, sys
path, name = sys.argv[1], sys.argv[2]
text = open(path).read()
# from the line holding `type name(` (or the return type's line before it)
# to the balanced closing brace
match = re.search(r"^(?:[A-Za-z_][\w \t*]*\n)?[A-Za-z_][\w \t*]*\b" + name + r"\(", text, re.M)
if not match:
    sys.exit("no definition of %s in %s" % (name, path))
depth, i = 0, text.index("{", match.end())
while True:
    depth += {"{": 1, "}": -1}.get(text[i], 0)
    i += 1
    if depth == 0:
        break
open(path, "w").write(text[:match.start()] + text[i:].lstrip("\n"))
EOF
}

# ---- against the committed baseline: the reviewed rename needs its line ------------------
expect committed-baseline pass
sed -i '/^[^#]/d' abi/renames.txt
expect rename-without-renames-line fail 'distill_teacher'
restore

# ---- the baseline becomes the copy itself ----------------------------------------------------
make -s abi-baseline CI= WERROR= > "$out/baseline.log" 2>&1
commit baseline
expect identical pass

kd_h=include/distill/kd.h
kernels_h=include/distill/kernels.h
kd_c=$(definition_file distill_kd_options_init)
chol_c=$(definition_file distill_cholesky_workspace_size)
loss_c=$(definition_file distill_kd_recent_loss)
if [ -z "$kd_c" ] || [ -z "$chol_c" ] || [ -z "$loss_c" ]; then
    log "definitions of the edited functions not found under src/" >&2
    exit 1
fi

# (a) a field inserted in the middle of distill_kd_options
subst $kd_h '/^    int32_t preset;/a\
    int32_t inserted_mid;
'
expect a-field-inserted-mid-struct fail 'ABI BREAK'
restore

# (b) two fields swapped: temperature and lambda
subst $kd_h -e '/^    double temperature;/{h;d;}' -e '/^    double lambda;/G'
expect b-fields-swapped fail 'ABI BREAK'
restore

# (c) a parameter int64_t -> int32_t, declaration and definition
subst $kernels_h 's/distill_cholesky_workspace_size(int64_t n/distill_cholesky_workspace_size(int32_t n/'
subst "$chol_c" 's/distill_cholesky_workspace_size(int64_t n/distill_cholesky_workspace_size(int32_t n/'
expect c-parameter-narrowed fail 'ABI BREAK'
restore

# (d) an int32_t field of an options struct widened to int64_t
subst $kernels_h 's/^    int32_t form;/    int64_t form;/'
expect d-field-widened fail 'ABI BREAK'
restore

# (e) an anonymous-enum constant renumbered (abixml never sees this enum)
subst $kd_h 's/DISTILL_KD_CLASSIC = 1,/DISTILL_KD_CLASSIC = 5,/'
expect e-enum-renumbered fail 'DISTILL_KD_CLASSIC'
restore

# (f) a function removed: declaration, definition and its map line
subst $kd_h '/^DISTILL_API double distill_kd_recent_loss(distill_kd \*kd);/d'
remove_definition "$loss_c" distill_kd_recent_loss
subst lib/libdistill.map '/^    distill_kd_recent_loss;/d'
expect f-function-removed fail 'distill_kd_recent_loss'
restore

# ---- additions pass: a function, a trailing field, an enumerator ------------------------------
subst $kd_h -e 's/^DISTILL_END_DECLS/DISTILL_API int distill_kd_guard_added(void);\
\
DISTILL_END_DECLS/' -e 's/^} distill_kd_options;/    int64_t guard_added_field;\
} distill_kd_options;/' -e 's/DISTILL_KD_LOGITS = 4 /DISTILL_KD_LOGITS = 4, DISTILL_KD_GUARD_ADDED = 5 /'
printf '\nint distill_kd_guard_added(void) { return 42; }\n' >> "$kd_c"
node=$(sed -n 's/^\(DISTILL_[0-9][0-9.]*\) {.*/\1/p' lib/libdistill.map | tail -1)
subst lib/libdistill.map "/^$node {/,/global:/s/global:/global:\\
    distill_kd_guard_added;/"
expect additions pass
# ... having seen them, not passed for want of them
if ! grep -q ': 1 functions, 0 variables, 1 struct members' "$out/additions.log" ||
   ! grep -q ', 1 added' "$out/additions.log"; then
    log "additions: WRONG, the function, member or enumerator added was not seen" >&2
    failures=$((failures + 1))
fi
restore

# ---- a renames line left after the baseline refresh is stale -----------------------------------
echo 'distill_teacher distill_teacher_vtable  # stale' >> abi/renames.txt
expect stale-renames-line fail 'stale'
restore

log "$cases cases, $failures wrong verdict(s), $(( $(date +%s) - t_start ))s"
cd /
[ $# -ge 2 ] || rm -rf "$scratch"
[ "$failures" -eq 0 ]
