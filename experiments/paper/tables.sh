#!/bin/bash
# tables.sh - write the study's tables and figures under results/ from the
# stores that run.sh filled (no training; docs/reproducing.md).
#
#   experiments/paper/tables.sh
#
# Run from the top of the checkout after experiments/paper/run.sh. Each
# results/ARTEFACT.md keeps its hand-written text; only the part between the
# lines "<!-- generated: begin -->" and "<!-- generated: end -->" is replaced
# (a file without them gets them appended). Figures go to
# results/figures/ARTEFACT/ (PNG and SVG with their .dat and .gp files).
# An artefact whose store is missing is skipped with a note. NEGBENCH
# (default ./negbench) sets the binary.
set -u
cd "$(dirname "$0")/../.." || exit 2
NEGBENCH=${NEGBENCH:-./negbench}
status=0
ROWS=sampler.name,sampler.margin_init

# generated FILE: replace FILE's generated block with standard input.
generated() {
    local file=$1 block
    block=$(mktemp)
    cat > "$block"
    [ -f "$file" ] || printf '# %s\n\n' "$(basename "$file" .md)" > "$file"
    grep -q '^<!-- generated: begin -->$' "$file" ||
        printf '\n<!-- generated: begin -->\n<!-- generated: end -->\n' >> "$file"
    awk -v block="$block" '
        /^<!-- generated: begin -->$/ { print; while ((getline l < block) > 0) print l; skip = 1; next }
        /^<!-- generated: end -->$/ { skip = 0 }
        !skip { print }' "$file" > "$file.tmp" && mv "$file.tmp" "$file"
    rm -f "$block"
}

# have ARTEFACT...: every store exists (else a note and false).
have() {
    local a
    for a in "$@"; do
        [ -f "results/$a.sqlite" ] || { echo "tables.sh: results/$a.sqlite missing: run experiments/paper/run.sh $a" >&2; return 1; }
    done
}

# report TITLE ARGS...: a titled negbench report section (its command shown).
report() {
    local title=$1; shift
    printf '\n### %s\n\n`negbench report %s`\n\n' "$title" "$*"
    "$NEGBENCH" report "$@" || status=1
}

# plot KIND DIR ARGS...: one figure, linked as an image.
plot() {
    local kind=$1 dir=results/figures/$2; shift 2
    mkdir -p "$dir"
    "$NEGBENCH" plot "$kind" "$@" --out "$dir" >/dev/null || status=1
    printf '\n![%s](figures/%s/%s.png)\n\n`negbench plot %s %s --out %s` (data: [%s.dat](figures/%s/%s.dat), script: [%s.gp](figures/%s/%s.gp))\n' \
        "$kind" "${dir#results/figures/}" "$kind" "$kind" "$*" "$dir" \
        "$kind" "${dir#results/figures/}" "$kind" "$kind" "${dir#results/figures/}" "$kind"
}

# times ARTEFACT...: the wall-time lines run.sh logged for these sweeps.
times() {
    printf '\nRuns (from results/study-times.tsv): '
    awk -F'\t' -v list=" $* " 'index(list, " " $1 " ") {
        printf "%s%s: %s s wall, %s, %s, started %s (%s)", sep, $1, $4, $5, $6, $2, $7; sep = "; " }
        END { print sep ? "." : "not logged." }' results/study-times.tsv 2>/dev/null
}

if have table2; then
    { times table2
      for d in dens-baby dens-beauty dens-lastfm; do
          report "Table 2, $d: Recall, NDCG and Hit at 15 and 20" results/table2.sqlite --rows $ROWS --k 15,20 --where data=$d
      done
      report "Table 4: share of ANS's chosen negatives that DNS would also choose (mean over epochs)" \
          results/table2.sqlite --table overlap --where sampler.name=ans --rows $ROWS
      report "Table 6: efficiency" results/table2.sqlite --table efficiency --rows $ROWS
      plot efficiency table6 results/table2.sqlite --rows $ROWS
    } | generated results/table2.md
