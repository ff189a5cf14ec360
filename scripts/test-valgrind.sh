#!/bin/sh
# Every subcommand of the distill program, with good and bad input, under
# valgrind: no invalid read or write, no use of uninitialised memory, no
# definite leak (valgrind exits 9 on any).  Skipped, saying so, when
# valgrind is not installed (`make deps` installs it).  Run by `make check`.
set -u
BIN=$1
DIR=${2:-build/valgrind-test}
if ! command -v valgrind >/dev/null 2>&1; then
    echo "test-valgrind: valgrind not installed, skipped (make deps installs it)"
    exit 0
fi
rm -rf "$DIR" && mkdir -p "$DIR"
VG="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite"
bad=0 runs=0
# run NAME EXPECT ARGS...: EXPECT is ok (exit 0) or fail (a clean non-zero exit)
run() {
    name=$1 expect=$2
    shift 2
    runs=$((runs + 1))
    $VG "$BIN" "$@" > "$DIR/$name.out" 2> "$DIR/$name.err"
    rc=$?
    if [ $rc -eq 9 ]; then
        echo "test-valgrind: $name: valgrind found errors:" >&2
        grep '^==' "$DIR/$name.err" | head -20 >&2
        bad=$((bad + 1))
    elif [ "$expect" = ok ] && [ $rc -ne 0 ]; then
        echo "test-valgrind: $name: exit $rc, expected success" >&2
        tail -3 "$DIR/$name.err" >&2
        bad=$((bad + 1))
    elif [ "$expect" = fail ] && [ $rc -eq 0 ]; then
        echo "test-valgrind: $name: succeeded, expected a failure" >&2
        bad=$((bad + 1))
    fi
}
awk 'BEGIN { srand(3); print "label,pixels"; for (i = 0; i < 60; i++) { printf "%d", i % 10;
     for (j = 0; j < 64; j++) printf ",%.3f", rand(); print "" } }' > "$DIR/img.csv"
awk 'BEGIN { srand(5); print "y,a,b,c,p"; for (i = 0; i < 50; i++) { a = rand(); b = rand(); c = rand();
     p = a + b - c; printf "%d,%.4f,%.4f,%.4f,%.4f\n", (p > 0.5), a, b, c, p } }' > "$DIR/kd.csv"
awk -F, 'NR == 5 { $2 = "" } { print }' OFS=, "$DIR/kd.csv" > "$DIR/kd-missing.csv"
printf 'y,a\n1,0.5\n' > "$DIR/one-row.csv"

run krrst ok krrst --data "$DIR/img.csv" --teacher-epochs 1 --m 4 --n 8 --steps 2 --pool 2 --period 2 \
    --out "$DIR/k" --threads 1
run krrst-no-data fail krrst --data /nonexistent.csv --out "$DIR/x" --threads 1
# without MPI built in, --mpi must refuse (with it, test-mpi runs it under mpirun)
[ "${MPI:-}" = 1 ] || run krrst-mpi-unbuilt fail krrst --mpi --data "$DIR/img.csv" --out "$DIR/x" --threads 1
run transfer ok transfer --data "$DIR/img.csv" --dir "$DIR/k" --seeds 1 --probe-labels 3 --ft-labels 3 \
    --pretrain-steps 1 --probe-steps 2 --finetune-steps 1 --probe-draws 2 --threads 1
run transfer-no-dir fail transfer --dir /nonexistent --threads 1
run kd ok kd --data "$DIR/kd.csv" --privileged 4 --epochs 1 --threads 1
run kd-missing-feature fail kd --data "$DIR/kd-missing.csv" --privileged 4 --epochs 1 --threads 1
run kd-one-row fail kd --data "$DIR/one-row.csv" --privileged 1 --threads 1
run kd-no-file fail kd --data /nonexistent.csv --privileged 1 --threads 1
run kd-bad-mode fail kd --mode nonsense
run orl ok orl --episodes 5 --m 4 --steps 3 --bc-steps 5 --eval-episodes 2 --seeds 1 --out "$DIR/o" --threads 1
run orl-pendulum ok orl --task pendulum --episodes 2 --m 3 --steps 2 --bc-steps 3 --eval-episodes 1 --seeds 1 \
    --out "$DIR/op" --threads 1
run orl-data ok orl --data "$DIR/o/distilled.dstl" --m 2 --steps 2 --bc-steps 2 --eval-episodes 1 --seeds 1 \
    --out "$DIR/od" --threads 1
run orl-bad-data fail orl --data "$DIR/kd.csv" --out "$DIR/ob" --threads 1
run vdd ok vdd --episodes 3 --teacher-steps 2 --hidden 8 --iterations 2 --experts 2 --samples 1 --batch 4 \
    --eval-episodes 2 --out "$DIR/v" --threads 1
run vdd-dstl ok vdd --data "$DIR/o/distilled.dstl" --teacher-steps 2 --hidden 8 --iterations 1 --experts 2 \
    --samples 1 --batch 4 --out "$DIR/vd" --threads 1
run vdd-csv ok vdd --data "$DIR/kd.csv" --action-dim 1 --teacher-steps 2 --hidden 8 --iterations 1 --experts 2 \
    --samples 1 --batch 4 --out "$DIR/vc" --threads 1
run vdd-csv-no-action-dim fail vdd --data "$DIR/kd.csv" --out "$DIR/vb" --threads 1
run vdd-missing-value fail vdd --data "$DIR/kd-missing.csv" --action-dim 1 --out "$DIR/vb" --threads 1
run masks ok masks --image-seeds 1 --budget 2 --hidden 8 --compose lc --threads 1
run masks-share ok masks --image-seeds 1 --budget 2 --hidden 8 --agents 2 --drop 0.3 --threads 1
run masks-finetune ok masks --image-seeds 1 --budget 1 --hidden 8 --finetune --threads 1
[ "${MPI:-}" = 1 ] || run masks-mpi-unbuilt fail masks --mpi --threads 1
run unknown-command fail nonsense
[ $bad -eq 0 ] && echo "test-valgrind: $runs runs of distill krrst, transfer, kd, orl, vdd and masks (good and bad input) clean under valgrind"
exit $((bad > 0))
