#!/bin/sh
# plugin.sh (make installcheck): a plugin builds with nothing but the
# installed header and pkg-config file, as piperun-stage(3) says, and the
# installed piperun runs it.
. "${srcdir:-.}/tests/tap/tap.sh"

command -v pkg-config > /dev/null || skip_all "pkg-config is not installed"

cflags=$(pkg-config --cflags piperun)
ok $? "pkg-config knows piperun ($cflags)"
${CC:-cc} -shared -fPIC $cflags "$srcdir/pipelines/plugins/caesar.c" -o "$tmp/caesar.so"
ok $? "the example plugin builds against the installed header alone"

printf 'Hello, Plugin World\n' > "$tmp/a.txt"
cat > "$tmp/p.yml" <<'YML'
input: {files: [a.txt]}
stages:
  - {name: read, run: read}
  - {name: rot, plugin: caesar.so, with: {shift: 3}}
YML
out=$(piperun "$tmp/p.yml")
is 0 $? "the installed piperun runs it"
is "Khoor, Soxjlq Zruog" "$out" "with the right output"

test_done