fi
if have table2-dens; then
    { times table2-dens
      for d in dens-baby dens-beauty dens-lastfm; do
          report "Table 2 under the DENS protocol, $d: Recall, NDCG and Hit at 20" results/table2-dens.sqlite --rows $ROWS --k 20 --where data=$d --plan experiments/paper/table2-dens.yaml
      done
      report "Share of ANS's chosen negatives that DNS would also choose (mean over epochs)" \
          results/table2-dens.sqlite --table overlap --where sampler.name=ans --rows $ROWS
    } | generated results/table2-dens.md
fi
if have table3; then
    { times table3
      for d in dens-baby dens-lastfm; do
          report "Table 3, $d: Recall, NDCG and Hit at 20" results/table3.sqlite --rows $ROWS --cols data,model.name --k 20 --where data=$d --plan experiments/paper/table3.yaml
      done
    } | generated results/table3.md
fi
if have table3-gamma0.01; then
    { times table3-gamma0.01
      for d in dens-baby dens-lastfm; do
          report "Table 3 with ANS at gamma 0.01 beside Table 3 (RNS, DNS and ANS at gamma 0.1 from table3.sqlite), $d" \
              results/table3-gamma0.01.sqlite results/table3.sqlite --rows $ROWS,sampler.gamma --cols data,model.name --k 20 --where data=$d --plan experiments/paper/table3-gamma0.01.yaml
      done
    } | generated results/table3-gamma0.01.md
fi
if have table3-official table3; then
    { times table3-official
      report "LightGCN + ANS as the official code runs it (pool concat; eval_rows ego = layer 0, unlabelled = the concatenated rows it trains on) beside Table 3's LightGCN rows (pool mean)" \
          results/table3-official.sqlite results/table3.sqlite --where model.name=lightgcn --rows model.pool,model.eval_rows,sampler.name,sampler.margin_init --cols data --k 20
    } | generated results/table3-official.md
fi
if have table2 table2-dens protocol-dens-heldout protocol-recbole-positives; then
    { times protocol-dens-heldout protocol-recbole-positives
      report "Beauty, MF: Table 2's samplers under four protocols, one column group per experiment (DNS and ANS in all four)" \
          results/table2.sqlite results/table2-dens.sqlite results/protocol-dens-heldout.sqlite results/protocol-recbole-positives.sqlite \
          --where data=dens-beauty --rows $ROWS --cols experiment --metrics recall,ndcg --k 20
    } | generated results/protocols.md
fi
if have fig1; then
    { times fig1
      plot histogram fig1 results/fig1.sqlite
      plot maxmin fig1 results/fig1.sqlite
    } | generated results/fig1.md
fi
if have fig2; then
    { times fig2
      report "PER at K = 20, denominator |H_y| (negbench's default)" results/fig2.sqlite --table per --k 20
      report "PER at K = 20, denominator |H_x| (the share of x's hits that y misses)" results/fig2.sqlite --table per --k 20 --per-denom x
      report "PER at K = 20, denominator |H_x|, runs of different seeds paired (the diagonal: the seed-to-seed floor)" results/fig2.sqlite --table per --k 20 --per-denom x --per-seeds cross
      plot per fig2 results/fig2.sqlite --k 20
      plot per fig2/cross results/fig2.sqlite --k 20 --per-denom x --per-seeds cross
    } | generated results/fig2.md
fi
if have fig5; then
    { times fig5
      for d in dens-beauty dens-lastfm; do
          plot curves fig5/$d results/fig5.sqlite --split test --metric recall@20 --rows $ROWS --where data=$d
      done
    } | generated results/fig5.md
fi
if have table5 table2; then
    { times table5
      report "Table 5: ANS and its ablations (full ANS: Table 2's runs)" results/table5.sqlite results/table2.sqlite --table ablation --where sampler.name=ans --where sampler.margin_init=positive --k 20
    } | generated results/table5.md
fi
for p in gamma eps M; do
    have sens-$p || continue
    { times sens-$p
      report "Sensitivity to $p" results/sens-$p.sqlite --table sensitivity --param sampler.$p --k 20
      plot sensitivity sens-$p results/sens-$p.sqlite --param sampler.$p --k 20
    } | generated results/sens-$p.md
done
exit $status
