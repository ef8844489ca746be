#!/bin/sh
# options.sh: the command line: help, version, usage errors, --plan,
# --list-stages, -j, -v, --stats and the exit statuses.
. "${srcdir:-.}/tests/tap/tap.sh"

"$PIPERUN" --help > "$tmp/out" 2> "$tmp/err"
is 0 $? "--help exits 0"
grep -q '^Usage: piperun \[OPTIONS\] PIPELINE.yml \[INPUT...\]' "$tmp/out"
ok $? "--help prints the usage on stdout"
[ ! -s "$tmp/err" ]
ok $? "--help prints nothing on stderr"

"$PIPERUN" --version > "$tmp/out"
is 0 $? "--version exits 0"
grep -Eq '^piperun [0-9]+\.[0-9]+\.[0-9]+$' "$tmp/out"
ok $? "--version prints name and version"

"$PIPERUN" > "$tmp/out" 2> "$tmp/err"
is 2 $? "no pipeline file: exit 2"
grep -q 'missing PIPELINE.yml' "$tmp/err"
ok $? "and says what is missing"

printf 'stages:\n  - {name: c, run: clean}\n' | "$PIPERUN" - a.txt > "$tmp/out" 2> "$tmp/err"
is 2 $? "a pipeline of '-' is refused with exit 2"
is "piperun: the pipeline must be a file, not '-' (standard input)" "$(head -n 1 "$tmp/err")" \
	"saying that it must be a file"

# --worker starts piperun's worker processes; by hand it only says so.
for args in "99" "0" ""; do
	"$PIPERUN" --worker $args < /dev/null > "$tmp/out" 2> "$tmp/err"
	is 2 $? "--worker ${args:-alone} run by hand: exit 2"
	is "piperun: --worker is for piperun's own use: it starts the worker processes of cpu stages" \
		"$(cat "$tmp/err")" "--worker ${args:-alone} run by hand: saying what it is for"
done

"$PIPERUN" --frobnicate p.yml 2> "$tmp/err"
is 2 $? "an unknown option: exit 2"

for bad in 0 -1 x 1025 ''; do
	"$PIPERUN" -j "$bad" p.yml 2> "$tmp/err"
	is 2 $? "-j '$bad' is refused with exit 2"
done

"$PIPERUN" --list-stages > "$tmp/out"
is 0 $? "--list-stages exits 0"
for s in read write clean; do
	grep -Eq "^$s +(io|cpu|sync) +[a-z]" "$tmp/out"
	ok $? "--list-stages lists $s with its tag and a summary"
done

# A build without OpenMP refuses `executor: openmp` (parallel.sh checks
# how); here the second cpu stage then uses processes.
printf 'stages:\n  - {name: c, run: clean, executor: openmp}\n' > "$tmp/omp.yml"
if "$PIPERUN" --check "$tmp/omp.yml" a.txt 2> /dev/null; then
	executor=openmp
else
	executor=process
fi
cat > "$tmp/p.yml" <<YML
name: demo
input: {files: [a.txt]}
stages:
  - {name: read, run: read}
  - {name: clean, run: clean}
  - {name: clean2, run: clean, executor: $executor, workers: 3}
  - {name: count, run: clean, kind: sync}
YML
printf 'Hello, World\n' > "$tmp/a.txt"

"$PIPERUN" --plan "$tmp/p.yml" > "$tmp/out"
is 0 $? "--plan exits 0"
is "read io threads" "$(awk '$1 == "read" {print $1, $2, $3}' "$tmp/out")" "io maps to threads"
is "clean cpu processes" "$(awk '$1 == "clean" {print $1, $2, $3}' "$tmp/out")" "cpu maps to processes"
want=$([ $executor = openmp ] && echo openmp || echo processes)
is "clean2 cpu $want 3" "$(awk '$1 == "clean2" {print $1, $2, $3, $4}' "$tmp/out")" "executor: $executor and workers"
is "count sync sequential 1" "$(awk '$1 == "count" {print $1, $2, $3, $4}' "$tmp/out")" "sync maps to sequential"
"$PIPERUN" --plan -j 5 "$tmp/p.yml" > "$tmp/out"
is "5 5" "$(awk '$1 ~ /^clean2?$/ {print $4}' "$tmp/out" | tr '\n' ' ' | sed 's/ $//')" "-j sets every cpu stage's workers"
"$PIPERUN" --plan --sync "$tmp/p.yml" > "$tmp/out"
is 4 "$(awk '$3 == "sequential" && $4 == 1' "$tmp/out" | wc -l | tr -d ' ')" "--sync: every stage sequential"

# A run, with -v and --stats.
"$PIPERUN" "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
is 0 $? "the run exits 0"
is "hello world" "$(cat "$tmp/out")" "the last stage's items go to stdout"
[ ! -s "$tmp/err" ]
ok $? "a clean run on a non-terminal prints nothing on stderr"

