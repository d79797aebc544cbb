#!/bin/sh
# docs.sh - the documentation against the code, so that neither drifts:
#   - docs/configuration.md lists exactly the keys the host accepts (read from
#     its own "valid keys" messages) and every plugin parameter with the type,
#     default and range of the plugin's schema (read from `negbench plugins`);
#   - no source file or page cites a file outside the repository;
#   - every relative link of README.md and docs/ resolves;
#   - the plugin tutorial's code builds, loads and trains;
#   - every table and view of results/schema.sql has its section in
#     docs/store-schema.md, and its example queries run on a real store;
#   - the README's set-up command needs sudo only where there is one.
# TAP output; needs a built tree ($NB_BUILDDIR) and the sources ($NB_TEST_SRCDIR).

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbdocs
DOC="$TOP/docs/configuration.md"

# ---- host keys -----------------------------------------------------------
# One unknown key per section: the error lists the section's valid keys.
cat > "$T/probe.yaml" <<'EOF'
version: 1
zz_probe: 1
data:
  zz_probe: 1
  synthetic: {zz_probe: 1}
model: {name: mf}
sampler: {name: rns}
train: {zz_probe: 1}
eval: {zz_probe: 1}
EOF
# grid: is checked on its own (its errors stop the check before the points)
cat > "$T/probe-grid.yaml" <<'EOF'
version: 1
data: {synthetic: {users: 30, items: 20}}
model: {name: mf}
sampler: {name: rns}
grid: {zz_probe: 1}
EOF
"$NB" grid "$T/probe.yaml" > /dev/null 2> "$T/probe.err"
"$NB" grid "$T/probe-grid.yaml" > /dev/null 2>> "$T/probe.err"
# "... in data.synthetic (valid keys: a, b)" -> data.synthetic.a, data.synthetic.b
sed -n 's/.*unknown key "zz_probe" \(at the top level\|in \([a-z_.]*\)\) (valid keys: \(.*\))$/\2|\3/p' \
    "$T/probe.err" | while IFS='|' read -r sect keys; do
  printf '%s\n' "$keys" | tr ',' '\n' | sed 's/^ *//' | while read -r k; do
    echo "${sect:+$sect.}$k"
  done
done | sort -u > "$T/code-keys"
sections=$(sed -n 's/.*unknown key "zz_probe" \(at the top level\|in [a-z_.]*\).*/\1/p' "$T/probe.err" | sort -u | wc -l)
[ "$sections" -eq 6 ]
ok $? "the probe file reaches all six keyed sections (top, data, data.synthetic, train, eval, grid)"

# Keys that no "valid keys" list names: they are taken before the sections
# are checked (model.name, model.dim, sampler.name, the sweep keys).
for k in model.name model.dim sampler.name include sampler_params model_params; do
  echo "$k"
done >> "$T/code-keys"
sort -u -o "$T/code-keys" "$T/code-keys"
# ... and the code accepts them: a sweep that uses every one is valid.
mkdir -p "$T/inc"
printf 'version: 1\ntrain: {epochs: 1}\n' > "$T/inc/base.yaml"
cat > "$T/extras.yaml" <<'EOF'
version: 1
include: inc/base.yaml
data: {synthetic: {users: 30, items: 20}}
model: {name: mf, dim: 8}
sampler: {name: dns}
sampler_params: {dns: {M: 4}}
model_params: {mf: {init: xavier_normal}}
grid: {product: {train.lr: [0.01]}, repeats: 1}
EOF
"$NB" grid "$T/extras.yaml" > "$T/extras.out" 2>&1
ok $? "include, sampler_params, model_params, model.dim and grid.repeats are accepted"

# The host keys the page lists: first-column `keys` of every table before
# "## Plugin parameters".
sed -n '1,/^## Plugin parameters/p' "$DOC" |
  sed -n 's/^| `\([A-Za-z0-9_.]*\)` |.*/\1/p' | sort -u > "$T/doc-keys"
