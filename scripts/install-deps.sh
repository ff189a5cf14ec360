#!/bin/sh
# Install the Debian packages libdistill's build, tests and demo need.
#   scripts/install-deps.sh           install everything (as root), or print the apt-get line
#   scripts/install-deps.sh --ensure  do nothing when all is present (what `make` calls)
set -u

PACKAGES="libblis-dev check pkgconf zlib1g-dev libpng-dev python3-numpy dataset-fashion-mnist abigail-tools valgrind
          libhdf5-dev libopenmpi-dev openmpi-bin"

# One probe per package: succeed when the package's files are in place.
have() {
    case "$1" in
        libblis-dev) [ -e /usr/include/x86_64-linux-gnu/blis.h ] || [ -e /usr/include/blis.h ] || \
                     [ -e "/usr/include/$(gcc -print-multiarch 2>/dev/null)/blis.h" ] ;;
        check) pkg-config --exists check 2>/dev/null ;;
        pkgconf) command -v pkg-config >/dev/null 2>&1 ;;
        zlib1g-dev) [ -e /usr/include/zlib.h ] ;;
        libpng-dev) [ -e /usr/include/png.h ] || [ -e /usr/include/libpng16/png.h ] ;;
        python3-numpy) /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 ;;
        dataset-fashion-mnist) [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ;;
        abigail-tools) command -v abidiff >/dev/null 2>&1 ;;
        valgrind) command -v valgrind >/dev/null 2>&1 ;;
        libhdf5-dev) pkg-config --exists hdf5 2>/dev/null ;;
        libopenmpi-dev) command -v mpicc >/dev/null 2>&1 ;;
        openmpi-bin) command -v mpirun >/dev/null 2>&1 ;;
        *) dpkg -s "$1" >/dev/null 2>&1 ;;
    esac
}

missing=""
for p in $PACKAGES; do
    have "$p" || missing="$missing $p"
done

if [ -z "$missing" ]; then
    [ "${1:-}" = "--ensure" ] || echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "install-deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >&2 || {
        echo "install-deps: apt-get failed" >&2
        exit 1
    }
    exit 0
fi

echo "install-deps: missing packages:$missing" >&2
echo "Run as root:" >&2
echo "  apt-get update && apt-get install -y$missing" >&2
exit 1
