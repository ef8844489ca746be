#!/bin/sh
# yaml-suite.sh: every input of the official YAML test suite through
# piperun --check: no crash, no hang, exit 0 or 2, and every input the
# suite marks as an error refused with a file:line:col message.
. "${srcdir:-.}/tests/tap/tap.sh"

suite=${PIPERUN_YAML_SUITE:-$srcdir/../shared/corpus/yaml-test-suite}
[ -d "$suite" ] || skip_all "no YAML test suite at $suite (set PIPERUN_YAML_SUITE)"
command -v timeout > /dev/null || skip_all "timeout(1) is not installed"

for dir in "$suite"/*/; do
	dir=${dir%/}
	case=$(basename "$dir")
	[ -f "$dir/in.yaml" ] || continue
	timeout 20 "$PIPERUN" --check "$dir/in.yaml" input > /dev/null 2> "$tmp/err"
	rc=$?
	if [ $rc -ne 0 ] && [ $rc -ne 2 ]; then
		ok 1 "$case: exit $rc (a crash or a hang)"
		continue
	fi
	if [ -f "$dir/error" ]; then
		[ $rc -eq 2 ] && grep -q "^$dir/in.yaml:[0-9][0-9]*:[0-9][0-9]*: error: " "$tmp/err"
		ok $? "$case: an invalid document is refused at its line and column"
	else
		ok 0 "$case: exit $rc"
	fi
done

test_done
