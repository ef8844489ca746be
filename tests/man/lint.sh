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

# Every key the loader accepts has its entry in piperun-pipeline(5).
for key in $(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", key_[a-z_]* },$/\1/p' "$srcdir/runner/loader.c" | sort -u); do
	grep -q "^\.It Ic $key\>" "$srcdir/man/piperun-pipeline.5"
	ok $? "piperun-pipeline(5) documents the key $key"
done

# Every built-in stage has its section in piperun-stages(7).
for stage in $("$PIPERUN" --list-stages | awk '{ print $1 }'); do
	grep -q "^\.Ss $stage\>" "$srcdir/man/piperun-stages.7"
	ok $? "piperun-stages(7) documents the stage $stage"
done

test_done
