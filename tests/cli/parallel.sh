#!/bin/sh
# parallel.sh: the executors' properties, not only their output: io waits
# overlap, cpu items run in worker processes, OpenMP uses several threads,
# order holds under random delays and fan-out, a killed worker is replaced,
# and memory stays bounded.
. "${srcdir:-.}/tests/tap/tap.sh"

PROBE=$(cd "$builddir" && pwd)/tests/plugins/probe.so
[ -f "$PROBE" ] || { echo "Bail out! $PROBE is not built"; exit 255; }

# stage KIND OPTIONS [EXTRA]: a pipeline reading lines from stdin through the probe.
stage() {
	cat > "$tmp/p.yml" <<YML
input: {lines: "-"}
$4
stages:
  - name: probe
    kind: $1
    plugin: $PROBE
    with: {$2}
    $3
YML
}
# Field F (1 name, 2 pid, 3 ppid, 4 tid, 5 start, 6 end) of every line.
field() { awk -v f="$1" '{ print $f }' "$tmp/out"; }
distinct() { field "$1" | sort -u | wc -l | tr -d ' '; }

seq 1 8 > "$tmp/8"

# io: eight items that each wait 0.5 s are all waiting at once.
stage io "sleep: 0.5s" "workers: 8"
"$PIPERUN" "$tmp/p.yml" < "$tmp/8" > "$tmp/out"
is 0 $? "io run exits 0"
is 8 "$(wc -l < "$tmp/out" | tr -d ' ')" "io: eight results"
awk 'NR == 1 || $5 > ms { ms = $5 } NR == 1 || $6 < me { me = $6 } END { exit !(ms < me) }' "$tmp/out"
ok $? "io: every wait overlaps every other (the last start comes before the first end)"
is 1 "$(distinct 2)" "io: the threads run inside the piperun process"
is 8 "$(distinct 4)" "io: on eight threads"

# io items that compute rather than wait: no more run at once than there
# are CPUs, though the stage has eight threads.  (A machine with eight CPUs
# or more would run them all: nothing to check there.)
cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)
if [ "$cpus" -lt 8 ]; then
	seq 1 12 > "$tmp/12"
	stage io "spin: 40ms" "workers: 8"
	"$PIPERUN" "$tmp/p.yml" < "$tmp/12" > "$tmp/out"
	is 0 $? "io, computing: run exits 0"
	is 12 "$(wc -l < "$tmp/out" | tr -d ' ')" "io, computing: twelve results"
	# The most items running at one moment, from their starts and ends.
	most=$(awk '{ print $5, 1; print $6, -1 }' "$tmp/out" | sort -k1,1n -k2,2n |
		awk '{ n += $2; if (n > m) m = n } END { print m }')
	[ "$most" -le "$cpus" ]
	ok $? "io, computing: at most $cpus at once on $cpus CPUs (saw $most)"
else
	ok 0 "# SKIP io, computing: this machine has $cpus CPUs, as many as the threads"
fi

# Such items start in input order, though eight threads wait for a CPU's
# turn: here each gives a 3 MiB result, more than the stage may hold, for
# a slow next stage, so workers keep waiting for room.  (The log has each
# item's name as it starts.)  A worker that took its item before its turn
# would start it behind later ones: about half the items start after a
# later one then (18 to 25 of the 40, measured with that fault put back).
# Taken in turn, an item starts after a later one only when its thread is
# held up between taking it and starting it, which a busy machine does
# now and then (at most 4 of the 40 in 80 runs beside other work).
# Under sanitizers the items wait on their allocator's locks, so they are
# seen to wait, and items that wait all run at once, in no order.
if [ -n "$PIPERUN_SANITIZED" ]; then
	ok 0 "# SKIP io, computing, in order: sanitizer builds make items wait"
elif [ "$cpus" -lt 8 ]; then
	seq 1 40 > "$tmp/40"
	cat > "$tmp/order.yml" <<YML
