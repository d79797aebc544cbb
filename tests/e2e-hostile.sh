#!/bin/sh
# e2e-hostile.sh - hostile inputs to the parsers, loaders and merge:
# each must end in a clear one-line error with its position (file:line:col
# for text, file and meta key for stores) and exit status 2, or succeed where
# the input is valid, within a time and memory bound: never a crash (a
# signal), a hang (the timeout) or an unpositioned message. The static inputs
# are in tests/fixtures/hostile; devices, FIFOs, large files and stores are
# made here. Every probe is one TAP point; a summary per category follows.
# Limits and rules: docs/hardening.md.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbhostile
H="$S/fixtures/hostile"
no_shard_env
W="$T/a/w"   # working directory of every probe (results/ goes here)
mkdir -p "$W"
SUMMARY=""

# probe CATEGORY SECONDS WANT REGEX DESCRIPTION CMD...: run CMD in $W under a
# timeout and a 4 GB address-space limit; it must exit WANT with a stderr
# line matching the extended REGEX (empty: anything).
probe() {
  cat=$1 secs=$2 want=$3 re=$4 d=$5
  shift 5
  # a 4 GB address-space limit, except under AddressSanitizer (its shadow
  # memory alone reserves terabytes of address space)
  ( [ -n "${NB_SANITIZER_DIR:-}" ] || ulimit -v 4000000; cd "$W" && exec timeout -s KILL "$secs" "$@" ) \
    >"$T/out" 2>"$T/err"
  got=$?
  if [ $got -eq 137 ] || [ $got -eq 124 ]; then v=hang
  elif [ $got -ge 128 ]; then v=crash
  elif [ $got -ne "$want" ]; then v=status
  elif [ -n "$re" ] && ! grep -Eq -- "$re" "$T/err"; then v=message
  else v=ok
  fi
  [ $v = ok ]; ok $? "$cat: $d (exit $got${v#ok})"
  [ $v = ok ] || sed 's/^/#   /' "$T/err" | head -3
  SUMMARY="$SUMMARY$cat $v
"
}

# ---------------------------------------------------------------- merge
cat > "$T/g.yaml" <<'Y'
version: 1
name: hostile-merge
data:
  synthetic: {users: 40, items: 30, rank: 2, per_user: 5}
model: {name: mf, dim: 4}
sampler: {name: rns}
train: {epochs: 1, batch_size: 64, threads: 1}
eval: {topk: [5], metric: recall@5}
grid:
  seeds: [1, 2]
Y
sed 's/seeds: \[1, 2\]/seeds: [3, 4]/' "$T/g.yaml" > "$T/g2.yaml"
for i in 0 1; do
  "$NB" run "$T/g.yaml" --quiet --shard $i/2 --db "$T/m.sqlite" >/dev/null 2>&1
  "$NB" run "$T/g2.yaml" --quiet --shard $i/2 --db "$T/o.sqlite" >/dev/null 2>&1
