#!/bin/sh
# Data-parallel KRR-ST over MPI: `mpirun -n 2 distill krrst --mpi --n 16`
# against one process with --n 16 (each rank takes 8 rows of the batch):
# the distilled set (images and targets) agrees to 1e-5 relative after 50
# steps, the two ranks agree exactly, and only rank 0 prints the summary.
# Run by `make check` when mpicc and mpirun are installed (make deps).
set -u
BIN=$1
DIR=${2:-build/mpi-test}
PY=${PYTHON:-/usr/bin/python3}
rm -rf "$DIR" && mkdir -p "$DIR"
awk 'BEGIN { srand(3); print "label,pixels"; for (i = 0; i < 60; i++) { printf "%d", i % 10;
     for (j = 0; j < 64; j++) printf ",%.3f", rand(); print "" } }' > "$DIR/img.csv"
ARGS="krrst --data $DIR/img.csv --teacher-epochs 1 --m 4 --n 16 --steps 50 --pool 2 --period 20 --threads 1"
"$BIN" $ARGS --out "$DIR/one" > "$DIR/one.out" 2> "$DIR/one.err" || { cat "$DIR/one.err"; exit 1; }
mpirun --allow-run-as-root --oversubscribe -n 2 "$BIN" $ARGS --mpi --out "$DIR/two" > "$DIR/two.out" \
    2> "$DIR/two.err" || { cat "$DIR/two.err"; exit 1; }
[ "$(grep -c '"command":"krrst","ok":true' "$DIR/two.out")" -eq 1 ] ||
    { echo "test-mpi: expected one summary line from rank 0:"; cat "$DIR/two.out"; exit 1; }
"$PY" - "$DIR" <<'PYEOF' || exit 1
import sys
import numpy as np
d = sys.argv[1]
def load(sub):
    return np.concatenate([np.load(f"{d}/{sub}/images.npy").ravel(), np.load(f"{d}/{sub}/targets.npy").ravel()])
one, two, rank1 = load("one"), load("two"), load("two/rank1")
rel = np.linalg.norm(one - two) / np.linalg.norm(one)
if not np.array_equal(two, rank1):
    sys.exit("test-mpi: the two ranks hold different distilled sets")
if not rel <= 1e-5:
    sys.exit(f"test-mpi: 2 ranks x 8 rows differ from 1 x 16 by {rel:.3g} (relative), more than 1e-5")
print(f"test-mpi: mpirun -n 2 --mpi matches one process with the doubled batch ({rel:.2g} relative after 50 steps)")
PYEOF
# Sharing masks over MPI: four ranks, one agent each, every agent learns every task
mpirun --allow-run-as-root --oversubscribe -n 4 "$BIN" masks --mpi --image-seeds 1 --budget 60 --threads 1 \
    > "$DIR/masks.out" 2> "$DIR/masks.err" || { cat "$DIR/masks.err"; exit 1; }
[ "$(grep -c '"command":"masks","ok":true,"mode":"mpi","agents":4' "$DIR/masks.out")" -eq 1 ] ||
    { echo "test-mpi: expected one masks summary from rank 0:"; cat "$DIR/masks.out"; exit 1; }
grep -q '"mpi_agents_ok":true' "$DIR/masks.out" ||
    { echo "test-mpi: not every MPI agent learned every task:"; cat "$DIR/masks.out"; exit 1; }
grep '"command":"masks"' "$DIR/masks.out" | "$PY" -c 'import json, sys
sys.exit(0 if sum(json.loads(sys.stdin.read())["masks_received"]) > 0 else 1)' ||
    { echo "test-mpi: no agent took a mask from another:"; cat "$DIR/masks.out"; exit 1; }
echo "test-mpi: mpirun -n 4 distill masks --mpi: every agent learned every task, masks went between ranks"
