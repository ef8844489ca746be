#!/bin/sh
# faults.sh: what is left after things go wrong: a command that hangs, a
# worker that overruns or crashes, SIGINT and SIGTERM mid-run, a full disk,
# two items that would write one file.  Each case checks exactly which
# outputs exist, that they are complete, and that no process is left.
. "${srcdir:-.}/tests/tap/tap.sh"

command -v python3 > /dev/null || skip_all "python3 is not installed"
case $builddir in /*) ;; *) builddir=$(cd "$builddir" && pwd) ;; esac
PROBE=$builddir/tests/plugins/probe.so
marker=piperun-fault-$$
long=3600.$$ # a sleep that can be told apart from any other

# No process of this test may outlive its run.
no_leftovers() {
	sleep 0.2
	! pgrep -f "$marker" > /dev/null && ! pgrep -f "sleep $long" > /dev/null
	ok $? "$1: no process is left behind"
}

# A command that hangs: its item times out, the command and its process
# group are stopped, the other items go through.
seq 1 6 > "$tmp/6"
cat > "$tmp/hang.yml" <<YML
input: {lines: "-"}
stages:
  - name: e
    run: exec
    with: {command: [sh, -c, 'read n; if [ "\$n" = 3 ]; then sleep $long; fi; echo "done \$n"', $marker]}
    timeout: 1s
    on_error: skip
YML
timeout 60 "$PIPERUN" "$tmp/hang.yml" < "$tmp/6" > "$tmp/out" 2> "$tmp/err"
is 1 $? "a hanging command: the run ends, with 1"
is "done 1 done 2 done 4 done 5 done 6" "$(tr '\n' ' ' < "$tmp/out" | sed 's/ $//')" "the other items come out, in order"
grep -q "failed on 'stdin#3': 'sh' timed out; its process group was stopped" "$tmp/err"
ok $? "the hanging item fails with a timeout"
no_leftovers "a hanging command"

# Runs the six items through the test plugin as stage p on two worker
# processes, with the plugin's options WITH and the stage's keys KEYS;
# output in $tmp/out, messages in $tmp/err.
probe_run() { # with, keys
	cat > "$tmp/probe.yml" <<YML
input: {lines: "-"}
stages:
  - {name: p, kind: cpu, workers: 2, plugin: $PROBE, with: {$1}, $2}
YML
	timeout 120 "$PIPERUN" "$tmp/probe.yml" < "$tmp/6" > "$tmp/out" 2> "$tmp/err"
}

# A worker process that overruns its item is killed and replaced.
probe_run "hang_on: 'stdin#2'" "timeout: 1s, on_error: skip"
is 1 $? "a worker that overruns: the run ends, with 1"
is 5 "$(wc -l < "$tmp/out" | tr -d ' ')" "every other item comes out"
grep -q "failed on 'stdin#2': timed out after 1s; its worker process was killed" "$tmp/err"
ok $? "the item fails, naming the timeout"

# Timeouts are kept to within a small slack: the item fails, and its worker
# is killed, soon after the timeout (here 0.5 s; the run takes 0.6 s on an
# idle machine), not only when the hour-long item ends.  The bound leaves
# room for a loaded machine.
now() { python3 -c 'import time; print(time.monotonic())'; }
# took_under START LIMIT: status 0 when less than LIMIT seconds passed since START.
took_under() { awk -v s="$1" -v e="$(now)" -v l="$2" 'BEGIN { exit !(e - s < l) }'; }
start=$(now)
probe_run "hang_on: 'stdin#2'" "timeout: 0.5s, on_error: skip"
is 1 $? "a worker that overruns a 0.5 s timeout: the run ends, with 1"
took_under "$start" 3.5
ok $? "the run ends within 3 s of the timeout"
grep -q "failed on 'stdin#2': timed out after 500ms; its worker process was killed" "$tmp/err"
ok $? "the message states the timeout as configured"

# The timeout is per item: items that each take 0.3 s all pass a 1 s
# timeout, though they reach the worker in one batch and together take
# longer.
cat > "$tmp/batch.yml" <<YML
input: {lines: "-"}
stages:
  - {name: p, kind: cpu, workers: 1, plugin: $PROBE, with: {sleep: 0.3s}, timeout: 1s}
YML
timeout 120 "$PIPERUN" "$tmp/batch.yml" < "$tmp/6" > "$tmp/out" 2> "$tmp/err"
is 0 $? "six items of 0.3 s on one worker, each within a 1 s timeout: the run succeeds"
is 6 "$(wc -l < "$tmp/out" | tr -d ' ')" "every item comes out"

# An item that overruns its timeout on every attempt: each attempt's worker
# is killed at the timeout, and the item fails after 1 + retries attempts.
start=$(now)
probe_run "hang_on: 'stdin#2', log: '$tmp/log-hang'" "timeout: 0.3s, on_error: retry, retries: 2"
is 1 $? "an item that overruns every attempt, under retry: the run ends, with 1"
is 3 "$(grep -c '^stdin#2$' "$tmp/log-hang")" "the item had 1 + retries attempts"
is 2 "$(grep -c "will try 'stdin#2' again (attempt [23] of 3): timed out after 300ms; its worker process was killed" "$tmp/err")" "each retry is announced, naming the timeout"
grep -q "failed on 'stdin#2': timed out after 300ms; its worker process was killed" "$tmp/err"
ok $? "the item fails, naming the timeout"
is 5 "$(wc -l < "$tmp/out" | tr -d ' ')" "every other item comes out"
took_under "$start" 5
ok $? "three attempts of 0.3 s and their backoff end within 5 s"

# An exec command run by a worker process that ignores SIGTERM: the worker
# is killed at the timeout, without waiting out the grace its exec stage
# gives the command after SIGTERM, and takes the command's process group
# with it.  Which of the two ended the item shows in its message, not in
# how long the run took, which a loaded machine stretches.
cat > "$tmp/hangcpu.yml" <<YML
input: {lines: "-"}
stages:
  - name: e
    kind: cpu
    workers: 2
    run: exec
    with: {command: [sh, -c, 'trap "" TERM; read n; if [ "\$n" = 3 ]; then sleep $long; fi; echo "done \$n"', $marker]}
    timeout: 0.5s
    on_error: skip
YML
timeout 60 "$PIPERUN" "$tmp/hangcpu.yml" < "$tmp/6" > "$tmp/out" 2> "$tmp/err"
is 1 $? "a command that ignores SIGTERM in a worker process: the run ends, with 1"
is "piperun: stage 'e' failed on 'stdin#3': timed out after 500ms; its worker process was killed" \
	"$(cat "$tmp/err")" "its worker is killed at the timeout, and the item fails once, saying so"
is "done 1 done 2 done 4 done 5 done 6" "$(tr '\n' ' ' < "$tmp/out" | sed 's/ $//')" "the other items come out, in order"
no_leftovers "a command that ignores SIGTERM in a worker process"

# Worker processes are reaped as they end, not when the run ends: a worker
# that crashed, one killed at its timeout, and those that exited when their
# stage ran out of items are no zombies while a later stage spends 2 s on
# stdin#6, the last item, which it gets once the first stage is done.
cat > "$tmp/reap.yml" <<YML
input: {lines: "-"}
stages:
  - {name: p, kind: cpu, workers: 2, plugin: $PROBE, with: {crash_on: 'stdin#2', hang_on: 'stdin#4'}, timeout: 0.5s, on_error: skip}
  - {name: s, kind: io, workers: 1, plugin: $PROBE, with: {slow_on: 'stdin#6', log: '$tmp/log-reap'}}
YML
timeout 60 "$PIPERUN" "$tmp/reap.yml" < "$tmp/6" > "$tmp/out" 2> "$tmp/err" &
pid=$!
i=0
while ! grep -q '^stdin#6$' "$tmp/log-reap" 2> /dev/null && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
run=$(pgrep -P $pid) # piperun, below timeout(1)
zombies=$(ps -o stat= --ppid "${run:-$pid}" | grep -c '^Z')
[ -n "$run" ] || diag "the run ended before the check for zombies"
wait $pid
is 1 $? "workers that crashed, timed out and finished: the run ends, with 1"
is 0 "$zombies" "no worker process is left a zombie while the run goes on"

# A plugin that crashes takes only its worker process with it.
probe_run "crash_on: 'stdin#4'" "on_error: skip"
is 1 $? "a crashing plugin: the run ends, with 1"
is "stdin#1#0 stdin#2#0 stdin#3#0 stdin#5#0 stdin#6#0" "$(awk '{ print $1 }' "$tmp/out" | tr '\n' ' ' | sed 's/ $//')" "every other item comes out, in order"
if [ -n "$PIPERUN_SANITIZED" ]; then
	# A sanitizer catches the fault itself and makes the worker exit.
	grep -q "failed on 'stdin#4': worker process [0-9]* \(was killed by signal 11\|exited with status\)" "$tmp/err"
else
	grep -q "failed on 'stdin#4': worker process [0-9]* was killed by signal 11 (Segmentation fault)" "$tmp/err"
fi
ok $? "the item fails, naming the signal"

# Under on_error: retry, an item whose worker process dies goes to the
# replacement for another attempt, after the backoff.
mkdir "$tmp/once"
probe_run "crash_on: 'stdin#4', once_dir: '$tmp/once', log: '$tmp/log-once'" "on_error: retry, retries: 2"
is 0 $? "a worker that dies once, under retry: the run succeeds"
is "stdin#1#0 stdin#2#0 stdin#3#0 stdin#4#0 stdin#5#0 stdin#6#0" "$(awk '{ print $1 }' "$tmp/out" | tr '\n' ' ' | sed 's/ $//')" "every item comes out, in order"
is 2 "$(grep -c '^stdin#4$' "$tmp/log-once")" "the item had two attempts"
grep -q "stage 'p' will try 'stdin#4' again (attempt 2 of 3): worker process [0-9]* \(was killed by signal\|exited with status\)" "$tmp/err"
ok $? "the second attempt is announced, with how the worker ended"

# A worker that dies on every attempt: the item fails after 1 + retries.
probe_run "crash_on: 'stdin#4', log: '$tmp/log-always'" "on_error: retry, retries: 2"
is 1 $? "a worker that dies on every attempt: the run ends, with 1"
is 3 "$(grep -c '^stdin#4$' "$tmp/log-always")" "the item had 1 + retries attempts"
grep -q "failed on 'stdin#4': worker process" "$tmp/err"
ok $? "the item fails, with how its last worker ended"
is 2 "$(grep -c "will try 'stdin#4' again" "$tmp/err")" "each retry is announced once"
is 5 "$(wc -l < "$tmp/out" | tr -d ' ')" "every other item comes out"

# An item that overruns its timeout once: its worker is killed, and the
# replacement tries it again.
rm -rf "$tmp/once" && mkdir "$tmp/once"
probe_run "hang_on: 'stdin#2', once_dir: '$tmp/once'" "timeout: 1s, on_error: retry, retries: 1"
is 0 $? "an item that overruns once, under retry: the run succeeds"
is 6 "$(wc -l < "$tmp/out" | tr -d ' ')" "every item comes out"
grep -q "stage 'p' will try 'stdin#2' again (attempt 2 of 2): timed out after 1s; its worker process was killed" "$tmp/err"
ok $? "the second attempt is announced, naming the timeout"

# Attempts that fail by themselves each have the whole timeout: the
# worker is not killed while it retries, though together they take
# longer than the timeout.
probe_run "slow_on: 'stdin#2', fail_on: 'stdin#2', log: '$tmp/log-slow'" "timeout: 3s, on_error: retry, retries: 3"
is 1 $? "slow attempts that fail: the run ends, with 1"
is 4 "$(grep -c '^stdin#2$' "$tmp/log-slow")" "the item had all 1 + retries attempts"
grep -q "failed on 'stdin#2': failed as asked" "$tmp/err"
ok $? "the item fails with its own error, not a timeout"

# Signals mid-run: sent by a small harness, as a terminal or a service
# manager would, to a run writing files.
seq 1 400 > "$tmp/400"
cat > "$tmp/slowwrite.yml" <<YML
input: {lines: "-"}
stages:
  - name: e
    run: exec
    workers: 2
    with: {command: [sh, -c, 'sleep 0.02; cat; echo "body of the item"', $marker]}
  - {name: w, run: write, with: {dir: out, suffix: .txt}}
YML
signal_run() { # label, signals (e.g. "INT" or "INT INT"), extra options
	rm -rf "$tmp/out" "$tmp/stats.json"
	python3 - "$PIPERUN" "$tmp" "$2" $3 > "$tmp/sig" 2>&1 <<'PY'
import signal, subprocess, sys, time
piperun, tmp, sigs, extra = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4:]
with open(tmp + "/400") as stdin:
    # A shell without job control starts background commands with SIGINT
    # ignored, and piperun keeps an ignored SIGINT ignored (see below):
    # the test's piperun takes the signals as a terminal would send them.
    p = subprocess.Popen([piperun, "--stats", tmp + "/stats.json"] + extra + [tmp + "/slowwrite.yml"],
                         stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(1.0)
    for s in sigs:
        p.send_signal(getattr(signal, "SIG" + s))
        time.sleep(0.1)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        print("hung")
        sys.exit()
print(p.returncode)
PY
	rc=$(tail -n 1 "$tmp/sig")
	is "$4" "$rc" "$1: exit status"
	n=$(ls "$tmp/out" 2> /dev/null | grep -c '\.txt$')
	[ "$n" -gt 0 ] && [ "$n" -lt 400 ]
	ok $? "$1: some items were written, not all ($n)"
	bad=0
	for f in "$tmp"/out/*.txt; do
		i=$(basename "$f" .txt)
		i=${i#stdin#}
		[ "$(cat "$f")" = "$i
body of the item" ] || bad=1
	done
	ok $bad "$1: every file written is complete"
	[ -z "$(ls -A "$tmp/out" | grep -v '\.txt$')" ]
	ok $? "$1: no temporary file is left"
	python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["status"] == "interrupted", s["status"]
for t in s["stages"]:
    assert t["in"] == t["ok"] + t["failed"] + t["interrupted"], t
assert s["stages"][1]["ok"] == int(sys.argv[2]), (s["stages"][1], sys.argv[2])
' "$tmp/stats.json" "$n"
	ok $? "$1: --stats is written and every item is accounted for"
	no_leftovers "$1"
}
signal_run "SIGINT" INT "" 130
signal_run "SIGTERM" TERM "" 143
signal_run "two SIGINTs" "INT INT" "--grace 60s" 130
signal_run "SIGINT, grace over" INT "--grace 0.2s" 130

# Runs piperun with its input a pipe that stays open: writes LINES lines
# to it, waits for as many lines of output (or WAIT seconds), sends the
# SIGNALS 0.2 s apart, and prints the exit status and the seconds from the
# first signal to the exit, or "hung" when it did not end within 60 s.
open_pipe_run() { # lines, wait, signals ("" for none), piperun arguments...
	python3 - "$PIPERUN" "$@" <<'PY'
import os, signal, subprocess, sys, time
piperun, lines, wait, sigs, args = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split(), sys.argv[5:]
p = subprocess.Popen([piperun] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.DEVNULL,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
for i in range(lines):
    p.stdin.write(b"line %d\n" % (i + 1))
p.stdin.flush()
os.set_blocking(p.stdout.fileno(), False)
out, t = b"", time.monotonic()
while out.count(b"\n") < lines and time.monotonic() - t < wait:
    try:
        out += os.read(p.stdout.fileno(), 65536) or b""
    except BlockingIOError:
        time.sleep(0.01)
t = time.monotonic()
for s in sigs:
    p.send_signal(getattr(signal, "SIG" + s))
    time.sleep(0.2)
try:
    p.wait(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    print("hung")
    sys.exit()
print(p.returncode, round(time.monotonic() - t))
PY
}

# One signal stops a run that waits for more input from a pipe, parallel
# or not, at once: no item is in flight to wait for.
printf 'input: {lines: "-"}\nstages: [{name: c, run: clean}]\n' > "$tmp/idle.yml"
printf 'input: {blocks: {file: "-", size: 1MiB}}\nstages: [{name: c, run: clean}]\n' > "$tmp/idle-blocks.yml"
for args in "idle.yml" "--sync idle.yml" "idle-blocks.yml" "--grace 0 idle.yml"; do
	set -- $args
	rc=$(cd "$tmp" && open_pipe_run 2 5 TERM "$@")
	is "143 0" "$rc" "a pipe open and quiet ($args): one SIGTERM ends the run"
done

# A failure stops a run that waits for more input from a pipe.
cat > "$tmp/idle-fail.yml" <<'YML'
input: {lines: "-"}
stages:
  - {name: e, run: exec, with: {command: [sh, -c, 'read x; [ "$x" != "line 2" ] && echo "$x"']}}
YML
is "1 0" "$(cd "$tmp" && open_pipe_run 2 5 "" idle-fail.yml | sed 's/ .*/ 0/')" \
	"a pipe open and quiet: a failed item ends the run"