done
[ -f "$T/m.shard-0-of-2.sqlite" ] && [ -f "$T/o.shard-1-of-2.sqlite" ]
ok $? "merge: the shard stores of two grids were made"
S0="$T/m.shard-0-of-2.sqlite"
S1="$T/m.shard-1-of-2.sqlite"
# bad_shard NAME SQL: a copy of shard 0 with SQL applied
bad_shard() { cp "$S0" "$T/$1.sqlite" && sqlite3 "$T/$1.sqlite" "$2"; }
meta() { bad_shard "$1" "UPDATE meta SET value = '$3' WHERE key = '$2'"; }
meta idx-neg shard_index -1
meta cnt-zero shard_count 0
meta idx-big shard_index 5
meta cnt-huge shard_count 2000000000
meta cnt-huge2 shard_count 99999999
meta idx-text shard_index abc
meta idx-trail shard_index 1x
meta idx-empty shard_index ''
meta runs-neg shard_runs -5
meta grid-text grid_runs x
meta ident-short grid_identity abc
bad_shard hash-mismatch "UPDATE run SET config_hash = substr(config_hash, 2) || '0' WHERE id = 1"
bad_shard json-changed "UPDATE run SET config_json = replace(config_json, '\"epochs\":1', '\"epochs\":2') WHERE id = 1"
for c in idx-neg:shard_index cnt-zero:shard_count idx-big:shard_index cnt-huge:shard_count \
         cnt-huge2:shard_count idx-text:shard_index idx-trail:shard_index idx-empty:shard_index \
         runs-neg:shard_runs grid-text:grid_runs ident-short:grid_identity; do
  f=${c%%:*} k=${c#*:}
  probe merge 20 2 "^negbench merge: .*/$f\.sqlite: meta $k " "meta $k of $f refused" \
    "$NB" merge "$T/out-$f.sqlite" "$T/$f.sqlite" "$S1"
  [ ! -s "$T/out-$f.sqlite" ] || [ "$(sqlite3 "$T/out-$f.sqlite" 'select count(*) from run')" -eq 0 ]
  ok $? "merge: ... and nothing merged"
done
for f in hash-mismatch json-changed; do
  probe merge 20 2 "^negbench merge: .*/$f\.sqlite: run 1: config_hash .* does not match" \
    "a run whose hash does not match its JSON ($f)" "$NB" merge "$T/out-$f.sqlite" "$T/$f.sqlite"
done
probe merge 20 0 "" "the good shards merge" "$NB" merge "$T/out.sqlite" "$S0" "$S1"
probe merge 20 2 "^negbench merge: .*/out\.sqlite: holds the merge of another grid" \
  "the shards of another grid into that output" \
  "$NB" merge "$T/out.sqlite" "$T/o.shard-0-of-2.sqlite" "$T/o.shard-1-of-2.sqlite"
[ "$(sqlite3 "$T/out.sqlite" 'select count(*) from run')" -eq 2 ]
ok $? "merge: ... and the output still holds its 2 runs"
probe merge 20 0 "" "the same shards again" "$NB" merge "$T/out.sqlite" "$S0" "$S1"

# ---------------------------------------------------------------- ids
probe ids 20 0 "" "line-format id 100,000,000 (20 bytes)" "$NB" data describe "$H/ids-sparse.txt"
grep -q "items  *1$" "$T/out"; ok $? "ids: ... is one item"
probe ids 20 0 "" "user id 2147483646" "$NB" data describe "$H/ids-near-max.txt"
grep -q "users  *1 " "$T/out"; ok $? "ids: ... is one user"
probe ids 20 0 "" "sparse ids in a mixed file" "$NB" data describe "$H/ids-sparse-mixed.txt"
grep -q "items  *2$" "$T/out" && grep -q "users  *2 " "$T/out"; ok $? "ids: ... 2 users, 2 items"
probe ids 20 2 "ids-over-max\.txt:1:3: too large for int32 item id '2147483647'" "item id 2^31-1" \
  "$NB" data describe "$H/ids-over-max.txt"
printf '0 99999999999999999999999\n' > "$T/ids-huge.txt"
probe ids 20 2 "ids-huge\.txt:1:3: too large for int32 item id" "a 23-digit id" \
  "$NB" data describe "$T/ids-huge.txt"
# a sparse training file in an experiment: trains with memory for 2 rows
printf '5 7 100000000 3\n900000 7\n42 3 50000000\n' > "$T/sparse-train.txt"
printf '5 50000000\n900000 3\n42 7\n' > "$T/sparse-test.txt"
cat > "$T/sparse.yaml" <<Y
version: 1
data: {train: $T/sparse-train.txt, test: $T/sparse-test.txt, valid_share: 0}
model: {name: mf, dim: 4}
sampler: {name: rns}
train: {epochs: 1, threads: 1}
eval: {topk: [1], metric: recall@1}
Y
probe ids 60 0 "" "a run on sparse ids" "$NB" run "$T/sparse.yaml" --db "$T/sparse.sqlite"
grep -q "user ids renumbered by rank (3 distinct in 0..900000); item ids renumbered by rank (4 distinct in 0..100000000)" "$T/err"
ok $? "ids: ... renumbered by rank, and the run says so"

# ---------------------------------------------------------------- includes
inc() { printf 'version: 1\ninclude: %s\ngrid: {seeds: [1]}\n' "$2" > "$T/$1.yaml"; }
inc inc-zero /dev/zero
probe include 20 2 "inc-zero\.yaml:2:10: .*/dev/zero.*not a regular file" "include: /dev/zero" "$NB" grid "$T/inc-zero.yaml"
mkfifo "$T/fifo.yaml"
inc inc-fifo "$T/fifo.yaml"
probe include 20 2 "inc-fifo\.yaml:2:10: .*fifo\.yaml.*not a regular file \(a FIFO\)" "include: a FIFO" "$NB" grid "$T/inc-fifo.yaml"
inc inc-dir "$T"
probe include 20 2 "inc-dir\.yaml:2:10: .*is a directory" "include: a directory" "$NB" grid "$T/inc-dir.yaml"
inc inc-null /dev/null
probe include 20 2 "inc-null\.yaml:2:10: .*not a regular file \(a character device\)" "include: /dev/null" "$NB" grid "$T/inc-null.yaml"
awk 'BEGIN { print "train:"; for (i = 0; i < 300000; i++) printf "  # padding line %d of a large file\n", i }' > "$T/big.yaml"
inc inc-big "$T/big.yaml"
probe include 20 2 "inc-big\.yaml:2:10: .*big\.yaml.* larger than 4 MiB" "include: a 10 MB file" "$NB" grid "$T/inc-big.yaml"
# fan-out: f0 includes f1 three times, f1 includes f2 three times, ... (3^13 reads before)
i=0
while [ $i -lt 13 ]; do
  j=$((i + 1))
  printf 'include: [f%d.yaml, f%d.yaml, f%d.yaml]\ntrain: {epochs: %d}\n' $j $j $j $j > "$T/f$i.yaml"
  i=$j
done
cp "$H/inc-ok.yaml" "$T/f13.yaml"
printf 'version: 1\ninclude: f0.yaml\ngrid: {seeds: [1]}\n' > "$T/fan.yaml"
probe include 20 0 "" "a fan-out of 13 levels, each file included 3 times" "$NB" grid "$T/fan.yaml"
i=0
while [ $i -lt 300 ]; do printf 'train: {epochs: %d}\n' $((i + 1)) > "$T/w$i.yaml"; i=$((i + 1)); done
printf 'version: 1\ninclude: [%s]\ngrid: {seeds: [1]}\n' "$(seq -s ', ' -f 'w%g.yaml' 0 299)" > "$T/wide.yaml"
probe include 20 2 "includes more than 256 files" "300 distinct included files" "$NB" grid "$T/wide.yaml"
probe include 20 2 "/dev/zero: not a regular file \(a character device\)" "negbench run /dev/zero" "$NB" run /dev/zero
probe include 20 2 "fifo\.yaml: not a regular file \(a FIFO\)" "negbench run FIFO" "$NB" run "$T/fifo.yaml"
probe include 20 2 "is a directory" "negbench grid DIR" "$NB" grid "$T"

# ---------------------------------------------------------------- names
for f in dotdot absolute leading-dot slash backslash grid-dotdot; do
  probe name 60 2 "name-$f\.yaml:2:7: name .* is not an identifier" "name-$f.yaml" \
    "$NB" run "$H/name-$f.yaml" --quiet
done
[ -z "$(find "$T" -name '*.sqlite' -path '*escape*')" ] && [ ! -e /tmp/nb-abs-name.sqlite ]
ok $? "name: no store was written outside results/"

# ---------------------------------------------------------------- quadratic checks
awk 'BEGIN { print "version: 1"; for (i = 0; i < 40000; i++) printf "key%d: 1\n", i }' > "$T/k40.yaml"
probe keys 10 2 "k40\.yaml:2:1: unknown key \"key0\"" "40,000 unknown keys" "$NB" run "$T/k40.yaml"
[ "$(wc -l < "$T/err")" -le 22 ] && grep -Eq "^negbench: \.\.\. and [0-9]+ more problems" "$T/err"
ok $? "keys: ... at most 20 messages and a count"
awk 'BEGIN { print "version: 1"; for (i = 0; i < 200000; i++) printf "train: {}\n" }' > "$T/d200.yaml"
probe keys 10 2 "d200\.yaml:3:1: duplicate key \"train\" \(first given at line 2\)" "200,000 duplicate keys" "$NB" run "$T/d200.yaml"
awk 'BEGIN { print "version: 1\ninclude: k40inc.yaml\ngrid: {seeds: [1]}"; for (i = 0; i < 40000; i++) printf "key%d: 1\n", i }' > "$T/kg.yaml"
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "key%d: 2\n", i }' > "$T/k40inc.yaml"
probe keys 20 2 "unknown key" "40,000 keys merged over an include" "$NB" grid "$T/kg.yaml"

