#!/bin/sh
# Build and run the C and Python examples shown in README.md, so the README
# cannot drift from the API.  Args: LIBDIR (the built shared library).
set -eu
libdir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk '/^```c$/{on=1;next} /^```$/{on=0} on' README.md > "$tmp/readme.c"
awk '/^```python$/{on=1;next} /^```$/{on=0} on' README.md > "$tmp/readme.py"
[ -s "$tmp/readme.c" ] && [ -s "$tmp/readme.py" ] || { echo "test-readme: no examples found" >&2; exit 1; }
${CC:-cc} -std=c99 -Wall -Werror -Iinclude -o "$tmp/readme" "$tmp/readme.c" -L"$libdir" -ldistill \
    -Wl,-rpath,"$libdir" ${SANFLAGS:-}
"$tmp/readme"
DISTILL_LIB="$libdir/libdistill.so.0" PYTHONPATH=python ${PYTHON:-/usr/bin/python3} "$tmp/readme.py"
echo "test-readme: README examples build and run"
