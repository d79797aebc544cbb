#!/bin/sh
# e2e-cli.sh - the negbench command as a user meets it: help, version, exit
# statuses, one-line errors with positions for bad YAML, data and plugins.
# TAP output; needs a built tree ($NB_BUILDDIR) and the sources ($NB_TEST_SRCDIR).

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbcli
# expect STATUS DESCRIPTION CMD...: run CMD, compare the exit status
expect() { want=$1; shift; d=$1; shift; "$@" >"$T/out" 2>"$T/err"; got=$?; [ "$got" -eq "$want" ]; r=$?; ok $r "$d (exit $got)"; [ $r -eq 0 ] || { sed 's/^/# /' "$T/err" | head -5; }; }
# has FILE PATTERN DESCRIPTION
has() { grep -q -- "$2" "$1"; ok $? "$3"; }
lines() { [ "$(wc -l < "$1")" -eq "$2" ]; ok $? "$3"; }

expect 0 "--help" "$NB" --help
has "$T/out" "usage: negbench" "--help prints usage"
expect 0 "--version" "$NB" --version
has "$T/out" "negbench 0" "--version prints the version"
# the revision is read at build time: it is HEAD's (plus -dirty for local edits)
if rev=$(git -C "$S/.." rev-parse --short=12 HEAD 2>/dev/null) && [ -n "$rev" ]; then
  has "$T/out" "(git $rev[,-]" "--version names the checkout's revision $rev"
else
  skip "not a git checkout: the revision is configure's"
fi
for c in run plugins data; do
  expect 0 "$c --help" "$NB" $c --help
  has "$T/out" "usage: negbench $c" "$c --help prints its usage"
done
expect 2 "no command" "$NB"
expect 2 "unknown command" "$NB" frobnicate
expect 2 "run without a file" "$NB" run
expect 2 "run with an unknown option" "$NB" run --bogus x.yaml

# plugins
expect 0 "plugins" "$NB" plugins
for p in mf rns dns; do has "$T/out" "^[a-z]* *$p " "plugins lists $p"; done
has "$T/out" "M            int    default 32" "plugins shows the parameter schema"

# bad YAML: one line per error, file:line:col, exit 2
cat > "$T/typo.yaml" <<'Y'
version: 1
model: {name: mf}
sampler: {name: rns}
data: {synthetic: {users: 50, items: 40}}
train:
  lerning_rate: 0.1
Y
expect 2 "a typo'd key is a configuration error" "$NB" run "$T/typo.yaml" --db "$T/x.sqlite"
has "$T/err" "typo.yaml:6:3: unknown key \"lerning_rate\"" "the error names file:line:col"
lines "$T/err" 1 "one line"
[ ! -e "$T/x.sqlite" ]; ok $? "nothing written to the store"

cat > "$T/plugin.yaml" <<'Y'
version: 1
model: {name: mf}
sampler:
  name: dns
  M: 0
data: {synthetic: {users: 50, items: 40}}
Y
expect 2 "an out-of-range plugin parameter" "$NB" run "$T/plugin.yaml" --db "$T/x.sqlite"
has "$T/err" "plugin.yaml:5:6:" "... is reported at its position"
sed -i 's/name: dns/name: dsn/' "$T/plugin.yaml"
expect 2 "an unknown sampler" "$NB" run "$T/plugin.yaml" --db "$T/x.sqlite"
has "$T/err" "plugin.yaml:4:9: unknown sampler \"dsn\" (did you mean \"dns\"?)" "... with a suggestion"

# bad data: file and line
printf '0 1 2\n1 3 x4\n' > "$T/bad.txt"
cat > "$T/data.yaml" <<Y
version: 1
model: {name: mf}
sampler: {name: rns}
data: {train: bad.txt}
Y
expect 2 "malformed data" "$NB" run "$T/data.yaml" --db "$T/x.sqlite"
has "$T/err" "bad.txt:2" "the error names the data file and line"
lines "$T/err" 1 "one line"

# bad plugins on the search path: exit 2, one line naming the file
NEGBENCH_PLUGIN_PATH="$B/tests/fixtures/plugins/.libs" expect 2 "a broken plugin on the path" "$NB" plugins
has "$T/err" "fixtures/plugins/.libs/abi_major.so: plugin ABI 2.0" "the error names the plugin file"

# data describe
expect 0 "data describe on a data file" "$NB" data describe "$S/fixtures/data/lines-train.txt"
has "$T/out" "users" "describe prints users"
expect 2 "data describe on a missing file" "$NB" data describe "$T/nope.txt"

tap_done