is "1 0" "$(cd "$tmp" && open_pipe_run 2 5 "" --sync idle-fail.yml | sed 's/ .*/ 0/')" \
	"a pipe open and quiet, --sync: a failed item ends the run"

# A stage in piperun's own process that never looks at the cancel flag:
# a second signal ends the run all the same, within seconds.  piperun then
# exits with its threads still running, on purpose: ThreadSanitizer is not
# to call that a leak.
cat > "$tmp/spin.yml" <<YML
input: {lines: "-"}
stages:
  - {name: p, kind: io, plugin: $PROBE, with: {spin: 60s}}
YML
rc=$(cd "$tmp" && TSAN_OPTIONS="${TSAN_OPTIONS-} report_thread_leaks=0" open_pipe_run 1 0.5 "TERM TERM" spin.yml)
case $rc in "143 "[0-9]) r=0 ;; *) r=1; diag "got: $rc" ;; esac
ok $r "an in-process stage busy for a minute: a second SIGTERM ends the run within 10 s"
rc=$(cd "$tmp" && TSAN_OPTIONS="${TSAN_OPTIONS-} report_thread_leaks=0" open_pipe_run 1 0.5 "INT" --grace 0.5s spin.yml)
case $rc in "130 "[0-9]) r=0 ;; *) r=1; diag "got: $rc" ;; esac
ok $r "an in-process stage busy for a minute: SIGINT and the grace period over end the run"
cat > "$tmp/hang-sync.yml" <<YML
input: {lines: "-"}
stages:
  - {name: p, kind: cpu, plugin: $PROBE, with: {hang_on: 'stdin#1'}}
