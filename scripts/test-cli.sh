#!/bin/sh
# The distill program end to end on a small slice of Fashion-MNIST: every
# subcommand's last stdout line is JSON with "ok":true, the files appear,
# and bad input gives "ok":false and a non-zero exit.
set -e
BIN=$1
DIR=${2:-build/cli-test}
rm -rf "$DIR"
# the last line, which must be one JSON object (no NaN or Inf numbers)
PY=/usr/bin/python3
last() {
    l=$(tail -n 1 "$1")
    case "$l" in *:nan*|*:-nan*|*:inf*|*:-inf*) echo "test-cli: not JSON: $l" >&2; return 1 ;; esac
    if [ -x "$PY" ] && ! printf '%s' "$l" | "$PY" -c 'import json, sys; assert isinstance(json.loads(sys.stdin.read()), dict)' 2> /dev/null; then
        echo "test-cli: not a JSON object: $l" >&2
        return 1
    fi
    printf '%s\n' "$l"
}
"$BIN" krrst --limit 600 --teacher-epochs 1 --m 8 --n 32 --steps 6 --pool 2 --period 3 \
    --export-every 3 --out "$DIR" --threads 2 > "$DIR.krrst.out" 2> /dev/null
last "$DIR.krrst.out" | grep -q '"command":"krrst","ok":true' || { cat "$DIR.krrst.out"; exit 1; }
for f in teacher.dstl initial.dstl distilled.dstl distilled_3.dstl distilled_6.dstl images.npy \
         targets.npy distilled.png initial.png checkpoint.dstl; do
    test -s "$DIR/$f" || { echo "test-cli: $DIR/$f missing"; exit 1; }
done
"$BIN" transfer --dir "$DIR" --seeds 2 --pretrain-steps 3 --probe-steps 20 --finetune-steps 3 --probe-draws 2 \
    --test-limit 300 --threads 2 > "$DIR.transfer.out" 2> /dev/null
last "$DIR.transfer.out" | grep -q '"command":"transfer","ok":true.*"probe_draws":2.*"lp10_C".*"lp10_C_one_draw_std"' ||
    { cat "$DIR.transfer.out"; exit 1; }
# an output directory whose name needs escaping in JSON
"$BIN" krrst --limit 300 --teacher "$DIR/teacher.dstl" --m 4 --n 16 --steps 2 --pool 2 --period 3 \
    --out "$DIR/q\"uote" --threads 2 > "$DIR.quote.out" 2> /dev/null
last "$DIR.quote.out" | grep -q '"out":".*q\\"uote"' || { cat "$DIR.quote.out"; exit 1; }
# resuming from the checkpoint continues to the new step count
"$BIN" krrst --limit 600 --teacher "$DIR/teacher.dstl" --m 8 --n 32 --steps 8 --pool 2 --period 3 \
    --resume "$DIR/checkpoint.dstl" --out "$DIR" --threads 2 > "$DIR.resume.out" 2> /dev/null
last "$DIR.resume.out" | grep -q '"ok":true,"teacher":"file","m":8,"steps":8' || { cat "$DIR.resume.out"; exit 1; }
# a resume with no steps left: valid JSON (no loss to report: null)
"$BIN" krrst --limit 600 --teacher "$DIR/teacher.dstl" --m 8 --n 32 --steps 6 --pool 2 --period 3 \
    --resume "$DIR/checkpoint.dstl" --out "$DIR/again" --threads 2 > "$DIR.resume.out" 2> /dev/null
last "$DIR.resume.out" | grep -q '"ok":true.*"loss_first":null' || { cat "$DIR.resume.out"; exit 1; }
# --data FILE.csv: a label and an 8x8 grey image per row
awk 'BEGIN { srand(3); print "label,pixels"; for (i = 0; i < 300; i++) { printf "%d", i % 10;
     for (j = 0; j < 64; j++) printf ",%.3f", rand() * (j % 8 < i % 10 ? 1 : 0.2); print "" } }' > "$DIR.csv"
"$BIN" krrst --data "$DIR.csv" --teacher-epochs 1 --m 4 --n 8 --steps 3 --pool 2 --period 2 \
    --out "$DIR/csv" --threads 2 > "$DIR.csv.out" 2> /dev/null
last "$DIR.csv.out" | grep -q '"command":"krrst","ok":true' || { cat "$DIR.csv.out"; exit 1; }
"$BIN" transfer --data "$DIR.csv" --dir "$DIR/csv" --seeds 1 --probe-labels 3 --ft-labels 5 \
    --pretrain-steps 2 --probe-steps 5 --finetune-steps 2 --threads 2 > "$DIR.csv.out" 2> /dev/null
