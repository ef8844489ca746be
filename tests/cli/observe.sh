#!/bin/sh
# observe.sh: what a run shows of itself: --trace, --timeline, the summary
# and live progress, without touching the data on stdout.
. "${srcdir:-.}/tests/tap/tap.sh"

command -v python3 > /dev/null || skip_all "python3 is not installed"

awk 'BEGIN { for (i = 0; i < 500; i++) printf "Line %d, Some TEXT!\n", i }' > "$tmp/in.txt"
cat > "$tmp/p.yml" <<'YML'
name: observed
input: {blocks: {file: in.txt, size: 512}}
stages:
  - {name: clean, run: clean, workers: 2}
  - {name: grep, run: grep, kind: io, with: {pattern: "1"}}
  - {name: count, run: count}
YML
"$PIPERUN" --sync "$tmp/p.yml" > "$tmp/want"

"$PIPERUN" --trace "$tmp/t.json" --timeline "$tmp/t.svg" --stats "$tmp/s.json" "$tmp/p.yml" > "$tmp/got" 2> "$tmp/err"
is 0 $? "a traced run exits 0"
same_file "$tmp/want" "$tmp/got" "tracing changes nothing on stdout"
[ ! -s "$tmp/err" ]
ok $? "nor on stderr"

python3 - "$tmp/t.json" "$tmp/s.json" > "$tmp/check" 2>&1 <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
s = json.load(open(sys.argv[2]))
ev = t["traceEvents"]
slices = [e for e in ev if e["ph"] == "X"]
counters = [e for e in ev if e["ph"] == "C"]
names = [e for e in ev if e["ph"] == "M"]
ran = sum(st["ok"] + st["failed"] for st in s["stages"])
assert len(slices) == ran, (len(slices), ran)
for st in s["stages"]:
    mine = [e for e in slices if e["name"] == st["name"]]
    assert len(mine) == st["ok"] + st["failed"], st["name"]
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in mine)
    assert len({e["args"]["item"] for e in mine}) == len(mine), "one slice per item"
clean = {(e["pid"], e["tid"]) for e in slices if e["name"] == "clean"}
grep = {(e["pid"], e["tid"]) for e in slices if e["name"] == "grep"}
assert all(p == t for p, t in clean), "clean ran in worker processes: a lane per process"
assert len({p for p, _ in grep}) == 1 and not ({p for p, _ in grep} & {p for p, _ in clean}), \
    "grep ran on threads of piperun, not in the workers"
assert names, "lanes are named"
print("ok")
PY
is ok "$(cat "$tmp/check")" "--trace: one slice per item per stage, on the lane of its worker"

python3 - "$tmp/t.svg" "$tmp/t.json" > "$tmp/check" 2>&1 <<'PY'
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("{http://www.w3.org/2000/svg}title") is not None]
slices = [e for e in json.load(open(sys.argv[2]))["traceEvents"] if e["ph"] == "X"]
assert len(rects) == len(slices), (len(rects), len(slices))
assert not any("http" in (v or "") for r in root.iter() for k, v in r.attrib.items() if k != "xmlns"), "self-contained"
print("ok")
PY
is ok "$(cat "$tmp/check")" "--timeline: a self-contained SVG with a box per slice"

# The trace samples each stage's queue: a slow stage fills up.
cat > "$tmp/slowq.yml" <<'YML'
input: {lines: in.txt}
stages:
  - {name: slow, run: exec, workers: 2, with: {command: [sh, -c, 'sleep 0.01; cat']}}
YML
"$PIPERUN" --trace "$tmp/q.json" "$tmp/slowq.yml" > /dev/null
bound=$("$PIPERUN" --plan "$tmp/slowq.yml" | awk '$1 == "slow" { print $5 }')
python3 - "$tmp/q.json" "$bound" > "$tmp/check" 2>&1 <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
depths = [e["args"]["items"] for e in ev if e["ph"] == "C" and e["name"] == "queue slow"]
assert len(depths) > 5, len(depths)
assert max(depths) > 0 and max(depths) <= int(sys.argv[2]), (max(depths), sys.argv[2])
print("ok")
PY
is ok "$(cat "$tmp/check")" "--trace: queue depth counters, within the stage's bound"

"$PIPERUN" -v "$tmp/p.yml" > /dev/null 2> "$tmp/err"
grep -q "^piperun:   bottleneck: " "$tmp/err"
ok $? "-v: the summary names the bottleneck stage"
is 3 "$(grep -cE '^piperun:   (clean|grep|count) ' "$tmp/err")" "-v: a line per stage"
grep -q "bytes in" "$tmp/err"
ok $? "-v: bytes, busy and waiting time are shown"

# Live progress, forced on a non-terminal: drawn on stderr and erased.
cat > "$tmp/slow.yml" <<'YML'
input: {lines: in.txt}
stages:
  - {name: slow, run: exec, workers: 4, with: {command: [sh, -c, 'sleep 0.01; cat']}}
YML
"$PIPERUN" --progress "$tmp/slow.yml" > "$tmp/got" 2> "$tmp/err"
is 0 $? "--progress: exit 0"
same_file "$tmp/in.txt" "$tmp/got" "--progress: stdout is untouched"
grep -q "slow .*io.*x4.*/s.*queue.*busy" "$tmp/err"
ok $? "--progress: a line per stage with tag, workers, rate, queue and busy share"
grep -q "elapsed" "$tmp/err"
ok $? "--progress: the elapsed time"
tail -c 20 "$tmp/err" | od -c | grep -q '033'
ok $? "--progress: the display is erased at the end"
"$PIPERUN" --progress --no-progress "$tmp/slow.yml" > /dev/null 2> "$tmp/err"
[ ! -s "$tmp/err" ]
ok $? "--no-progress wins"
"$PIPERUN" -q --progress "$tmp/slow.yml" > /dev/null 2> "$tmp/err"
[ ! -s "$tmp/err" ]
ok $? "-q: no progress"

"$PIPERUN" --trace "$tmp/no/such/t.json" "$tmp/p.yml" 2> "$tmp/err"
is 2 $? "an unwritable --trace file is refused before the run"

test_done
