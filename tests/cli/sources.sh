#!/bin/sh
# End to end: the input sources (glob, files, lines, blocks) and INPUT arguments.
. "${srcdir:-.}/tests/tap/tap.sh"

# The tests change folders, so the binary needs an absolute path.
case $PIPERUN in /*) ;; *) PIPERUN=$(pwd)/$PIPERUN ;; esac

plan 57

# skip_one REASON: one test that cannot run here.
skip_one() {
	tap_count=$((tap_count + 1))
	echo "ok $tap_count # SKIP $1"
}

# files_below DIR: the regular files below DIR, one relative path a line, sorted.
files_below() {
	(cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
}

# A tree to glob in; every file holds its own name, created out of order.
g=$tmp/g
mkdir -p "$g/in/sub2" "$g/in/sub1" "$g/in/Z" "$g/in/dir.txt" "$g/cwd"
for n in c_d a c.d B c-d; do
	printf '%s\n' "$n" >"$g/in/$n.txt"
done
printf 'hidden\n' >"$g/in/.hidden.txt"
printf 'notes\n' >"$g/in/notes.md"
for d in sub2 Z sub1; do
	printf '%s\n' "$d/x" >"$g/in/$d/x.txt"
done

# pipeline FILE INPUT-YAML STAGES-YAML: writes a pipeline file.
pipeline() {
	{
		if [ -n "$2" ]; then
			printf 'input:\n%s\n' "$2"
		fi
		printf 'stages:\n%s\n' "$3"
	} >"$1"
}
READ='  - {name: read, kind: io, run: read}'
write_to() { printf '  - {name: write, kind: io, run: write, with: {dir: %s}}' "$1"; }

# ---- glob ----

# The *.txt files (not folders, not dot files), in byte order, computed by sort.
want_txt=$(printf '%s\n' a B c_d c-d c.d | LC_ALL=C sort)

pipeline "$g/read.yml" '  glob: "in/*.txt"' "$READ"
got=$("$PIPERUN" "$g/read.yml" 2>"$tmp/err")
ok $? "glob: exit 0"
is "$want_txt" "$got" "glob: matches come out in byte order (B before a, c-d c.d c_d)"
is "" "$(cat "$tmp/err")" "glob: a clean run prints nothing on stderr"

pipeline "$g/write.yml" '  glob: "in/*.txt"' "$READ
$(write_to out1)"
"$PIPERUN" "$g/write.yml" >"$tmp/out" 2>"$tmp/err"
ok $? "glob + write: exit 0"
is "$(printf '%s.txt\n' $want_txt)" "$(files_below "$g/out1")" \
	"glob: names are the path below the fixed prefix (out1/a.txt, not out1/in/a.txt)"
same_file "$g/in/c.d.txt" "$g/out1/c.d.txt" "glob + write: the written file holds the read data"
is "" "$(cat "$tmp/out")" "glob + write: write emits nothing on stdout"

pipeline "$g/sub.yml" '  glob: "in/*/x.txt"' "$READ
$(write_to out2)"
"$PIPERUN" "$g/sub.yml" >"$tmp/out" 2>&1
ok $? "glob in/*/x.txt: exit 0"
is "$(printf '%s/x.txt\n' Z sub1 sub2)" "$(files_below "$g/out2")" \
	"glob in/*/x.txt: names keep the folder matched by the wildcard"

pipeline "$g/subread.yml" '  glob: "in/*/x.txt"' "$READ"
is "$(printf '%s/x\n' Z sub1 sub2)" "$("$PIPERUN" "$g/subread.yml")" \
	"glob in/*/x.txt: matches in byte order"

# A list: each pattern sorted on its own, joined in order, duplicates once.
pipeline "$g/list.yml" '  glob: ["in/c*.txt", "in/*.txt", "in/sub*/x.txt", "in/c*.txt"]' "$READ"
want=$(
	printf '%s\n' c_d c-d c.d | LC_ALL=C sort
	printf '%s\n' a B | LC_ALL=C sort
	printf '%s/x\n' sub2 sub1 | LC_ALL=C sort
)
got=$("$PIPERUN" "$g/list.yml" 2>"$tmp/err")
ok $? "glob list: exit 0"
is "$want" "$got" "glob list: patterns joined in order, each sorted, duplicates kept once"
is "" "$(cat "$tmp/err")" "glob list: no warning when every pattern matches"