last "$DIR.csv.out" | grep -q '"command":"transfer","ok":true' || { cat "$DIR.csv.out"; exit 1; }
# distill orl: CartPole with its expert's data; the distilled arm clearly above the random one,
# the outputs written, and a policy file the library loads
"$BIN" orl --seeds 3 --steps 2000 --out "$DIR/orl" > "$DIR.orl.out" 2> /dev/null
last "$DIR.orl.out" | grep -q '"command":"orl","ok":true,"task":"cartpole","m":10' || { cat "$DIR.orl.out"; exit 1; }
for f in distilled.dstl states.npy actions.npy policy.dstl; do
    test -s "$DIR/orl/$f" || { echo "test-cli: orl did not write $f"; exit 1; }
done
last "$DIR.orl.out" | /usr/bin/python3 -c 'import json, sys
r = json.loads(sys.stdin.read())["returns"]
sys.exit(0 if r["distilled"]["mean"] >= r["random"]["mean"] + 100 else 1)' ||
    { echo "test-cli: orl: the distilled arm is not 100 above the random one"; cat "$DIR.orl.out"; exit 1; }
# distill vdd: Avoid's demonstrations, a teacher that reaches the goal by several routes, a
# student distilled from it, both written; then a second student from the saved teacher
"$BIN" vdd --teacher-steps 6000 --iterations 300 --eval-episodes 100 --out "$DIR/vdd" > "$DIR.vdd.out" 2> /dev/null
last "$DIR.vdd.out" | grep -q '"command":"vdd","ok":true,"demonstrations":' || { cat "$DIR.vdd.out"; exit 1; }
for f in teacher.dstl policy.dstl; do
    test -s "$DIR/vdd/$f" || { echo "test-cli: vdd did not write $f"; exit 1; }
done
last "$DIR.vdd.out" | /usr/bin/python3 -c 'import json, sys
r = json.loads(sys.stdin.read())
sys.exit(0 if r["success_teacher"] >= 0.8 and r["route_entropy_teacher"] >= 0.7 and r["experts"] == 12 else 1)' ||
    { echo "test-cli: vdd: the teacher does not reach the goal by several routes"; cat "$DIR.vdd.out"; exit 1; }
"$BIN" vdd --teacher "$DIR/vdd/teacher.dstl" --iterations 20 --mode sample --eval-episodes 10 \
    --out "$DIR/vdd2" > "$DIR.vdd.out" 2> /dev/null
last "$DIR.vdd.out" | grep -q '"command":"vdd","ok":true.*"teacher_loss":null.*"mode":"sample"' ||
    { cat "$DIR.vdd.out"; exit 1; }

# distill masks: four CT-graph tasks learned one after another with nothing forgotten; two agents sharing
"$BIN" masks --image-seeds 1 --budget 40 --compose lc --out "$DIR/masks.dstl" > "$DIR.masks.out" 2> /dev/null
test -s "$DIR/masks.dstl" || { echo "test-cli: masks did not write its net"; exit 1; }
last "$DIR.masks.out" | /usr/bin/python3 -c 'import json, sys
r = json.loads(sys.stdin.read())
sys.exit(0 if r["ok"] and r["tasks"] == 4 and r["forgetting_max"] == 0 and min(r["final"]) >= 0.5
         and r["mask_bytes_bits"] < r["mask_bytes_f32"] / 30 else 1)' ||
    { echo "test-cli: masks: tasks not learned, or forgotten"; cat "$DIR.masks.out"; exit 1; }
"$BIN" masks --image-seeds 1 --budget 40 --agents 2 --drop 0.25 > "$DIR.masks.out" 2> /dev/null
last "$DIR.masks.out" | grep -q '"command":"masks","ok":true,"mode":"share","agents":2,"sharing":true,"drop":0.25' ||
    { cat "$DIR.masks.out"; exit 1; }

# distill kd: images (the 7x7 view), a CSV with a privileged column, the grid, regression
"$BIN" kd --n 200 --epochs 5 --test-limit 300 --save-student "$DIR/student.dstl" > "$DIR.kd.out" 2> /dev/null
last "$DIR.kd.out" | grep -q '"command":"kd","ok":true,"mode":"gd".*"regular_features":49,"privileged_features":784' ||
    { cat "$DIR.kd.out"; exit 1; }