"$PIPERUN" -v "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
grep -q 'demo: ok' "$tmp/err"
ok $? "-v prints the summary"
is 4 "$(grep -cE '^piperun:   (read|clean|clean2|count) ' "$tmp/err")" "-v: a line per stage"

# The last of -q and -v wins.
"$PIPERUN" -q -v "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
grep -q 'demo: ok' "$tmp/err"
ok $? "-q -v: -v comes last and prints the summary"
"$PIPERUN" -v -q "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
[ ! -s "$tmp/err" ]
ok $? "-v -q: -q comes last and prints nothing"
printf 'input: {lines: "-"}\nstages:\n  - {name: x, run: exec, on_error: skip, with: {command: [false]}}\n' > "$tmp/fail.yml"
echo x | "$PIPERUN" -v -q "$tmp/fail.yml" > "$tmp/out" 2> "$tmp/err"
is "1 " "$? $(cat "$tmp/err")" "-v -q: a failed item is not named either"
echo x | "$PIPERUN" -q -v "$tmp/fail.yml" > "$tmp/out" 2> "$tmp/err"
grep -q 'stdin#1' "$tmp/err"
ok $? "-q -v: a failed item is named"

"$PIPERUN" --stats "$tmp/stats.json" "$tmp/p.yml" > /dev/null
is 0 $? "--stats run exits 0"
if command -v python3 > /dev/null; then
	python3 - "$tmp/stats.json" > "$tmp/check" 2>&1 <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
keys = ["name", "kind", "executor", "workers", "in", "out", "ok", "filtered", "failed",
        "interrupted", "bytes_in", "bytes_out", "busy_s", "wait_s"]
assert s["pipeline"] == "demo" and s["status"] == "ok", s
assert s["items_in"] == 1 and s["items_out"] == 1, s
assert [t["name"] for t in s["stages"]] == ["read", "clean", "clean2", "count"]
for t in s["stages"]:
    assert all(k in t for k in keys), t
    assert t["in"] == t["ok"] + t["failed"] + t["interrupted"], t
assert s["stages"][0]["bytes_out"] == 13, s["stages"][0]
print("ok")
PY
	is ok "$(cat "$tmp/check")" "--stats writes the documented JSON keys and counts"
else
	grep -q '"items_in": 1' "$tmp/stats.json"
	ok $? "--stats counts the item"
fi

"$PIPERUN" --stats "$tmp/no/such/dir/s.json" "$tmp/p.yml" 2> "$tmp/err"
is 2 $? "an unwritable --stats file is refused before the run"

# INPUT arguments replace the input section; relative to the current folder.
printf 'B\n' > "$tmp/b.txt"
(cd "$tmp" && "$PIPERUN" p.yml b.txt a.txt) > "$tmp/out"
is "b hello world" "$(cat "$tmp/out" | tr '\n' ' ' | sed 's/ $//')" "INPUT arguments, in the order given"

# Started with standard input closed, no pipe of piperun's is taken for it.
printf 'input: {lines: "-"}\nstages:\n  - {name: clean, run: clean}\n' > "$tmp/stdin.yml"
"$PIPERUN" "$tmp/stdin.yml" <&- > "$tmp/out" 2> "$tmp/err"
is 1 $? "lines: - with standard input closed: exit 1, as for other input errors"
is "piperun: standard input is closed: an input of '-' cannot be read" "$(cat "$tmp/err")" \
	"saying that it is closed"
"$PIPERUN" "$tmp/stdin.yml" "$tmp/nothere.txt" > "$tmp/out" 2> "$tmp/err"
is 1 $? "(a missing input file exits 1 too)"
"$PIPERUN" "$tmp/stdin.yml" "$tmp/a.txt" <&- > "$tmp/out"
is "0 hello world" "$? $(cat "$tmp/out")" "a run that does not read standard input needs none"
( "$PIPERUN" "$tmp/stdin.yml" < "$tmp/a.txt" >&- 2> "$tmp/err"; echo $? > "$tmp/status" )
is 1 "$(cat "$tmp/status")" "with standard output closed, a run that writes there fails"
grep -q '^piperun: standard output: ' "$tmp/err"
ok $? "saying so"

# The reader of stdout going away ends the run quietly with 141.
awk 'BEGIN { for (i = 0; i < 200000; i++) print "Line", i }' > "$tmp/big.txt"
cat > "$tmp/lines.yml" <<'YML'
input: {lines: big.txt}
stages:
  - {name: clean, run: clean}
YML
status=$( { "$PIPERUN" --stats "$tmp/bp.json" "$tmp/lines.yml" 2> "$tmp/err"; echo $? > "$tmp/status"; } | head -n 1 > /dev/null; cat "$tmp/status")
is 141 "$status" "a closed stdout ends the run with 141"
[ ! -s "$tmp/err" ]
ok $? "without a message"
grep -q '"status": "broken pipe"' "$tmp/bp.json"
ok $? "--stats says the status is \"broken pipe\""

test_done
