#!/bin/sh
# Every exported function is named in test/test_messages.c: audited (an
# AUDIT line: a bad argument must leave its own message) or exempt with a
# reason.  A new function that is in neither fails here.
set -u
lib=$1
audit=${2:-test/test_messages.c}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort -u >"$tmp/exports"
{
    grep -o 'AUDIT(distill_[a-z0-9_]*' "$audit" | sed 's/^AUDIT(//'
    sed -n '/^static const char \*const exempt/,/^};/p' "$audit" | grep -o '"distill_[a-z0-9_]*"' | tr -d '"'
} | sort >"$tmp/named"
missing=$(comm -23 "$tmp/exports" "$tmp/named")
stale=$(comm -13 "$tmp/exports" "$tmp/named" | sort -u)
twice=$(uniq -d "$tmp/named")
status=0
if [ -n "$missing" ]; then
    echo "check-message-audit: exported but neither audited nor exempt in $audit:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    status=1
fi
if [ -n "$stale" ]; then
    echo "check-message-audit: named in $audit but not exported:" >&2
    echo "$stale" | sed 's/^/  /' >&2
    status=1
fi
if [ -n "$twice" ]; then
    echo "check-message-audit: named twice (audited and exempt, or exempt twice):" >&2
    echo "$twice" | sed 's/^/  /' >&2
    status=1
fi
[ $status -eq 0 ] && echo "check-message-audit: $(wc -l <"$tmp/exports") exports, each audited or exempt"
exit $status
