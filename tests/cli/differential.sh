#!/bin/sh
# differential.sh: pipelines made at random (from a fixed seed) out of the
# built-in stages, with random tags, workers, on_error and -j, and some
# missing input files, give the same output and exit status in parallel as
# under --sync.  Under order: any, the pipelines end with one line per item
# and are compared line for line in any order, when no item failed.
. "${srcdir:-.}/tests/tap/tap.sh"

command -v python3 > /dev/null || skip_all "python3 is needed to make the pipelines"

python3 - "$tmp" <<'PY'
import os, random, sys

tmp = sys.argv[1]
rnd = random.Random(20261127)
os.mkdir(os.path.join(tmp, "in"))
words = ["Alpha", "beta", "GAMMA", "error", "Warn", "x1", "zz", "!!", "  ", "\t", "\xe9",
         "ERROR: disk"]
for i in range(12):
    n = rnd.choice([0, 1, 10, 200, 3000, 40000])
    lines = [" ".join(rnd.choice(words) for _ in range(rnd.randint(0, 8))) for _ in range(n)]
    data = "\n".join(lines) + ("\n" if rnd.random() < 0.5 else "")
    with open(os.path.join(tmp, "in", "f%02d.txt" % i), "w", encoding="latin-1") as f:
        f.write(data)

def stage(i, first, src):
    kind = rnd.choice(["", "", "cpu", "io"])
    keys = (", kind: " + kind) if kind else ""
    if rnd.random() < 0.3:
        keys += ", on_error: skip"
    if rnd.random() < 0.3:
        keys += ", workers: %d" % rnd.choice([1, 2, 3])
    c = rnd.choice(["clean", "grep", "split", "gzip", "hash", "count", "exec"])
    if c == "clean":
        return "{name: s%d, run: clean%s}" % (i, keys)
    if c == "grep":
        return "{name: s%d, run: grep, with: {pattern: '%s', invert: %s}%s}" % (
            i, rnd.choice(["error", "^a", "x1|zz", "."]), rnd.choice(["true", "false"]), keys)
    if c == "split":
        return "{name: s%d, run: split, with: {%s}%s}" % (
            i, rnd.choice(["size: 1000", "size: 64KiB", "lines: true"]), keys)
    if c == "gzip":
        return ("{name: s%da, run: gzip, with: {level: 1}%s}, "
                "{name: s%db, run: gzip, with: {decompress: true}}" % (i, keys, i))
    if c == "hash":
        return "{name: s%d, run: hash%s}" % (i, keys)
    if c == "exec" and first and src == "glob":
        return "{name: s%d, run: exec, with: {command: [%s]}}" % (
            i, rnd.choice(["tr, a-z, A-Z", "cat", "wc, -l"]))
    return "{name: s%d, run: count}" % i

names = sorted(os.listdir(os.path.join(tmp, "in")))
for t in range(1, 31):
    src = rnd.choice(["glob", "lines", "blocks"])
    files = rnd.sample(names, rnd.randint(1, len(names)))
    if src == "glob":
        if rnd.random() < 0.5:
            files.insert(rnd.randint(0, len(files)), "missing.txt")
        inp = "{files: [%s]}" % ", ".join("in/" + f for f in files)
    elif src == "lines":
        inp = "{lines: in/%s}" % files[0]
    else:
        inp = "{blocks: {file: in/%s, size: %s}}" % (files[0], rnd.choice(["4KiB", "64KiB"]))
    stages = ["{name: rd, run: read}"] if src == "glob" else []
    stages += [stage(i, i == 0, src) for i in range(rnd.randint(1, 4))]
    order = "input"
    if rnd.random() < 0.3:
        order = "any"
        stages.append("{name: last, run: hash}")
    with open(os.path.join(tmp, "p%02d.yml" % t), "w") as f:
        f.write("input: %s\norder: %s\nstages: [%s]\n" % (inp, order, ", ".join(stages)))
    with open(os.path.join(tmp, "p%02d.args" % t), "w") as f:
        f.write(rnd.choice(["", "-j 1", "-j 3"]))
PY
test $? -eq 0 || { echo "Bail out! cannot make the pipelines"; exit 255; }

cd "$tmp" || exit 255
for p in p*.yml; do
	t=${p%.yml}
	"$PIPERUN" --sync "$p" > "$t.sync" 2> /dev/null
	want=$?
	# shellcheck disable=SC2046 # the arguments are words
	"$PIPERUN" $(cat "$t.args") "$p" > "$t.par" 2> /dev/null
	got=$?
	if grep -q '^order: any' "$p" && [ "$want" -ne 0 ]; then
		# Which items get out before a failure stops the run is not
		# defined under order: any; the exit status is.
		: > "$t.want"
		: > "$t.got"
	elif grep -q '^order: any' "$p"; then
		sort "$t.sync" > "$t.want"
		sort "$t.par" > "$t.got"
	else
		cp "$t.sync" "$t.want"
		cp "$t.par" "$t.got"
	fi
	cmp -s "$t.want" "$t.got" && [ "$want" = "$got" ] && [ "$want" -le 1 ]
	ok $? "$t ($(grep -o 'run: [a-z]*' "$p" | cut -c6- | tr '\n' ' ')$(cat "$t.args")): exit $got and output as under --sync (exit $want)"
done

test_done