input: {lines: "-"}
stages:
  - {name: first, kind: io, workers: 8, plugin: $PROBE,
     with: {spin: 2ms, bulk: 3MiB, log: "$tmp/started"}}
  - {name: second, kind: io, workers: 1, plugin: $PROBE, with: {sleep: 10ms}}
YML
	"$PIPERUN" "$tmp/order.yml" < "$tmp/40" > "$tmp/out"
	is 0 $? "io, computing, large results: run exits 0"
	awk '{ split($1, a, "#"); n = a[2] + 0; if (n > m) m = n; else behind++
		if (m - n > late) late = m - n } END { print behind + 0, late + 0 }' "$tmp/started" > "$tmp/late"
	read -r behind late < "$tmp/late"
	[ "$(wc -l < "$tmp/started")" -eq 40 ] && [ "$behind" -le 10 ]
	ok $? "io, computing, large results: items start in order ($behind of 40 started after a later one, none more than $late behind)"
else
	ok 0 "# SKIP io, computing, in order: this machine has $cpus CPUs, as many as the threads"
fi

# io items that take well under a microsecond of CPU run in the thread that
# hands them over, with no handoff to a worker: in the trace, many of 5000
# lines cleaned on an io stage ran on piperun's main thread (pid = tid).
# The lines come in 50 bursts of 100, so that the stage's threads have
# finished with one burst before the next comes, however loaded the
# machine.  (Sanitizers make each item many times slower.)
seq 1 5000 | sed 's/^/Word /' > "$tmp/5000"
cat > "$tmp/quick.yml" <<YML
input: {lines: "-"}
stages:
  - {name: c, kind: io, run: clean}
YML
for i in $(seq 0 49); do
	sed -n "$((i * 100 + 1)),$((i * 100 + 100))p" "$tmp/5000"
	sleep 0.05
done | "$PIPERUN" --trace "$tmp/quick.json" "$tmp/quick.yml" > "$tmp/out"
is 0 $? "io, quick items: run exits 0"
is 5000 "$(grep -c '^word [0-9]*$' "$tmp/out")" "io, quick items: 5000 results, cleaned"
if [ -n "$PIPERUN_SANITIZED" ]; then
	ok 0 "# SKIP io, quick items: sanitizer builds make items slow"
else
	here=$(grep '"ph": "X"' "$tmp/quick.json" |
		sed 's/.*"pid": *\([0-9]*\), *"tid": *\([0-9]*\).*/\1 \2/' |
		awk '$1 == $2 { n++ } END { print n + 0 }')
	[ "$here" -ge 1000 ]
	ok $? "io, quick items: many ran in the thread that reads the input ($here of 5000)"
fi

# piperun's threads are named after the stage they work for (its first 15
# bytes), as ps -L and top -H show them: an io stage's, a sync stage's, and
# an OpenMP team's.
omp=
"$PIPERUN" --check /dev/stdin x 2> /dev/null <<YML && omp=1
stages:
  - {name: c, run: clean, executor: openmp}
YML
cat > "$tmp/names.yml" <<YML
input: {lines: "-"}
stages:
  - {name: a-rather-long-stage-name, kind: io, workers: 3, plugin: $PROBE,
     with: {sleep: 10ms, thread_log: "$tmp/names"}}
  - {name: team, kind: cpu, workers: 2, plugin: $PROBE,
     $([ -n "$omp" ] && echo 'executor: openmp, with: {spin: 1ms, thread_log: "'"$tmp/names"'"}')}
  - {name: last, kind: sync, plugin: $PROBE, with: {thread_log: "$tmp/names"}}
YML
seq 1 20 | "$PIPERUN" "$tmp/names.yml" > "$tmp/out"
is 0 $? "thread names: run exits 0"
awk '{ print $2 }' "$tmp/names" | sort | uniq -c | awk '{ print $2, $1 }' > "$tmp/got"
printf 'a-rather-long-s 20\nlast 20\n%s' "${omp:+team 20
}" > "$tmp/want"
same_file "$tmp/want" "$tmp/got" "thread names: each stage's items ran in threads named after it"