missing=$(comm -23 "$T/code-keys" "$T/doc-keys" | tr '\n' ' ')
[ -z "$missing" ]
ok $? "docs/configuration.md lists every key the host accepts${missing:+ (missing: $missing)}"
extra=$(comm -13 "$T/code-keys" "$T/doc-keys" | tr '\n' ' ')
[ -z "$extra" ]
ok $? "docs/configuration.md lists no key the host refuses${extra:+ (not in the code: $extra)}"

# ---- plugin parameters -----------------------------------------------------
# "kind name|param|type|default|range" from the schemas and from the page.
"$NB" plugins > "$T/plugins.out" 2>&1
ok $? "negbench plugins"
awk '
/^(model|sampler) / { p = $1 " " $2; print p "|-|-|-|-"; next }
/^ +[A-Za-z0-9_]+ +(int|float|bool|choice) +default / {
  r = ($5 ~ /^\[/) ? $5 " " $6 : $5
  print p "|" $1 "|" $2 "|" $4 "|" r
}' "$T/plugins.out" | sort > "$T/code-params"
sed -n '/^## Plugin parameters/,$p' "$DOC" | awk '
/^### (model|sampler) `[a-z0-9_]+`/ { p = $2 " " $3; gsub(/`/, "", p); print p "|-|-|-|-"; next }
/^\| `[A-Za-z0-9_]+` \|/ {
  n = split($0, c, " [|] ")
  for (i = 1; i <= n; i++) { gsub(/^\| */, "", c[i]); gsub(/`/, "", c[i]); gsub(/\\/, "", c[i]) }
  print p "|" c[1] "|" c[2] "|" c[3] "|" c[4]
}' | sort > "$T/doc-params"
nplugins=$(grep -c '|-|-|-|-$' "$T/code-params")
[ "$nplugins" -ge 11 ]
ok $? "negbench plugins lists the shipped plugins ($nplugins)"
missing=$(comm -23 "$T/code-params" "$T/doc-params")
[ -z "$missing" ]
ok $? "docs/configuration.md has every plugin and parameter as its schema declares it"
[ -z "$missing" ] || printf '%s\n' "$missing" | sed 's/^/# not in the page (plugin|param|type|default|range): /'
extra=$(comm -13 "$T/code-params" "$T/doc-params")
[ -z "$extra" ]
ok $? "docs/configuration.md has no plugin or parameter the schemas lack"
[ -z "$extra" ] || printf '%s\n' "$extra" | sed 's/^/# not in the code: /'

# ---- citations of files outside the repository ----------------------------
# The specs and the design whiteboard beside the repository are not part of
# it: a comment or page that cites them points nowhere for a reader of the
# repository. (Tests may still read ../shared/golden and ../shared/data.)
sh_=shared
pat="\.\./$sh_/(specs|DESIGN)|specs/[a-z-]+\.md|[^/A-Za-z]DESIGN\.md"
cited=$(cd "$TOP" && git ls-files 2>/dev/null | grep -v '^build-aux/\|^m4/libtool\|^m4/lt\|^tests/docs\.sh$' |
  while read -r f; do [ -f "$f" ] && grep -EHn "$pat" "$f"; done)
if ! (cd "$TOP" && git rev-parse --git-dir > /dev/null 2>&1); then
  skip "not a git checkout: cannot list the tracked files"
else
  [ -z "$cited" ]
  ok $? "no tracked file cites the specs or the design notes outside the repository"
  [ -z "$cited" ] || printf '%s\n' "$cited" | head -20 | sed 's/^/# /'
fi

# ---- relative links --------------------------------------------------------
# Pages other branches add (the index names them as "see also"): a link to
# one of them may dangle until those branches are merged.
pending="docs/hardening.md docs/store.md docs/sanitizers-and-fuzzing.md docs/reporting.md docs/performance-shared-machines.md docs/plugin-kit-notes.md"
bad=
for f in "$TOP/README.md" $(find "$TOP/docs" -name '*.md' | sort); do
  dir=$(dirname "$f")
  for l in $(grep -o '](\([^)#:]*\)\(#[^)]*\)\?)' "$f" | sed 's/^](\([^)#]*\).*/\1/' | sort -u); do
    [ -n "$l" ] || continue
    target=$(cd "$dir" && realpath -m "$l")
    rel=${target#"$TOP"/}
    [ -e "$target" ] && continue
    case " $pending " in *" $rel "*) continue ;; esac
    bad="$bad ${f#"$TOP"/}->$l"
  done
done
[ -z "$bad" ]
ok $? "every relative link of README.md and docs/ resolves${bad:+ (broken:$bad)}"

# ---- the plugin tutorial ---------------------------------------------------
# docs/writing-a-plugin.md's ```c blocks, in order, are one plugin source; its
# ```yaml block is the experiment that runs it.
W="$TOP/docs/writing-a-plugin.md"
mkdir -p "$T/tut/plugins"
awk '/^```c$/ { f = 1; next } /^```$/ { f = 0 } f' "$W" > "$T/tut/rank_dns.c"
awk '/^```yaml$/ { f = 1; next } /^```$/ { f = 0 } f' "$W" > "$T/tut/try.yaml"
${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -I"$TOP/include" \
  "$T/tut/rank_dns.c" -o "$T/tut/plugins/rank_dns.so" 2> "$T/tut/cc.err"
built=$?
ok $built "the tutorial's code builds as a plugin without a warning"
[ $built -eq 0 ] || sed 's/^/# /' "$T/tut/cc.err" | head -10
if [ $built -eq 0 ]; then
  (cd "$T/tut" && NEGBENCH_PLUGIN_PATH="$T/tut/plugins" "$NB" plugins > plugins.out 2>&1) &&
    grep -q '^sampler *rank_dns ' "$T/tut/plugins.out" &&
    grep -q '^ *rank *int *default 2 ' "$T/tut/plugins.out"
  ok $? "negbench plugins lists the tutorial's sampler and its schema"
  (cd "$T/tut" && NEGBENCH_PLUGIN_PATH="$T/tut/plugins" "$NB" run try.yaml --db t.sqlite --quiet > run.out 2>&1)
  ok $? "the tutorial's experiment trains with the new sampler"
  cnt=$(sqlite3 "$T/tut/t.sqlite" "SELECT count(*) FROM run_summary WHERE sampler = 'rank_dns' AND status = 'done' AND test_recall > 0" 2>/dev/null)
  [ "$cnt" = 1 ]
  ok $? "its run is done with a nonzero test recall"
  cnt=$(sqlite3 "$T/tut/t.sqlite" "SELECT count(*) FROM sampler_stat WHERE name = 'reject_rate'" 2>/dev/null)
  [ "${cnt:-0}" -ge 1 ]
  ok $? "its statistic reaches the store"
  sed 's/M: 8, rank: 2/M: 4, rank: 5/' "$T/tut/try.yaml" > "$T/tut/bad.yaml"
  (cd "$T/tut" && NEGBENCH_PLUGIN_PATH="$T/tut/plugins" "$NB" run bad.yaml --db b.sqlite --quiet > bad.out 2>&1)
  st=$?
  [ $st -eq 1 ] && grep -q 'rank 5 is larger than M 4' "$T/tut/bad.out"
  ok $? "rank larger than M fails at init with the tutorial's message (exit $st)"
else
  for i in 1 2 3 4 5; do skip "the tutorial's plugin did not build"; done
fi

# ---- the store's schema and example queries --------------------------------
SC="$TOP/docs/store-schema.md"
missing=
for name in $(sed -n 's/^CREATE \(TABLE\|VIEW\) \([a-z_]*\).*/\2/p' "$TOP/results/schema.sql"); do
  grep -q "^### \`$name\`" "$SC" || missing="$missing $name"
done
[ -z "$missing" ]
ok $? "docs/store-schema.md has a section for every table and view of results/schema.sql${missing:+ (missing:$missing)}"
cat > "$T/store.yaml" <<'EOF'
version: 1
name: docs-store
data: {synthetic: {users: 60, items: 40, per_user: 8}}
model: {name: mf, dim: 8}
sampler: {name: dns, M: 4}
train: {epochs: 2, threads: 1}
eval: {topk: [10, 20], test_every_eval: true, histogram_epochs: [0, 2], histogram_pairs: 500, histogram_bins: 10}
EOF
"$NB" run "$T/store.yaml" --db "$T/store.sqlite" --quiet > /dev/null 2>&1
ok $? "a small run for the example queries"
awk '/^```sql$/ { f = 1; q++; next } /^```$/ { f = 0 } f { print > (dir "/query-" q ".sql") }' \
  dir="$T" "$SC"
nq=0
for q in "$T"/query-*.sql; do
  [ -f "$q" ] || continue
  nq=$((nq + 1))
  out=$(sqlite3 -bail "$T/store.sqlite" < "$q" 2>&1)
  st=$?
  # every query but the one for unfinished runs returns rows on this store
  if grep -q "status != 'done'" "$q"; then [ $st -eq 0 ] && [ -z "$out" ]; else [ $st -eq 0 ] && [ -n "$out" ]; fi
  ok $? "example query $nq of docs/store-schema.md runs and returns what it should"
  [ $st -eq 0 ] || printf '%s\n' "$out" | head -3 | sed 's/^/# /'
done
[ $nq -ge 5 ]
ok $? "docs/store-schema.md has example queries ($nq)"

# ---- the README's set-up command -------------------------------------------
# As root on a minimal image there is no sudo; as a user there is one. Run the
# command's package step with stand-ins for apt-get and sudo, in both worlds.
setup=$(awk -v m="<!-- setup-command -->" '$0 == m { f = 1; next }
  f && /^```sh/ { b = 1; next } b && /^```/ { exit } b { print }' "$TOP/README.md")
pkg=${setup%%&& autoreconf*}
[ -n "$setup" ] && [ "$pkg" != "$setup" ]
ok $? "README.md has a set-up command whose package step precedes autoreconf"
mkdir -p "$T/root-bin" "$T/user-bin"
for d in root-bin user-bin; do
  printf '#!/bin/sh\necho "apt-get $*" >> "%s/%s.log"\n' "$T" "$d" > "$T/$d/apt-get"
done
printf '#!/bin/sh\necho "sudo $1" >> "%s/user-bin.log"\nexec "$@"\n' "$T" > "$T/user-bin/sudo"
chmod +x "$T"/root-bin/* "$T"/user-bin/*
BASH_BIN=$(command -v bash)
env -i PATH="$T/root-bin" "$BASH_BIN" --noprofile --norc -c "$pkg" > /dev/null 2>&1
[ "$(grep -c '^apt-get \(update\|install\)' "$T/root-bin.log" 2>/dev/null)" = 2 ]
ok $? "without sudo (root on a minimal image) the set-up command runs apt-get itself"
env -i PATH="$T/user-bin" "$BASH_BIN" --noprofile --norc -c "$pkg" > /dev/null 2>&1
[ "$(grep -c '^sudo apt-get' "$T/user-bin.log" 2>/dev/null)" = 2 ] &&
  [ "$(grep -c '^apt-get \(update\|install\)' "$T/user-bin.log")" = 2 ]
ok $? "with sudo (a user) the set-up command runs apt-get through sudo"

# ---- the README's example --------------------------------------------------
# Its data paths come from NEGBENCH_DATA: point them at two small files.
awk '/^```yaml$/ { f = 1; next } /^```$/ { f = 0 } f' "$TOP/README.md" > "$T/example.yaml"
mkdir -p "$T/data/dens-baby"
printf '0 0 1 2\n1 1 2 3\n2 0 3\n' > "$T/data/dens-baby/train.txt"
printf '0 3\n1 0\n2 1\n' > "$T/data/dens-baby/test.txt"
NEGBENCH_DATA="$T/data" "$NB" grid "$T/example.yaml" --db "$T/example.sqlite" > "$T/example.out" 2>&1 &&
  grep -q 'mf ans' "$T/example.out"
ok $? "the README's example is a valid experiment (MF + ANS)"

tap_done
