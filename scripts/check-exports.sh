#!/bin/sh
# Fail when the shared library exports anything but distill_* symbols.
set -u
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' | grep -v '^distill_[a-z]' | grep -v '^DISTILL_[A-Z0-9_.]*$')
if [ -n "$bad" ]; then
    echo "check-exports: $lib exports symbols outside distill_*:" >&2
    echo "$bad" >&2
    exit 1
fi
n=$(nm -D --defined-only "$lib" | grep -c ' distill_')
echo "check-exports: $n distill_* symbols, nothing else"
