# tests/lib/bench_env.sh — sourced first by a benchmark run as
# `tests/bench/NAME.sh BUILDDIR` (outside make check): stages the build's
# install tree and exports the ARCA_* variables common.sh expects.
if [ -z "${ARCA_STAGE:-}" ]; then
	b=${1:?usage: $0 BUILDDIR}
	b=$(cd "$b" && pwd)
	make -s -C "$b/tests" stage.stamp >/dev/null || exit 1
	vars=$(printf 'pv:\n\t@echo "$(prefix)|$(bindir)|$(pkglibdir)"\n' |
		make -s -C "$b/tests" -f Makefile -f - pv)
	ARCA_STAGE=$b/tests/stage
	ARCA_PREFIX=${vars%%|*}; rest=${vars#*|}
	ARCA_BINDIR=${rest%%|*}; ARCA_PKGLIBDIR=${rest#*|}
	ARCA_SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
	ARCA_BUILDDIR=$b
	export ARCA_STAGE ARCA_PREFIX ARCA_BINDIR ARCA_PKGLIBDIR ARCA_SRCDIR ARCA_BUILDDIR
fi
