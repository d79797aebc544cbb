#!/bin/sh
# e2e-install.sh - the plugin kit from outside the tree: `make install`
# into a temporary DESTDIR installs negbench, the plugins, the public
# headers and negbench.pc; docs/examples/topr_sampler.c builds with the C
# compiler and pkg-config alone (PKG_CONFIG_PATH into the install); the
# installed negbench lists it, trains a short synthetic run with it (and
# with an installed plugin), and `plugins --check topr` passes. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbinst
PKG=${NB_PKG_CONFIG:-pkg-config}
CC=${NB_CC:-cc}
if ! command -v "${PKG%% *}" >/dev/null 2>&1; then
  skip "pkg-config not found"; tap_done; exit
fi

D="$T/dest"
(cd "$B" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL ${NB_MAKE:-make} install DESTDIR="$D") \
  >"$T/install.log" 2>&1
st=$?
[ $st -ne 0 ] && sed 's/^/# /' "$T/install.log" | tail -15
ok $st "make install DESTDIR=... (exit $st)"

pc=$(find "$D" -name negbench.pc | head -1)
[ -n "$pc" ]; ok $? "negbench.pc installed (${pc#$D})"
prefix=$(sed -n 's/^prefix=//p' "$pc")
root="$D$prefix"
nb=$(find "$D" -type f -name negbench -perm -u+x | head -1)
[ -n "$nb" ]; ok $? "negbench installed (${nb#$D})"
[ -f "$root/include/negbench/plugin.h" ] && [ -f "$root/include/negbench/sampler_kit.h" ]
ok $? "public headers installed under include/negbench"
PKG_CONFIG_PATH="${pc%/*}"; export PKG_CONFIG_PATH
pdir="$D$($PKG --variable=pluginsdir negbench)"
[ -f "$pdir/rns.so" ] && [ -f "$pdir/mf.so" ]
ok $? "plugins installed in pkg-config's pluginsdir (${pdir#$D})"

# the out-of-tree build: the compiler and pkg-config, nothing of the build tree
# (pkg-config's prefix moved into the DESTDIR the files were staged in)
mkdir -p "$T/mine"
cp "$S/../docs/examples/topr_sampler.c" "$T/mine/"
cflags=$($PKG --define-variable=prefix="$root" --cflags negbench)
case "$cflags" in *"$root/include"*) r=0 ;; *) r=1 ;; esac
ok $r "pkg-config --cflags negbench points into the install ($cflags)"
(cd "$T/mine" && $CC -std=gnu11 -Wall -Wextra -Werror -shared -fPIC $cflags topr_sampler.c -o topr.so) \
  >"$T/cc.log" 2>&1
st=$?
sed 's/^/# /' "$T/cc.log" | tail -5
ok $st "topr_sampler.c builds out of tree with -Wall -Wextra -Werror (exit $st)"

NEGBENCH_PLUGIN_PATH="$pdir:$T/mine"; export NEGBENCH_PLUGIN_PATH
"$nb" plugins >"$T/list" 2>&1
grep -q "^sampler  topr " "$T/list" && grep -q "file: $T/mine/topr.so" "$T/list"
ok $? "the installed negbench lists topr from NEGBENCH_PLUGIN_PATH"
grep -q "file: $pdir/dns.so" "$T/list"
ok $? "... and the installed plugins from their directory"
cat > "$T/topr.yaml" <<Y
version: 1
name: topr
data: {synthetic: {users: 300, items: 200, per_user: 12}}
model: {name: mf, dim: 8}
sampler: {name: topr, M: 8, r: 2}
train: {epochs: 2, lr: 0.01, batch_size: 256, threads: 2}
eval: {every: 2, topk: [10], metric: recall@10}
Y
(cd "$T" && "$nb" run -q topr.yaml --db r.sqlite) >"$T/out" 2>"$T/err"
ok $? "a short synthetic run with mf + topr"
n_ep=$(sqlite3 "$T/r.sqlite" "select count(*) from epoch e join run r on r.id = e.run_id where r.sampler = 'topr' and e.loss > 0")
[ "$n_ep" = 2 ]; ok $? "both epochs stored with a loss ($n_ep)"
stats=$(sqlite3 "$T/r.sqlite" "select group_concat(name) from (select distinct name from sampler_stat order by name)")
[ "$stats" = "cand_max_norm,cand_min_norm,reject_rate" ]; ok $? "the kit's statistics stored ($stats)"
"$nb" plugins --check topr >"$T/out" 2>&1
st=$?
sed 's/^/# /' "$T/out"
[ $st -eq 0 ]; ok $? "negbench plugins --check topr passes (exit $st)"

tap_done
