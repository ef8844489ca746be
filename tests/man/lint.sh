#!/bin/sh
# lint.sh: the man pages are clean under mandoc -Tlint and document every
# option of --help.
. "${srcdir:-.}/tests/tap/tap.sh"

command -v mandoc > /dev/null || skip_all "mandoc is not installed"

for page in "$srcdir"/man/*.[1-8]; do
	out=$(mandoc -Tlint -Wwarning "$page" 2>&1)
	is "" "$out" "$(basename "$page") is lint-clean"
done

for opt in $("$PIPERUN" --help | grep -Eo -- '--[a-z][a-z-]+' | sort -u); do
	grep -q -- "Fl \\{0,1\\}-${opt#--}\\>" "$srcdir/man/piperun.1"
	ok $? "piperun(1) documents $opt"
done

test_done
