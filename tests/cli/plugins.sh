#!/bin/sh
# plugins.sh: plugin stages under every executor with identical output, the
# example plugins against standard tools, and every way loading refuses one.
. "${srcdir:-.}/tests/tap/tap.sh"

case $builddir in /*) ;; *) builddir=$(cd "$builddir" && pwd) ;; esac
plugins=$builddir/tests/plugins
examples=$builddir/pipelines/plugins

awk 'BEGIN { for (i = 0; i < 3000; i++) printf "Line %d: The Quick Brown Fox, jumps over %d LAZY dogs!\n", i, i * 7 }' > "$tmp/in.txt"

# caesar (with state) under each executor; the reference is tr.
tr 'A-Za-z' 'N-ZA-Mn-za-mn' < "$tmp/in.txt" > "$tmp/want"
run_caesar() { # label, stage keys
	cat > "$tmp/p.yml" <<YML
input: {blocks: {file: in.txt, size: 4k}}
stages:
  - {name: rot, plugin: $examples/caesar.so, with: {shift: 13}, $2}
YML
	"$PIPERUN" $3 "$tmp/p.yml" > "$tmp/got" 2> "$tmp/err"
	is 0 $? "caesar on $1: exit 0"
	same_file "$tmp/want" "$tmp/got" "caesar on $1: output equals tr"
}
run_caesar sequential "kind: cpu" --sync
run_caesar processes "kind: cpu, workers: 2"
if "$PIPERUN" --check "$tmp/p.yml" > /dev/null 2>&1 && printf 'stages:\n  - {name: c, run: clean, executor: openmp}\n' > "$tmp/omp.yml" &&
	"$PIPERUN" --check "$tmp/omp.yml" x 2> /dev/null; then
	run_caesar openmp "kind: cpu, executor: openmp, workers: 2"
fi
run_caesar threads "kind: io, workers: 4"
run_caesar "a sync stage" "kind: sync"

# words (one item in, many out): the same words in the same order everywhere.
for mode in --sync ""; do
	cat > "$tmp/w.yml" <<YML
input: {lines: in.txt}
stages:
  - {name: words, plugin: $examples/words.so, workers: 2}
YML
	"$PIPERUN" $mode "$tmp/w.yml" > "$tmp/got"
	is 0 $? "words ${mode:-parallel}: exit 0"
	tr -s ' \n' '\n\n' < "$tmp/in.txt" | grep -v '^$' > "$tmp/want"
	same_file "$tmp/want" "$tmp/got" "words ${mode:-parallel}: every word, in order"
done

# Loading refuses what it cannot trust, naming the stage's line:col.
refused() { # plugin, expected message after "p.yml:3:13: error: "
	cat > "$tmp/p.yml" <<YML
input: {files: [in.txt]}
stages:
  - name: x
    kind: cpu
    plugin: $1
YML
	"$PIPERUN" --check "$tmp/p.yml" 2> "$tmp/err"
	is 2 $? "$3: exit 2"
	is "$tmp/p.yml:5:13: error: $2" "$(cat "$tmp/err")" "$3: message"
}
refused "$plugins/bad-abi.so" "plugin '$plugins/bad-abi.so' was built for stage interface 2.0; this piperun provides 1.4" "another ABI major"
refused "$plugins/bad-size.so" "plugin '$plugins/bad-size.so' has a descriptor of 24 bytes, smaller than the 56 of stage interface 1.0" "a descriptor too small"
refused "$plugins/no-symbol.so" "plugin '$plugins/no-symbol.so' exports no 'piperun_stage' symbol: is it a piperun stage?" "no descriptor"
refused "$tmp/in.txt" "cannot load plugin '$tmp/in.txt': $tmp/in.txt: invalid ELF header" "not a shared object"
refused "$tmp/nothere.so" "cannot load plugin '$tmp/nothere.so': No such file or directory" "a missing file"
refused "$plugins/bad-name.so" "plugin '$plugins/bad-name.so' has an invalid name 'a b/c': a stage's name holds only letters, digits, '_' and '-'" "a descriptor name with a space and a slash"
refused "$plugins/bad-kind.so" "plugin '$plugins/bad-kind.so' has an invalid kind 77: it must be PIPERUN_KIND_NONE, _IO, _CPU or _SYNC" "a descriptor kind out of range"

# A plugin that failed to load has no kind: no error follows from that.
cat > "$tmp/p.yml" <<YML
input: {files: [in.txt]}
stages:
  - {name: upper, plugin: $tmp/nothere.so, executor: process, workers: 2}
YML
"$PIPERUN" --check "$tmp/p.yml" 2> "$tmp/err"
is 2 $? "a missing plugin with executor: exit 2"
is "$tmp/p.yml:3:27: error: cannot load plugin '$tmp/nothere.so': No such file or directory" "$(cat "$tmp/err")" "and only the load error"

cat > "$tmp/p.yml" <<YML
input: {files: [in.txt]}
stages:
  - {name: x, kind: cpu, plugin: $plugins/refuse.so, with: {mode: fast}}
YML
"$PIPERUN" --check "$tmp/p.yml" 2> "$tmp/err"
is 2 $? "open() refusing its options: exit 2"
is "$tmp/p.yml:3:5: error: stage 'x': mode 'fast' is not one this stage knows" "$(cat "$tmp/err")" "with the stage's own message"

# A bare name is a file next to the pipeline, never a library search.
mkdir "$tmp/bare"
cp "$examples/caesar.so" "$tmp/bare/caesar.so"
printf 'abc\n' > "$tmp/bare/a.txt"
printf 'input: {files: [a.txt]}\nstages:\n  - {name: read, run: read}\n  - {name: r, plugin: caesar.so, with: {shift: 1}}\n' > "$tmp/bare/p.yml"
is "bcd" "$(cd / && "$PIPERUN" "$tmp/bare/p.yml")" "a bare plugin name is found next to the pipeline file"
rm "$tmp/bare/caesar.so"
(cd / && LD_LIBRARY_PATH=$examples "$PIPERUN" --check "$tmp/bare/p.yml") 2> "$tmp/err"
is 2 $? "and never on the library search path"

# reuse_input(): a stage writes its result over its input, under every
# executor, small items and large ones (which a worker takes in piperun's
# shared memory); not when a retry needs the input, nor beyond its size.
tr 'A-Za-z' 'a-zA-Z' < "$tmp/in.txt" | sed 's/^./T/' > "$tmp/want"
run_inplace() { # label, stage keys, expected first byte, [piperun option]
	cat > "$tmp/ip.yml" <<YML
input: {lines: in.txt}
stages:
  - {name: ip, plugin: $plugins/inplace.so, $2}
YML
	"$PIPERUN" $4 "$tmp/ip.yml" > "$tmp/got" 2> "$tmp/err"
	is 0 $? "inplace, $1: exit 0"
	is "" "$(cat "$tmp/err")" "inplace, $1: nothing on stderr"
	sed "s/^./$3/" "$tmp/want" > "$tmp/want-$3"
	same_file "$tmp/want-$3" "$tmp/got" "inplace, $1: every result $(
		case $3 in T) echo "written over its input" ;; C) echo "in memory of its own" ;;
		R) echo "copied, the input given back" ;; esac)"
}
run_inplace sequential "kind: cpu" T --sync
run_inplace processes "kind: cpu, workers: 2" T
# In piperun's own process (threads, OpenMP) the stage takes the item's
# bytes; the stage still gives back the room they held in its bounds, or
# its bound on bytes would fill with bytes long gone and let few items in
# at a time.  piperun checks at the end of a run that every stage holds
# nothing, and fails the run with an internal error otherwise.
run_inplace threads "kind: io, workers: 4" T
if [ -f "$tmp/omp.yml" ] && "$PIPERUN" --check "$tmp/omp.yml" x 2> /dev/null; then
	run_inplace openmp "kind: cpu, executor: openmp, workers: 2" T
else
	ok 0 "# SKIP inplace, openmp: built without OpenMP"
	ok 0 "# SKIP inplace, openmp: built without OpenMP"
	ok 0 "# SKIP inplace, openmp: built without OpenMP"
fi
run_inplace "more than the input's size" "kind: cpu, workers: 2, with: {more: 1}" C
run_inplace "on_error: retry" "kind: cpu, workers: 2, on_error: retry" C
run_inplace "taken, then given back" "kind: cpu, workers: 2, with: {then: release}" R
mkdir "$tmp/large"
for i in 1 2 3 4 5 6; do
	awk -v n=$((150000 + i * 10000)) 'BEGIN { for (j = 0; j < n; j++) printf "%s", (j % 2 ? "a" : "B"); print "" }' > "$tmp/large/f$i"
done
cat "$tmp/large"/f* | tr 'A-Za-z' 'a-zA-Z' | sed 's/^./T/' > "$tmp/want"
for mode in processes sync release; do
	cat > "$tmp/ipl.yml" <<YML
input: {glob: "$tmp/large/f*"}
stages:
  - {name: read, run: read}
  - {name: ip, kind: cpu, workers: 2, plugin: $plugins/inplace.so$([ $mode = release ] && echo ", with: {then: release}")}
YML
	"$PIPERUN" $([ $mode = sync ] && echo --sync) "$tmp/ipl.yml" > "$tmp/got"
	is 0 $? "inplace, large items, $mode: exit 0"
	if [ $mode = release ]; then
		sed 's/^T/R/' "$tmp/want" > "$tmp/want-R"
		same_file "$tmp/want-R" "$tmp/got" "inplace, large items, taken then given back: copied"
	else
		same_file "$tmp/want" "$tmp/got" "inplace, large items, $mode: written over their input"
	fi
done
cat > "$tmp/ip.yml" <<YML
input: {lines: in.txt}
stages:
  - {name: ip, kind: cpu, workers: 2, plugin: $plugins/inplace.so, with: {then: emit-input}}
YML
"$PIPERUN" "$tmp/ip.yml" > "$tmp/got" 2> "$tmp/err"
is 1 $? "emit_input() after reuse_input(): the items fail"
grep -q "the input was emitted after reuse_input() took it" "$tmp/err"
ok $? "saying why"

# A stage that is not thread-safe: one state per thread, and no OpenMP.
seq 1 200 > "$tmp/200"
printf 'input: {lines: "-"}\nstages:\n  - {name: u, kind: io, workers: 4, plugin: %s}\n' "$plugins/unsafe.so" > "$tmp/u.yml"
"$PIPERUN" "$tmp/u.yml" < "$tmp/200" > "$tmp/got"
is 0 $? "a stage that is not thread-safe runs on threads"
is 200 "$(wc -l < "$tmp/got" | tr -d ' ')" "every item"
awk '{ print $2, $3 }' "$tmp/got" | sort -u | awk '{ s[$1]++; t[$2]++ } END { for (k in s) if (s[k] > 1) bad = 1; for (k in t) if (t[k] > 1) bad = 1; exit bad }'
ok $? "each state is used by one thread only, and each thread has its own"
printf 'input: {lines: "-"}\nstages:\n  - {name: u, kind: cpu, executor: openmp, plugin: %s}\n' "$plugins/unsafe.so" > "$tmp/u.yml"
"$PIPERUN" --check "$tmp/u.yml" 2> "$tmp/err"
is 2 $? "openmp refuses a stage that is not thread-safe"
grep -Eq "^$tmp/u.yml:3:36: error: stage 'u' (does not declare itself thread-safe, so it cannot run on openmp|asks for openmp, but this piperun was built without OpenMP)$" "$tmp/err"
ok $? "naming the stage's line"

test_done