# The same file spelt two ways by two patterns is still one file.
pipeline "$g/spelt.yml" '  glob: ["in/a*.txt", "./in/*.txt"]' "$READ"
is "$(printf 'a\n'; printf '%s\n' $want_txt | grep -v '^a$')" "$("$PIPERUN" "$g/spelt.yml" 2>&1)" \
	"glob list: a file matched as in/a.txt and ./in/a.txt gives a single item"

pipeline "$g/listw.yml" '  glob: ["in/sub*/x.txt", "in/*.txt"]' "$READ
$(write_to out3)"
"$PIPERUN" "$g/listw.yml" >/dev/null 2>&1
is "$( (printf '%s.txt\n' $want_txt; printf '%s/x.txt\n' sub1 sub2) | LC_ALL=C sort)" \
	"$(files_below "$g/out3")" "glob list: each pattern names items below its own prefix"

# A glob that matches nothing: a warning, an empty successful run.
pipeline "$g/none.yml" '  glob: "in/*.nothing"' "$READ"
"$PIPERUN" "$g/none.yml" >"$tmp/out" 2>"$tmp/err"
is 0 $? "glob matching nothing: exit 0"
is "" "$(cat "$tmp/out")" "glob matching nothing: empty stdout"
grep -i 'warning' "$tmp/err" | grep -F 'in/*.nothing' >/dev/null
ok $? "glob matching nothing: a warning naming the pattern on stderr"

# The pipeline file's folder is not a pattern: a folder named with glob
# characters, next to a folder that the unescaped pattern would match.
m=$tmp/'m[1]'
mkdir -p "$m/in" "$tmp/m1/in"
printf 'right\n' >"$m/in/a.txt"
printf 'wrong\n' >"$tmp/m1/in/a.txt"
pipeline "$m/p.yml" '  glob: "in/*.txt"' "$READ
$(write_to out)"
"$PIPERUN" "$m/p.yml" >/dev/null 2>&1
is "a.txt" "$(files_below "$m/out")" \
	"glob: a pipeline folder named 'm[1]' is taken literally (reads m[1]/in/a.txt as a.txt)"

# ---- files ----

pipeline "$g/files.yml" '  files: [in/c_d.txt, in/B.txt, in/sub1/x.txt, in/a.txt]' "$READ"
is "$(printf '%s\n' c_d B sub1/x a)" "$("$PIPERUN" "$g/files.yml")" "files: list order is kept"

pipeline "$g/filesw.yml" '  files: [in/c_d.txt, in/sub1/x.txt]' "$READ
$(write_to out4)"
"$PIPERUN" "$g/filesw.yml" >/dev/null 2>&1
is "$(printf '%s\n' in/c_d.txt in/sub1/x.txt)" "$(files_below "$g/out4")" \
	"files: items are named by the path as written"

# ---- lines ----

l=$tmp/l
mkdir -p "$l"
printf 'first line\n\nthird\t line \r\nlast' >"$l/in.txt"
printf 'first line\n' >"$l/want1"
printf '\n' >"$l/want2"
printf 'third\t line \r\n' >"$l/want3"
printf 'last' >"$l/want4"
pipeline "$l/lines.yml" '  lines: in.txt' "$(write_to out)"
"$PIPERUN" "$l/lines.yml" >"$tmp/out" 2>&1
ok $? "lines: exit 0"
is "$(printf 'in.txt#%s\n' 1 2 3 4)" "$(files_below "$l/out")" "lines: one item per line, named in.txt#N from 1"
same_file "$l/want1" "$l/out/in.txt#1" "lines: an item holds its line, newline included"
same_file "$l/want2" "$l/out/in.txt#2" "lines: an empty line is an item holding a newline"
same_file "$l/want3" "$l/out/in.txt#3" "lines: tabs, spaces and CR are kept"
same_file "$l/want4" "$l/out/in.txt#4" "lines: a last line without newline keeps none"

pipeline "$l/stdin.yml" '  lines: "-"' "$(write_to sout)"
printf 'from\nstandard input\n' | "$PIPERUN" "$l/stdin.yml" >/dev/null 2>&1
is "$(printf 'stdin#%s\n' 1 2)" "$(files_below "$l/sout")" 'lines "-": items named stdin#N'
printf 'standard input\n' >"$l/wants2"
same_file "$l/wants2" "$l/sout/stdin#2" 'lines "-": items hold the lines of standard input'

