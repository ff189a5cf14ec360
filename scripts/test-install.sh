#!/bin/sh
# Install into a temporary prefix, then build and run an example with only
# the flags pkg-config gives (shared and static).  Used by `make check`.
set -eu
make=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$make -s install PREFIX="$tmp/usr" >/dev/null
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
echo "test-install: pkg-config flags '$flags' build and run (shared and static); DESTDIR staging OK"
