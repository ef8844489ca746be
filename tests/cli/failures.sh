#!/bin/sh
# failures.sh: on_error fail, skip and retry; failed items named on stderr;
# every item accounted for.
. "${srcdir:-.}/tests/tap/tap.sh"

mkdir "$tmp/in"
for n in 1 2 3 4 5; do printf 'File %s\n' "$n" > "$tmp/in/f$n.txt"; done

pipeline() { # on_error [extra stage keys]
	cat > "$tmp/p.yml" <<YML
input: {files: [in/f1.txt, in/f2.txt, in/missing.txt, in/f4.txt, in/f5.txt]}
stages:
  - {name: read, run: read, on_error: $1 $2}
  - {name: clean, run: clean}
YML
}

pipeline fail
"$PIPERUN" --sync --stats "$tmp/s.json" "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
is 1 $? "on_error: fail exits 1"
is "file 1
file 2" "$(cat "$tmp/out")" "--sync: items before the failure come out; no new items are fed after it"
is 1 "$(wc -l < "$tmp/err" | tr -d ' ')" "one stderr line"
grep -q "^piperun: stage 'read' failed on 'in/missing.txt': .*in/missing.txt: No such file or directory$" "$tmp/err"
ok $? "naming the stage, the item and the reason"
grep -q '"status": "failed"' "$tmp/s.json"
ok $? "--stats is written for a failed run"
grep -q '"name": "read", "kind": "io", "executor": "[a-z]*", "workers": [0-9]*, "in": 3, "out": 2, "ok": 2, "filtered": 0, "failed": 1' "$tmp/s.json"
ok $? "the failing stage counts in 3 = ok 2 + failed 1"

# In parallel, items after the failing one may be in the pipeline when it
# fails; their results are dropped, so the output is --sync's.
"$PIPERUN" --stats "$tmp/s.json" "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
is 1 $? "parallel: on_error: fail exits 1"
is "file 1
file 2" "$(cat "$tmp/out")" "parallel: the items before the failure come out, none after"
python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["status"] == "failed"
for t in s["stages"]:
    assert t["in"] == t["ok"] + t["failed"] + t["interrupted"], t
assert s["stages"][0]["failed"] == 1
' "$tmp/s.json"
ok $? "parallel: every stage accounts for every item it received"

# The same with many items in flight after the failing one, in a stage on
# threads and in one on worker processes (where the worker dies).
seq 1 3000 > "$tmp/many.txt"
for kind in io cpu; do
	cat > "$tmp/many.yml" <<YML
input: {lines: many.txt}
stages:
  - {name: e, kind: $kind, run: exec, with: {command: [sh, -c, 'read x; [ "\$x" = 40 ] && kill -9 \$\$; echo "\$x"']}}
  - {name: c, run: count}
YML
	(cd "$tmp" && "$PIPERUN" --sync many.yml > sync.out 2> /dev/null)
	(cd "$tmp" && "$PIPERUN" --stats s.json many.yml > par.out 2> /dev/null)
	is 1 $? "$kind, many items in flight: on_error: fail exits 1"
	same_file "$tmp/sync.out" "$tmp/par.out" "$kind, many items in flight: the output is --sync's"
	python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
for t in s["stages"]:
    assert t["in"] == t["ok"] + t["failed"] + t["interrupted"], t
e = s["stages"][0]
assert e["ok"] == 39 and e["failed"] == 1 and e["out"] == 39, e
assert s["stages"][1]["in"] == 39, s["stages"][1]
' "$tmp/s.json"
	ok $? "$kind, many items in flight: those after the failure count as interrupted"
done

# Once a failure has stopped the run, items after it that have not started
# are not run: their results would be dropped.  The stage admits hundreds
# of small items, and a worker process gets them in batches of hundreds;
# a few in flight when the failure comes still run.
case $builddir in /*) ;; *) builddir=$(cd "$builddir" && pwd) ;; esac
seq 1 2000 > "$tmp/lines.txt"
for kind in io cpu; do
	rm -f "$tmp/attempts"
	cat > "$tmp/cut.yml" <<YML
input: {lines: lines.txt}
stages:
  - {name: p, kind: $kind, workers: 2, plugin: $builddir/tests/plugins/probe.so,
     with: {fail_on: 'lines.txt#5', sleep: 1ms, log: $tmp/attempts}}
YML
	(cd "$tmp" && "$PIPERUN" --stats s.json cut.yml > cut.out 2> /dev/null)
	is 1 $? "$kind, stopped by a failure: exits 1"
	is 4 "$(wc -l < "$tmp/cut.out" | tr -d ' ')" "$kind, stopped by a failure: the 4 items before it come out"
	n=$(wc -l < "$tmp/attempts" | tr -d ' ')
	test "$n" -ge 5 && test "$n" -le 40
	ok $? "$kind, stopped by a failure: items queued after it are not run ($n of 2000 ran)"
	python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))["stages"][0]
assert p["in"] == p["ok"] + p["failed"] + p["interrupted"], p
assert p["ok"] == 4 and p["failed"] == 1 and p["filtered"] == 0, p
' "$tmp/s.json"
	ok $? "$kind, stopped by a failure: the items not run count as interrupted"
done

pipeline skip
"$PIPERUN" "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
is 1 $? "on_error: skip exits 1 at the end"
is "file 1
file 2
file 4
file 5" "$(cat "$tmp/out")" "skip drops the failed item and goes on, in order"
is 1 "$(grep -c 'failed on' "$tmp/err")" "the skipped item is named"

"$PIPERUN" -q "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
is 1 $? "-q keeps the exit status"
[ ! -s "$tmp/err" ]
ok $? "-q does not name failed items"

pipeline retry ", retries: 2"
"$PIPERUN" "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
is 1 $? "retry then fail exits 1"
is 1 "$(grep -c 'failed on' "$tmp/err")" "the item is reported once, after its retries"

# Retry until the file appears: a retry that succeeds is not a failure.
pipeline retry ", retries: 6"
( sleep 0.3; printf 'Late\n' > "$tmp/late"; mv "$tmp/late" "$tmp/in/missing.txt" ) &
"$PIPERUN" "$tmp/p.yml" > "$tmp/out" 2> "$tmp/err"
rc=$?
wait
is 0 "$rc" "an item that succeeds on a retry does not fail the run"
is "file 1
file 2
late
file 4
file 5" "$(cat "$tmp/out")" "and comes out in its place"

test_done
