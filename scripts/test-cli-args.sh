#!/bin/sh
# Every option of every subcommand of the distill program given a missing,
# empty, non-numeric, fractional, negative, huge or out-of-range value, and
# unknown, repeated and positional arguments: each refused before anything
# runs, with a message on stderr, exit 2, a JSON last line with "ok":false,
# and no output written.  Run by `make check` (and under SANITIZE=1).
set -u
BIN=$1
DIR=${2:-build/cli-args}
rm -rf "$DIR" && mkdir -p "$DIR"
OUT="$DIR/out-must-not-appear"
bad=0 runs=0

# refuse LABEL ARGS...: the call must be refused as above
refuse() {
    label=$1
    shift
    runs=$((runs + 1))
    "$BIN" "$@" > "$DIR/stdout" 2> "$DIR/stderr"
    rc=$?
    last=$(tail -n 1 "$DIR/stdout")
    if [ $rc -ne 2 ]; then
        echo "test-cli-args: $label: exit $rc, expected 2: $BIN $*" >&2; bad=$((bad + 1))
    elif ! printf '%s' "$last" | grep -q '"ok":false'; then
        echo "test-cli-args: $label: last line '$last'" >&2; bad=$((bad + 1))
    elif [ ! -s "$DIR/stderr" ]; then
        echo "test-cli-args: $label: no message" >&2; bad=$((bad + 1))
    elif [ -e "$OUT" ]; then
        echo "test-cli-args: $label: wrote $OUT" >&2; bad=$((bad + 1)); rm -rf "$OUT"
    fi
}

# the options of each subcommand: name kind (int, real, text, path, flag)
krrst_opts="--data:path --classes:text --limit:int --m:int --n:int --k:int --steps:int --pool:int
    --period:int --lr:real --flip:int --crop:int --syn-flip:int --syn-crop:int --pool-reference:int --teacher:path --teacher-kind:text --teacher-epochs:int
    --out:path --resume:path --export-every:int --checkpoint-every:int --mpi:flag --seed:int --threads:int"
transfer_opts="--dir:path --data:path --set:path --arms:text --classes:text --source-classes:text
    --seeds:int --probe-labels:int --ft-labels:int --pretrain-steps:int --probe-steps:int
    --finetune-steps:int --probe-lr:real --probe-wd:real --probe-draws:int --test-limit:int --seed:int --threads:int"
kd_opts="--data:path --n:int --val:int --unlabeled:int --test-limit:int --subset-seed:int
    --label-column:int --privileged:text --regular:text --mode:text --preset:text --T:real --lambda:real
    --grid:flag --hidden:text --epochs:int --batch:int --lr:real --save-student:path --save-teacher:path
    --seed:int --threads:int"
orl_opts="--task:text --data:path --episodes:int --epsilon:real --noise:real --m:int --steps:int
    --variant:text --lr:real --batch:int --bc-steps:int --eval-episodes:int --seeds:int --out:path
    --seed:int --threads:int"
vdd_opts="--data:path --action-dim:int --episodes:int --noise:real --teacher-steps:int --hidden:int
    --iterations:int --experts:int --diag:flag --uniform-gating:flag --samples:int --batch:int --mode:text
    --eval-episodes:int --out:path --teacher:path --sigma-max:real --state-noise:real --mean-init:text
    --seed:int --threads:int"
masks_opts="--depth:int --image-seeds:int --compose:text --budget:int --done:real --lr:real --hidden:int
    --agents:int --no-share:flag --drop:real --latency:int --payload:text --finetune:flag --mpi:flag --out:path
    --seed:int --threads:int"

