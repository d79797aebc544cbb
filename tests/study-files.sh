#!/bin/sh
# study-files.sh - the ANS study's artefacts hang together:
#   - every experiments/paper/*.yaml is a valid sweep (`negbench grid` exits 0
#     with the data sets in ../shared/data; one SKIP per file without them);
#   - experiments/paper/run.sh trains every one of them (its ALL list) and
#     experiments/paper/tables.sh reports each (a results/NAME.md section);
#   - tables.sh's generated block replaces only the text between its markers:
#     a results file with hand-written text around the block keeps that text
#     byte for byte when regenerated twice.
# TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbstudy
DATA=${NEGBENCH_DATA:-$DATA}

all=$(sed -n 's/^ALL="\(.*\)"$/\1/p' "$TOP/experiments/paper/run.sh")
for y in "$TOP"/experiments/paper/*.yaml; do
  a=$(basename "$y" .yaml)
  case " $all " in *" $a "*) r=0 ;; *) r=1 ;; esac
  ok $r "run.sh trains $a"
  case $a in
    sens-*) grep -q "^for p in .*\<${a#sens-}\>.*; do" "$TOP/experiments/paper/tables.sh" ;;
    protocol-*) grep -q "results/$a\.sqlite.*" "$TOP/experiments/paper/tables.sh" &&
                grep -q "results/protocols\.md" "$TOP/experiments/paper/tables.sh" ;;
    *) grep -q "results/$a\.md" "$TOP/experiments/paper/tables.sh" ;;
  esac
  ok $? "tables.sh reports $a"
  if [ -d "$DATA/dens-baby" ] && [ -d "$DATA/dens-beauty" ] && [ -d "$DATA/dens-lastfm" ]; then
    NEGBENCH_DATA=$DATA "$NB" grid "$y" --db "$T/$a.sqlite" > "$T/$a.out" 2>&1
    ok $? "negbench grid $a.yaml: $(tail -1 "$T/$a.out" | cut -c1-60)"
  else
    skip_shared 1 "$a.yaml not validated: the DENS splits are not in $DATA"
  fi
done
for a in $all; do
  [ -f "$TOP/experiments/paper/$a.yaml" ]; ok $? "run.sh's $a has its experiments/paper/$a.yaml"
done

# The generated block: a fake checkout with one store-less artefact file.
mkdir -p "$T/co/experiments/paper" "$T/co/results"
cp "$TOP/experiments/paper/tables.sh" "$T/co/experiments/paper/"
printf '# Table 2\n\nhand-written above\n\n<!-- generated: begin -->\nold numbers\n<!-- generated: end -->\n\nhand-written below\n' > "$T/co/results/table2.md"
: > "$T/co/results/table2.sqlite"   # an empty store: the reports fail, the text stays
NEGBENCH="$NB" sh -c "cd '$T/co' && bash experiments/paper/tables.sh" > /dev/null 2>&1
sed -n '1,4p' "$T/co/results/table2.md" > "$T/head"
printf '# Table 2\n\nhand-written above\n\n' | cmp -s - "$T/head"; ok $? "tables.sh keeps the text above the generated block"
printf '<!-- generated: end -->\n\nhand-written below\n' > "$T/tail.want"
tail -3 "$T/co/results/table2.md" | cmp -s "$T/tail.want" -; ok $? "tables.sh keeps the text below the generated block"
grep -q 'old numbers' "$T/co/results/table2.md"; ok $((! $?)) "tables.sh replaces the generated block"
[ "$(grep -c 'generated: begin' "$T/co/results/table2.md")" = 1 ]; ok $? "one generated block after a run"
NEGBENCH="$NB" sh -c "cd '$T/co' && bash experiments/paper/tables.sh" > /dev/null 2>&1
[ "$(grep -c 'generated: begin' "$T/co/results/table2.md")" = 1 ]; ok $? "still one generated block after a second run"
tap_done
