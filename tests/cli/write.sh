#!/bin/sh
# End to end: the write stage stores items atomically below its dir and refuses names that leave it.
. "${srcdir:-.}/tests/tap/tap.sh"

# The tests change folders, so the binary needs an absolute path.
case $PIPERUN in /*) ;; *) PIPERUN=$(pwd)/$PIPERUN ;; esac
case $tmp in /*) ;; *) tmp=$(pwd)/$tmp ;; esac

plan 41

# files_below DIR: the regular files below DIR, one relative path a line, sorted.
files_below() {
	(cd "$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
}

# temps_below DIR: how many entries below DIR start with ".piperun-".
temps_below() {
	find "$1" -name '.piperun-*' | wc -l | tr -d ' '
}

# line_names FILE WORD ITEM: status 0 when one line of FILE holds WORD and ITEM.
line_names() {
	grep -F "$2" "$1" | grep -F "$3" >/dev/null
}

# inode FILE
inode() {
	ls -di "$1" | awk '{ print $1 }'
}

w=$tmp/w
mkdir -p "$w/in/sub/deep" "$w/cwd"
printf 'alpha\n' >"$w/in/a.txt"
printf 'charlie\nno final newline' >"$w/in/sub/c.txt"
# Every byte value, NUL included, then about 1 MB of lines.
i=0
while [ $i -le 255 ]; do
	# shellcheck disable=SC2059
	printf "\\$(printf %o $i)"
	i=$((i + 1))
done >"$w/in/sub/deep/b.txt"
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "line %d of a larger file\n", i }' >>"$w/in/sub/deep/b.txt"

cat >"$w/p.yml" <<'EOF'
input:
  glob: ["in/*.txt", "in/*/*.txt", "in/*/*/*.txt"]
stages:
  - {name: read, kind: io, run: read}
  - {name: store, kind: io, run: write, with: {dir: out/nested/dir, suffix: .out}}
EOF

(cd "$w/cwd" && "$PIPERUN" ../p.yml) >"$tmp/out" 2>"$tmp/err"
ok $? "write: exit 0"
is "" "$(cat "$tmp/out")" "write emits nothing: stdout is empty"
is "" "$(cat "$tmp/err")" "write: a clean run prints nothing on stderr"
o=$w/out/nested/dir
is "$(printf '%s.out\n' a.txt sub/c.txt sub/deep/b.txt)" "$(files_below "$o")" \
	"write creates dir and the folders of each name, and adds the suffix"
same_file "$w/in/a.txt" "$o/a.txt.out" "write: a.txt.out holds the data read"
same_file "$w/in/sub/c.txt" "$o/sub/c.txt.out" "write: sub/c.txt.out holds the data, no newline added"
same_file "$w/in/sub/deep/b.txt" "$o/sub/deep/b.txt.out" "write: every byte value and 1 MB come through unchanged"
is 0 "$(temps_below "$w/out")" "write leaves no .piperun- temporary file"
is "" "$(files_below "$w/cwd")" "write's dir is relative to the pipeline file, not the current folder"

# Replacing: the old file is swapped for a new one (rename), never rewritten
# in place, so a hard link to the old file keeps the old content whole.
awk 'BEGIN { for (i = 0; i < 5000; i++) print "old content that is much longer than the new one" }' >"$tmp/old"
cp "$tmp/old" "$o/a.txt.out"
ln "$o/a.txt.out" "$tmp/link"
printf 'NEW\n' >"$w/in/a.txt"
"$PIPERUN" "$w/p.yml" >/dev/null 2>&1
ok $? "write over existing files: exit 0"
same_file "$w/in/a.txt" "$o/a.txt.out" "an existing file is replaced by the new content only"
same_file "$tmp/old" "$tmp/link" "the old file is replaced by rename: a hard link to it keeps the old content"
is 0 "$(temps_below "$w/out")" "replacing leaves no .piperun- temporary file"

# Names that only look like '..': written.
mkdir -p "$w/dots"
printf 'dots\n' >"$w/dots/..x.txt"
printf 'dots2\n' >"$w/dots/y..txt"
cat >"$w/dots.yml" <<'EOF'
input:
  glob: ["dots/..*.txt", "dots/*.txt"]
stages:
  - {name: read, kind: io, run: read}
  - {name: write, kind: io, run: write, with: {dir: dout}}
EOF
"$PIPERUN" "$w/dots.yml" >/dev/null 2>&1
ok $? "names such as ..x.txt and y..txt: exit 0"
is "$(printf '%s\n' ..x.txt y..txt)" "$(files_below "$w/dout")" "..x.txt and y..txt are no '..' component: written"

# ---- refused names ----

cat >"$w/args.yml" <<'EOF'
stages:
  - {name: read, kind: io, run: read}
  - {name: save, kind: io, run: write, with: {dir: aout}}
EOF

# snapshot: every path below $tmp with its inode, but for aout.
snapshot() {
	(cd "$tmp" && find . ! -path './w/aout*' ! -path . -exec ls -di {} + | LC_ALL=C sort -k 2)
}

