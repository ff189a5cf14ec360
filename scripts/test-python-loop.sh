#!/bin/sh
# The Python binding's failure cases (test/python_failure_suite.py: dead
# owners, a context collected in a cycle, globals at interpreter exit, 8
# threads inferring on one model, bad labels, NaN, zero rows, pathlib), each
# run in a fresh interpreter, LOOPS times.  `make check SANITIZE=1` runs it
# under ASan; `make test-python-loop SANITIZE=1 LOOPS=100` for the long run.
#   test-python-loop.sh LIB LOOPS
set -u
lib=$1 loops=${2:-20}
PY=${PYTHON:-/usr/bin/python3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=0
while [ $i -lt "$loops" ]; do
    if ! DISTILL_LIB="$lib" PYTHONPATH=python:test "$PY" test/python_failure_suite.py > "$out" 2>&1 ||
       [ "$(tail -n 1 "$out")" != ok ] || grep -q "ERROR: AddressSanitizer\|runtime error" "$out"; then
        echo "test-python-loop: run $((i + 1)) of $loops failed:" >&2
        tail -20 "$out" >&2
        exit 1
    fi
    i=$((i + 1))
done
echo "test-python-loop: $loops fresh-interpreter runs of the binding's failure cases passed"
