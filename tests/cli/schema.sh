#!/bin/sh
# schema.sh: piperun --schema is a JSON Schema that agrees with the loader:
# every example pipeline passes it, every invalid fixture fails it (but for
# the few whose fault no schema can see), and the bash completion loads.
. "${srcdir:-.}/tests/tap/tap.sh"

# Debian's python3 has python3-jsonschema and python3-yaml (./setup).
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
$py -c 'import jsonschema, yaml' 2> /dev/null || skip_all "python3-jsonschema or python3-yaml is missing"

"$PIPERUN" --schema > "$tmp/schema.json"
is 0 $? "--schema exits 0"

validate() { # FILE: prints ok, or why not
	$py - "$tmp/schema.json" "$1" <<'PY'
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft7Validator.check_schema(schema)
try:
    doc = yaml.safe_load(open(sys.argv[2]))
    jsonschema.validate(doc, schema, cls=jsonschema.Draft7Validator)
    print("ok")
except (yaml.YAMLError, jsonschema.ValidationError) as e:
    print("invalid: " + str(e).splitlines()[0])
PY
}

for f in "$srcdir"/pipelines/*.yml; do
	is ok "$(validate "$f")" "the schema accepts pipelines/$(basename "$f")"
done

for f in "$srcdir"/tests/data/bad/*.yml; do
	name=$(basename "$f")
	if grep -q '^# schema-skip: ' "$f"; then
		ok 0 "# SKIP $name: $(sed -n 's/^# schema-skip: //p' "$f")"
		continue
	fi
	got=$(validate "$f")
	if grep -q '^# schema: ' "$f"; then
		# Faults only the loader can see: files, the command line.
		is ok "$got" "$name passes the schema: $(sed -n 's/^# schema: //p' "$f")"
	else
		case $got in invalid:*) ok 0 "the schema refuses $name" ;; *) ok 1 "the schema refuses $name" ;; esac
	fi
done

# The schema's own checks match the loader's on a few more cases.
printf 'stages:\n  - {name: a, run: clean, workers: "4"}\n' > "$tmp/quoted.yml"
case $(validate "$tmp/quoted.yml") in invalid:*) ok 0 "a quoted number is refused, as the loader does" ;; *) ok 1 "a quoted number is refused, as the loader does" ;; esac
printf 'stages:\n  - {name: c, run: clean, kind: sync, workers: auto}\n' > "$tmp/sync.yml"
is ok "$(validate "$tmp/sync.yml")" "workers: auto passes on a sync stage, as the loader takes it"
# Options the loader takes, the schema takes: false for a boolean that
# may be left out, and unquoted numbers or booleans where a string goes.
both_take() { # label, stage
	printf 'stages:\n  - %s\n' "$2" > "$tmp/opt.yml"
	is ok "$(validate "$tmp/opt.yml")" "the schema accepts $1"
	"$PIPERUN" --check "$tmp/opt.yml" in.txt
	is 0 $? "and the loader agrees"
}
both_take "split with lines: false" "{name: s, run: split, with: {size: 6, lines: false}}"
both_take "grep with a number as pattern" "{name: g, run: grep, with: {pattern: 12, invert: false}}"
both_take "write with numbers as dir and suffix" "{name: w, run: write, with: {dir: 2026, suffix: 1}}"
both_take "exec with a number in its command" "{name: e, run: exec, with: {command: [sleep, 0]}}"
both_refuse() { # label, stage
	printf 'stages:\n  - %s\n' "$2" > "$tmp/opt.yml"
	case $(validate "$tmp/opt.yml") in invalid:*) ok 0 "the schema refuses $1" ;; *) ok 1 "the schema refuses $1" ;; esac
	"$PIPERUN" --check "$tmp/opt.yml" in.txt 2> /dev/null
	is 2 $? "and so does the loader"
}
both_refuse "split with lines: false alone" "{name: s, run: split, with: {lines: false}}"
both_refuse "split with both size and lines: true" "{name: s, run: split, with: {size: 6, lines: true}}"
both_refuse "grep with an empty pattern value" "{name: g, run: grep, with: {pattern: ~}}"
both_refuse "grep with a list as pattern" "{name: g, run: grep, with: {pattern: [a]}}"
printf 'x-io: &io {kind: io, workers: 8}\nstages:\n  - {<<: *io, name: r, run: read}\n' > "$tmp/merge.yml"
is ok "$(validate "$tmp/merge.yml")" "merge keys and x- keys pass"
"$PIPERUN" --check "$tmp/merge.yml" in.txt
is 0 $? "and the loader agrees"

if command -v bash > /dev/null; then
	bash -c ". '$srcdir/completion/piperun'; complete -p piperun" > "$tmp/out" 2>&1
	grep -q '_piperun' "$tmp/out"
	ok $? "the bash completion script loads and registers"
fi

test_done