# A name with a '..' component: cwd is $tmp/c/d, the item ../x.txt; joined
# to aout it would be $w/x.txt.
mkdir -p "$tmp/c/d"
printf 'outside\n' >"$tmp/c/x.txt"
before=$(snapshot)
(cd "$tmp/c/d" && "$PIPERUN" ../../w/args.yml ../x.txt) >"$tmp/out" 2>"$tmp/err"
is 1 $? "a name with '..' (../x.txt): exit 1"
line_names "$tmp/err" "save" "../x.txt"
ok $? "a name with '..': one stderr line names the stage and the item"
test ! -e "$w/x.txt" && test ! -e "$tmp/c/d/aout"
ok $? "a name with '..': nothing written where it leads"
is "" "$(files_below "$w/aout" 2>/dev/null)" "a name with '..': nothing written below dir"
is "$before" "$(snapshot)" "a name with '..': no file created or replaced anywhere"
is "" "$(cat "$tmp/out")" "a refused name: stdout is empty"

# A '..' component in the middle is refused as well.
(cd "$w" && "$PIPERUN" args.yml in/../in/a.txt) >/dev/null 2>"$tmp/err"
is 1 $? "a name with an inner '..' (in/../in/a.txt): exit 1"
is "" "$(files_below "$w/aout" 2>/dev/null)" "an inner '..': nothing written"

# An absolute name.
mkdir -p "$tmp/abs"
printf 'absolute\n' >"$tmp/abs/y.txt"
node=$(inode "$tmp/abs/y.txt")
before=$(snapshot)
(cd "$w" && "$PIPERUN" args.yml "$tmp/abs/y.txt") >/dev/null 2>"$tmp/err"
is 1 $? "an absolute name: exit 1"
line_names "$tmp/err" "save" "$tmp/abs/y.txt"
ok $? "an absolute name: one stderr line names the stage and the item"
is "$node absolute" "$(inode "$tmp/abs/y.txt") $(cat "$tmp/abs/y.txt")" "an absolute name: the file it names is left alone"
is "" "$(files_below "$w/aout" 2>/dev/null)" "an absolute name: nothing written below dir"
is "$before" "$(snapshot)" "an absolute name: no file created or replaced anywhere"

# A name that starts with ./ stays inside dir: it is written, not refused.
(cd "$w" && "$PIPERUN" args.yml ./in/a.txt) >/dev/null 2>"$tmp/err"
rc=$?
is "0 in/a.txt" "$rc $(files_below "$w/aout" 2>/dev/null)" "a name ./in/a.txt stays inside dir: written as in/a.txt"
rm -rf "$w/aout"

# A symbolic link inside dir does not lead writes outside it.
mkdir -p "$tmp/elsewhere" "$w/lin/esc" "$w/lout"
printf 'target\n' >"$tmp/elsewhere/target"
printf 'via link\n' >"$w/lin/esc/x.txt"
printf 'replaced\n' >"$w/lin/t.txt"
ln -s "$tmp/elsewhere" "$w/lout/esc"
ln -s "$tmp/elsewhere/target" "$w/lout/t.txt"
cat >"$w/link.yml" <<'EOF'
input:
  glob: ["lin/*.txt", "lin/*/x.txt"]
stages:
  - {name: read, kind: io, run: read}
  - {name: write, kind: io, run: write, with: {dir: lout}}
EOF
"$PIPERUN" "$w/link.yml" >/dev/null 2>"$tmp/err"
is 1 $? "a folder that is a link out of dir: exit 1"
line_names "$tmp/err" "write" "esc/x.txt"
ok $? "a folder that is a link out of dir: the item is named on stderr"
is "target" "$(ls "$tmp/elsewhere")" "a folder that is a link out of dir: nothing written through it"
is "target" "$(cat "$tmp/elsewhere/target")" "a file that is a link out of dir: its target is left alone"

# A failed rename (the name is a folder) removes its temporary file.
mkdir -p "$w/fout/a.txt/inside"
cat >"$w/fail.yml" <<'EOF'
input:
  glob: "in/a.txt"
stages:
  - {name: read, kind: io, run: read}
  - {name: write, kind: io, run: write, with: {dir: fout}}
EOF
"$PIPERUN" "$w/fail.yml" >/dev/null 2>"$tmp/err"
is 1 $? "the name is an existing folder: exit 1"
line_names "$tmp/err" "write" "a.txt"
ok $? "the name is an existing folder: the item is named on stderr"
is 0 "$(temps_below "$w/fout")" "a failed write leaves no .piperun- temporary file"

# ---- retries ----

# A failed write claims no name: under on_error: retry, a later attempt on
# the item writes it.  A plain file rb stands where dir should be, and goes
# 0.2 s after the start, while the retries back off (6.3 s in all).
mkdir -p "$w/retry"
printf 'retried\n' >"$w/retry/f"
cat >"$w/retry/p.yml" <<'EOF'
stages:
  - {name: read, run: read}
  - {name: write, run: write, with: {dir: rb}, on_error: retry, retries: 6}
EOF
touch "$w/retry/rb"
(sleep 0.2; rm -f "$w/retry/rb") &
(cd "$w/retry" && "$PIPERUN" p.yml f) >"$tmp/out" 2>"$tmp/err"
rc=$?
wait
is 0 $rc "a write that fails until dir can be made, under retry: exit 0"
same_file "$w/retry/f" "$w/retry/rb/f" "a retry writes the file the failed attempt could not"
is "" "$(cat "$tmp/err")" "the retried write prints nothing on stderr"

# Retries do not let a second item write where the first one did.
sed 's/retries: 6/retries: 1/' "$w/retry/p.yml" >"$w/retry/p1.yml"
(cd "$w/retry" && "$PIPERUN" p1.yml f ./f) >"$tmp/out" 2>"$tmp/err"
is 1 $? "two items for one file under retry: exit 1"
grep -q "refusing to write 'f': an earlier item of this run was written there" "$tmp/err"
ok $? "two items for one file under retry: the second is still refused"

test_done