# A pass-through: clean on text that clean leaves as it is.
awk 'BEGIN { for (i = 1; i <= 300; i++) print "line " i " of " (i * 7919 % 1000) }' >"$l/clean.txt"
pipeline "$l/pass.yml" '  lines: clean.txt' '  - {name: clean, kind: cpu, run: clean}'
"$PIPERUN" "$l/pass.yml" >"$tmp/out"
same_file "$l/clean.txt" "$tmp/out" "lines | clean: items come out in input order"

: >"$l/empty.txt"
pipeline "$l/empty.yml" '  lines: empty.txt' "$(write_to eout)"
"$PIPERUN" "$l/empty.yml" >"$tmp/out" 2>&1
is 0 $? "lines: an empty file is a successful run"
is "" "$(files_below "$l" | grep '^eout/')" "lines: an empty file gives no items"

# ---- blocks ----

b=$tmp/b
mkdir -p "$b"
# Lines of 0 to 26 bytes, some longer than a block of 16.
awk 'BEGIN { s = 7; for (i = 1; i <= 400; i++) { s = (s * 1103 + 12345) % 65536; n = s % 27; l = "";
	for (j = 0; j < n; j++) l = l substr("abcdefghij KLMNOP,.;", (s + j) % 20 + 1, 1); print l } }' >"$b/data.txt"
pipeline "$b/blocks.yml" '  blocks: {file: data.txt, size: 16}' "$(printf '  - {name: write, kind: io, run: write, with: {dir: out, suffix: .blk}}')"
"$PIPERUN" "$b/blocks.yml" >"$tmp/out" 2>&1
ok $? "blocks: exit 0"

# concat_blocks DIR PREFIX SUFFIX OUT: joins DIR/PREFIX#1SUFFIX, #2 ... in order;
# prints how many there were.
concat_blocks() {
	i=1
	: >"$4"
	while [ -f "$1/$2#$i$3" ]; do
		cat "$1/$2#$i$3" >>"$4"
		i=$((i + 1))
	done
	echo $((i - 1))
}
n=$(concat_blocks "$b/out" data.txt .blk "$b/joined")
total=$(files_below "$b/out" | wc -l)
test "$n" -gt 1 && test "$n" -eq "$total"
ok $? "blocks: numbered data.txt#1 to #N without gaps, several blocks ($n of $total files)"
same_file "$b/data.txt" "$b/joined" "blocks: joined in order they restore the input byte for byte"