# ---------------------------------------------------------------- messages
probe message 20 2 "binary-junk\.txt:1:[0-9]+: binary data \(byte 0x[0-9a-f]{2}\)" "binary junk as line data" "$NB" data describe "$H/binary-junk.txt"
probe message 20 2 "binary-junk\.csv:1:[0-9]+: binary data" "binary junk as CSV" "$NB" data describe "$H/binary-junk.csv"
probe message 20 2 "binary-elf\.txt:1:1: binary data" "an executable as data" "$NB" data describe "$H/binary-elf.txt"
probe message 20 2 "data-nul\.txt:2:4: binary data \(byte 0x00\)" "a NUL byte in a data line" "$NB" data describe "$H/data-nul.txt"
probe message 20 2 "nul-byte\.yaml:6:1: a NUL byte" "a NUL byte in YAML" "$NB" run "$H/nul-byte.yaml"
probe message 20 2 "merge-key\.yaml:4:3: YAML merge keys \(<<\) are not supported" "<< merge key" "$NB" run "$H/merge-key.yaml"
probe message 20 2 "merge-key-alias\.yaml:3:7: YAML anchors" "<< with an alias" "$NB" run "$H/merge-key-alias.yaml"
probe message 20 2 "tag-str\.yaml:6:7: YAML tag !!str is not supported" "!!str" "$NB" run "$H/tag-str.yaml"
probe message 20 2 "tag-map\.yaml:3:8: YAML tag !!map is not supported" "!!map" "$NB" run "$H/tag-map.yaml"
probe message 20 2 "tag-local\.yaml:3:24: YAML tag !custom is not supported" "!custom" "$NB" run "$H/tag-local.yaml"
data_yaml() { printf 'version: 1\ndata: {train: %s}\nmodel: {name: mf}\nsampler: {name: rns}\n' "$2" > "$T/$1.yaml"; }
data_yaml data-dir "$T"
probe message 20 2 "data-dir\.yaml:2:15: data file .* is a directory, not a regular file" "a directory as data" "$NB" run "$T/data-dir.yaml"
data_yaml data-fifo "$T/fifo.yaml"
probe message 20 2 "data-fifo\.yaml:2:15: data file .*fifo\.yaml is a FIFO, not a regular file" "a FIFO as data" "$NB" run "$T/data-fifo.yaml"
data_yaml data-dev /dev/zero
probe message 20 2 "data-dev\.yaml:2:15: data file /dev/zero is a character device, not a regular file" "a device as data" "$NB" run "$T/data-dev.yaml"
data_yaml data-missing "$T/nope.txt"
probe message 20 2 "data-missing\.yaml:2:15: data file not found: .*nope\.txt" "a missing data file" "$NB" run "$T/data-missing.yaml"
probe message 20 2 "fifo\.yaml: not a regular file \(a FIFO\)" "data describe FIFO" "$NB" data describe "$T/fifo.yaml"
probe message 20 2 "data-bad-item\.txt:2:5: non-numeric item id 'x3'" "line data: column of a bad id" "$NB" data describe "$H/data-bad-item.txt"
probe message 20 2 "data-bad-rating\.csv:3:5: bad rating 'abc'" "CSV: column of a bad rating" "$NB" data describe "$H/data-bad-rating.csv"
probe message 20 2 "data-bad-fields\.inter:3:1: expected 2 fields, found 1" "inter: column of a short line" "$NB" data describe "$H/data-bad-fields.inter"

printf '%s' "$SUMMARY" | sort | uniq -c | awk '{ printf "# %-8s %-8s %d\n", $2, $3, $1 }'
tap_done
