# tap.sh: a small TAP producer for the shell tests.  Source it, then call
# plan N (or nothing), ok / is / is_file, and test_done at the end.
#
# The environment gives PIPERUN (the binary under test), srcdir (the source
# tree) and builddir; run by hand, the defaults fit an in-tree build.

: "${srcdir:=.}"
: "${builddir:=.}"
: "${PIPERUN:=$builddir/piperun}"
PIPERUN=$(cd "$(dirname "$PIPERUN")" && pwd)/$(basename "$PIPERUN")
export LC_ALL=C

tap_count=0
tap_failures=0
tap_planned=0

plan() { tap_planned=$1; echo "1..$1"; }

# ok COND-STATUS DESCRIPTION: passes when the status is 0.
ok() {
	tap_count=$((tap_count + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $tap_count - $2"
	else
		echo "not ok $tap_count - $2"
		tap_failures=$((tap_failures + 1))
	fi
}

# is WANT GOT DESCRIPTION
is() {
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		printf '%s\n' "want: $1" "got:  $2" | sed 's/^/# /'
	fi
}

# same_file WANT-FILE GOT-FILE DESCRIPTION: byte-identical files.
same_file() {
	if cmp -s "$1" "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diff "$1" "$2" 2>&1 | head -10 | sed 's/^/# /'
	fi
}

diag() { echo "# $*"; }

skip_all() { echo "1..0 # SKIP $*"; exit 0; }

# A temporary folder removed at exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/piperun-test-XXXXXX") || { echo "Bail out! mktemp"; exit 255; }
trap 'rm -rf "$tmp"' EXIT

test_done() {
	[ "$tap_planned" -gt 0 ] || echo "1..$tap_count"
	if [ "$tap_planned" -gt 0 ] && [ "$tap_planned" -ne "$tap_count" ]; then
		diag "planned $tap_planned tests but ran $tap_count"
		exit 1
	fi
	[ "$tap_failures" -eq 0 ]
}
