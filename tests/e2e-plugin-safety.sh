#!/bin/sh
# e2e-plugin-safety.sh - hostile plugins on the search path: a constructor
# that calls exit(0), one that crashes, a garbage descriptor and a list that
# never ends. negbench reports the file and exits 2 (never 0 having done
# nothing, never a crash or a hang). TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbplug
H="$B/tests/fixtures/plugins/hostile"

cat > "$T/q.yaml" <<'Y'
version: 1
data: {synthetic: {users: 60, items: 40}}
model: {name: mf, dim: 4}
sampler: {name: rns}
train: {epochs: 1}
Y
for c in "exit:ctor_exit.so: the plugin ended the process while loading (exit status 0)" \
         "crash:ctor_crash.so: the plugin crashed while loading (signal 11" \
         "garbage:garbage.so: the plugin crashed while loading (signal 11" \
         "endless:endless.so: more than 256 descriptors"; do
  d=${c%%:*}
  want=${c#*:}
  for cmd in plugins run; do
    if [ $cmd = run ]; then set -- run "$T/q.yaml" --db "$T/q.sqlite"; else set -- plugins; fi
    NEGBENCH_PLUGIN_PATH="$H/$d/.libs" timeout 60 "$NB" "$@" >"$T/out" 2>"$T/err"
    st=$?
    [ $st -eq 2 ] && grep -qF "$want" "$T/err" && [ "$(wc -l < "$T/err")" -eq 1 ]
    r=$?
    ok $r "negbench $cmd with the $d plugin on the path: exit 2 and one line naming it (exit $st)"
    [ $r -eq 0 ] || sed 's/^/# /' "$T/err"
  done
done
[ ! -e "$T/q.sqlite" ]; ok $? "nothing stored"
tap_done
