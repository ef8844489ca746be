#!/bin/sh
# End to end: the example pipelines shipped in pipelines/ validate, and clean-logs gives the reference output.
. "${srcdir:-.}/tests/tap/tap.sh"

# The tests change folders, so the paths need to be absolute.
case $PIPERUN in /*) ;; *) PIPERUN=$(pwd)/$PIPERUN ;; esac
case $srcdir in /*) ;; *) srcdir=$(cd "$srcdir" && pwd) ;; esac

# A copy of pipelines/ with the example plugins built next to their
# pipelines, as in an in-tree build (a VPATH build puts them elsewhere).
case $builddir in /*) ;; *) builddir=$(cd "$builddir" && pwd) ;; esac
ex=$tmp/pipelines
cp -R "$srcdir/pipelines" "$ex"
chmod -R u+w,go-w "$ex"
cp "$builddir"/pipelines/plugins/*.so "$ex/plugins/"
set -- "$ex"/*.yml
[ -f "$1" ] || skip_all "no pipelines/*.yml in $srcdir"

# The reference from SPEC section 5 (grep exits 1 when no line is left).
reference() {
	tr A-Z a-z | tr -c 'a-z0-9\n' ' ' | tr -s ' ' | sed 's/^ //;s/ $//' | grep -v '^$'
	return 0
}

plan $(($# + 9))

for f in "$@"; do
	"$PIPERUN" --check "$f" >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc -eq 0 ] || diag "$(cat "$tmp/err")"
	is 0 $rc "--check pipelines/${f##*/}: exit 0"
done

# clean-logs: the reference applied to each log, in byte order of the names.
logs=$(cd "$ex/logs" && ls | grep '\.log$' | LC_ALL=C sort)
: >"$tmp/want"
for n in $logs; do
	reference <"$ex/logs/$n" >>"$tmp/want"
done
test "$(echo "$logs" | wc -l)" -gt 1 && test -s "$tmp/want"
ok $? "clean-logs: several logs and a non-empty expectation"

(cd "$tmp" && "$PIPERUN" pipelines/clean-logs.yml) >"$tmp/got" 2>"$tmp/err"
ok $? "clean-logs: exit 0"
same_file "$tmp/want" "$tmp/got" "clean-logs: stdout is the reference applied log by log, in sorted order"
is "" "$(cat "$tmp/err")" "clean-logs: nothing on stderr"

(cd / && "$PIPERUN" "$ex/clean-logs.yml") >"$tmp/other" 2>&1
same_file "$tmp/want" "$tmp/other" "clean-logs from another folder: the same output (paths relative to the file)"

(cd "$tmp" && "$PIPERUN" --sync pipelines/clean-logs.yml) >"$tmp/sync" 2>&1
ok $? "clean-logs --sync: exit 0"
same_file "$tmp/got" "$tmp/sync" "clean-logs --sync: identical bytes"

"$PIPERUN" -j 3 "$ex/clean-logs.yml" >"$tmp/j3" 2>&1
same_file "$tmp/got" "$tmp/j3" "clean-logs -j 3: identical bytes"

# INPUT arguments in reverse order replace the glob.
set --
for n in $logs; do
	set -- "$ex/logs/$n" "$@"
done
: >"$tmp/want-rev"
for f in "$@"; do
	reference <"$f" >>"$tmp/want-rev"
done
"$PIPERUN" "$ex/clean-logs.yml" "$@" >"$tmp/rev" 2>&1
same_file "$tmp/want-rev" "$tmp/rev" "clean-logs with the logs as INPUT arguments in reverse order"

test_done