# cpu, default executor: worker processes, not the piperun process.
stage cpu "sleep: 0.3s" "workers: 2"
"$PIPERUN" "$tmp/p.yml" < "$tmp/8" > "$tmp/out"
is 0 $? "cpu run exits 0"
is 8 "$(wc -l < "$tmp/out" | tr -d ' ')" "cpu: eight results"
is 2 "$(distinct 2)" "cpu: items ran in two distinct processes"
is 1 "$(distinct 3)" "cpu: both are children of one process"
[ "$(field 3 | sort -u)" != "$(field 2 | sort -u | head -n 1)" ]
ok $? "cpu: which is not a worker itself (piperun)"
awk 'NR == 1 { p = $3 } $2 == p { bad = 1 } END { exit bad }' "$tmp/out"
ok $? "cpu: no item ran in the piperun process"
"$PIPERUN" -j 3 "$tmp/p.yml" < "$tmp/8" > "$tmp/out"
is 3 "$(distinct 2)" "cpu: -j 3 gives three worker processes"

# cpu on OpenMP: one process, several threads.
stage cpu "sleep: 0.2s" "executor: openmp
    workers: 2"
if "$PIPERUN" --check "$tmp/p.yml" 2> "$tmp/err"; then
	"$PIPERUN" "$tmp/p.yml" < "$tmp/8" > "$tmp/out"
	is 0 $? "openmp run exits 0"
	is 1 "$(distinct 2)" "openmp: inside one process"
	[ "$(distinct 4)" -ge 2 ]
	ok $? "openmp: on several threads ($(distinct 4))"
else
	grep -q 'built without OpenMP' "$tmp/err"
	ok $? "a build without OpenMP refuses the openmp executor clearly"
fi

# Order holds under random per-item delays, with 0, 1 or 2 items per input.
seq 1 300 > "$tmp/300"
for kind in io cpu; do
	stage $kind "jitter: 20ms, fanout: true" "workers: 4"
	"$PIPERUN" "$tmp/p.yml" < "$tmp/300" > "$tmp/out"
	is 0 $? "$kind with jitter and fan-out exits 0"
	"$PIPERUN" --sync "$tmp/p.yml" < "$tmp/300" > "$tmp/ref"
	field 1 > "$tmp/names"
	awk '{ print $1 }' "$tmp/ref" > "$tmp/refnames"
	same_file "$tmp/refnames" "$tmp/names" "$kind: same items in the same order as --sync"
	[ "$(wc -l < "$tmp/names")" -gt 250 ] && grep -q '^stdin#17#1$' "$tmp/names"
	ok $? "$kind: fan-out gave several items for some inputs"
done

# order: any lets items leave as they finish: the same items, in any order.
stage cpu "jitter: 20ms" "workers: 4" "order: any"
"$PIPERUN" "$tmp/p.yml" < "$tmp/300" > "$tmp/out"
is 0 $? "order: any exits 0"
field 1 | sort > "$tmp/names"
awk '{ print "stdin#" $1 "#0" }' "$tmp/300" | sort > "$tmp/want"
same_file "$tmp/want" "$tmp/names" "order: any: every item once"

# A worker killed mid-item is replaced; its item fails, the rest come out.
seq 1 20 > "$tmp/20"
stage cpu "die_on: 'stdin#5'" "workers: 2
    on_error: skip"
"$PIPERUN" "$tmp/p.yml" < "$tmp/20" > "$tmp/out" 2> "$tmp/err"
is 1 $? "a killed worker: the run ends with 1"
is 19 "$(wc -l < "$tmp/out" | tr -d ' ')" "every other item still comes out"
grep -q "^piperun: stage 'probe' failed on 'stdin#5': worker process [0-9]* was killed by signal 9 (Killed)$" "$tmp/err"
ok $? "the failed item's message names the signal"
grep -q '^stdin#6#0 ' "$tmp/out" && grep -q '^stdin#20#0 ' "$tmp/out"
ok $? "items after the killed one come out"

