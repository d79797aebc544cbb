# tap.sh - sourced first by every shell test, as
#   . "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
# It sets the locations a test needs (absolute paths):
#   S       the test sources (NB_TEST_SRCDIR, else the script's directory)
#   TOP     the source tree ($S/..)
#   B       the build tree (NB_BUILDDIR, else .)
#   NB      the negbench binary ($B/negbench)
#   SHARED  the golden vectors and data sets beside the source tree
#           (NEGBENCH_SHARED, else $TOP/../shared)
#   GOLDEN  NB_GOLDEN_DIR, else $SHARED/golden
#   DATA    NB_DATA_DIR, else $SHARED/data
# and the TAP helpers:
#   tap_tmpdir NAME         T = a fresh temporary directory, removed on exit
#   ok STATUS DESCRIPTION   prints "ok N - ..." when STATUS is 0, else "not ok N - ..."
#                           and returns 1, so "ok $? ... || diagnostics" explains a failure
#   skip REASON             prints "ok N # SKIP REASON" (a point that cannot run here)
#   skip_shared N REASON    N points that need a golden file or data set that is
#                           missing: N SKIPs, or N failures when
#                           NEGBENCH_REQUIRE_SHARED is set (non-empty, not 0).
#                           Give one point per check that would have run.
#   tap_done                prints the plan "1..N"; its status is 0 only if every point passed
#   no_shard_env            unsets the Slurm and Open MPI variables from which a
#                           sweep takes its shard, so a test runs its whole grid
#   check_shipped KIND      one point per shipped plugin of KIND: plugins --check passes
S=$(cd "${NB_TEST_SRCDIR:-$(dirname "$0")}" && pwd)
TOP=$(cd "$S/.." && pwd)
B=$(cd "${NB_BUILDDIR:-.}" && pwd)
NB="$B/negbench"
SHARED=${NEGBENCH_SHARED:-$TOP/../shared}
GOLDEN=${NB_GOLDEN_DIR:-$SHARED/golden}
DATA=${NB_DATA_DIR:-$SHARED/data}
n=0
fails=0
tap_tmpdir() { T=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || exit 1; trap 'rm -rf "$T"' EXIT; }
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fails=$((fails + 1)); return 1; fi; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
skip_shared() {
  _k=0
  while [ "$_k" -lt "$1" ]; do
    _k=$((_k + 1))
    case "${NEGBENCH_REQUIRE_SHARED:-0}" in
      0) skip "$2" ;;
      *) ok 1 "$2 (NEGBENCH_REQUIRE_SHARED is set: a missing golden file or data set fails)" ;;
    esac
  done
}
tap_done() { echo "1..$n"; [ $fails -eq 0 ]; }
no_shard_env() {
  unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_MIN SLURM_PROCID SLURM_NTASKS \
    OMPI_COMM_WORLD_RANK OMPI_COMM_WORLD_SIZE
}
# check_shipped KIND: `negbench plugins --check` passes for every shipped
# plugin of KIND (model or sampler; names from `negbench plugins`)
check_shipped() {
  _names=$("$NB" plugins | awk -v k="$1" '$1 == k { print $2 }')
  [ -n "$_names" ]; ok $? "negbench plugins lists the shipped ${1}s ($(echo $_names | wc -w))"
  for _p in $_names; do
    "$NB" plugins --check "$_p" >"$T/out" 2>"$T/err"
    _st=$?
    sed 's/^/# /' "$T/out"
    [ $_st -eq 0 ] && [ "$(grep -c ': ok (' "$T/out")" -eq 2 ]
    ok $? "plugins --check $_p: both pairs ok (exit $_st)"
  done
}
