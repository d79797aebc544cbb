#!/bin/sh
# tests-listed.sh - make check runs every test, once: each test program
# (tests/test-NAME.c) and each test script (tests/*.sh but the sourced
# helpers tap.sh, hpc.sh, store-compare.sh and sanitizer-reports.sh, which
# TESTS names itself) is in exactly one of the groups TESTS_UNIT,
# TESTS_GOLDEN and TESTS_E2E of Makefile.am (make check-unit, check-golden,
# check-e2e; TESTS is their union), and no benchmark (tests/bench-*) is.
# TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
# group NAME: the words of the Makefile.am variable NAME, one a line
group() {
  awk -v v="$1" '$1 == v && $2 == "=" { on = 1 } on { print; if (!/\\$/) exit }' "$TOP/Makefile.am" |
    tr -s ' \t\\' '\n\n\n' | grep '^tests/'
}
all=$( (group TESTS_UNIT; group TESTS_GOLDEN; group TESTS_E2E) | sort)
[ "$(echo "$all" | wc -l)" -gt 40 ]; ok $? "Makefile.am has the three groups ($(echo "$all" | wc -l) tests)"
dups=$(echo "$all" | uniq -d | tr '\n' ' ')
[ -z "$dups" ]; ok $? "no test is in two groups${dups:+ ($dups)}"
grep -q '^TESTS = $(TESTS_E2E) $(TESTS_GOLDEN) $(TESTS_UNIT) tests/sanitizer-reports.sh$' "$TOP/Makefile.am"
ok $? "TESTS is the three groups and tests/sanitizer-reports.sh"
for f in "$S"/test-*.c "$S"/*.sh; do
  b=$(basename "$f")
  case $b in tap.sh|hpc.sh|store-compare.sh|sanitizer-reports.sh) continue ;; esac
  t=tests/${b%.c}
  echo "$all" | grep -qx "$t"
  ok $? "$t is in a group"
done
bench=$(echo "$all" | grep '^tests/bench-' | tr '\n' ' ')
[ -z "$bench" ]; ok $? "no benchmark in make check${bench:+ ($bench)}"
tap_done