# With one worker the replacement is plain to see: items after the killed
# one ran in a process other than the one killed.  (With two workers the
# survivor may take every item left, so the pids prove nothing there.  The
# items 1-4 may run again in the new process, if their results had not yet
# been sent.)
stage cpu "die_on: 'stdin#5'" "workers: 1
    on_error: skip"
"$PIPERUN" "$tmp/p.yml" < "$tmp/20" > "$tmp/out" 2> "$tmp/err"
is 1 $? "one worker, killed: the run ends with 1"
killed=$(sed -n "s/^piperun: stage 'probe' failed on 'stdin#5': worker process \([0-9]*\) .*/\1/p" "$tmp/err")
after=$(awk '{ split($1, n, "#") } n[2] > 5 { print $2 }' "$tmp/out" | sort -u)
[ -n "$killed" ] && [ "$(echo "$after" | wc -l)" -eq 1 ] && [ -n "$after" ] &&
	[ "$after" != "$killed" ]
ok $? "the worker was replaced (pid $killed killed, $after ran items 6-20)"

# Worker processes close their stage once its last item is done, not when
# the whole run ends: here they close while the next stage still spends
# 2 s on stdin#8.
cat > "$tmp/close.yml" <<YML
input: {lines: "-"}
stages:
  - {name: first, kind: cpu, workers: 2, plugin: $PROBE, with: {close_log: "$tmp/closed"}}
  - {name: second, kind: io, workers: 1, plugin: $PROBE, with: {slow_on: "stdin#8"}}
YML
# closes_early YML CASE TOO: runs YML on 8 lines (its test names end in
# CASE and TOO); its worker processes close their stage (as $tmp/closed
# records) over 1 s before stdin#8 ends in the next stage.
closes_early() {
	rm -f "$tmp/closed"
	"$PIPERUN" "$1" < "$tmp/8" > "$tmp/out"
	is 0 $? "a cpu stage before a slow one$2: run exits 0"
	end=$(awk '$1 == "stdin#8#0" { print $6 }' "$tmp/out")
	[ -n "$end" ] && [ "$(wc -l < "$tmp/closed")" -ge 3 ] &&
		awk -v end="$end" '$2 > end - 1 { bad = 1 } END { exit bad }' "$tmp/closed"
	ok $? "its workers closed the stage over 1 s before the slow item ended$3"
}
closes_early "$tmp/close.yml" "" ""
# The same when the next stage's other items compute: its one thread has
# no gate to tell the item that sleeps from the others, so the threads
# that feed the workers never run its items (they would wait there).
# (The first stage's items take 5 ms each, so that the next stage's
# first items are timed before stdin#8 comes.)
sed 's/slow_on:/spin: 1ms, slow_on:/; s/{close_log:/{spin: 5ms, close_log:/' "$tmp/close.yml" > "$tmp/close-spin.yml"
closes_early "$tmp/close-spin.yml" " whose other items compute" " too"

# A worker sends results a batch at a time, but an item that runs long does
# not hold back those finished before it: stdin#1's result reaches the next
# stage while stdin#2 still runs (for 2 s).
cat > "$tmp/slow.yml" <<YML
input: {lines: "-"}
stages:
  - {name: first, kind: cpu, workers: 1, plugin: $PROBE, with: {slow_on: "stdin#2"}}
  - {name: second, kind: io, workers: 1, plugin: $PROBE}
