#!/usr/bin/env python3
"""bench.py: the driver of piperun's benchmark harness.  Run it through
bench/run, which installs the tools and builds piperun first; see
bench/README.md.

It builds the peers into the work folder, generates the workloads there
(deterministically), runs piperun and every peer on each workload in rounds
(one warm-up round, then the measured rounds, the order of the peers rotated
every round), checks every run's output against the single-threaded C
reference, and writes the results table (docs/benchmarks.md by default).
Only the standard library is used.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MiB = 1 << 20
GiB = 1 << 30


def die(msg):
    sys.stderr.write("bench: error: %s\n" % msg)
    sys.exit(1)


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


def sh(cmd, **kw):
    """Runs CMD (a list), returns its stdout as text; dies with its stderr."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    if p.returncode != 0:
        die("%s failed (exit %d):\n%s" % (" ".join(map(shlex.quote, cmd)), p.returncode,
                                          p.stderr.decode(errors="replace")))
    return p.stdout.decode(errors="replace")


def try_out(cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return p.stdout.decode(errors="replace").strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


# ---------------------------------------------------------------- settings

class Settings:
    def __init__(self, quick):
        self.quick = quick
        if quick:
            self.runs = 2
            self.w1_files, self.w1_size = 16, 4 * MiB
            self.w2_lines, self.w2_small = 20000, 500
            self.w3_files, self.w3_size = 8, 8 * MiB
            self.w4_size, self.w4_times = 128 * MiB, 4
            self.w5_items = 200
        else:
            self.runs = 5
            self.w1_files, self.w1_size = 64, 4 * MiB
            self.w2_lines, self.w2_small = 200000, 2000
            self.w3_files, self.w3_size = 32, 8 * MiB
            self.w4_size, self.w4_times = 1 * GiB, 4
            self.w5_items = 1000
        self.warmup = 1


def human_size(n):
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return "%d %s" % (n // size, unit)
    return "%d bytes" % n


# ---------------------------------------------------------------- build

def build(work, cc, cxx):
    """Builds the C reference, the generator, treetime and the oneTBB peer
    into WORK/bin; returns the set of what could be built."""
    src = os.path.join(HERE, "src")
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir, exist_ok=True)
    flags = ["-O2", "-Wall", "-Wextra"]
    jobs = [
        ("ref", [cc] + flags + ["-o", "ref", os.path.join(src, "ref.c"), "-lz"], ["ref.c", "common.h"]),
        ("gen", [cc] + flags + ["-o", "gen", os.path.join(src, "gen.c")], ["gen.c"]),
        ("treetime", [cc] + flags + ["-o", "treetime", os.path.join(src, "treetime.c")], ["treetime.c"]),
        ("layouts", [cc] + flags + ["-pthread", "-o", "layouts", os.path.join(src, "layouts.c"), "-lz"],
         ["layouts.c", "common.h"]),
        ("tbb_peer", [cxx, "-std=c++17"] + flags + ["-o", "tbb_peer", os.path.join(src, "tbb_peer.cpp"),
                                                   "-ltbb", "-lz"], ["tbb_peer.cpp", "common.h"]),
    ]
    built = {}
    for name, cmd, deps in jobs:
        out = os.path.join(bindir, name)
        stamp = out + ".cmd"
        newest = max(os.path.getmtime(os.path.join(src, d)) for d in deps)
        same_cmd = os.path.exists(stamp) and open(stamp).read() == " ".join(cmd)
        if os.path.exists(out) and os.path.getmtime(out) >= newest and same_cmd:
            built[name] = out
            continue
        p = subprocess.run(cmd, cwd=bindir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if p.returncode != 0:
            msg = p.stdout.decode(errors="replace")
            if name == "tbb_peer":
                log("cannot build the oneTBB peer (is libtbb-dev installed?); it is left out:\n" + msg)
                continue
            die("cannot build %s:\n%s" % (name, msg))
        with open(stamp, "w") as f:
            f.write(" ".join(cmd))
        built[name] = out
    return built


# ---------------------------------------------------------------- data

def generate(work, gen, s):
    """Generates the inputs into WORK/data (kept between runs while the
    parameters and the generator are the same).  Returns their paths."""
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    genhash = hashlib.sha256(open(gen, "rb").read()).hexdigest()[:16]

    def cached(name, params, make):
        path = os.path.join(data, name)
        stamp = os.path.join(data, name + ".stamp")
        want = json.dumps({"params": params, "gen": genhash})
        if os.path.exists(stamp) and open(stamp).read() == want and os.path.exists(path):
            return path
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
        log("generating %s ..." % name)
        make(path)
        with open(stamp, "w") as f:
            f.write(want)
        return path

    def files(count, size, seed):
        def make(path):
            os.makedirs(path)
            sh([gen, "files", path, str(count), str(size), str(seed)])
        return make

    d = {}
    d["w1"] = cached("w1-%dx%d" % (s.w1_files, s.w1_size), [s.w1_files, s.w1_size, 1000],
                     files(s.w1_files, s.w1_size, 1000))
    d["w3"] = cached("w3-%dx%d" % (s.w3_files, s.w3_size), [s.w3_files, s.w3_size, 3000],
                     files(s.w3_files, s.w3_size, 3000))
    d["w2"] = cached("w2-%d.txt" % s.w2_lines, [s.w2_lines, 2000],
                     lambda p: sh([gen, "lines", p, str(s.w2_lines), "2000"]))
    d["w4"] = cached("w4-%d.txt" % s.w4_size, [s.w4_size, 4000],
                     lambda p: sh([gen, "text", p, str(s.w4_size), "4000"]))
    d["w5"] = cached("w5-%d.txt" % s.w5_items, [s.w5_items, 5000],
                     lambda p: sh([gen, "lines", p, str(s.w5_items), "5000"]))
    # derived: the first lines (small counts, one-item inputs), file lists
    derived = os.path.join(work, "derived")
    if os.path.isdir(derived):
        shutil.rmtree(derived)
    os.makedirs(derived)

    def head(src, n, name):
        path = os.path.join(derived, name)
        with open(src, "rb") as f, open(path, "wb") as o:
            for i, line in enumerate(f):
                if i >= n:
                    break
                o.write(line)
        return path

    d["w2_small"] = head(d["w2"], s.w2_small, "w2-small.txt")
    d["w2_one"] = head(d["w2"], 1, "w2-one.txt")
    d["w5_one"] = head(d["w5"], 1, "w5-one.txt")
    for w in ("w1", "w3"):
        names = sorted(os.listdir(d[w]))
        d[w + "_files"] = [os.path.join(d[w], n) for n in names]
        lst = os.path.join(derived, w + "-files.txt")
        with open(lst, "w") as f:
            f.write("".join(p + "\n" for p in d[w + "_files"]))
        d[w + "_list"] = lst
    # an input of one small file for the one-item runs of W1/W3 is not needed
    return d


def edge_case_file(path):
    """Every byte value, CR, tabs, blank and empty lines, runs of spaces,
    and a last line without a newline: for checking `clean` against the
    tr/sed/grep pipeline of SPEC section 5."""
    lines = [bytes(range(0, 256)).replace(b"\n", b"") for _ in range(3)]
    lines += [b"", b"   ", b"\t\t", b"Hello,   World!\r", b"  lead and trail  ", b"UPPER lower 123",
              b"\xc3\xa9t\xc3\xa9 caf\xc3\xa9", b"a\x00b\x7fc\xffd", b"--==**", b"x"]
    with open(path, "wb") as f:
        f.write(b"\n".join(lines) + b"\nno newline at the end")


# ---------------------------------------------------------------- running

class Peer:
    def __init__(self, key, label, cmd, kind="peer", stdin=None, stdout=True, outdir=None,
                 check=None, items=None, note=""):
        self.key = key          # short id
        self.label = label      # shown in the table
        self.cmd = cmd          # argv
        self.kind = kind        # ref | piperun | peer | extra
        self.stdin = stdin      # file for stdin, or None (/dev/null)
        self.stdout = stdout    # True: stdout kept in a file for the check
        self.outdir = outdir    # folder emptied before each run
        self.check = check      # function(peer, stdout_path) -> (ok, note)
        self.items = items      # items of the run (W2/W5)
        self.note = note
        self.runs = []          # measured runs
        self.failures = []      # messages of failed runs or checks
        self.check_note = ""
        self.reruns = 0         # runs done again because the machine was busy


class Runner:
    current = None  # the treetime process of the run in progress

    def __init__(self, work, treetime, env, timeout):
        self.work = work
        self.treetime = treetime
        self.env = env
        self.timeout = timeout
        self.outdir = os.path.join(work, "out")
        os.makedirs(self.outdir, exist_ok=True)

    def run(self, peer):
        if peer.outdir:
            if os.path.isdir(peer.outdir):
                shutil.rmtree(peer.outdir)
            os.makedirs(peer.outdir)
        stdout = os.path.join(self.outdir, "stdout")
        stderr = os.path.join(self.outdir, "stderr")
        result = os.path.join(self.outdir, "result.json")
        for p in (stdout, stderr, result):
            if os.path.exists(p):
                os.remove(p)
        cmd = [self.treetime, "-i", "20", "-o", result, "--"] + peer.cmd
        with open(peer.stdin or os.devnull, "rb") as i, open(stdout, "wb") as o, open(stderr, "wb") as e:
            busy0 = busy_cpu_s()
            p = subprocess.Popen(cmd, stdin=i, stdout=o, stderr=e, env=self.env, cwd=self.work,
                                 start_new_session=True)
            Runner.current = p
            try:
                rc = p.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait()
                rc = None
            Runner.current = None
            busy1 = busy_cpu_s()
        err = open(stderr, "rb").read().decode(errors="replace").strip()
        if rc is None:
            return None, "timed out after %d s" % self.timeout
        if not os.path.exists(result):
            return None, "treetime wrote no result (exit %d): %s" % (rc, err[-500:])
        res = json.load(open(result))
        # CPU time the machine spent on anything else while the command ran
        # (other processes, the hypervisor's steal), from /proc/stat
        res["other_cpu_s"] = max(0.0, busy1 - busy0 - res["cpu_s"])
        if rc != 0 or res["exit"] != 0:
            return None, "exit %s: %s" % (res["exit"], err[-500:])
        ok, note = peer.check(peer, stdout) if peer.check else (True, "")
        if not ok:
            return None, "output check failed: " + note
        peer.check_note = note
        if err and peer.kind != "ref":
            res["stderr"] = err[-300:]
        return res, None


CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_cpu_s():
    """Seconds of CPU time the whole machine has been busy (user, nice,
    system, irq, softirq, steal) since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / CLK_TCK


def disturbed(res):
    """A run during which something else used more than 10% of a CPU
    (and more than 30 ms, below which /proc/stat's ticks are noise)."""
    return res["other_cpu_s"] > max(0.03, 0.10 * res["wall_s"])


WAIT_BUDGET = [1200.0]  # seconds the whole run may still spend waiting for quiet


def wait_quiet(why):
    """Waits until the rest of the machine uses at most 10% of a CPU over
    one second, within what is left of the run's waiting budget.  Returns
    the time waited."""
    start = time.time()
    said = False
    while True:
        b0 = busy_cpu_s()
        time.sleep(1.0)
        load = busy_cpu_s() - b0
        waited = time.time() - start
        if load <= 0.10:
            if said:
                log("the machine is quiet again after %.0f s" % waited)
            WAIT_BUDGET[0] -= waited
            return waited
        if not said:
            log("%s: the machine is busy (%.0f%% of a CPU used by other processes); waiting for it "
                "to be quiet (%.0f s of waiting left in this run) ..." % (why, load * 100, max(0, WAIT_BUDGET[0])))
            said = True
        if waited >= WAIT_BUDGET[0]:
            log("the waiting budget is spent: going on without waiting; disturbed runs are kept "
                "and counted as such")
            WAIT_BUDGET[0] = 0
            return waited


def same_file(a, b):
    if os.path.getsize(a) != os.path.getsize(b):
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(16 * MiB), fb.read(16 * MiB)
            if x != y:
                return False
            if not x:
                return True


def same_dir(out, ref):
    """Byte-identical folders: (ok, note)."""
    a, b = sorted(os.listdir(out)), sorted(os.listdir(ref))
    if a != b:
        missing = sorted(set(b) - set(a))[:3]
        extra = sorted(set(a) - set(b))[:3]
        return False, "files differ (missing %s, extra %s)" % (missing, extra)
    for n in a:
        if not same_file(os.path.join(out, n), os.path.join(ref, n)):
            return False, "%s differs from the reference" % n
    return True, "identical"


# ---------------------------------------------------------------- stats

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def pss_kib(res):
    """The tree's peak memory, each page counted once (sum of PSS)."""
    return res.get("peak_tree_pss_kib", res["peak_tree_rss_kib"])


def summary(peer):
    r = peer.runs
    if not r:
        return None
    walls = [x["wall_s"] for x in r]
    return {
        "wall": med(walls), "wall_min": min(walls), "wall_max": max(walls),
        "cpu": med([x["cpu_s"] for x in r]),
        "peak": med([pss_kib(x) for x in r]) / 1024,
        "peak_max": max(pss_kib(x) for x in r) / 1024,
        "rss": med([x["peak_tree_rss_kib"] for x in r]) / 1024,
        "rss_max": max(x["peak_tree_rss_kib"] for x in r) / 1024,
        "n": len(r),
    }


def fmt_s(x):
    if x != x:
        return "–"
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    if x >= 1:
        return "%.2f" % x
    return "%.3f" % x


def fmt_num(x):
    return "%.0f" % x if x >= 100 else "%.1f" % x if x >= 10 else "%.2f" % x if x >= 0.1 else "%.3f" % x


def fmt_ratio(x):
    return "–" if x is None or x != x else "%.2f×" % x


def pct_over(measured, limit):
    """How much MEASURED exceeds LIMIT, in percent."""
    return (measured / limit - 1) * 100


# ---------------------------------------------------------------- workloads

class Workload:
    def __init__(self, key, title, what):
        self.key = key
        self.title = title
        self.what = what
        self.peers = []
        self.notes = []
        self.verdicts = []   # (target, measured, verdict, met)
        self.extra_tables = []
        self.per_item = False
        self.waited = 0.0

    def add(self, peer):
        self.peers.append(peer)
        return peer

    def peer(self, key):
        for p in self.peers:
            if p.key == key:
                return p
        return None


RERUNS = 3  # how many times a disturbed run is done again


def run_workload(wl, runner, s):
    runnable = list(wl.peers)
    rounds = s.warmup + s.runs
    wl.waited += wait_quiet("before " + wl.key)
    for r in range(rounds):
        tag = "warm-up" if r < s.warmup else "run %d/%d" % (r - s.warmup + 1, s.runs)
        k = r % len(runnable)
        order = runnable[k:] + runnable[:k]
        for peer in order:
            if peer.failures and len(peer.failures) >= 2:
                continue  # it keeps failing: do not waste the time
            t0 = time.time()
            for attempt in range(1 + RERUNS):
                res, err = runner.run(peer)
                if err or not disturbed(res):
                    break
                res["disturbed"] = True
                if attempt == RERUNS or WAIT_BUDGET[0] <= 0:
                    break
                peer.reruns += 1
                log("%s %-28s %s disturbed: %.2f s of other CPU during %.2f s; again" % (
                    wl.key, peer.label, tag, res["other_cpu_s"], res["wall_s"]))
                wl.waited += wait_quiet("%s %s" % (wl.key, peer.label))
            if err:
                peer.failures.append("%s: %s" % (tag, err))
                log("%s %-28s %s FAILED: %s" % (wl.key, peer.label, tag, err))
                continue
            log("%s %-28s %s %7.3f s wall %7.3f s cpu %7.1f MiB, other %.2f s (%.1f s)" % (
                wl.key, peer.label, tag, res["wall_s"], res["cpu_s"],
                pss_kib(res) / 1024, res["other_cpu_s"], time.time() - t0))
            if r >= s.warmup:
                res["round"] = r
                peer.runs.append(res)


def table(wl, ref_sum, ncpu, per_item=False):
    ideal = ref_sum["cpu"] / ncpu if ref_sum else None
    head = ["peer", "wall s, median (min–max)", "CPU s", "peak MiB", "VmRSS sum MiB", "× C ref", "× ideal"]
    if per_item:
        head += ["items", "µs/item (wall ÷ items)", "µs/item (marginal)"]
    head += ["output"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in wl.peers:
        if p.key.endswith(":1"):
            continue
        sm = summary(p)
        if sm is None:
            cells = [p.label, "failed", "", "", "", "", ""]
            if per_item:
                cells += ["", "", ""]
            cells += ["; ".join(p.failures)[:200].replace("|", "/")]
            rows.append("| " + " | ".join(cells) + " |")
            continue
        cells = [p.label,
                 "%s (%s–%s)" % (fmt_s(sm["wall"]), fmt_s(sm["wall_min"]), fmt_s(sm["wall_max"])),
                 fmt_s(sm["cpu"]), "%.1f" % sm["peak"], "%.1f" % sm["rss"],
                 fmt_ratio(sm["wall"] / ref_sum["wall"]) if ref_sum else "–",
                 fmt_ratio(sm["wall"] / ideal) if ideal else "–"]
        if per_item:
            pi = per_item_cost(wl, p)
            cells += ["{:,}".format(p.items),
                      "%.2f" % pi["per_wall"] if pi else "–",
                      "%.2f" % pi["marginal"] if pi and pi.get("marginal") is not None else "–"]
        check = p.check_note or "identical"
        nd = sum(1 for r in p.runs if r.get("disturbed"))
        if nd:
            check += " (%d of %d runs disturbed by other work)" % (nd, len(p.runs))
        if p.failures:
            check += " (%d failed: %s)" % (len(p.failures), p.failures[0][:120].replace("|", "/"))
        cells.append(check)
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def per_item_cost(wl, p):
    """µs per item: median wall / items, and the marginal cost
    (median wall(N) - median wall(1 item)) / (N - 1)."""
    sm = summary(p)
    if sm is None or not p.items:
        return None
    out = {"per_wall": sm["wall"] / p.items * 1e6, "marginal": None}
    one = wl.peer(p.key + ":1")
    so = summary(one) if one else None
    if so is not None and p.items > 1:
        out["marginal"] = (sm["wall"] - so["wall"]) / (p.items - 1) * 1e6
        out["startup"] = so["wall"]
    return out


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer runs and smaller workloads, for trying it out")
    ap.add_argument("--runs", type=int, help="measured runs per peer (default 5, --quick 2)")
    ap.add_argument("--workdir", help="work folder (default /dev/shm/piperun-bench, a tmpfs)")
    ap.add_argument("--only", help="comma-separated workloads to run, e.g. W1,W4")
    ap.add_argument("--w1-files", type=int, metavar="N",
                    help="W1 with N files instead of 64 (16 with --quick), to see how its costs grow "
                         "with the input; not the reference numbers")
    ap.add_argument("--doc", help="results file (default docs/benchmarks.md; with --quick or --w1-files, WORKDIR/benchmarks.md)")
    ap.add_argument("--piperun", default=os.path.join(ROOT, "piperun"), help="the piperun binary")
    ap.add_argument("--timeout", type=int, default=900, help="seconds before one run is killed")
    ap.add_argument("--max-wait", type=int, default=1200,
                    help="the most seconds the whole run may spend waiting for a machine busy with other "
                         "work to be quiet (default 1200)")
    ap.add_argument("--analysis", action="store_true",
                    help="only copy bench/analysis.md into the results file again, measurements untouched "
                         "(after the analysis was written for the last run)")
    ap.add_argument("--command", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.analysis:
        recopy_analysis(args.doc or os.path.join(ROOT, "docs", "benchmarks.md"))
        return

    def stop(signum, frame):
        p = Runner.current
        if p is not None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
        sys.stderr.write("bench: stopped by signal %d\n" % signum)
        os._exit(128 + signum)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    WAIT_BUDGET[0] = float(args.max_wait)
    started = time.time()
    s = Settings(args.quick)
    if args.runs:
        if args.runs < 1:
            die("--runs must be at least 1")
        s.runs = args.runs
    if args.w1_files is not None:
        if args.w1_files < 1:
            die("--w1-files must be at least 1")
        s.w1_files = args.w1_files
    # the reference numbers are the full run's sizes
    s.reference = not s.quick and s.w1_files == 64
    only = None
    if args.only:
        only = {w.strip().upper() for w in args.only.split(",") if w.strip()}
        bad = only - {"W1", "W2", "W3", "W4", "W5"}
        if bad:
            die("unknown workload(s) %s; they are W1 to W5" % ", ".join(sorted(bad)))

    work = args.workdir or os.environ.get("BENCH_DIR")
    if not work:
        work = "/dev/shm/piperun-bench" if os.path.isdir("/dev/shm") else None
        if work is None:
            die("no /dev/shm here: give a work folder on a tmpfs with --workdir")
    work = os.path.abspath(work)
    if work == ROOT or work.startswith(ROOT + os.sep):
        die("the work folder must be outside the source tree")
    os.makedirs(work, exist_ok=True)
    fstype = try_out(["stat", "-f", "-c", "%T", work])
    if fstype != "tmpfs":
        log("warning: %s is on %s, not tmpfs: file pages that sit idle may leave the page cache and "
            "turn timings into disk timings" % (work, fstype or "an unknown file system"))
    doc = args.doc or (os.path.join(ROOT, "docs", "benchmarks.md") if s.reference else os.path.join(work, "benchmarks.md"))

    piperun = os.path.abspath(args.piperun)
    if not os.access(piperun, os.X_OK):
        die("%s is not there: build piperun first (./setup, or make)" % piperun)
    # run a copy: the tree may be rebuilt while the benchmark runs (worker
    # processes re-execute /proc/self/exe, so a copy runs them too)
    snap = os.path.join(work, "bin", "piperun")
    os.makedirs(os.path.dirname(snap), exist_ok=True)
    shutil.copy2(piperun, snap + ".tmp")
    os.replace(snap + ".tmp", snap)
    piperun_src, piperun = piperun, snap
    ncpu = os.cpu_count() or 1
    cc = shutil.which("cc") or shutil.which("gcc")
    cxx = shutil.which("g++") or shutil.which("c++")
    if not cc:
        die("no C compiler (apt-get install gcc)")
    if not cxx:
        log("no C++ compiler: the oneTBB peer is left out")
        cxx = "/nonexistent/g++"
    python = sys.executable  # a real interpreter, not a pyenv shim
    parallel = shutil.which("parallel")
    if parallel and "GNU parallel" not in try_out([parallel, "--version"]):
        log("%s is not GNU parallel (moreutils?): GNU parallel is left out" % parallel)
        parallel = None
    if not parallel:
        log("GNU parallel is missing: it is left out (apt-get install parallel)")
    xargs = shutil.which("xargs")

    # room on the work folder: inputs + references + one output at a time
    need = (s.w1_files * s.w1_size * 3 + s.w3_files * s.w3_size * 2 + s.w4_size * (3 + s.w4_times)
            + 64 * MiB)
    free = shutil.disk_usage(work).free
    have = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(os.path.join(work, "data"))
               for f in fs) if os.path.isdir(os.path.join(work, "data")) else 0
    if free + have < need:
        die("%s has %.1f GiB free; the benchmark needs about %.1f GiB" % (work, free / GiB, need / GiB))

    log("work folder %s (%s); building the peers ..." % (work, fstype))
    bins = build(work, cc, cxx)
    ref, gen, treetime = bins["ref"], bins["gen"], bins["treetime"]
    tbb = bins.get("tbb_peer")
    d = generate(work, gen, s)

    env = dict(os.environ)
    tmp = os.path.join(work, "tmp")
    phome = os.path.join(work, "parallel-home")
    for p in (tmp, phome):
        os.makedirs(p, exist_ok=True)
    env.update({"TMPDIR": tmp, "PARALLEL_HOME": phome, "LC_ALL": "C"})
    env.pop("OMP_NUM_THREADS", None)
    runner = Runner(work, treetime, env, args.timeout)
    refdir = os.path.join(work, "ref")
    os.makedirs(refdir, exist_ok=True)
    pipes = os.path.join(work, "pipelines")
    os.makedirs(pipes, exist_ok=True)
    outs = os.path.join(work, "out")
    py_peer = os.path.join(HERE, "peers", "py_peer.py")
    truecmd = shutil.which("true") or "/bin/true"

    def yml(name, text):
        path = os.path.join(pipes, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check_same(reffile):
        def check(peer, stdout):
            return (True, "identical") if same_file(stdout, reffile) else (False, "stdout differs from the C reference")
        return check

    def mset(path):
        return sh([ref, "msethash", path]).strip()

    def check_mset(reffile):
        want = mset(reffile)

        def check(peer, stdout):
            if mset(stdout) == want:
                return True, "same lines, any order"
            return False, "the lines differ from the C reference's (order ignored)"
        return check

    def check_dir(ref_out):
        def check(peer, stdout):
            if os.path.getsize(stdout) != 0:
                return False, "unexpected output on stdout"
            return same_dir(peer.outdir, ref_out)
        return check

    def check_empty(peer, stdout):
        return (os.path.getsize(stdout) == 0, "empty, as the reference" if os.path.getsize(stdout) == 0
                else "unexpected output")

    # ---- self-checks of the reference (before any timing)
    log("checking the C reference against SPEC's tr/sed/grep definition of clean ...")
    edge = os.path.join(work, "derived", "edge.txt")
    edge_case_file(edge)
    spec_pipe = ("tr A-Z a-z | tr -c 'a-z0-9\\n' ' ' | tr -s ' ' | sed 's/^ //;s/ $//' | grep -v '^$'")
    for src in (edge, d["w1_files"][0]):
        want = subprocess.run(["sh", "-c", spec_pipe], stdin=open(src, "rb"), stdout=subprocess.PIPE,
                              env=env).stdout
        tmpd = os.path.join(work, "derived", "selfcheck")
        os.makedirs(tmpd, exist_ok=True)
        sh([ref, "clean-files", tmpd, src])
        got = open(os.path.join(tmpd, os.path.basename(src)), "rb").read()
        if got != want:
            die("the C reference's clean differs from SPEC's pipeline on %s" % src)
        shutil.rmtree(tmpd)
    selfchecks = ["the C reference's `clean` equals SPEC's `tr | tr | tr -s | sed | grep` pipeline "
                  "(LC_ALL=C) on every byte value and edge case, and on the first W1 file"]

    workloads = []
    ref_time = {}

    def split_peer(mode, out, files, chk):
        """The C reference's loop in one process per CPU, each on its share
        of the files: nothing passes between them, so it is the best any
        pipeline can do on this machine, short of the ideal."""
        return Peer("split", "C reference × %d processes, 1/%d of the files each" % (ncpu, ncpu),
                    [ref, "split", str(ncpu), mode, out] + files, kind="extra", outdir=out, check=chk)

    # ================================================================ W1
    if not only or "W1" in only:
        wl = Workload("W1", "W1: %d files of %s: read (io) → clean (cpu) → write (io)" % (
            s.w1_files, human_size(s.w1_size)),
            "Each file is read, cleaned and written to its own output file.")
        out = os.path.join(outs, "w1")
        ref_out = os.path.join(refdir, "w1")
        if os.path.isdir(ref_out):
            shutil.rmtree(ref_out)
        os.makedirs(ref_out)
        sh([ref, "clean-files", ref_out] + d["w1_files"])
        head = 'input: {glob: "%s/*.txt"}\n' % d["w1"]

        def w1yml(name, executor=""):
            return yml(name, "name: w1\n" + head + "stages:\n"
                       "  - {name: read, kind: io, run: read}\n"
                       "  - {name: clean, kind: cpu, run: clean%s}\n"
                       "  - {name: write, kind: io, run: write, with: {dir: \"%s\"}}\n" % (executor, out))
        y = w1yml("w1.yml")
        yo = w1yml("w1-openmp.yml", ", executor: openmp")
        chk = check_dir(ref_out)
        wl.add(Peer("ref", "C reference (1 thread)", [ref, "clean-files", out] + d["w1_files"],
                    kind="ref", outdir=out, check=chk))
        wl.add(Peer("sync", "piperun --sync", [piperun, "--sync", y], kind="piperun", outdir=out, check=chk))
        wl.add(Peer("piperun", "**piperun**", [piperun, y], kind="piperun", outdir=out, check=chk))
        wl.add(Peer("omp", "piperun, clean `executor: openmp`", [piperun, yo], kind="extra", outdir=out, check=chk))
        wl.add(split_peer("clean-files", out, d["w1_files"], chk))
        layouts = bins["layouts"]
        wl.add(Peer("pools", "C by hand, piperun's layout: reading threads → a feeder thread per worker "
                    "process → writing threads", [layouts, "pools", out] + d["w1_files"],
                    kind="extra", outdir=out, check=chk))
        wl.add(Peer("lanes", "C by hand, lanes: a thread per worker process reads, sends, receives, writes",
                    [layouts, "lanes", out] + d["w1_files"], kind="extra", outdir=out, check=chk))
        if tbb:
            wl.add(Peer("tbb", "oneTBB parallel_pipeline", [tbb, "clean-files", out] + d["w1_files"],
                        outdir=out, check=chk))
        wl.add(Peer("python", "Python threads + ProcessPoolExecutor",
                    [python, py_peer, "clean-files", out] + d["w1_files"], outdir=out, check=chk))
        if parallel:
            wl.add(Peer("parallel", "GNU parallel -j%d, one job per file" % ncpu,
                        [parallel, "--will-cite", "-j%d" % ncpu, ref, "clean-files", out, "::::", d["w1_list"]],
                        outdir=out, check=chk))
        wl.add(Peer("xargs", "xargs -P %d -n 1" % ncpu,
                    [xargs, "-a", d["w1_list"], "-d", "\\n", "-P", str(ncpu), "-n", "1", ref, "clean-files", out],
                    outdir=out, check=chk))
        wl.yml = {"w1.yml": y}
        workloads.append(wl)

    # ================================================================ W2
    if not only or "W2" in only:
        wl = Workload("W2", "W2: %s one-line items through a trivial stage, ordered output" % "{:,}".format(s.w2_lines),
                      "Each line of a file is one item; the stage is `clean` on lines that are already "
                      "clean, so the work per item is tiny and the output equals the input.")
        wl.per_item = True
        lines, small = d["w2"], d["w2_small"]
        ref_out = os.path.join(refdir, "w2.txt")
        ref_small = os.path.join(refdir, "w2-small.txt")
        with open(ref_out, "wb") as f:
            subprocess.run([ref, "clean-lines", lines], stdout=f, check=True)
        with open(ref_small, "wb") as f:
            subprocess.run([ref, "clean-lines", small], stdout=f, check=True)

        def w2yml(name, kind, order="input", executor=""):
            return yml(name, "name: w2\ninput: {lines: \"%s\"}\norder: %s\nstages:\n"
                       "  - {name: trivial, kind: %s, run: clean%s}\n" % (lines, order, kind, executor))
        yio, yio_any = w2yml("w2-io.yml", "io"), w2yml("w2-io-any.yml", "io", "any")
        ycpu, ycpu_any = w2yml("w2-cpu.yml", "cpu"), w2yml("w2-cpu-any.yml", "cpu", "any")
        yomp = w2yml("w2-openmp.yml", "cpu", executor=", executor: openmp")
        same, anyorder = check_same(ref_out), check_mset(ref_out)
        one = d["w2_one"]
        one_ok = lambda peer, stdout: (True, "")

        def both(key, label, cmd_for, check, kind="peer", items=s.w2_lines, inp=lines):
            wl.add(Peer(key, label, cmd_for(inp), kind=kind, check=check, items=items))
            wl.add(Peer(key + ":1", label + " (1 item)", cmd_for(one), kind=kind, check=one_ok, items=1))

        both("ref", "C reference (1 thread)", lambda f: [ref, "clean-lines", f], same, kind="ref")
        both("sync", "piperun --sync", lambda f: [piperun, "--sync", yio, f], same, kind="piperun")
        both("io", "**piperun, io stage**", lambda f: [piperun, yio, f], same, kind="piperun")
        both("io-any", "piperun, io stage, `order: any`", lambda f: [piperun, yio_any, f], anyorder, kind="piperun")
        both("cpu", "**piperun, cpu stage**", lambda f: [piperun, ycpu, f], same, kind="piperun")
        both("cpu-any", "piperun, cpu stage, `order: any`", lambda f: [piperun, ycpu_any, f], anyorder, kind="piperun")
        both("omp", "piperun, cpu stage, `executor: openmp`", lambda f: [piperun, yomp, f], same, kind="extra")
        if tbb:
            both("tbb", "oneTBB parallel_pipeline", lambda f: [tbb, "clean-lines", f], same)
        both("py-threads", "Python ThreadPoolExecutor.map (io)", lambda f: [python, py_peer, "lines-threads", f], same)
        both("py-pool", "Python Pool.imap, chunksize 256 (cpu)", lambda f: [python, py_peer, "lines-pool", f], same)
        if parallel:
            both("parallel", "GNU parallel -k -j%d echo, one job per item" % ncpu,
                 lambda f: [parallel, "--will-cite", "-k", "-j%d" % ncpu, "echo", "::::", f],
                 check_same(ref_small), items=s.w2_small, inp=small)
        both("xargs", "xargs -P %d -n 1 echo (unordered)" % ncpu,
             lambda f: [xargs, "-a", f, "-d", "\\n", "-P", str(ncpu), "-n", "1", "echo"],
             check_mset(ref_small), items=s.w2_small, inp=small)
        wl.yml = {"w2-io.yml": yio, "w2-cpu.yml": ycpu}
        workloads.append(wl)

    # ================================================================ W3
    if not only or "W3" in only:
        wl = Workload("W3", "W3: %d files of %s: gzip level 6 (cpu)" % (s.w3_files, human_size(s.w3_size)),
                      "Each file is read, compressed with zlib at level 6 into the gzip format and written "
                      "to NAME.gz.")
        out = os.path.join(outs, "w3")
        ref_out = os.path.join(refdir, "w3")
        if os.path.isdir(ref_out):
            shutil.rmtree(ref_out)
        os.makedirs(ref_out)
        sh([ref, "gzip-files", ref_out] + d["w3_files"])
        # the reference's output must be gzip data of the input
        sample = d["w3_files"][0]
        if zlib.decompress(open(os.path.join(ref_out, os.path.basename(sample) + ".gz"), "rb").read(), 31) \
                != open(sample, "rb").read():
            die("the C reference's gzip output does not decompress to its input")
        selfchecks.append("the C reference's gzip output decompresses to its input")
        head = 'input: {glob: "%s/*.txt"}\n' % d["w3"]

        def w3yml(name, executor=""):
            return yml(name, "name: w3\n" + head + "stages:\n"
                       "  - {name: read, kind: io, run: read}\n"
                       "  - {name: gzip, kind: cpu, run: gzip, with: {level: 6}%s}\n"
                       "  - {name: write, kind: io, run: write, with: {dir: \"%s\", suffix: .gz}}\n" % (executor, out))
        y, yo = w3yml("w3.yml"), w3yml("w3-openmp.yml", ", executor: openmp")
        chk = check_dir(ref_out)

        def check_gunzip(peer, stdout, ref_out=ref_out):
            """gzip(1) is not zlib: its compressed bytes may differ, so compare
            what they decompress to with the inputs."""
            ok, note = same_dir(peer.outdir, ref_out)
            if ok:
                return True, "identical"
            for src in d["w3_files"]:
                gz = os.path.join(peer.outdir, os.path.basename(src) + ".gz")
                if not os.path.exists(gz) or zlib.decompress(open(gz, "rb").read(), 31) != open(src, "rb").read():
                    return False, "%s does not decompress to its input" % gz
            return True, "compressed bytes differ from zlib's; decompressed: identical"

        wl.add(Peer("ref", "C reference (1 thread, zlib)", [ref, "gzip-files", out] + d["w3_files"],
                    kind="ref", outdir=out, check=chk))
        wl.add(Peer("sync", "piperun --sync", [piperun, "--sync", y], kind="piperun", outdir=out, check=chk))
        wl.add(Peer("piperun", "**piperun**", [piperun, y], kind="piperun", outdir=out, check=chk))
        wl.add(Peer("omp", "piperun, gzip `executor: openmp`", [piperun, yo], kind="extra", outdir=out, check=chk))
        wl.add(split_peer("gzip-files", out, d["w3_files"], chk))
        if tbb:
            wl.add(Peer("tbb", "oneTBB parallel_pipeline", [tbb, "gzip-files", out] + d["w3_files"],
                        outdir=out, check=chk))
        wl.add(Peer("python", "Python threads + ProcessPoolExecutor",
                    [python, py_peer, "gzip-files", out] + d["w3_files"], outdir=out, check=chk))
        if parallel:
            wl.add(Peer("parallel", "GNU parallel -j%d, one job per file (zlib)" % ncpu,
                        [parallel, "--will-cite", "-j%d" % ncpu, ref, "gzip-files", out, "::::", d["w3_list"]],
                        outdir=out, check=chk))
            wl.add(Peer("parallel-gzip", "GNU parallel -j%d gzip -6 -n (gzip(1))" % ncpu,
                        [parallel, "--will-cite", "-j%d" % ncpu, "gzip -6 -n -c {} > %s/{/}.gz" % out,
                         "::::", d["w3_list"]], outdir=out, check=check_gunzip))
        wl.add(Peer("xargs", "xargs -P %d -n 1 (zlib)" % ncpu,
                    [xargs, "-a", d["w3_list"], "-d", "\\n", "-P", str(ncpu), "-n", "1", ref, "gzip-files", out],
                    outdir=out, check=chk))
        wl.yml = {"w3.yml": y}
        workloads.append(wl)

    # ================================================================ W4
    if not only or "W4" in only:
        wl = Workload("W4", "W4: one %s file in 1 MiB line-aligned blocks → clean (cpu) → one output file, in order"
                      % human_size(s.w4_size),
                      "One big file is cut into line-aligned blocks of about 1 MiB, each block is cleaned, "
                      "and the results are written in order to one output file (standard output "
                      "redirected to a file).")
        big = d["w4"]
        ref_out = os.path.join(refdir, "w4.txt")
        with open(big, "rb") as i, open(ref_out, "wb") as o:
            subprocess.run([ref, "clean-stream"], stdin=i, stdout=o, check=True)
        src = '  blocks: {file: "%s", size: 1MiB}\n' % big

        def w4yml(name, order="input", executor=""):
            return yml(name, "name: w4\ninput:\n" + src + "order: %s\nstages:\n"
                       "  - {name: clean, kind: cpu, run: clean%s}\n" % (order, executor))
        y, yany, yo = w4yml("w4.yml"), w4yml("w4-any.yml", "any"), w4yml("w4-openmp.yml", executor=", executor: openmp")
        same = check_same(ref_out)
        wl.add(Peer("ref", "C reference (1 thread)", [ref, "clean-stream"], kind="ref", stdin=big, check=same))
        wl.add(Peer("sync", "piperun --sync", [piperun, "--sync", y], kind="piperun", check=same))
        wl.add(Peer("piperun", "**piperun**", [piperun, y], kind="piperun", check=same))
        wl.add(Peer("any", "piperun, `order: any`", [piperun, yany], kind="piperun", check=check_mset(ref_out)))
        wl.add(Peer("omp", "piperun, clean `executor: openmp`", [piperun, yo], kind="extra", check=same))
        if tbb:
            wl.add(Peer("tbb", "oneTBB parallel_pipeline", [tbb, "clean-stream"], stdin=big, check=same))
        wl.add(Peer("python", "Python Pool.imap, chunksize 2", [python, py_peer, "stream"], stdin=big, check=same))
        if parallel:
            wl.add(Peer("parallel", "GNU parallel --pipe --block 1M -k -j%d" % ncpu,
                        [parallel, "--will-cite", "--pipe", "--block", "1M", "-k", "-j%d" % ncpu, ref, "clean-stream"],
                        stdin=big, check=same))
        wl.notes.append("xargs -P has no way to cut one input stream into blocks, so it has no W4 row.")
        wl.yml = {"w4.yml": y}
        wl.big_input = big
        wl.big_ref = ref_out
        wl.big_yml = y
        workloads.append(wl)

    # ================================================================ W5
    if not only or "W5" in only:
        wl = Workload("W5", "W5: %s items through an exec stage running `true`" % "{:,}".format(s.w5_items),
                      "Each line of a file is one item, handed on the standard input of a new `%s` "
                      "process; the cost per item is that of starting and reaping a process." % truecmd)
        wl.per_item = True
        items, one = d["w5"], d["w5_one"]
        y = yml("w5.yml", "name: w5\ninput: {lines: \"%s\"}\nstages:\n"
                "  - {name: run, kind: io, run: exec, with: {command: [\"%s\"]}}\n" % (items, truecmd))
        one_ok = lambda peer, stdout: (True, "")

        def both(key, label, cmd_for, kind="peer"):
            wl.add(Peer(key, label, cmd_for(items), kind=kind, check=check_empty, items=s.w5_items))
            wl.add(Peer(key + ":1", label + " (1 item)", cmd_for(one), kind=kind, check=one_ok, items=1))

        both("ref", "C reference (1 thread, posix_spawn)", lambda f: [ref, "spawn-lines", f, truecmd], kind="ref")
        both("sync", "piperun --sync", lambda f: [piperun, "--sync", y, f], kind="piperun")
        both("piperun", "**piperun** (exec, io: 8 threads)", lambda f: [piperun, y, f], kind="piperun")
        if tbb:
            both("tbb", "oneTBB parallel_pipeline (8 threads)", lambda f: [tbb, "spawn-lines", f, truecmd])
        both("python", "Python ThreadPoolExecutor(8) + subprocess.run",
             lambda f: [python, py_peer, "spawn-lines", f, truecmd])
        both("xargs", "xargs -P %d -n 1" % ncpu,
             lambda f: [xargs, "-a", f, "-d", "\\n", "-P", str(ncpu), "-n", "1", truecmd])
        both("xargs8", "xargs -P 8 -n 1", lambda f: [xargs, "-a", f, "-d", "\\n", "-P", "8", "-n", "1", truecmd])
        if parallel:
            both("parallel", "GNU parallel -j%d, one job per item" % ncpu,
                 lambda f: [parallel, "--will-cite", "-j%d" % ncpu, truecmd, "::::", f])
        wl.yml = {"w5.yml": y}
        workloads.append(wl)

    # ---------------------------------------------------------------- run
    for wl in workloads:
        log("==== %s" % wl.title)
        run_workload(wl, runner, s)
        if wl.key == "W4":
            # the same pipeline on the input given 4 times: peak memory must stay flat
            wl.big = Peer("big", "**piperun**, %s input (%d × the file)" % (
                human_size(s.w4_size * s.w4_times), s.w4_times),
                [piperun, wl.big_yml] + [wl.big_input] * s.w4_times, kind="piperun",
                check=lambda peer, stdout: check_repeat(stdout, wl.big_ref, s.w4_times))
            for r in range(min(2, s.runs)):
                wl.waited += wait_quiet("W4 flatness run")
                res, err = runner.run(wl.big)
                if err:
                    wl.big.failures.append(err)
                    log("W4 %s FAILED: %s" % (wl.big.label, err))
                else:
                    log("W4 %-28s run %d %7.3f s wall %7.1f MiB" % (
                        "piperun 4x input", r + 1, res["wall_s"], pss_kib(res) / 1024))
                    wl.big.runs.append(res)
            sp = os.path.join(outs, "stdout")
            if os.path.exists(sp):
                os.remove(sp)

    # ---------------------------------------------------------------- report
    elapsed = time.time() - started
    machine = describe_machine(work, fstype, piperun, python, parallel, tbb, ncpu)
    verdicts = judge(workloads, s, ncpu)
    write_doc(doc, args, s, workloads, machine, verdicts, selfchecks, elapsed, ncpu, pipes)
    raw = os.path.join(work, "results.json")
    with open(raw, "w") as f:
        json.dump({wl.key: {p.key: {"label": p.label, "runs": p.runs, "failures": p.failures}
                            for p in wl.peers} for wl in workloads}, f, indent=1)
    # free the tmpfs: outputs and references are made anew by every run;
    # the generated inputs stay for the next run
    for p in (outs, refdir):
        shutil.rmtree(p, ignore_errors=True)
    log("results written to %s (raw runs: %s); %.1f minutes" % (doc, raw, elapsed / 60))
    failed = [(wl.key, p.label, p.failures) for wl in workloads for p in wl.peers if p.failures]
    if failed:
        for k, label, f in failed:
            log("%s %s: %s" % (k, label, f[0]))
        die("%d peer(s) had failed runs or outputs that differ; see %s" % (len(failed), doc))


def check_repeat(stdout, ref_out, times):
    """STDOUT must be REF_OUT repeated TIMES times."""
    size = os.path.getsize(ref_out)
    if os.path.getsize(stdout) != size * times:
        return False, "wrong size"
    with open(stdout, "rb") as o:
        for _ in range(times):
            with open(ref_out, "rb") as r:
                while True:
                    x = r.read(16 * MiB)
                    if not x:
                        break
                    if o.read(len(x)) != x:
                        return False, "differs from the reference repeated"
    return True, "identical (the reference, %d times)" % times


# ---------------------------------------------------------------- machine

def describe_machine(work, fstype, piperun, python, parallel, tbb, ncpu):
    m = {}
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = "%.1f GiB" % (int(line.split()[1]) / 1024 / 1024)
    except OSError:
        pass
    osname = ""
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    m["nproc"] = str(ncpu)
    m["cpu"] = cpu or platform.processor() or "unknown"
    m["kernel"] = "%s %s" % (platform.system(), platform.release())
    m["memory"] = mem
    m["os"] = osname
    m["work"] = "%s (%s)" % (work, fstype or "?")
    rev = try_out(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = try_out(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    digest = hashlib.sha256(open(piperun, "rb").read()).hexdigest()[:12]
    m["piperun"] = "%s, the tree's binary (the tree was at commit %s%s); sha256 %s…, built %s" % (
        try_out([piperun, "--version"]), rev or "?",
        " (the tree had uncommitted changes)" if dirty else "", digest,
        datetime.datetime.fromtimestamp(os.path.getmtime(piperun)).strftime("%Y-%m-%d %H:%M"))
    cflags = ""
    try:
        for line in open(os.path.join(ROOT, "Makefile")):
            if line.startswith("CFLAGS ="):
                cflags = line.split("=", 1)[1].strip()
    except OSError:
        pass
    if cflags:
        m["piperun"] += "; CFLAGS %s" % cflags
    m["cc"] = try_out(["cc", "--version"]).splitlines()[0] if try_out(["cc", "--version"]) else "?"
    m["tbb"] = "oneTBB " + (dpkg_version("libtbb-dev") or "?") if tbb else "not built"
    m["python"] = "%s (%s)" % (sys.version.split()[0], python)
    m["parallel"] = try_out([parallel, "--version"]).splitlines()[0] if parallel else "not installed"
    m["xargs"] = (try_out(["xargs", "--version"]).splitlines() or ["?"])[0]
    m["gzip"] = (try_out(["gzip", "--version"]).splitlines() or ["?"])[0]
    m["zlib"] = zlib.ZLIB_RUNTIME_VERSION
    return m


def dpkg_version(pkg):
    out = try_out(["dpkg-query", "-W", "-f=${Version}", pkg])
    return out if out and "no packages" not in out else ""


# ---------------------------------------------------------------- verdicts

def judge(workloads, s, ncpu):
    """Checks the targets of the issue.  Returns {workload key: [lines]} and
    a summary list of (target, measured, verdict)."""
    by = {wl.key: wl for wl in workloads}
    lines = {wl.key: [] for wl in workloads}
    summ = []

    def add(key, target, measured, met, miss):
        verdict = "met" if met else "**missed** by %s" % miss
        lines[key].append("- %s: %s — %s" % (target, measured, verdict))
        summ.append((key, target, measured, verdict))

    def sm(wl, key):
        p = wl.peer(key)
        return summary(p) if p else None

    def ideal_of(wl):
        r = sm(wl, "ref")
        return r["cpu"] / ncpu if r else None

    def within_ideal(key, limit):
        wl = by.get(key)
        if not wl:
            return
        p, ideal = sm(wl, "piperun"), ideal_of(wl)
        if not p or not ideal:
            add(key, "within %d%% of ideal" % limit, "no result", False, "– (no result)")
            return
        ratio = p["wall"] / ideal
        allowed = 1 + limit / 100
        add(key, "within %d%% of ideal (wall ≤ %.2f × C-reference CPU ÷ %d)" % (limit, allowed, ncpu),
            "%.3f s vs ideal %.3f s = %.2f× ideal (%+.0f%%)" % (p["wall"], ideal, ratio, (ratio - 1) * 100),
            ratio <= allowed, "%.1f%% (wall %.3f s, allowed %.3f s)" % (pct_over(p["wall"], ideal * allowed),
                                                                       p["wall"], ideal * allowed))

    def same_round(wl, ka, kb):
        """A's wall time over B's, round by round: the machine's drift
        falls on both alike within a round."""
        a = {x["round"]: x["wall_s"] for x in wl.peer(ka).runs if "round" in x}
        b = {x["round"]: x["wall_s"] for x in wl.peer(kb).runs if "round" in x}
        rs = sorted(a[k] / b[k] for k in a if k in b)
        if len(rs) < 2:
            return ""
        return "; round by round %.3f–%.3f×, median %.3f×" % (rs[0], rs[-1], med(rs))

    def vs_tbb(key, pk="piperun"):
        wl = by.get(key)
        if not wl:
            return
        p, t = sm(wl, pk), sm(wl, "tbb")
        if not t:
            lines[key].append("- at least as fast as oneTBB: not judged (the oneTBB peer could not be built)")
            return
        if not p:
            add(key, "at least as fast as oneTBB", "no result", False, "– (no result)")
            return
        add(key, "at least as fast as oneTBB", "%.3f s vs %.3f s (%.2f×%s)" % (
            p["wall"], t["wall"], p["wall"] / t["wall"], same_round(wl, pk, "tbb")),
            p["wall"] <= t["wall"], "%.1f%%" % pct_over(p["wall"], t["wall"]))

    def ordered_vs_any(key, ordered, anyk, per_item=False):
        wl = by.get(key)
        if not wl:
            return
        a, b = sm(wl, ordered), sm(wl, anyk)
        if not a or not b:
            return
        r = a["wall"] / b["wall"]
        add(key, "ordered output ≤ 10%% slower than `order: any` (%s)" % wl.peer(ordered).label.replace("*", ""),
            "%.3f s vs %.3f s (%+.1f%%%s)" % (a["wall"], b["wall"], (r - 1) * 100, same_round(wl, ordered, anyk)),
            r <= 1.10, "%.1f%%" % pct_over(a["wall"], b["wall"] * 1.10))

    def faster_than_peers(key, pks, per_item=False):
        wl = by.get(key)
        if not wl:
            return
        rivals = [p for p in wl.peers if not p.key.endswith(":1") and
                  (p.key.startswith("py") or p.key.startswith("parallel"))]
        for pk in pks:
            me = wl.peer(pk)
            if not me or not summary(me):
                continue
            for r in rivals:
                if not summary(r):
                    continue
                if per_item:
                    a, b = per_item_cost(wl, me), per_item_cost(wl, r)
                    if not a or not b or a["marginal"] is None or b["marginal"] is None:
                        continue
                    x, y, unit = a["marginal"], b["marginal"], "µs/item"
                else:
                    x, y, unit = summary(me)["wall"], summary(r)["wall"], "s"
                add(key, "faster than %s" % r.label,
                    "%s %s %s vs %s %s" % (me.label.replace("*", ""), fmt_num(x), unit, fmt_num(y), unit),
                    x < y, "%.1f%%" % pct_over(x, y))

    within_ideal("W1", 10)
    vs_tbb("W1")
    faster_than_peers("W1", ["piperun"])

    wl = by.get("W2")
    if wl:
        t = per_item_cost(wl, wl.peer("tbb")) if wl.peer("tbb") else None
        for pk, factor, what in (("io", 1.5, "io"), ("cpu", 6, "cpu")):
            p = per_item_cost(wl, wl.peer(pk))
            if not t or not p or t["marginal"] is None or p["marginal"] is None:
                lines["W2"].append("- %s stage per-item overhead ≤ %g× oneTBB's: not judged (missing result)" % (what, factor))
                continue
            limit = t["marginal"] * factor
            alt = p["per_wall"] <= t["per_wall"] * factor
            add("W2", "%s stage: per-item cost ≤ %g× oneTBB's" % (what, factor),
                "%.2f µs vs oneTBB %.2f µs = %.1f× (by wall ÷ items: %.2f vs %.2f µs = %.1f×, %s)" % (
                    p["marginal"], t["marginal"], p["marginal"] / t["marginal"] if t["marginal"] > 0 else float("inf"),
                    p["per_wall"], t["per_wall"], p["per_wall"] / t["per_wall"], "met" if alt else "missed"),
                p["marginal"] <= limit, "%.0f%%" % pct_over(p["marginal"], limit) if limit > 0 else "–")
        ordered_vs_any("W2", "io", "io-any")
        ordered_vs_any("W2", "cpu", "cpu-any")
        faster_than_peers("W2", ["io", "cpu"], per_item=True)

    within_ideal("W3", 8)
    vs_tbb("W3")
    faster_than_peers("W3", ["piperun"])

    wl = by.get("W4")
    if wl:
        within_ideal("W4", 15)
        p = sm(wl, "piperun")
        if p:
            add("W4", "peak memory under 64 MiB (largest of the runs)",
                "%.1f MiB (sum of VmRSS: %.1f MiB)" % (p["peak_max"], p["rss_max"]),
                p["peak_max"] < 64, "%.1f%%" % pct_over(p["peak_max"], 64))
            b = summary(wl.big) if getattr(wl, "big", None) else None
            if b:
                grow = b["peak_max"] / p["peak_max"]
                add("W4", "peak memory flat from %s to %s (at most +10%%)" % (
                    human_size(s.w4_size), human_size(s.w4_size * s.w4_times)),
                    "%.1f MiB → %.1f MiB (%+.1f%%; wall %.2f s → %.2f s)" % (
                        p["peak_max"], b["peak_max"], (grow - 1) * 100, p["wall"], b["wall"]),
                    grow <= 1.10, "%.1f%%" % pct_over(b["peak_max"], p["peak_max"] * 1.10))
        vs_tbb("W4")
        ordered_vs_any("W4", "piperun", "any")
        faster_than_peers("W4", ["piperun"])

    wl = by.get("W5")
    if wl:
        p = per_item_cost(wl, wl.peer("piperun"))
        if p and p["marginal"] is not None:
            add("W5", "at most 0.3 ms per item",
                "%.3f ms (by wall ÷ items: %.3f ms)" % (p["marginal"] / 1000, p["per_wall"] / 1000),
                p["marginal"] <= 300, "%.1f%%" % pct_over(p["marginal"], 300))
        for xk in ("xargs", "xargs8"):
            a, b = sm(wl, "piperun"), sm(wl, xk)
            if a and b:
                add("W5", "faster than %s" % wl.peer(xk).label,
                    "%.3f s vs %.3f s (%.2f×)" % (a["wall"], b["wall"], a["wall"] / b["wall"]),
                    a["wall"] < b["wall"], "%.1f%%" % pct_over(a["wall"], b["wall"]))
        faster_than_peers("W5", ["piperun"], per_item=True)
    return {"lines": lines, "summary": summ}


# ---------------------------------------------------------------- document

def analysis_text():
    """bench/analysis.md, written by hand: why the missed targets are
    missed, from profiles of the same binary; "" when there is none."""
    path = os.path.join(ROOT, "bench", "analysis.md")
    return open(path).read().rstrip("\n") if os.path.exists(path) else ""


def recopy_analysis(doc):
    """Puts the analysis in DOC, a results file, anew: between the targets
    table and the first workload's section."""
    if not os.path.exists(doc):
        die("%s: no results file to update; run the benchmark first" % doc)
    lines = open(doc).read().split("\n")
    try:
        start = lines.index("## Targets")
        while start < len(lines) and not lines[start].startswith("|"):
            start += 1
        while start < len(lines) and lines[start].startswith("|"):
            start += 1
        end = next(i for i in range(start, len(lines)) if re.match(r"## W\d+: ", lines[i]))
    except (ValueError, StopIteration):
        die("%s: not a results file of bench/run (no targets table or workloads)" % doc)
    text = analysis_text()
    lines[start:end] = [""] + ([text, ""] if text else [])
    with open(doc, "w") as f:
        f.write("\n".join(lines))
    log("analysis copied into %s again" % doc)


def write_doc(doc, args, s, workloads, m, verdicts, selfchecks, elapsed, ncpu, pipes):
    cmd = args.command or "bench/run " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L = []
    L.append("# piperun benchmarks")
    L.append("")
    L.append("This file is written by `bench/run` (see bench/README.md); do not edit it by hand, "
             "run the benchmark again.%s" % (" **Quick mode: fewer runs and smaller workloads — "
                                               "not the reference numbers.**" if s.quick else
                                               " **W1 with %d files instead of 64 — not the reference "
                                               "numbers.**" % s.w1_files if not s.reference else ""))
    L.append("")
    L.append("## Run")
    L.append("")
    L.append("- Command: `%s` (from the repository root)" % cmd.strip())
    L.append("- Date: %s; the whole run took %.1f minutes" % (now, elapsed / 60))
    L.append("- Machine: %s online CPUs (`nproc`), %s; %s; kernel %s; %s of memory" % (
        m["nproc"], m["cpu"], m["os"], m["kernel"], m["memory"]))
    L.append("- Work folder: %s — inputs, references and outputs all live there" % m["work"])
    L.append("- piperun: %s" % m["piperun"])
    L.append("- Peers: %s (C reference and oneTBB peer at -O2); %s; Python %s; %s; %s; %s; zlib %s" % (
        m["cc"], m["tbb"], m["python"], m["parallel"], m["xargs"], m["gzip"], m["zlib"]))
    L.append("- Each peer: %d warm-up run, then %d measured runs; the peers take turns within each round "
             "(the order rotates every round). Medians, with min–max of the wall time." % (s.warmup, s.runs))
    L.append("- Every run's output was checked against the single-threaded C reference (column *output*); "
             "a run whose output differs counts as failed.")
    for c in selfchecks:
        L.append("- Checked before timing: %s." % c)
    L.append("")
    L.append("## How to read the tables")
    L.append("")
    L.append("- **wall**: elapsed time from start to exit of the command.")
    L.append("- **CPU**: user + system time of the command and all its descendants (threads, worker "
             "processes, jobs), from getrusage once all are reaped.")
    L.append("- **peak MiB**: the memory the command and its live descendants hold together at the "
             "highest, sampled every 20 ms from /proc (median over the runs): the sum of their PSS "
             "(/proc/PID/smaps_rollup), which divides a page shared by several processes between "
             "them, so each page counts once. The memory targets are judged on it.")
    L.append("- **VmRSS sum MiB**: the highest sum of VmRSS over the same processes, sampled alike. It "
             "counts a shared page once in every process that maps it: libraries, the pages forked "
             "workers share with their parent, and piperun's shared memory for large items, which "
             "both piperun and its worker processes map.")
    L.append("- **× C ref**: wall ÷ wall of the single-threaded C reference. **× ideal**: wall ÷ "
             "(CPU time of the C reference ÷ %d CPUs), the time of a perfect split of the reference's "
             "work over the CPUs; 1.00× is the ideal, above it is overhead." % ncpu)
    L.append("- W2 and W5: **µs/item (wall ÷ items)** is the median wall time divided by the number of items; "
             "**µs/item (marginal)** is (median wall on N items − median wall of the same command on 1 item) "
             "÷ (N − 1): the cost of one more item once the fixed start-up is paid. The per-item targets are "
             "judged on the marginal cost; the verdict line gives the other figure as well. "
             "GNU parallel and xargs run W2 on the first %s items only (one process per item)." % "{:,}".format(s.w2_small))
    L.append("- piperun rows in **bold** are piperun's default configuration, on which the targets are judged; "
             "the `executor: openmp` rows are for information.")
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| workload | target | measured | verdict |")
    L.append("|---|---|---|---|")
    for key, target, measured, verdict in verdicts["summary"]:
        L.append("| %s | %s | %s | %s |" % (key, target, measured.replace("|", "/"), verdict))
    L.append("")
    analysis = analysis_text()
    if analysis:
        L.append(analysis)
        L.append("")
    for wl in workloads:
        L.append("## " + wl.title)
        L.append("")
        L.append(wl.what)
        L.append("")
        refp = wl.peer("ref")
        ref_sum = summary(refp) if refp else None
        L.append(table(wl, ref_sum, ncpu, per_item=wl.per_item))
        L.append("")
        if ref_sum:
            L.append("Ideal: %.3f s (C reference CPU %.3f s ÷ %d)." % (ref_sum["cpu"] / ncpu, ref_sum["cpu"], ncpu))
            L.append("")
        if wl.key == "W4" and getattr(wl, "big", None):
            b = summary(wl.big)
            if b:
                L.append("Flatness run: %s, %d run(s): wall %s s, CPU %s s, peak %.1f MiB (largest %.1f MiB); "
                         "output %s." % (wl.big.label, b["n"], fmt_s(b["wall"]), fmt_s(b["cpu"]), b["peak"],
                                         b["peak_max"], wl.big.check_note or "checked"))
            else:
                L.append("Flatness run failed: %s" % "; ".join(wl.big.failures))
            L.append("")
        kept = [r for p in wl.peers for r in p.runs]
        if kept:
            worst = max(kept, key=lambda r: r["other_cpu_s"] / max(r["wall_s"], 1e-9))
            L.append("Machine otherwise idle? CPU used by anything else during the measured runs (other "
                     "processes, the hypervisor): median %.3f s per run, at most %.3f s in a %.3f s run; "
                     "%d run(s) were done again, after waiting for the machine to be quiet (%.0f s of waiting "
                     "in all), because something else used more than 10%% of a CPU (and 30 ms) during them; "
                     "%d kept run(s) were disturbed even so." % (
                         med([r["other_cpu_s"] for r in kept]), worst["other_cpu_s"], worst["wall_s"],
                         sum(p.reruns for p in wl.peers) + (wl.big.reruns if getattr(wl, "big", None) else 0),
                         wl.waited, sum(1 for r in kept if r.get("disturbed"))))
            L.append("")
        for n in wl.notes:
            L.append(n)
            L.append("")
        L.append("Verdicts:")
        L.append("")
        L.extend(verdicts["lines"].get(wl.key) or ["- (none)"])
        L.append("")
        for name, path in getattr(wl, "yml", {}).items():
            L.append("<details><summary>%s</summary>\n\n```yaml\n%s```\n</details>\n" % (name, open(path).read()))
    L.append("## Notes on the peers")
    L.append("")
    L.append("- The C reference (bench/src/ref.c) and the oneTBB peer (bench/src/tbb_peer.cpp) share one "
             "`clean` loop and one zlib call (bench/src/common.h), so they differ only in scheduling. "
             "GNU parallel and xargs run the C reference on one file (W1, W3), one block (W4) or "
             "one item per job.")
    L.append("- oneTBB: `parallel_pipeline` with serial_in_order → parallel → serial_in_order, 4 tokens per "
             "thread, oneTBB's default of one thread per CPU; for W5 an arena of 8 threads, since its "
             "middle filter only waits on child processes.")
    L.append("- Python (bench/peers/py_peer.py), written the usual way: threads read and write while a "
             "ProcessPoolExecutor cleans or compresses (W1, W3); ThreadPoolExecutor.map and "
             "multiprocessing.Pool.imap(chunksize=256) over the lines (W2); Pool.imap(chunksize=2) over "
             "1 MiB line-aligned blocks (W4); ThreadPoolExecutor(8) + subprocess.run (W5). "
             "`clean` is bytes.translate + split/join; gzip is gzip.compress(level 6, mtime=0), which is zlib.")
    L.append("- GNU parallel and xargs get TMPDIR in the work folder (GNU parallel -k buffers job output "
             "in temporary files). `gzip -6 -n` (gzip(1)) is its own deflate implementation, not zlib: "
             "its compressed bytes differ from zlib's, so that row is checked by decompressing.")
    L.append("")
    os.makedirs(os.path.dirname(os.path.abspath(doc)), exist_ok=True)
    with open(doc, "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
