#!/bin/bash
# Install into a temporary prefix, then build and run an example with only
# the flags pkg-config gives (shared and static).  Used by `make check`.
set -eu
make=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# what lies in the source tree outside the build outputs, before and after
tree_state() { git status --porcelain --ignored 2>/dev/null | grep -v ' build/\| lib/libdistill\|__pycache__' || true; }
$make -s all >/dev/null
before=$(tree_state)
$make -s install PREFIX="$tmp/usr" >/dev/null
after=$(tree_state)
if [ "$before" != "$after" ]; then
    echo "test-install: make install wrote into the source tree:" >&2
    diff <(echo "$before") <(echo "$after") >&2 2>/dev/null || printf '%s\n--\n%s\n' "$before" "$after" >&2
    exit 1
fi
# the Python binding finds the installed library through the prefix alone
pydir=$(ls -d "$tmp"/usr/lib/python*/dist-packages)
version=$(sed -n 's/^#define DISTILL_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' include/distill/version.h | paste -sd.)
(cd "$tmp" && env -u DISTILL_LIB -u LD_LIBRARY_PATH PYTHONPATH="$pydir" ${PYTHON:-/usr/bin/python3} -c '
import distill, os, sys
lib = distill._lib.lib._name
assert lib.startswith(sys.argv[1]), lib
with distill.Context(seed=1) as c:
    assert distill.version() == sys.argv[2], distill.version()
' "$tmp/usr/lib" "$version")
export PKG_CONFIG_PATH="$tmp/usr/lib/pkgconfig"
flags=$(pkg-config --cflags --libs distill)
cc -std=c99 -o "$tmp/hello" examples/hello_krr.c $flags
LD_LIBRARY_PATH="$tmp/usr/lib" "$tmp/hello" >/dev/null
cc -std=c99 -o "$tmp/hello_static" examples/hello_krr.c $(pkg-config --cflags distill) \
    "$tmp/usr/lib/libdistill.a" $(pkg-config --static --libs-only-l distill | sed 's/-ldistill//')
"$tmp/hello_static" >/dev/null
# DESTDIR staging puts every file under the staging root.
$make -s install PREFIX=/usr/local DESTDIR="$tmp/stage" >/dev/null
test -f "$tmp/stage/usr/local/include/distill/distill.h"
test -L "$tmp/stage/usr/local/lib/libdistill.so.0"
test -f "$tmp/stage/usr/local/lib/pkgconfig/distill.pc"
test -x "$tmp/stage/usr/local/bin/distill"
"$tmp/stage/usr/local/bin/distill" krrst --help 2>/dev/null | tail -n 1 | grep -q '"ok":true'
test -f "$tmp/stage/usr/local/lib/python$(${PYTHON:-/usr/bin/python3} -c 'import sys; print("%d.%d" % sys.version_info[:2])')/dist-packages/distill/_install.py"
echo "test-install: pkg-config flags '$flags' build and run (shared and static); the Python binding loads the installed library; nothing written into the source tree; DESTDIR staging OK"