YML
python3 - "$PIPERUN" "$tmp/slow.yml" > "$tmp/slow" <<'PY'
import subprocess, sys, time
p = subprocess.run(sys.argv[1:], input=b"1\n2\n3\n", stdout=subprocess.PIPE)
end = time.monotonic()
first = p.stdout.decode().splitlines()[0].split()
print(p.returncode, first[0], "%.3f" % (end - float(first[4])))
PY
read -r rc name ahead < "$tmp/slow"
is 0 "$rc" "a long item among short ones: exit 0"
is "stdin#1#0" "$name" "the first result is stdin#1's"
awk -v a="$ahead" 'BEGIN { exit !(a >= 1.0) }'
ok $? "it reached the next stage while stdin#2 ran (${ahead}s before the end)"

# Items larger than half a stage's byte bound: each worker gets the next one
# as soon as it is free, instead of the stage running dry first.  Ten 4 MiB
# files through two workers run in pairs: apart from the first and the last
# (a worker may start late, or have nothing left), at most one item runs
# alone.
mkdir "$tmp/big"
for i in 0 1 2 3 4 5 6 7 8 9; do
	head -c 4194304 /dev/zero > "$tmp/big/f$i"
done
cat > "$tmp/big.yml" <<YML
input: {glob: "$tmp/big/f*"}
stages:
  - {name: read, kind: io, run: read}
  - {name: probe, kind: cpu, workers: 2, plugin: $PROBE, with: {sleep: 0.5s}}
YML
"$PIPERUN" "$tmp/big.yml" > "$tmp/out"
is 0 $? "large items: run exits 0"
is 10 "$(wc -l < "$tmp/out" | tr -d ' ')" "large items: ten results"
alone=$(sort -k5,5n "$tmp/out" | awk '{ s[NR] = $5; e[NR] = $6 }
	END { for (i = 2; i < NR; i++) { o = 0
		for (j = 1; j <= NR; j++) if (j != i && s[j] < e[i] && s[i] < e[j]) o = 1
		n += !o }
	print n + 0 }')
[ "$alone" -le 1 ]
ok $? "large items: both workers stay busy ($alone of the 8 middle items ran alone)"

# Large items travel in shared memory slots; a worker killed with one in
# hand is replaced, and the items queued behind it come out.
cat > "$tmp/big-die.yml" <<YML
input: {glob: "$tmp/big/f*"}
stages:
  - {name: read, kind: io, run: read}
  - {name: probe, kind: cpu, workers: 2, plugin: $PROBE, with: {die_on: f4}}
YML
"$PIPERUN" "$tmp/big-die.yml" > "$tmp/out" 2> "$tmp/err"
is 1 $? "large items, a killed worker: the run ends with 1"
is 9 "$(wc -l < "$tmp/out" | tr -d ' ')" "large items, a killed worker: the nine others come out"
grep -q "failed on 'f4': worker process [0-9]* was killed by signal 9" "$tmp/err"
ok $? "large items, a killed worker: the message names its item"

# Large results made in a worker process live in its blocks.  A worker
# whose input has ended exits while piperun may still hold results of its,
# here behind a slower next stage: their pages must outlast it.  (They did
# not: the worker let go of the blocks piperun had not given back, and
# emptied them past its 64 MiB of free blocks; piperun then died of SIGBUS
# reading them, every time with these twelve results of 24 MiB.)
seq 1 12 > "$tmp/12"
cat > "$tmp/outlast.yml" <<YML
input: {lines: "-"}
stages:
  - {name: big, kind: cpu, workers: 2, plugin: $PROBE, with: {bulk: 24MiB}}
  - {name: count, run: count}
YML
"$PIPERUN" "$tmp/outlast.yml" < "$tmp/12" > "$tmp/out" 2> "$tmp/err"
is 0 $? "results still held when their worker exits: run exits 0"
is 12 "$(grep -c '^1 6 25165824 stdin#[0-9]*$' "$tmp/out")" \
	"results still held when their worker exits: all twelve are read, in full"

# Results of mixed sizes leave in order, whether whoever brings them
# writes them out (small ones) or the writer thread does (large ones):
# lines of a few bytes between lines of 60 KiB to 300 KiB.
python3 -c '
import sys
out = sys.stdout.buffer
for i in range(400):
    out.write(b"Short %d\n" % i if i % 3 else b"Long %d " % i + b"Ab, " * (15000 + 5000 * (i % 13)) + b"\n")
' > "$tmp/mixed"
for kind in io cpu; do
	cat > "$tmp/mixed.yml" <<YML
input: {lines: "-"}
stages:
  - {name: clean, kind: $kind, workers: 2, run: clean}
YML
	"$PIPERUN" "$tmp/mixed.yml" < "$tmp/mixed" > "$tmp/out"
	is 0 $? "$kind: results of mixed sizes: run exits 0"
	"$PIPERUN" --sync "$tmp/mixed.yml" < "$tmp/mixed" > "$tmp/ref"
	same_file "$tmp/ref" "$tmp/out" "$kind: results of mixed sizes come out as under --sync"
done
[ "$(wc -c < "$tmp/ref")" -gt $((10 << 20)) ] && [ "$(grep -c '^short' "$tmp/ref")" -eq 266 ]
ok $? "the mixed results hold both sizes ($(wc -c < "$tmp/ref") bytes)"

# peak_mib CMD [ARG...]: runs CMD (stdin from $tmp/feed when it exists) and
# prints its exit status and the peak memory of its whole process tree in
# MiB, sampled every 20 ms.
cat > "$tmp/peak.py" <<'PY'
import os, subprocess, sys, time

def tree_rss(root):
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(p))
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += kids.get(pid, [])
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total

proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
peak = 0
while proc.poll() is None:
    peak = max(peak, tree_rss(proc.pid))
    time.sleep(0.02)
print(proc.returncode, peak // 1024)
PY
peak_mib() { python3 "$tmp/peak.py" "$@"; }

# lines_of BYTES: writes at least BYTES of lines that clean changes.
lines_of() {
	python3 -c '
import sys
line = b"The Quick brown fox, 12 jumps over the LAZY dog!!\n" * 20000
out = sys.stdout.buffer
sent = 0
while sent < int(sys.argv[1]):
    out.write(line)
    sent += len(line)
' "$1"
}

# Memory does not grow with the input: 1 GiB of blocks, peak of the whole
# process tree.
if [ -n "$PIPERUN_SANITIZED" ]; then
	ok 0 "# SKIP memory bounds: sanitizer builds use shadow memory"
else
	cat > "$tmp/mem.yml" <<'YML'
input: {blocks: "-"}
stages:
  - {name: clean, run: clean}
YML
	lines_of $((1 << 30)) | peak_mib "$PIPERUN" "$tmp/mem.yml" > "$tmp/mem" 2>&1
	read -r rc peak < "$tmp/mem"
	is 0 "$rc" "1 GiB of blocks through clean exits 0"
	[ "$peak" -lt 100 ]
	ok $? "peak memory of the process tree stays under 100 MiB (${peak} MiB)"

	# Output written slower than it is made waits in the stage, not in
	# memory: 256 MiB of blocks through clean into a reader that takes
	# 64 KiB every 2 ms.  The sum of VmRSS counts the shared memory of
	# large items in each process that maps it: about 100 MiB here, where
	# output that piled up would hold several hundred.
	cat > "$tmp/slow-reader.py" <<'PY'
import hashlib, sys, time
h = hashlib.sha256()
while True:
    b = sys.stdin.buffer.read(65536)
    if not b:
        break
    h.update(b)
    time.sleep(0.002)
print(h.hexdigest())
PY
	lines_of $((1 << 28)) > "$tmp/feed"
	peak_mib sh -c '"$1" "$2" < "$3" | python3 "$4" > "$5"' sh "$PIPERUN" "$tmp/mem.yml" \
		"$tmp/feed" "$tmp/slow-reader.py" "$tmp/slow-sum" > "$tmp/mem" 2>&1
	read -r rc peak < "$tmp/mem"
	is 0 "$rc" "256 MiB of blocks into a slow reader exits 0"
	"$PIPERUN" "$tmp/mem.yml" < "$tmp/feed" | sha256sum | cut -d' ' -f1 > "$tmp/fast-sum"
	is "$(cat "$tmp/slow-sum")" "$(cat "$tmp/fast-sum")" "a slow reader gets the same output, all of it"
	[ "$peak" -lt 200 ]
	ok $? "output waits for a slow reader in bounded memory: peak under 200 MiB (${peak} MiB)"
	rm -f "$tmp/feed"

	# An io stage whose items grow (read) does not read far ahead of a
	# slow next stage: 60 files of 4 MiB (240 MiB) through a probe that
	# takes 20 ms an item.
	mkdir "$tmp/many"
	for i in $(seq 10 69); do
		head -c 4194304 /dev/zero > "$tmp/many/f$i"
	done
	cat > "$tmp/ahead.yml" <<YML
input: {glob: "$tmp/many/f*"}
stages:
  - {name: read, kind: io, workers: 4, run: read}
  - {name: probe, kind: cpu, workers: 1, plugin: $PROBE, with: {sleep: 20ms}}
YML
	peak_mib "$PIPERUN" "$tmp/ahead.yml" < /dev/null > "$tmp/mem" 2>&1
	read -r rc peak < "$tmp/mem"
	is 0 "$rc" "60 files of 4 MiB read ahead of a slow stage exit 0"
	[ "$peak" -lt 100 ]
	ok $? "reading stays a bounded way ahead: peak under 100 MiB (${peak} MiB of 240 read)"
	# The same when results may leave in any order.
	{ echo "order: any"; cat "$tmp/ahead.yml"; } > "$tmp/ahead-any.yml"
	peak_mib "$PIPERUN" "$tmp/ahead-any.yml" < /dev/null > "$tmp/mem" 2>&1
	read -r rc peak < "$tmp/mem"
	is 0 "$rc" "order: any, 60 files of 4 MiB read ahead of a slow stage exit 0"
	[ "$peak" -lt 100 ]
	ok $? "order: any, reading stays a bounded way ahead: peak under 100 MiB (${peak} MiB of 240 read)"

	# Small items whose results are large, on worker processes: 600 gzip
	# files of 6 KiB that each inflate to 2 MB.  Each result takes a block
	# of its worker's, which comes back only with a frame sent after the
	# item's batch: in batches of many small items, a worker made a block
	# for each result and held them all (240-270 MiB here, 140-190 MiB with
	# 300 files).  Such items now go one at a time (40-80 MiB).
	mkdir "$tmp/gz"
	python3 -c '
import gzip, sys
z = gzip.compress(b"The Quick brown fox, 12 jumps over the LAZY dog!!\n" * 40000, 6)
for i in range(600):
    open("%s/f%03d.gz" % (sys.argv[1], i), "wb").write(z)
' "$tmp/gz"
	cat > "$tmp/inflate.yml" <<YML
input: {glob: "$tmp/gz/f*.gz"}
stages:
  - {name: read, kind: io, run: read}
  - {name: gunzip, kind: cpu, run: gzip, with: {decompress: true}}
YML
	peak_mib "$PIPERUN" "$tmp/inflate.yml" < /dev/null > "$tmp/mem" 2>&1
	read -r rc peak < "$tmp/mem"
	is 0 "$rc" "600 small items inflated on worker processes exit 0"
	[ "$peak" -lt 150 ]
	ok $? "small items with large results stay in bounded memory: peak under 150 MiB (${peak} MiB)"
	"$PIPERUN" "$tmp/inflate.yml" | wc -c | tr -d ' ' > "$tmp/inflated"
	is 1200000000 "$(cat "$tmp/inflated")" "and every result comes out whole"
fi

# An io stage whose items compute, before or after a cpu stage: the
# threads that feed the worker processes run some of the io items
# themselves, before it when their worker is about to run dry, after it
# as they pass their worker's results on, and the io stage's own threads
# leave those items to them.  The probe's thread log names the thread of
# each attempt: the feeders bear the cpu stage's name, crunch.
#
# feeders_run WHERE NAME: runs $tmp/NAME.yml on 80 lines, whose io probe
# (spin: 2ms, thread_log: $tmp/NAME.log) comes WHERE the cpu probe: the
# items come out in input order, some ran in the feeders, each once; a
# failure among them stops the output where --sync stops it, with every
# stage's counts adding up; and io items that wait (sleep: 5ms) never run
# in the feeders, which would leave their workers without work.
feeders_run() {
	where=$1
	name=$2
	: > "$tmp/$name.log"
	"$PIPERUN" "$tmp/$name.yml" < "$tmp/80" > "$tmp/out"
	is 0 $? "io items that compute $where a cpu stage: exit 0"
	field 1 | sed 's/^stdin#//; s/#0$//' > "$tmp/names"
	seq 1 80 | cmp -s - "$tmp/names"
	ok $? "$where: every item comes out, in input order"
	helped=$(awk '$2 == "crunch"' "$tmp/$name.log" | wc -l | tr -d ' ')
	[ "$helped" -gt 0 ]
	ok $? "$where: the cpu stage's feeders ran some of the io items ($helped of 80)"
	is 80 "$(wc -l < "$tmp/$name.log" | tr -d ' ')" "$where: each io item ran once"

	sed 's/thread_log:/fail_on: "stdin#40", thread_log:/' "$tmp/$name.yml" > "$tmp/$name-fail.yml"
	"$PIPERUN" -q --stats "$tmp/$name.json" "$tmp/$name-fail.yml" < "$tmp/80" > "$tmp/out"
	is 1 $? "$where: a failed io item there: exit 1"
	awk '{ print $1 }' "$tmp/out" > "$tmp/got"
	"$PIPERUN" -q --sync "$tmp/$name-fail.yml" < "$tmp/80" | awk '{ print $1 }' > "$tmp/want"
	cmp -s "$tmp/want" "$tmp/got"
	ok $? "$where: the output ends where --sync's does ($(wc -l < "$tmp/got" | tr -d ' ') items)"
	python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
sys.exit(any(st["in"] != st["ok"] + st["failed"] + st["interrupted"] for st in s["stages"]))
' "$tmp/$name.json"
	ok $? "$where: every stage accounts for each item it took in"

	sed 's/spin: 2ms/sleep: 5ms/' "$tmp/$name.yml" > "$tmp/$name-wait.yml"
	: > "$tmp/$name.log"
	"$PIPERUN" "$tmp/$name-wait.yml" < "$tmp/80" > "$tmp/out"
	is 0 $? "io items that wait $where a cpu stage: exit 0"
	is 0 "$(awk '$2 == "crunch"' "$tmp/$name.log" | wc -l | tr -d ' ')" \
		"$where: none of them ran in the cpu stage's feeders"
}

seq 1 80 > "$tmp/80"
cat > "$tmp/help.yml" <<YML
input: {lines: "-"}
stages:
  - {name: src, kind: io, workers: $((cpus + 2)), plugin: $PROBE,
     with: {spin: 2ms, thread_log: "$tmp/help.log"}}
  - {name: crunch, kind: cpu, workers: 2, plugin: $PROBE, with: {spin: 4ms}}
YML
feeders_run before help

cat > "$tmp/after.yml" <<YML
input: {lines: "-"}
stages:
  - {name: crunch, kind: cpu, workers: 2, plugin: $PROBE, with: {spin: 4ms}}
  - {name: sink, kind: io, workers: $((cpus + 2)), plugin: $PROBE,
     with: {spin: 2ms, thread_log: "$tmp/after.log"}}
YML
feeders_run after after

test_done