sweep() {
    cmd=$1 opts=$2
    # where a run would write, so that a wrongly accepted call shows
    case $cmd in krrst|orl|vdd|masks) dest="--out $OUT" ;; kd) dest="--save-student $OUT" ;; *) dest="" ;; esac
    for o in $opts; do
        name=${o%%:*} kind=${o#*:}
        [ "$kind" = flag ] && { refuse "$cmd $name twice" "$cmd" $name $name; continue; }
        refuse "$cmd $name without a value" "$cmd" $dest $name
        refuse "$cmd $name empty" "$cmd" $dest $name ""
        refuse "$cmd $name twice" "$cmd" $dest $name 1 $name 1
        case $kind in
            int|real)
                for v in abc 1x "" -5 1e30 99999999999999999999999 nan inf; do
                    refuse "$cmd $name '$v'" "$cmd" $dest $name "$v"
                done
                [ "$kind" = int ] && refuse "$cmd $name 1.5" "$cmd" $dest $name 1.5 ;;
        esac
    done
    refuse "$cmd unknown option" "$cmd" $dest --no-such-option 3
    refuse "$cmd positional argument" "$cmd" $dest stray
    refuse "$cmd option as a value" "$cmd" --seed --threads 1
}
sweep krrst "$krrst_opts"
sweep transfer "$transfer_opts"
sweep kd "$kd_opts"
sweep orl "$orl_opts"
sweep vdd "$vdd_opts"
sweep masks "$masks_opts"
# values that parse but mean nothing
refuse "krrst --classes 7-3" krrst --classes 7-3 --out "$OUT"
refuse "krrst --classes 0-100" krrst --classes 0-100 --out "$OUT"
refuse "krrst --classes ," krrst --classes , --out "$OUT"
refuse "krrst --classes 1,1" krrst --classes 1,1 --out "$OUT"
refuse "krrst --threads 100000" krrst --threads 100000 --out "$OUT"
refuse "krrst --out too long" krrst --out "$(printf '%0950d' 0)"
refuse "kd --hidden with 9 widths" kd --hidden 5,5,5,5,5,5,5,5,5 --save-student "$OUT"
refuse "kd --mode nonsense" kd --mode nonsense --save-student "$OUT"
refuse "kd --lambda 2" kd --lambda 2 --save-student "$OUT"
refuse "transfer --pretrain-steps -1" transfer --pretrain-steps -1
refuse "transfer --probe-draws 0" transfer --probe-draws 0
refuse "transfer --probe-draws 65" transfer --probe-draws 65
refuse "orl --task walker" orl --task walker --out "$OUT"
refuse "orl --variant nonsense" orl --variant nonsense --out "$OUT"
refuse "orl --epsilon 2" orl --epsilon 2 --out "$OUT"
refuse "orl --seeds 65" orl --seeds 65 --out "$OUT"
refuse "vdd --mode nonsense" vdd --mode nonsense --out "$OUT"
refuse "vdd --experts 65" vdd --experts 65 --out "$OUT"
refuse "vdd --action-dim 17" vdd --action-dim 17 --out "$OUT"
refuse "vdd --sigma-max 0.01" vdd --sigma-max 0.01 --out "$OUT"
refuse "vdd --state-noise -0.1" vdd --state-noise -0.1 --out "$OUT"
refuse "vdd --mean-init kmeans" vdd --mean-init kmeans --out "$OUT"
refuse "masks --compose xx" masks --compose xx
refuse "masks --payload f64" masks --payload f64
refuse "masks --depth 4" masks --depth 4
refuse "masks --agents 65" masks --agents 65
refuse "unknown command" nonsense
# and what must work: help
for cmd in krrst transfer kd orl vdd masks; do
    runs=$((runs + 1))
    "$BIN" $cmd --help > "$DIR/stdout" 2> /dev/null && tail -n 1 "$DIR/stdout" | grep -q '"ok":true' ||
        { echo "test-cli-args: $cmd --help failed" >&2; bad=$((bad + 1)); }
done
runs=$((runs + 1))
"$BIN" --help > "$DIR/stdout" 2> /dev/null && tail -n 1 "$DIR/stdout" | grep -q '"ok":true' ||
    { echo "test-cli-args: distill --help failed" >&2; bad=$((bad + 1)); }
[ $bad -eq 0 ] && echo "test-cli-args: $runs calls: every bad argument refused (exit 2, a message, ok false, nothing written)"
exit $((bad > 0))
