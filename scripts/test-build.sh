#!/bin/sh
# (Run from make with MAKE=make, not $(MAKE): a recipe line naming $(MAKE) runs even under
# make -n, which the dry runs below use.)
# The build: a header change rebuilds only what includes it, the CLI and the
# test binary are compiled one object per file, the user's CPPFLAGS and
# LDFLAGS reach every compile and link, the strict warnings are on, and
# `make check` installs nothing.  Dry runs (make -n) only.  Run by `make check`.
set -eu
make=${MAKE:-make}
fail() { echo "test-build: $*" >&2; exit 1; }

$make -s all >/dev/null
# a private header of one method: only that method's objects rebuild
touch src/kd/kd_internal.h
rebuilt=$($make -n all | sed -n 's/.* -c \(src\/[^ ]*\.c\) .*/\1/p' | sort)
[ -n "$rebuilt" ] || fail "touching src/kd/kd_internal.h rebuilt nothing"
other=$(echo "$rebuilt" | grep -v '^src/kd/' || true)
[ -z "$other" ] || fail "touching src/kd/kd_internal.h rebuilt files outside src/kd/: $other"
$make -s all >/dev/null
# one CLI source: one compile, then the link
touch src/cli/cmd_kd.c
n=$($make -n all | grep -c ' -c ' || true)
[ "$n" -eq 1 ] || fail "touching src/cli/cmd_kd.c compiled $n files, not 1"
$make -s all >/dev/null
# the user's flags, last on each line; the strict warnings
touch src/core/abi.c
line=$($make -n all CPPFLAGS=-DDISTILL_TEST_CPP LDFLAGS=-Wl,-O1 | grep ' -c src/core/abi.c')
for want in -DDISTILL_TEST_CPP -Wmissing-prototypes -Wvla -Wformat=2; do
    echo "$line" | grep -q -- "$want" || fail "the compile line lacks $want: $line"
done
$make -n all LDFLAGS=-Wl,-O1 | grep -- '-shared' | grep -q -- '-Wl,-O1' || fail "LDFLAGS do not reach the shared link"
$make -s all >/dev/null
# make check never installs packages
! $make -n check | grep -q 'install-deps\|apt-get' || fail "make check would run install-deps or apt-get"
echo "test-build: one header rebuilds its own objects, one CLI file is one compile, CPPFLAGS/LDFLAGS and the strict warnings are on every line, make check installs nothing"
