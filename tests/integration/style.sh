#!/bin/sh
# One code style across core and the drivers: every C file of core/,
# plugins/ and sdk/ is as clang-format (.clang-format at the top) writes it.
# Fix with: clang-format -i FILE.
. "$ARCA_SRCDIR/tests/lib/common.sh"
command -v clang-format > /dev/null || fail "clang-format is not installed (tests/deps.sh installs it)"
cd "$ARCA_SRCDIR"
bad=""
for f in core/*.[ch] core/repo/*.[ch] plugins/*/*.[ch] sdk/include/arca/*.h sdk/example/*.c; do
	[ -f "$f" ] || continue
	clang-format --style=file "$f" | cmp -s - "$f" || bad="$bad $f"
done
[ -z "$bad" ] || fail "not formatted with clang-format (clang-format -i$bad)"
pass