YML
rc=$(cd "$tmp" && TSAN_OPTIONS="${TSAN_OPTIONS-} report_thread_leaks=0" open_pipe_run 1 0.5 "TERM TERM" --sync hang-sync.yml)
case $rc in "143 "[0-9]) r=0 ;; *) r=1; diag "got: $rc" ;; esac
ok $r "--sync, a stage that hangs: a second SIGTERM ends the run within 10 s"

# An interrupted run with a cpu exec stage whose command ignores SIGTERM:
# the worker processes killed at the end of the grace period take the
# commands' process groups with them.
cat > "$tmp/intcpu.yml" <<YML
input: {lines: "-"}
stages:
  - {name: e, kind: cpu, workers: 2, run: exec, with: {command: [sh, -c, 'trap "" TERM; sleep $long', $marker]}}
YML
python3 - "$PIPERUN" "$tmp/intcpu.yml" > "$tmp/sig" 2>&1 <<'PY'
import signal, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "--grace", "0.2s", sys.argv[2]], stdin=subprocess.PIPE,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
p.stdin.write(b"1\n2\n")
p.stdin.close()
time.sleep(1.0)
p.send_signal(signal.SIGINT)
try:
    print(p.wait(timeout=60))
except subprocess.TimeoutExpired:
    p.kill()
    print("hung")