bad_end=0 too_big=0
for f in "$b"/out/*; do
	[ "$(tail -c 1 "$f" | od -An -tx1 | tr -d ' ')" = 0a ] || bad_end=$((bad_end + 1))
	size=$(wc -c <"$f")
	if [ "$size" -gt 16 ] && [ "$(wc -l <"$f")" -ne 1 ]; then
		too_big=$((too_big + 1))
	fi
done
is 0 "$bad_end" "blocks: every block ends at a newline"
is 0 "$too_big" "blocks: a block over 16 bytes is a single longer line"
awk 'length($0) + 1 > 16 { n++ } END { exit n == 0 }' "$b/data.txt"
ok $? "blocks: the data does hold lines longer than a block"
multi=0
for f in "$b"/out/*; do
	[ "$(wc -l <"$f")" -gt 1 ] && multi=$((multi + 1))
done
test "$multi" -gt 0
ok $? "blocks: short lines share a block ($multi blocks hold several lines)"

# No final newline: the last block ends without one, nothing is lost.
printf 'no final newline here' >>"$b/data.txt"
rm -rf "$b/out"
"$PIPERUN" "$b/blocks.yml" >/dev/null 2>&1
concat_blocks "$b/out" data.txt .blk "$b/joined" >/dev/null
same_file "$b/data.txt" "$b/joined" "blocks: input without a final newline is restored too"

# From standard input, named stdin#N.
pipeline "$b/stdin.yml" '  blocks: {file: "-", size: 16}' "$(printf '  - {name: write, kind: io, run: write, with: {dir: sout}}')"
"$PIPERUN" "$b/stdin.yml" <"$b/data.txt" >/dev/null 2>&1
n=$(concat_blocks "$b/sout" stdin "" "$b/sjoined")
test "$n" -gt 1 && test "$n" -eq "$(files_below "$b/sout" | wc -l)"
ok $? "blocks \"-\": items named stdin#1 to stdin#N"
same_file "$b/data.txt" "$b/sjoined" "blocks \"-\": joined they restore standard input"

# To standard output through clean, on text clean leaves unchanged.
awk 'BEGIN { for (i = 1; i <= 2000; i++) print "word" i " " (i * 31 % 97) " end" }' >"$b/clean.txt"
pipeline "$b/pass.yml" '  blocks: {file: clean.txt, size: 100}' '  - {name: clean, kind: cpu, run: clean}'
"$PIPERUN" "$b/pass.yml" >"$tmp/out"
same_file "$b/clean.txt" "$tmp/out" "blocks | clean: stdout restores the input in order"

# A block size far larger than the input and than memory: memory for a
# block is taken as the input comes, not reserved up front.
pipeline "$b/huge.yml" '  blocks: {file: clean.txt, size: 1TiB}' '  - {name: clean, kind: io, run: clean}'
"$PIPERUN" "$b/huge.yml" >"$tmp/out" 2>"$tmp/err"
is 0 $? "blocks of 1 TiB on a small file: exit 0"
same_file "$b/clean.txt" "$tmp/out" "blocks of 1 TiB: the whole input is one block"

# ---- INPUT arguments ----

printf 'one\n' >"$g/cwd/one.txt"
printf 'two\n' >"$g/cwd/two.txt"
got=$(cd "$g/cwd" && "$PIPERUN" ../read.yml two.txt one.txt)
ok $? "INPUT arguments: exit 0"
is "$(printf 'two\none\n')" "$got" \
	"INPUT arguments replace the glob, in the order given, relative to the current folder"

rm -rf "$g/out1"
(cd "$g/cwd" && "$PIPERUN" ../write.yml two.txt one.txt) >/dev/null 2>&1
is "$(printf '%s\n' one.txt two.txt)" "$(files_below "$g/out1")" \
	"INPUT arguments: items named as given, written below the pipeline's dir"
test ! -e "$g/cwd/out1"
ok $? "INPUT arguments: write's dir stays relative to the pipeline file"

pipeline "$g/noinput.yml" "" "$READ"
got=$(cd "$g/cwd" && "$PIPERUN" ../noinput.yml one.txt two.txt)
is "$(printf 'one\ntwo\n')" "$got" "INPUT arguments: the input section may be left out"
"$PIPERUN" "$g/noinput.yml" >/dev/null 2>&1
is 2 $? "no input section and no INPUT argument: exit 2"

printf 'l1\nl2\n' >"$l/a.txt"
printf 'm1' >"$l/b.txt"
(cd "$l" && "$PIPERUN" lines.yml a.txt b.txt) >/dev/null 2>&1
is "$(printf '%s\n' 'a.txt#1' 'a.txt#2' 'b.txt#1' 'in.txt#1' 'in.txt#2' 'in.txt#3' 'in.txt#4')" \
	"$(files_below "$l/out")" "INPUT arguments to a lines pipeline are read as lines, file by file"

# ---- unreadable input for lines ----

(cd "$l" && "$PIPERUN" lines.yml does-not-exist.txt) >/dev/null 2>"$tmp/err"
is 1 $? "lines: a missing INPUT file fails with exit 1"
grep -F 'does-not-exist.txt' "$tmp/err" >/dev/null
ok $? "lines: the message names the missing file"

mkdir "$l/a-folder"
(cd "$l" && "$PIPERUN" lines.yml a-folder) >/dev/null 2>"$tmp/err"
rc=$?
grep -F 'a-folder' "$tmp/err" >/dev/null
is "1 0" "$rc $?" "lines: a folder as input fails with exit 1 and is named"

pipeline "$l/missing.yml" '  lines: not-there.txt' "$(write_to mout)"
"$PIPERUN" "$l/missing.yml" >/dev/null 2>"$tmp/err"
rc=$?
grep -F 'not-there.txt' "$tmp/err" >/dev/null
is "1 0" "$rc $?" "lines: a missing file named in the pipeline fails with exit 1 and is named"

printf 'secret\n' >"$l/locked.txt"
chmod 000 "$l/locked.txt"
if cat "$l/locked.txt" >/dev/null 2>&1; then
	skip_one "running as root: chmod 000 does not stop reading"
else
	(cd "$l" && "$PIPERUN" lines.yml locked.txt) >/dev/null 2>"$tmp/err"
	rc=$?
	grep -F 'locked.txt' "$tmp/err" >/dev/null
	is "1 0" "$rc $?" "lines: an unreadable file fails with exit 1 and a message naming it"
fi
chmod 644 "$l/locked.txt"

test_done
