#!/bin/sh
# End to end: the clean stage matches the reference tr/sed/grep pipeline byte for byte.
. "${srcdir:-.}/tests/tap/tap.sh"

plan 22

# The reference from SPEC section 5 (grep exits 1 when no line is left).
reference() {
	tr A-Z a-z | tr -c 'a-z0-9\n' ' ' | tr -s ' ' | sed 's/^ //;s/ $//' | grep -v '^$'
	return 0
}

d=$tmp/data
mkdir -p "$d"

cat >"$tmp/clean.yml" <<'EOF'
stages:
  - {name: read, kind: io, run: read}
  - {name: clean, kind: cpu, run: clean}
EOF

# Deterministic data.
printf 'Hello, World!  The QUICK brown Fox_jumps over 13 lazy-dogs.\n' >"$d/mixed.txt"
printf 'MiXeD CaSe 42 ABCxyz 0123456789 ZzAa\n' >>"$d/mixed.txt"
printf '\ttabs\tin\t\tthe\tmiddle\t\n' >"$d/ws.txt"
printf '   leading and trailing spaces   \n' >>"$d/ws.txt"
printf 'runs     of      spaces\n\n\n   \n\t\t\nafter blank lines\n' >>"$d/ws.txt"
printf 'dos line one\r\ndos line two\r\n\r\nCR\rinside\r\n' >"$d/crlf.txt"
printf 'no final newline: LAST Line' >"$d/nofinal.txt"
printf 'ends in spaces and punctuation ...   ' >"$d/nofinal2.txt"
: >"$d/empty.txt"
printf '  !!! ... ,,, ;;; ---\n\t\t\n\n  @#$%%^&*()  \n~`[]{}|\\/<>?\n' >"$d/punct.txt"
printf 'with\000nul\000bytes\000\nAND\000\000MORE\n\000\n' >"$d/nul.txt"

# Every byte from 0x01 to 0xff: 16 to a line, then one per line, with some
# letters between so that high bytes sit inside words.
i=1
: >"$d/bytes.txt"
while [ $i -le 255 ]; do
	if [ $i -ne 10 ]; then
		# shellcheck disable=SC2059
		printf "x\\$(printf %o $i)Y\\$(printf %o $i)\\$(printf %o $i)9" >>"$d/bytes.txt"
	fi
	[ $((i % 16)) -eq 0 ] && printf '\n' >>"$d/bytes.txt"
	i=$((i + 1))
done
printf '\n' >>"$d/bytes.txt"
i=128
while [ $i -le 255 ]; do
	# shellcheck disable=SC2059
	printf "\\$(printf %o $i)\n Caf\\$(printf %o $i)e \\$(printf %o $i)\n" >>"$d/bytes.txt"
	i=$((i + 1))
done

# Latin-1 and UTF-8 words.
printf 'Caf\351 na\357ve \303\274ber Stra\303\237e \342\202\254100\n' >"$d/accents.txt"

names="mixed ws crlf nofinal nofinal2 empty punct nul bytes accents"

for n in $names; do
	reference <"$d/$n.txt" >"$tmp/want"
	"$PIPERUN" "$tmp/clean.yml" "$d/$n.txt" >"$tmp/got" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		diag "exit $rc: $(cat "$tmp/err")"
	fi
	same_file "$tmp/want" "$tmp/got" "clean equals the reference on $n.txt"
done

# The expectations are not trivial.
is "" "$(cat "$d/empty.txt" "$d/punct.txt" | reference)" "the reference drops empty and punctuation-only text"
test "$(reference <"$d/bytes.txt" | wc -l)" -gt 100
ok $? "the byte table leaves more than 100 lines"

# All files in one run: items leave in order, each cleaned on its own.
: >"$tmp/want"
for n in $names; do
	reference <"$d/$n.txt" >>"$tmp/want"
done
set --
for n in $names; do
	set -- "$@" "$d/$n.txt"
done
"$PIPERUN" "$tmp/clean.yml" "$@" >"$tmp/got"
ok $? "clean over every file at once: exit 0"
same_file "$tmp/want" "$tmp/got" "clean over every file at once: the references joined in order"
"$PIPERUN" --sync "$tmp/clean.yml" "$@" >"$tmp/sync"
same_file "$tmp/got" "$tmp/sync" "--sync gives identical bytes over every file"

# A larger file, about 2 MB: lines of random-looking characters from an
# alphabet holding upper and lower case, digits, punctuation, tabs, CR and
# runs of spaces; some characters then become bytes 0x80-0xff.
awk 'BEGIN {
	a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789      \t\t.,;:!?-_()[]{}<>/\\\"#@&*+=~^%$|`'"'"'{}~"
	a = a sprintf("%c", 13)
	la = length(a)
	s = 12345
	while (total < 2100000) {
		s = (s * 1103515245 + 12345) % 2147483648
		n = int(s / 65536) % 120
		if (n > 100) n = 0
		line = ""
		for (j = 0; j < n; j++) {
			s = (s * 1103515245 + 12345) % 2147483648
			line = line substr(a, int(s / 65536) % la + 1, 1)
		}
		print line
		total += n + 1
	}
}' | tr '{}~|' '\200\277\351\377' >"$d/big.txt"
size=$(wc -c <"$d/big.txt")
test "$size" -gt 2000000
ok $? "the large file is over 2 MB ($size bytes)"
od -An -tx1 "$d/big.txt" | grep -e ' 80' -e ' ff' -e ' 0d' >/dev/null
ok $? "the large file holds high bytes and CR"
reference <"$d/big.txt" >"$tmp/want"
"$PIPERUN" "$tmp/clean.yml" "$d/big.txt" >"$tmp/got"
ok $? "clean on the large file: exit 0"
same_file "$tmp/want" "$tmp/got" "clean on the large file equals the reference"
"$PIPERUN" --sync "$tmp/clean.yml" "$d/big.txt" >"$tmp/sync"
same_file "$tmp/got" "$tmp/sync" "--sync on the large file gives identical bytes"

# The large file as line-aligned blocks: clean works line by line, so the
# cleaned blocks joined equal the cleaned file.
cat >"$tmp/blocks.yml" <<'EOF'
input:
  blocks: {file: data/big.txt, size: 64KiB}
stages:
  - {name: clean, kind: cpu, run: clean}
EOF
"$PIPERUN" "$tmp/blocks.yml" >"$tmp/got"
same_file "$tmp/want" "$tmp/got" "clean on 64 KiB blocks of the large file equals the reference"
"$PIPERUN" --sync "$tmp/blocks.yml" >"$tmp/sync"
same_file "$tmp/got" "$tmp/sync" "--sync on blocks gives identical bytes"

test_done
