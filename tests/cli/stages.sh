#!/bin/sh
# stages.sh: end to end, the built-in stages grep, split, gzip, hash, count and exec equal the Unix tools they stand for.
. "${srcdir:-.}/tests/tap/tap.sh"

# The tests change folders, so the binary and $tmp need absolute paths.
case $PIPERUN in /*) ;; *) PIPERUN=$(pwd)/$PIPERUN ;; esac
case $tmp in /*) ;; *) tmp=$(pwd)/$tmp ;; esac
top=$(pwd)

plan 220

# skip_one REASON: one test that cannot run here.
skip_one() {
	tap_count=$((tap_count + 1))
	echo "ok $tap_count # SKIP $1"
}

# ---- generated inputs ----
#
# Every input is made here from seeded generators, so every run sees the
# same bytes.  The tests run in $d and name the inputs relative to it.

d=$tmp/data
mkdir -p "$d"
cd "$d" || { echo "Bail out! cd $d"; exit 255; }

# An alphabet of letters, digits, blanks and punctuation for the generators.
ALPHA='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789        	.,;:!?-_()[]{}<>/#@&*+=~^%$|'

: >empty.txt

# About 3 MB of lines of 0 to 120 characters, some empty, plus three long
# lines around the 64 KiB block size of the split tests (65536 bytes with
# its newline, 65537, and 100001).
awk -v a="$ALPHA" '
function rnd() { s = (s * 69069 + 1) % 4294967296; return int(s / 65536) }
function rep(c, n,   r) { r = ""; while (n > 0) { if (n % 2) r = r c; c = c c; n = int(n / 2) } return r }
BEGIN {
	la = length(a); s = 4242
	while (total < 3000000) {
		k++
		if (k == 9000 || k == 21000 || k == 33000) {
			n = k == 9000 ? 65535 : k == 21000 ? 65536 : 100000
			line = substr(rep("Long line 42. ", int(n / 14) + 1), 1, n)
		} else {
			n = rnd() % 160
			if (n > 120) n = 0
			line = ""
			for (j = 0; j < n; j++) line = line substr(a, rnd() % la + 1, 1)
		}
		print line
		total += length(line) + 1
	}
}' >mixed.txt

# A 10 MiB single line (and its newline).
awk -v a="$ALPHA" 'BEGIN {
	la = length(a); s = 99; c = ""
	for (i = 0; i < 1024; i++) { s = (s * 69069 + 1) % 4294967296; c = c substr(a, int(s / 65536) % la + 1, 1) }
	c = c c
	for (i = 0; i < 10240; i++) printf "%s", substr(c, i % 1024 + 1, 1024)
	printf "\n"
}' >long.txt

# Many short lines of 0 to 6 characters, empty ones included.
awk 'BEGIN {
	a = "ab cdXY9.Q"; s = 7
	for (i = 0; i < 30000; i++) {
		s = (s * 69069 + 1) % 4294967296; n = int(s / 65536) % 7; l = ""
		for (j = 0; j < n; j++) { s = (s * 69069 + 1) % 4294967296; l = l substr(a, int(s / 65536) % 10 + 1, 1) }
		print l
	}
}' >short.txt

# Lines and a last line without a newline.
head -n 300 short.txt >nofinal.txt
printf 'Then the last line, 123, has no newline.' >>nofinal.txt

# CRLF text, with a lone CR inside a line.
head -n 5000 mixed.txt | awk '{ printf "%s\r\n", $0 }' >crlf.txt
printf 'a lone\rCR inside\r\nZZ top 777.\r\n' >>crlf.txt

# Binary: every byte value, then text mapped onto NUL, control and high bytes.
i=0
while [ $i -le 255 ]; do
	# shellcheck disable=SC2059
	printf "\\$(printf %o $i)"
	i=$((i + 1))
done >"$tmp/bytes"
cat "$tmp/bytes" "$tmp/bytes" >binary.bin
head -c 300000 mixed.txt | tr 'a-zA-Z0-9' '\000-\031\200-\231\340-\351' >>binary.bin
cat "$tmp/bytes" >>binary.bin

# Text in which the grep patterns below match no line: letters a to p only.
awk 'BEGIN {
	s = 3
	for (i = 0; i < 500; i++) {
		s = (s * 69069 + 1) % 4294967296; n = int(s / 65536) % 40; l = ""
		for (j = 0; j < n; j++) { s = (s * 69069 + 1) % 4294967296; l = l substr("abcdefghijklmnop ", int(s / 65536) % 17 + 1, 1) }
		print l
	}
}' >nomatch.txt

files="empty.txt nofinal.txt long.txt binary.bin crlf.txt short.txt mixed.txt nomatch.txt"
# The text files (rev reads characters, so no NULs or high bytes).
texts="empty.txt nofinal.txt crlf.txt short.txt mixed.txt nomatch.txt"

# shellcheck disable=SC2086
set -- $files

# The large, tricky inputs are what the tests say they are.
n=$(wc -c <"$tmp/bytes")
od -An -tx1 binary.bin | tr ' ' '\n' | grep -c -e '^00$' -e '^[89a-f][0-9a-f]$' >"$tmp/n"
test "$n" -eq 256 && test "$(cat "$tmp/n")" -gt 1000 && test ! -s empty.txt &&
	test "$(tail -c 1 nofinal.txt)" != "" && test "$(wc -l <long.txt)" -eq 1 &&
	test "$(wc -c <long.txt)" -gt 10000000 && test "$(wc -c <mixed.txt)" -gt 3000000 &&
	test "$(wc -l <short.txt)" -eq 30000 && test "$(grep -c "$(printf '\r')\$" crlf.txt)" -gt 5000
ok $? "the generated inputs: empty, no final newline, a 10 MB line, NULs and high bytes, CRLF, short lines, 3 MB"

# pipeline FILE STAGE-LINE...: writes a pipeline with no input section
# (items come from INPUT arguments) and a read stage first.
pipeline() {
	_p=$1
	shift
	{
		echo 'stages:'
		echo '  - {name: read, run: read}'
		for _s in "$@"; do
			printf '  %s\n' "$_s"
		done
	} >"$_p"
}

# each OUTDIR WHAT CMD...: one test per input file F: OUTDIR/F holds what
# CMD prints reading F on its standard input.  With $absent set, a file for
# which CMD prints nothing must have no output at all (the item emitted nothing).
absent=
each() {
	_out=$1 _what=$2
	shift 2
	for f in $files; do
		"$@" <"$f" >"$tmp/want" 2>/dev/null
		if [ -n "$absent" ] && [ ! -s "$tmp/want" ]; then
			test ! -e "$_out/$f"
			ok $? "$_what: $f (nothing kept) emits nothing"
		else
			same_file "$tmp/want" "$_out/$f" "$_what: $f"
		fi
	done
}

# run_to OUTDIR PIPELINE [ARGS...]: runs PIPELINE with a write stage to
# OUTDIR appended, over the input files; diagnoses a failing run.
run_to() {
	_o=$1 _y=$2
	shift 2
	rm -rf "$_o"
	{
		cat "$_y"
		echo "  - {name: write, run: write, with: {dir: $(basename "$_o")}}"
	} >"$_y.w.yml"
	"$PIPERUN" "$_y.w.yml" "$@" >"$tmp/run.out" 2>"$tmp/run.err"
	_rc=$?
	[ $_rc -eq 0 ] || diag "$(basename "$_y"): exit $_rc: $(head -3 "$tmp/run.err")"
	return $_rc
}

# ---- grep ----

P1='^[A-Z]|[0-9]{3}|q[^u]|\.$'
P2='the|[xyz]{2}'
# Single-quoted YAML keeps backslashes as they are.
pipeline "$tmp/g1.yml" "- {name: g, run: grep, with: {pattern: '$P1'}}"
pipeline "$tmp/g2.yml" "- {name: g, run: grep, with: {pattern: '$P1', invert: true}}"
pipeline "$tmp/g3.yml" "- {name: g, run: grep, with: {pattern: '$P2', ignore_case: true}}"
pipeline "$tmp/g4.yml" "- {name: g, run: grep, with: {pattern: '$P2', invert: true, ignore_case: true}}"

grep -aE "$P1" nomatch.txt >/dev/null || grep -aiE "$P2" nomatch.txt >/dev/null
is 1 $? "grep: the patterns match no line of nomatch.txt (grep says so)"

absent=yes
run_to "$tmp/g1" "$tmp/g1.yml" "$@"
each "$tmp/g1" "grep pattern = grep -aE" grep -aE "$P1"
run_to "$tmp/g2" "$tmp/g2.yml" "$@"
each "$tmp/g2" "grep invert = grep -avE" grep -avE "$P1"
run_to "$tmp/g3" "$tmp/g3.yml" "$@"
each "$tmp/g3" "grep ignore_case = grep -aiE" grep -aiE "$P2"
run_to "$tmp/g4" "$tmp/g4.yml" "$@"
each "$tmp/g4" "grep invert + ignore_case = grep -aivE" grep -aivE "$P2"
absent=

"$PIPERUN" "$tmp/g1.yml" nomatch.txt empty.txt >"$tmp/out" 2>"$tmp/err"
rc=$?
is "0 0 0" "$rc $(wc -c <"$tmp/out") $(wc -c <"$tmp/err")" \
	"grep: files with no matching line: exit 0, no output, nothing on stderr"

"$PIPERUN" "$tmp/g1.yml" "$@" >"$tmp/out"
for f in $files; do grep -aE "$P1" "$f"; done >"$tmp/want"
same_file "$tmp/want" "$tmp/out" "grep over every file to stdout: the grep -aE outputs joined in order"

for re in 'a(b' '[z-a]x' 'x{2,1}'; do
	pipeline "$tmp/bad.yml" "- {name: pick, run: grep, with: {pattern: '$re'}}"
	"$PIPERUN" --check "$tmp/bad.yml" mixed.txt >"$tmp/out" 2>"$tmp/err"
	rc=$?
	grep -F "'pick'" "$tmp/err" >/dev/null
	is "2 0" "$rc $?" "grep: bad regex '$re' is refused by --check with exit 2, naming the stage"
done

# A NUL byte is part of its line: a bracket expression that allows it
# matches it; '.' does not, as in any POSIX extended expression.
printf 'x\000yz\nxay\n' >"$tmp/nul.txt"
pipeline "$tmp/gn1.yml" "- {name: g, run: grep, with: {pattern: 'x[^a]y'}}"
pipeline "$tmp/gn2.yml" "- {name: g, run: grep, with: {pattern: 'x.yz'}}"
is "x@yz" "$("$PIPERUN" "$tmp/gn1.yml" "$tmp/nul.txt" | tr '\000' @)" \
	"grep: a bracket expression matches a NUL byte within a line"
is "" "$("$PIPERUN" "$tmp/gn2.yml" "$tmp/nul.txt")" "grep: '.' does not match a NUL byte"

# ---- split ----

pipeline "$tmp/s64.yml" '- {name: cut, run: split, with: {size: 64k}}'
"$PIPERUN" "$tmp/s64.yml" mixed.txt >"$tmp/out"
ok $? "split size 64k: exit 0"
same_file mixed.txt "$tmp/out" "split size 64k: the pieces joined equal the 3 MB input"
"$PIPERUN" "$tmp/s64.yml" "$@" >"$tmp/out"
cat "$@" >"$tmp/want"
same_file "$tmp/want" "$tmp/out" "split size 64k over every file: the pieces joined equal the inputs joined"

# sizes FILE: the piece sizes of greedy line packing into 65536 bytes, as
# awk computes them (a longer line is a piece of its own).
sizes() {
	awk -v size=65536 '{ l = length($0) + 1; if (cur > 0 && cur + l > size) { print cur; cur = 0 } cur += l }
		END { if (cur > 0) print cur }' "$1"
}

run_to "$tmp/sout" "$tmp/s64.yml" mixed.txt long.txt nofinal.txt
ok $? "split size 64k + write: exit 0"
for f in mixed.txt long.txt; do
	sizes "$f" >"$tmp/want"
	n=$(wc -l <"$tmp/want")
	# shellcheck disable=SC2010 # the piece names are plain
	(cd "$tmp/sout" && ls | grep -F "$f#" | LC_ALL=C sort) >"$tmp/names"
	awk -v f="$f" -v n="$n" 'BEGIN { for (i = 1; i <= n; i++) print f "#" i }' | LC_ALL=C sort >"$tmp/wantn"
	same_file "$tmp/wantn" "$tmp/names" "split size 64k: $f gives pieces $f#1 to #$n, as many as awk's packing"
	i=1
	: >"$tmp/got"
	: >"$tmp/joined"
	bad_end=0 too_big=0
	while [ $i -le "$n" ]; do
		p=$tmp/sout/$f#$i
		wc -c <"$p" | tr -d ' ' >>"$tmp/got"
		cat "$p" >>"$tmp/joined"
		[ $i -eq "$n" ] || [ "$(tail -c 1 "$p" | od -An -tx1 | tr -d ' ')" = 0a ] || bad_end=$((bad_end + 1))
		[ "$(wc -c <"$p")" -le 65536 ] || [ "$(wc -l <"$p")" -eq 1 ] || too_big=$((too_big + 1))
		i=$((i + 1))
	done
	same_file "$tmp/want" "$tmp/got" "split size 64k: $f piece sizes equal awk's greedy line packing"
	is "0 0" "$bad_end $too_big" "split size 64k: $f pieces end at a newline and are <= 64 KiB unless a single line"
	same_file "$f" "$tmp/joined" "split size 64k: $f pieces #1..#N joined equal the input"
done
awk 'length($0) + 1 > 65536 { n++ } END { exit n < 2 }' mixed.txt
ok $? "split size 64k: mixed.txt does hold lines longer than 64 KiB"
# shellcheck disable=SC2010
(cd "$tmp/sout" && ls | grep -F 'nofinal.txt#') >"$tmp/names"
is "nofinal.txt#1" "$(cat "$tmp/names")" "split size 64k: a small file is one piece, NAME#1"
same_file nofinal.txt "$tmp/sout/nofinal.txt#1" "split size 64k: the last piece keeps a missing final newline missing"

# One item a line: the pieces hashed in order equal split -l 1's files hashed.
pipeline "$tmp/slines.yml" '- {name: cut, run: split, with: {lines: true}}' '- {name: h, run: hash}'
for f in short.txt nofinal.txt crlf.txt empty.txt; do
	rm -rf "$tmp/sl"
	mkdir "$tmp/sl"
	split -l 1 -a 6 "$f" "$tmp/sl/p"
	n=$(ls "$tmp/sl" | wc -l)
	if [ "$n" -gt 0 ]; then
		(cd "$tmp/sl" && sha256sum p*) | awk -v f="$f" '{ print $1 "  " f "#" NR }' >"$tmp/want"
	else
		: >"$tmp/want"
	fi
	"$PIPERUN" "$tmp/slines.yml" "$f" >"$tmp/out"
	same_file "$tmp/want" "$tmp/out" "split lines: $f gives $n items named $f#N, each a line as split -l 1 cuts it"
done

for with in '' 'with: {size: 1k, lines: true}' 'with: {lines: false}'; do
	pipeline "$tmp/sbad.yml" "- {name: cut, run: split, $with}"
	"$PIPERUN" "$tmp/sbad.yml" mixed.txt >"$tmp/out" 2>"$tmp/err"
	rc=$?
	grep -F "'cut'" "$tmp/err" >/dev/null
	is "2 0 0" "$rc $? $(wc -c <"$tmp/out")" "split: ${with:-no options} is refused with exit 2, naming the stage"
done

# ---- gzip ----

for level in 1 9; do
	pipeline "$tmp/z$level.yml" "- {name: z, run: gzip, with: {level: $level}}"
	run_to "$tmp/z$level" "$tmp/z$level.yml" "$@"
	for f in $files; do
		gzip -dc <"$tmp/z$level/$f" >"$tmp/got" 2>"$tmp/err"
		rc=$?
		[ $rc -eq 0 ] || diag "gzip -dc: $(cat "$tmp/err")"
		same_file "$f" "$tmp/got" "gzip level $level: gzip -dc restores $f"
	done
done
test "$(wc -c <"$tmp/z9/mixed.txt")" -lt "$(wc -c <"$tmp/z1/mixed.txt")"
ok $? "gzip: level 9 makes mixed.txt smaller than level 1"

# A large item is compressed over itself: in a worker process, in the
# memory it shares with piperun; on a thread, in piperun's own.  Where the
# output would overtake the input (data that does not compress, level 0),
# the rest goes to memory of the stage's own.
gzip -1 -c mixed.txt long.txt >noise.bin
for executor in processes threads; do
	for level in 0 6; do
		y=$tmp/zo-$executor-$level.yml
		case $executor in
		processes) pipeline "$y" "- {name: z, run: gzip, with: {level: $level}}" ;;
		*) pipeline "$y" "- {name: z, run: gzip, kind: io, with: {level: $level}}" ;;
		esac
		run_to "$tmp/zo" "$y" noise.bin long.txt mixed.txt
		for f in noise.bin long.txt mixed.txt; do
			gzip -dc <"$tmp/zo/$f" >"$tmp/got" 2>/dev/null
			same_file "$f" "$tmp/got" "gzip level $level, $executor: gzip -dc restores $f"
		done
	done
done

mkdir gz
for f in $files; do
	gzip -c "$f" >"gz/$f.gz"
done
gzip -c mixed.txt >gz/two.gz
gzip -c short.txt >>gz/two.gz
pipeline "$tmp/unz.yml" '- {name: z, run: gzip, with: {decompress: true}}'
run_to "$tmp/unz" "$tmp/unz.yml" gz/*.gz
for g in gz/*.gz; do
	gzip -dc "$g" >"$tmp/want"
	same_file "$tmp/want" "$tmp/unz/$g" "gzip decompress equals gzip -dc on $g"
done

head -c 20000 gz/mixed.txt.gz >trunc.gz
head -c 5000 long.txt | tr 'a-z' '\200-\231' >garbage.gz
for g in trunc.gz garbage.gz; do
	gzip -dc "$g" >/dev/null 2>&1
	gz_rc=$?
	"$PIPERUN" "$tmp/unz.yml" "$g" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	grep -F 'corrupt gzip data' "$tmp/err" | grep -F "$g" >/dev/null
	is "1 1 0" "$gz_rc $rc $?" "gzip decompress on $g (gzip -dc fails too): exit 1, a line naming it with 'corrupt gzip data'"
done

cat >"$tmp/unzskip.yml" <<'EOF'
stages:
  - {name: read, run: read}
  - {name: z, run: gzip, on_error: skip, with: {decompress: true}}
EOF
"$PIPERUN" "$tmp/unzskip.yml" gz/short.txt.gz trunc.gz gz/crlf.txt.gz garbage.gz gz/two.gz >"$tmp/out" 2>"$tmp/err"
is 1 $? "gzip decompress, on_error: skip, two corrupt items: exit 1"
gzip -dc gz/short.txt.gz gz/crlf.txt.gz gz/two.gz >"$tmp/want"
same_file "$tmp/want" "$tmp/out" "gzip decompress, on_error: skip: the good items come out in order, as gzip -dc gives them"
is 2 "$(grep -c 'corrupt gzip data' "$tmp/err")" "gzip decompress, on_error: skip: one 'corrupt gzip data' line per bad item"

# ---- hash ----

nl='
'
printf 'spaces\n' >'with space.txt'
printf 'dash\n' >'-dash.txt'
printf 'backslash\n' >'back\slash.txt'
hashed="$files"
if printf 'newline\n' >"new${nl}line.txt" 2>/dev/null; then
	have_nl=yes
else
	have_nl=
fi

pipeline "$tmp/hash.yml" '- {name: h, run: hash}'
for f in $hashed 'with space.txt' '-dash.txt' 'back\slash.txt'; do
	sha256sum -- "$f" >"$tmp/want"
	"$PIPERUN" "$tmp/hash.yml" -- "$f" >"$tmp/out"
	same_file "$tmp/want" "$tmp/out" "hash equals sha256sum -- '$f'"
done
if [ -n "$have_nl" ]; then
	sha256sum -- "new${nl}line.txt" >"$tmp/want"
	"$PIPERUN" "$tmp/hash.yml" -- "new${nl}line.txt" >"$tmp/out"
	same_file "$tmp/want" "$tmp/out" "hash equals sha256sum on a name holding a newline (escaped the same way)"
else
	skip_one "the file system refuses a newline in a name"
fi
sha256sum -- "$@" 'with space.txt' '-dash.txt' ./long.txt >"$tmp/want"
"$PIPERUN" "$tmp/hash.yml" -- "$@" 'with space.txt' '-dash.txt' ./long.txt >"$tmp/out"
same_file "$tmp/want" "$tmp/out" "hash over every file in one run equals sha256sum over them, in order, names as given"

# libcrypto is loaded by the hash stage when it opens, not by every
# piperun process: an exec stage counts it in the maps of its piperun.
pipeline "$tmp/maps.yml" "- {name: m, kind: io, run: exec, with: {command: [sh, -c, 'grep -c libcrypto /proc/\$PPID/maps || true']}}"
"$PIPERUN" "$tmp/maps.yml" ./long.txt >"$tmp/out" 2>&1
is "$(cat "$tmp/out")" "0" "a pipeline without a hash stage does not load libcrypto"
pipeline "$tmp/maps-hash.yml" '- {name: h, kind: io, run: hash}' "- {name: m, kind: io, run: exec, with: {command: [sh, -c, 'cat >/dev/null; grep -c libcrypto /proc/\$PPID/maps || true']}}"
"$PIPERUN" "$tmp/maps-hash.yml" ./long.txt >"$tmp/out" 2>&1
[ "$(cat "$tmp/out")" -gt 0 ] 2>/dev/null
ok $? "the hash stage loads libcrypto when it opens (got: $(cat "$tmp/out"))"

# ---- count ----

pipeline "$tmp/count.yml" '- {name: c, run: count}'
for f in $files 'with space.txt'; do
	printf '%d %d %d %s\n' "$(wc -l <"$f")" "$(wc -w <"$f")" "$(wc -c <"$f")" "$f" >"$tmp/want"
	"$PIPERUN" "$tmp/count.yml" "$f" >"$tmp/out"
	same_file "$tmp/want" "$tmp/out" "count equals wc -l, -w, -c as 'L W B NAME' on $f"
done
"$PIPERUN" "$tmp/count.yml" "$@" >"$tmp/out"
wc "$@" | awk '$NF != "total" { print $1, $2, $3, $4 }' >"$tmp/want"
same_file "$tmp/want" "$tmp/out" "count over every file in one run: the numbers of wc, in order"

# ---- exec ----

# Kinds: io runs commands from threads, cpu from worker processes.
for kind in io cpu; do
	pipeline "$tmp/tr-$kind.yml" "- {name: x, kind: $kind, run: exec, with: {command: [tr, a-z, A-Z]}}"
	run_to "$tmp/tr-$kind" "$tmp/tr-$kind.yml" "$@"
	each "$tmp/tr-$kind" "exec [tr, a-z, A-Z] ($kind) = tr a-z A-Z" tr a-z A-Z
done
pipeline "$tmp/trs.yml" "- {name: x, run: exec, with: {command: \"tr 'a-z' \\\"A-Z\\\"\"}}"
"$PIPERUN" "$tmp/trs.yml" "$@" >"$tmp/out"
for f in $files; do tr a-z A-Z <"$f"; done >"$tmp/want"
same_file "$tmp/want" "$tmp/out" "exec as a string with quoted words (tr 'a-z' \"A-Z\"): every file, in order"

for kind in io cpu; do
	pipeline "$tmp/sort-$kind.yml" "- {name: x, kind: $kind, run: exec, with: {command: sort}}"
	run_to "$tmp/sort-$kind" "$tmp/sort-$kind.yml" "$@"
	ok $? "exec sort ($kind) over every file, the 10 MB line too: exit 0 (no deadlock)"
	for f in long.txt mixed.txt binary.bin crlf.txt; do
		sort <"$f" >"$tmp/want"
		same_file "$tmp/want" "$tmp/sort-$kind/$f" "exec sort ($kind), reading all before writing: equals sort on $f"
	done
done

pipeline "$tmp/rev.yml" '- {name: x, run: exec, with: {command: [rev]}}'
# shellcheck disable=SC2086
run_to "$tmp/rev" "$tmp/rev.yml" $texts
all=$files
files=$texts
each "$tmp/rev" "exec rev = rev" rev
files=$all

for kind in io cpu; do
	pipeline "$tmp/cat-$kind.yml" "- {name: x, kind: $kind, run: exec, with: {command: [cat]}}"
	"$PIPERUN" "$tmp/cat-$kind.yml" long.txt mixed.txt long.txt >"$tmp/out"
	ok $? "exec cat ($kind) on 10 MB, 3 MB, 10 MB: exit 0 (no deadlock)"
	cat long.txt mixed.txt long.txt | cmp -s - "$tmp/out"
	ok $? "exec cat ($kind): the data comes back byte for byte"
done

for kind in io cpu; do
	pipeline "$tmp/echo-$kind.yml" "- {name: x, kind: $kind, run: exec, with: {command: [echo, hi]}}"
	"$PIPERUN" "$tmp/echo-$kind.yml" long.txt empty.txt mixed.txt long.txt >"$tmp/out" 2>"$tmp/err"
	rc=$?
	for f in 1 2 3 4; do echo hi; done >"$tmp/want"
	is "0 0" "$rc $(wc -c <"$tmp/err")" "exec echo hi ($kind), a command that ignores its input: exit 0, nothing on stderr"
	same_file "$tmp/want" "$tmp/out" "exec echo hi ($kind): one 'hi' per item, as echo prints it"
done

# io and cpu give the same bytes.
"$PIPERUN" "$tmp/tr-io.yml" "$@" >"$tmp/io.out"
"$PIPERUN" "$tmp/tr-cpu.yml" "$@" >"$tmp/cpu.out"
same_file "$tmp/io.out" "$tmp/cpu.out" "exec tr: kind io (threads) and kind cpu (processes) give identical output"
"$PIPERUN" "$tmp/sort-io.yml" "$@" >"$tmp/io.out"
"$PIPERUN" "$tmp/sort-cpu.yml" "$@" >"$tmp/cpu.out"
same_file "$tmp/io.out" "$tmp/cpu.out" "exec sort: kind io and kind cpu give identical output"

# -- placeholders, on hostile names made as real files --
h=$tmp/h
mkdir -p "$h/names/-sub dir" "$h/run"
# shellcheck disable=SC2016 # the names are literal on purpose
for n in 'sp ace.txt' "it's.txt" 'dq"uote.txt' 'star*.txt' 'semi;colon.txt' '$(touch pwned).txt' \
	'-lead.txt' 'a.b.c' 'noext' '`touch pwned`' '-sub dir/x y.tar.gz' '-sub dir/$(touch pwned)'; do
	printf '%s\n' "$n" >"$h/names/$n"
done
if printf 'x\n' >"$h/names/new${nl}line.txt" 2>/dev/null; then
	:
else
	skip_one "the file system refuses a newline in a name"
fi

# shown NAME: NAME for a test description, a newline shown as '?'.
shown() {
	printf '%s' "$1" | tr '\n' '?'
}

# lead ARG: ARG as exec passes a leading expansion: "./" before a '-'.
lead() {
	case $1 in
	-*) printf './%s' "$1" ;;
	*) printf '%s' "$1" ;;
	esac
}
: >"$h/want"
: >"$h/want2"
for p in "$h"/names/* "$h"/names/*/*; do
	[ -f "$p" ] || continue
	n=${p#"$h/names/"}
	base=${n##*/}
	case $n in */*) dir=${n%/*} ;; *) dir=. ;; esac
	case $base in ?*.*) stem=${base%.*} ext=.${base##*.} ;; *) stem=$base ext= ;; esac
	mkdir -p "$h/want.d/$dir"
	printf '%s|%s|%s|%s\n' "$(lead "$n")" "$(lead "$stem")" "$(lead "$ext")" "$(lead "$dir")" |
		tee "$h/want.d/$n" >>"$h/want"
	printf '%s\n' "[$dir/$stem$ext]" >>"$h/want2"
done

for kind in io cpu; do
	cat >"$h/names-$kind.yml" <<EOF
input:
  glob: ["names/*", "names/*/*"]
stages:
  - {name: x, kind: $kind, run: exec, with: {command: ["printf", "%s|%s|%s|%s\\\\n", "{name}", "{stem}", "{ext}", "{dir}"]}}
EOF
	(cd "$h/run" && "$PIPERUN" "$h/names-$kind.yml") >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ $rc -eq 0 ] || diag "exit $rc: $(head -3 "$tmp/err")"
	same_file "$h/want" "$tmp/out" "exec ($kind) {name} {stem} {ext} {dir}: each one argument, '-' led by './', as printf prints them"
done
{
	cat "$h/names-io.yml"
	echo '  - {name: write, run: write, with: {dir: out}}'
} >"$h/names-w.yml"
(cd "$h/run" && "$PIPERUN" "$h/names-w.yml") >/dev/null 2>&1
for p in "$h"/names/* "$h"/names/*/*; do
	[ -f "$p" ] || continue
	n=${p#"$h/names/"}
	same_file "$h/want.d/$n" "$h/out/$n" "exec placeholders for the name '$(shown "$n")'"
done

cat >"$h/inside.yml" <<'EOF'
input:
  glob: ["names/*", "names/*/*"]
stages:
  - {name: x, run: exec, with: {command: "printf '%s\\n' '[{dir}/{stem}{ext}]'"}}
EOF
(cd "$h/run" && "$PIPERUN" "$h/inside.yml") >"$tmp/out" 2>&1
same_file "$h/want2" "$tmp/out" "exec: placeholders inside a longer argument stay in it, with no './'"
find "$tmp" "$top" -name pwned >"$tmp/found" 2>/dev/null
is "" "$(cat "$tmp/found")" "exec: no file 'pwned' appears anywhere (no shell ran on a name)"

# -- failures --
cat >"$tmp/fail.yml" <<'EOF'
stages:
  - {name: read, run: read}
  - {name: x, run: exec, with: {command: [sh, -c, "cat >/dev/null; echo stages-test went wrong >&2; exit 3"]}}
EOF
sh -c 'cat >/dev/null; echo stages-test went wrong >&2; exit 3' <mixed.txt 2>"$tmp/cmd.err"
st=$?
for kind in io cpu; do
	sed "s/run: exec/kind: $kind, run: exec/" "$tmp/fail.yml" >"$tmp/fail-$kind.yml"
	"$PIPERUN" "$tmp/fail-$kind.yml" mixed.txt >"$tmp/out" 2>"$tmp/err"
	rc=$?
	grep -F "status $st" "$tmp/err" | grep -F "$(cat "$tmp/cmd.err")" | grep -F mixed.txt >/dev/null
	is "1 0 0" "$rc $? $(wc -c <"$tmp/out")" \
		"exec ($kind) exiting $st: exit 1, one stderr line names the item, the status and the command's stderr"
done

{ sh -c 'kill -9 $$'; } 2>/dev/null
sig=$(($? - 128))
for kind in io cpu; do
	pipeline "$tmp/kill.yml" "- {name: x, kind: $kind, run: exec, with: {command: [sh, -c, 'kill -9 \$\$']}}"
	"$PIPERUN" "$tmp/kill.yml" short.txt >"$tmp/out" 2>"$tmp/err"
	rc=$?
	grep -F "signal $sig" "$tmp/err" | grep -F short.txt >/dev/null
	is "1 0" "$rc $?" "exec ($kind) killed by signal $sig: exit 1, a stderr line names the signal"
done

for cmd in '[no-such-command-for-stages-sh, x]' '"no-such-command-for-stages-sh x"'; do
	pipeline "$tmp/nocmd.yml" "- {name: x, run: exec, with: {command: $cmd}}"
	"$PIPERUN" --check "$tmp/nocmd.yml" mixed.txt >/dev/null 2>"$tmp/err"
	rc=$?
	grep -F no-such-command-for-stages-sh "$tmp/err" >/dev/null
	is "2 0" "$rc $?" "exec: a missing command ($cmd) is refused by --check with exit 2, naming it"
done

# -- what the child gets --

# The descriptors the child holds while ls lists them: each listing ("total"
# starts one) prints the descriptors other than the one ls itself opened on
# /proc/self/fd, then "+N" for the ones that are that folder.
fds() {
	awk '/^total/ { if (started) print line " +" own; line = ""; own = 0; started = 1; next }
		{ for (i = 1; i < NF; i++) if ($i == "->") {
			if ($(i + 1) ~ /^\/proc\/[0-9]+\/fd$/) own++; else line = line " " $(i - 1) } }
		END { if (started) print line " +" own }'
}
for kind in io cpu; do
	pipeline "$tmp/fd-$kind.yml" "- {name: x, kind: $kind, run: exec, with: {command: [ls, -ln, /proc/self/fd]}}"
	"$PIPERUN" -j 4 "$tmp/fd-$kind.yml" "$@" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	for f in "$@" "$@"; do echo ' 0 1 2 +1'; done >"$tmp/want"
	fds <"$tmp/out" >"$tmp/got"
	[ $rc -eq 0 ] || diag "exit $rc: $(head -3 "$tmp/err")"
	same_file "$tmp/want" "$tmp/got" "exec ($kind): every child holds only fds 0 1 2 (and the one ls opens)"
done

# Signal dispositions: the command starts with every signal at its default
# action, except those ignored when piperun started (nohup, trap ''), which
# stay ignored, as when a shell runs the command itself.  Signals 32 and 33
# are left out: the C library keeps them for its threads (no program sets
# them through it), and handles 33 in a process with threads, as piperun.
pipeline "$tmp/sig.yml" "- {name: x, run: exec, with: {command: [grep, -E, '^Sig(Ign|Cgt):', /proc/self/status]}}"
own_signals() { # the masks of /proc/PID/status, less signals 32 and 33
	while read -r name mask; do
		printf '%s %016x\n' "$name" $((0x$mask & ~0x180000000))
	done
}
for kind in io cpu; do
	sed "s/run: exec/kind: $kind, run: exec/" "$tmp/sig.yml" >"$tmp/sig-$kind.yml"
	for ign in '' 'HUP USR1 ALRM'; do
		# shellcheck disable=SC2086 # ign is a list of signal names
		(trap '' $ign; grep -E '^Sig(Ign|Cgt):' /proc/self/status) | own_signals >"$tmp/want"
		# shellcheck disable=SC2086
		(trap '' $ign; exec "$PIPERUN" "$tmp/sig-$kind.yml" short.txt) >"$tmp/raw" 2>"$tmp/err"
		rc=$?
		[ $rc -eq 0 ] || diag "exit $rc: $(head -3 "$tmp/err")"
		own_signals <"$tmp/raw" >"$tmp/out"
		same_file "$tmp/want" "$tmp/out" \
			"exec ($kind), started with '${ign:-no signal}' ignored: the command's ignored and caught signals are those a shell gives it"
	done
done

# The process tests need procps (ps -o, --ppid; pgrep).
procps=
if ps -o pid= --ppid $$ >/dev/null 2>&1 && command -v pgrep >/dev/null; then
	procps=yes
fi
for kind in io cpu; do
	if [ -z "$procps" ]; then
		skip_one "no procps ps or pgrep"
		continue
	fi
	pipeline "$tmp/pg-$kind.yml" "- {name: x, kind: $kind, run: exec, with: {command: [sh, -c, 'echo \$\$ \$(ps -o pgid= -p \$\$) \$(ps -o pgid= -p \$PPID)']}}"
	"$PIPERUN" "$tmp/pg-$kind.yml" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	bad=$(awk 'NF != 3 || $1 != $2 || $2 == $3 { n++ } END { print n + 0 }' "$tmp/out")
	is "0 0 $#" "$rc $bad $(wc -l <"$tmp/out" | tr -d ' ')" \
		"exec ($kind): each child leads its own process group, not its parent's (ps -o pgid)"
done

# A cpu stage's worker processes are named piperun, as ps(1) and top(1)
# show them: started as /proc/self/exe, they would be named "exe".
if [ -r /proc/self/comm ]; then
	pipeline "$tmp/comm.yml" "- {name: x, kind: cpu, run: exec, with: {command: [sh, -c, 'cat /proc/\$PPID/comm']}}"
	"$PIPERUN" "$tmp/comm.yml" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	is "0 $# piperun" "$rc $(grep -c . "$tmp/out") $(sort -u "$tmp/out")" \
		"exec (cpu): the worker process that runs the command is named piperun (/proc/PID/comm)"
else
	skip_one "no /proc/PID/comm"
fi

# In --sync one item runs at a time, so when a command runs, the commands
# before it must have been reaped: no child of piperun is a zombie.
if [ -n "$procps" ]; then
	pipeline "$tmp/zombie.yml" "- {name: x, run: exec, with: {command: [sh, -c, 'ps -o stat=,pid= --ppid \$PPID']}}"
	"$PIPERUN" --sync "$tmp/zombie.yml" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	test "$(wc -l <"$tmp/out")" -ge $#
	is "0 0 0" "$rc $? $(grep -c '^ *Z' "$tmp/out")" \
		"exec --sync: each command sees no zombie among piperun's children (ps --ppid)"

	for kind in io cpu; do
		marker=stages-sh-marker-$$-$kind
		pipeline "$tmp/marker.yml" "- {name: x, kind: $kind, run: exec, with: {command: [sh, -c, 'cat; true', $marker]}}"
		"$PIPERUN" "$tmp/marker.yml" "$@" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		cat "$@" | cmp -s - "$tmp/out"
		is "0 0 " "$rc $? $(pgrep -f "$marker")" "exec ($kind): after the run no command is left (pgrep -f a marker)"
	done
else
	skip_one "no procps ps or pgrep"
	skip_one "no procps ps or pgrep"
	skip_one "no procps ps or pgrep"
fi

# ---- --list-stages ----

printf '%s %s\n' read io write io clean cpu exec io grep cpu split cpu gzip cpu hash cpu count sync |
	LC_ALL=C sort >"$tmp/want"
"$PIPERUN" --list-stages | awk '{ print $1, $2 }' | LC_ALL=C sort >"$tmp/got"
same_file "$tmp/want" "$tmp/got" "--list-stages lists the nine built-ins, each with its usual tag"

# ---- --sync gives the same bytes ----

pipeline "$tmp/sync-split.yml" '- {name: cut, run: split, with: {size: 64k}}' '- {name: h, run: hash}'
pipeline "$tmp/sync-lines.yml" '- {name: cut, run: split, with: {lines: true}}' '- {name: c, run: count}'
pipeline "$tmp/sync-gzip.yml" '- {name: z, run: gzip}'
for y in g1 g4 sync-split sync-lines sync-gzip hash count tr-io tr-cpu sort-cpu; do
	"$PIPERUN" -j 4 "$tmp/$y.yml" "$@" >"$tmp/par.out" 2>"$tmp/err"
	rc=$?
	"$PIPERUN" --sync "$tmp/$y.yml" "$@" >"$tmp/sync.out" 2>>"$tmp/err"
	rc="$rc $?"
	[ "$rc" = "0 0" ] || diag "$y: exit $rc: $(head -3 "$tmp/err")"
	test -s "$tmp/sync.out" && cmp -s "$tmp/par.out" "$tmp/sync.out"
	ok $? "--sync output is byte-identical to the parallel run: $y"
done

cd "$top" || true
test_done
