#!/usr/bin/env python3
"""The Python peer of the piperun benchmarks: each job written the way a
Python programmer usually writes it, with the standard library only.

  py_peer.py clean-files OUTDIR FILE...   W1: threads read, processes clean, threads write
  py_peer.py gzip-files OUTDIR FILE...    W3: the same with gzip.compress(level 6)
  py_peer.py lines-threads FILE           W2, io: ThreadPoolExecutor.map over the lines
  py_peer.py lines-pool FILE              W2, cpu: multiprocessing.Pool.imap(chunksize=256)
  py_peer.py stream                       W4: stdin in 1 MiB line-aligned blocks through
                                          multiprocessing.Pool.imap(chunksize=2), in order
  py_peer.py spawn-lines FILE CMD...      W5: ThreadPoolExecutor(8) + subprocess.run per line

`clean` is bytes.translate plus split/join: the harness checks that its
output is byte-identical to the C reference.
"""
import gzip
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

# A-Z -> a-z; a-z, 0-9 and newline kept; every other byte -> space
_KEEP = set(b"abcdefghijklmnopqrstuvwxyz0123456789\n")
TABLE = bytes(
    c + 32 if 65 <= c <= 90 else (c if c in _KEEP else 32) for c in range(256)
)


def clean(data):
    out = []
    for line in data.translate(TABLE).split(b"\n"):
        words = line.split()  # after translate only spaces are left
        if words:
            out.append(b" ".join(words))
    if not out:
        return b""
    out.append(b"")
    return b"\n".join(out)


def gzip6(data):
    # mtime=0: no time stamp in the header, so the output is reproducible
    return gzip.compress(data, compresslevel=6, mtime=0)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def files(outdir, paths, func, suffix):
    """Threads read, a process pool transforms, threads write."""
    with ThreadPoolExecutor(max_workers=8) as io, ProcessPoolExecutor() as cpu:
        pending = [(path, cpu.submit(func, data))
                   for path, data in zip(paths, io.map(read_file, paths))]
        writes = [io.submit(write_file,
                            os.path.join(outdir, os.path.basename(path) + suffix),
                            fut.result())
                  for path, fut in pending]
        for w in writes:
            w.result()


def lines_threads(path):
    out = sys.stdout.buffer
    with open(path, "rb") as f, ThreadPoolExecutor(max_workers=8) as ex:
        for r in ex.map(clean, f):
            out.write(r)
    out.flush()


def lines_pool(path):
    out = sys.stdout.buffer
    with open(path, "rb") as f, multiprocessing.Pool() as pool:
        for r in pool.imap(clean, f, chunksize=256):
            out.write(r)
    out.flush()


def blocks(f, size=1 << 20):
    while True:
        block = f.read(size)
        if not block:
            return
        if not block.endswith(b"\n"):
            block += f.readline()
        yield block


def stream():
    out = sys.stdout.buffer
    with multiprocessing.Pool() as pool:
        for r in pool.imap(clean, blocks(sys.stdin.buffer), chunksize=2):
            out.write(r)
    out.flush()


def spawn_lines(path, cmd):
    def run(line):
        return subprocess.run(cmd, input=line, stdout=subprocess.PIPE, check=True).stdout

    out = sys.stdout.buffer
    with open(path, "rb") as f, ThreadPoolExecutor(max_workers=8) as ex:
        for r in ex.map(run, f):
            out.write(r)
    out.flush()


def main(argv):
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "clean-files" and len(argv) >= 3:
        files(argv[2], argv[3:], clean, "")
    elif mode == "gzip-files" and len(argv) >= 3:
        files(argv[2], argv[3:], gzip6, ".gz")
    elif mode == "lines-threads" and len(argv) == 3:
        lines_threads(argv[2])
    elif mode == "lines-pool" and len(argv) == 3:
        lines_pool(argv[2])
    elif mode == "stream" and len(argv) == 2:
        stream()
    elif mode == "spawn-lines" and len(argv) >= 4:
        spawn_lines(argv[2], argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