test -s "$DIR/student.dstl" || { echo "test-cli: kd student missing"; exit 1; }
"$BIN" kd --n 100 --unlabeled 200 --epochs 2 --test-limit 200 --regular noise:0.5 --privileged pool:2 \
    > "$DIR.kd.out" 2> /dev/null
last "$DIR.kd.out" | grep -q '"ok":true.*"n":300,.*"regular_features":784,"privileged_features":196.*"unlabeled":200' ||
    { cat "$DIR.kd.out"; exit 1; }
awk 'BEGIN { srand(5); print "y,a,b,c,p"; for (i = 0; i < 200; i++) { a = rand(); b = rand(); c = rand();
     p = a + b - c; printf "%d,%.4f,%.4f,%.4f,%.4f\n", (p + 0.1 * rand() > 0.5), a, b, c, p } }' > "$DIR.kd.csv"
"$BIN" kd --data "$DIR.kd.csv" --privileged 4 --grid --epochs 3 --batch 32 > "$DIR.kd.out" 2> /dev/null
last "$DIR.kd.out" | grep -q '"ok":true.*"n":160,"test":40,"regular_features":3,"privileged_features":1.*"grid":true' ||
    { cat "$DIR.kd.out"; exit 1; }
"$BIN" kd --data "$DIR.kd.csv" --privileged 4 --label-column 0 --mode regression --epochs 3 > "$DIR.kd.out" 2> /dev/null
last "$DIR.kd.out" | grep -q '"ok":true,"mode":"regression","metric":"mse"' || { cat "$DIR.kd.out"; exit 1; }
# missing labels and privileged values (empty fields) are semi-supervised rows; a missing regular one is an error
awk -F, 'NR == 1 || NR % 7 != 3 { print; next } { $1 = ""; if (NR % 2) $5 = "NA"; print }' OFS=, "$DIR.kd.csv" > "$DIR.kd2.csv"
"$BIN" kd --data "$DIR.kd2.csv" --privileged 4 --epochs 3 > "$DIR.kd.out" 2> /dev/null
last "$DIR.kd.out" | grep -q '"ok":true' || { cat "$DIR.kd.out"; exit 1; }
awk -F, 'NR == 5 { $2 = "" } { print }' OFS=, "$DIR.kd.csv" > "$DIR.kd2.csv"
if "$BIN" kd --data "$DIR.kd2.csv" --privileged 4 --epochs 3 > "$DIR.bad.out" 2> /dev/null; then exit 1; fi
last "$DIR.bad.out" | grep -q '"ok":false,"error":"data"' || exit 1
if "$BIN" kd --data "$DIR.kd.csv" --privileged 0 > "$DIR.bad.out" 2> /dev/null; then exit 1; fi
last "$DIR.bad.out" | grep -q '"ok":false,"error":"data"' || exit 1
# --n beyond the data is refused, not clamped
if "$BIN" kd --data "$DIR.kd.csv" --privileged 4 --n 100000 > "$DIR.bad.out" 2> "$DIR.bad.err"; then exit 1; fi
grep -q "exceeds the 160 training rows" "$DIR.bad.err" || { cat "$DIR.bad.err"; exit 1; }
# a one-row CSV: its own message, not an empty "data: "
printf 'y,a,b\n1,0.5,0.2\n' > "$DIR.one.csv"
if "$BIN" kd --data "$DIR.one.csv" --privileged 2 > "$DIR.bad.out" 2> "$DIR.bad.err"; then exit 1; fi
grep -q "1 row(s)" "$DIR.bad.err" && ! grep -q "data: $" "$DIR.bad.err" || { cat "$DIR.bad.err"; exit 1; }
if "$BIN" kd --mode nonsense > "$DIR.bad.out" 2> /dev/null; then exit 1; fi
last "$DIR.bad.out" | grep -q '"ok":false' || exit 1
# failures: JSON with ok false, non-zero exit
if "$BIN" krrst --data /nonexistent --out "$DIR/x" > "$DIR.bad.out" 2> /dev/null; then exit 1; fi
last "$DIR.bad.out" | grep -q '"ok":false' || exit 1
if "$BIN" transfer --dir /nonexistent > "$DIR.bad.out" 2> /dev/null; then exit 1; fi
last "$DIR.bad.out" | grep -q '"ok":false' || exit 1
if "$BIN" nonsense > "$DIR.bad.out" 2> /dev/null; then exit 1; fi
last "$DIR.bad.out" | grep -q '"ok":false' || exit 1
echo "test-cli: distill krrst, transfer, resume, kd, orl, vdd, masks, CSV data and failures behave"