PY
is 130 "$(tail -n 1 "$tmp/sig")" "an interrupted cpu exec stage: exit status"
no_leftovers "an interrupted cpu exec stage whose command ignores SIGTERM"

# A signal ignored when piperun starts stays ignored.
(trap '' INT; exec "$PIPERUN" "$tmp/slowwrite.yml" < "$tmp/6") > /dev/null 2>&1 &
pid=$!
sleep 0.3
kill -INT $pid 2> /dev/null
wait $pid
is 0 $? "an ignored SIGINT stays ignored: the run completes"

# Two items that would write one file: the second fails, the first stays.
mkdir -p "$tmp/col"
printf 'first\n' > "$tmp/col/a.txt"
cat > "$tmp/col/p.yml" <<'YML'
stages:
  - {name: r, run: read}
  - {name: w, run: write, with: {dir: out}}
YML
(cd "$tmp/col" && "$PIPERUN" p.yml a.txt ./a.txt) 2> "$tmp/err"
is 1 $? "two items for one file: exit 1"
grep -q "refusing to write 'a.txt': an earlier item of this run was written there" "$tmp/err"
ok $? "the second is refused, naming the file"
is "first" "$(cat "$tmp/col/out/a.txt")" "the first one's file is intact"

# A full disk: items that do not fit fail; what is written is whole.
if [ "$(id -u)" -eq 0 ] && mkdir "$tmp/small" && mount -t tmpfs -o size=64k tmpfs "$tmp/small" 2> /dev/null; then
	awk 'BEGIN { for (i = 1; i <= 12; i++) { s = ""; for (j = 0; j < 1000; j++) s = s sprintf("%d", i % 10) "xxxxxxxxxxxxxxxxxxx"; print s > ("'"$tmp"'/d" i ".txt") } }'
	cat > "$tmp/full.yml" <<YML
input: {glob: "d*.txt"}
stages:
  - {name: r, run: read}
  - {name: w, run: write, with: {dir: small/out}, on_error: skip}
YML
	"$PIPERUN" "$tmp/full.yml" 2> "$tmp/err"
	is 1 $? "a full disk: exit 1"
	grep -q "No space left on device" "$tmp/err"
	ok $? "the items that do not fit fail with ENOSPC"
	bad=0
	for f in "$tmp"/small/out/*.txt; do
		cmp -s "$f" "$tmp/$(basename "$f")" || bad=1
	done
	ok $bad "every file written is complete"
	[ -z "$(ls -A "$tmp/small/out" | grep -v '\.txt$')" ]
	ok $? "no temporary file is left on the full disk"
	umount "$tmp/small"
else
	ok 0 "# SKIP a full disk: cannot mount a small tmpfs here"
fi

test_done
