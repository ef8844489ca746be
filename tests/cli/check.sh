#!/bin/sh
# check.sh: every invalid pipeline in tests/data/bad is refused with exit 2
# and its file:line:col message, by --check and by a run, touching nothing.
. "${srcdir:-.}/tests/tap/tap.sh"

for fixture in "$srcdir"/tests/data/bad/*.yml; do
	name=$(basename "$fixture")
	cp "$fixture" "$tmp/$name"
	printf 'data\n' > "$tmp/a.txt"
	want=$(sed -n '1s/^# expect: //p' "$fixture" | sed "s|TESTDIR|$tmp|")
	[ -n "$want" ] || { ok 1 "$name has an '# expect:' line"; continue; }

	"$PIPERUN" --check "$tmp/$name" > "$tmp/out" 2> "$tmp/err"
	is 2 $? "$name: --check exits 2"
	first=$(head -n 1 "$tmp/err")
	is "$tmp/$name:$want" "$first" "$name: --check names the place"

	"$PIPERUN" "$tmp/$name" > "$tmp/out" 2> "$tmp/err2"
	is 2 $? "$name: a run exits 2"
	same_file "$tmp/err" "$tmp/err2" "$name: a run reports the same errors"
	[ ! -s "$tmp/out" ] && [ ! -e "$tmp/out.d" ] && [ ! -e "$tmp/out/" ]
	ok $? "$name: nothing written, nothing run"
done

# A valid file passes --check silently and reads no input.
cat > "$tmp/good.yml" <<'YML'
input: {files: [missing.txt]}
stages:
  - {name: r, run: read}
  - {name: w, run: write, with: {dir: made}}
YML
"$PIPERUN" --check "$tmp/good.yml" > "$tmp/out" 2> "$tmp/err"
is 0 $? "a valid file passes --check"
[ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ]
ok $? "--check prints nothing for a valid file"
[ ! -e "$tmp/made" ]
ok $? "--check creates no output folder"

# Every error of a file is reported, in file order.
cat > "$tmp/many.yml" <<'YML'
nmae: x
input: {glob: "*.txt"}
stages:
  - {name: a, run: raed}
  - {name: b, run: clean, workers: lots}
YML
"$PIPERUN" --check "$tmp/many.yml" 2> "$tmp/err"
is 2 $? "a file with three errors exits 2"
is 3 "$(grep -c ': error: ' "$tmp/err")" "all three errors are reported"
is "1 4 5" "$(cut -d: -f2 "$tmp/err" | tr '\n' ' ' | sed 's/ $//')" "in file order"

# An empty stage name is refused like any other bad name.
cat > "$tmp/empty.yml" <<'YML'
input: {files: [a.txt]}
stages:
  - {name: "", run: read}
  - {name: c, run: clean}
YML
"$PIPERUN" --check "$tmp/empty.yml" 2> "$tmp/err"
is 2 $? "an empty stage name exits 2"
is "$tmp/empty.yml:3:12: error: a stage name cannot be empty (1 to 64 letters, digits, '_' and '-')" \
	"$(cat "$tmp/err")" "and names its place"

# workers: auto means 1 on a sync stage; no other number than 1 does.
cat > "$tmp/sync.yml" <<'YML'
input: {files: [a.txt]}
stages:
  - {name: r, run: read, kind: sync, workers: auto}
  - {name: c, run: count, workers: auto}
YML
"$PIPERUN" --check "$tmp/sync.yml" 2> "$tmp/err"
is 0 $? "workers: auto on a sync stage is accepted"
is "r c" "$("$PIPERUN" --plan "$tmp/sync.yml" | awk '$3 == "sequential" && $4 == 1 { printf "%s%s", sep, $1; sep = " " }')" \
	"and means one worker"
printf 'input: {files: [a.txt]}\nstages:\n  - {name: c, run: count, workers: 2}\n' > "$tmp/sync2.yml"
"$PIPERUN" --check "$tmp/sync2.yml" 2> "$tmp/err"
is 2 $? "workers: 2 on a sync stage is still refused"
is "$tmp/sync2.yml:3:36: error: stage 'c' is sync and runs one item at a time: 'workers' must be 1 or auto" \
	"$(cat "$tmp/err")" "saying what it takes"

# A bad version does not hide the other errors, and says what it takes.
for v in '"1"' 0 1.0; do
	printf 'version: %s\nnmae: x\ninput: {files: [a.txt]}\nstages:\n  - {name: a, run: raed}\n' "$v" > "$tmp/version.yml"
	"$PIPERUN" --check "$tmp/version.yml" 2> "$tmp/err"
	is 2 $? "version: $v exits 2"
	is "1 2 5" "$(cut -d: -f2 "$tmp/err" | tr '\n' ' ' | sed 's/ $//')" "version: $v: every error is reported"
done
is "$tmp/version.yml:1:10: error: 'version' must be 1, the only pipeline format version, not '1.0'" \
	"$(head -n 1 "$tmp/err")" "version: 1.0 says what the version must be"
printf 'version: 0\nstages:\n  - {name: r, run: read}\n' > "$tmp/version.yml"
"$PIPERUN" --check "$tmp/version.yml" a.txt 2> "$tmp/err"
is "$tmp/version.yml:1:10: error: 'version' must be 1, the only pipeline format version, not '0'" \
	"$(cat "$tmp/err")" "version: 0 says the version must be 1"
printf 'version: "1"\nstages:\n  - {name: r, run: read}\n' > "$tmp/version.yml"
"$PIPERUN" --check "$tmp/version.yml" a.txt 2> "$tmp/err"
is "$tmp/version.yml:1:10: error: 'version' must be the number 1, not the string '1'" \
	"$(cat "$tmp/err")" "a quoted version is called a string"

# A file that cannot be read.
"$PIPERUN" --check "$tmp/nothere.yml" 2> "$tmp/err"
is 2 $? "a missing pipeline file exits 2"
is "$tmp/nothere.yml: error: No such file or directory" "$(cat "$tmp/err")" "and says why"

test_done
