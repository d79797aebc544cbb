#!/bin/sh
# sanitizer-reports.sh - runs last in make check (its log depends on every
# other test's log, Makefile.am): fails when AddressSanitizer, LeakSanitizer
# or UndefinedBehaviorSanitizer wrote a report during this make check. In a
# build configured with --enable-sanitizers the sanitizers write their reports
# to files under NB_SANITIZER_DIR (ASAN_OPTIONS/UBSAN_OPTIONS log_path), so a
# report is caught even where a test expected the program to fail anyway (a
# shell test checking only for a non-zero exit status). Reports seen once are
# moved to NB_SANITIZER_DIR/seen. Other builds: one skipped point. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"

D=${NB_SANITIZER_DIR:-}
if [ -z "$D" ]; then
  skip "not a sanitizer build (configure --enable-sanitizers)"
  tap_done
  exit
fi

found=0
for f in "$D"/asan.* "$D"/ubsan.*; do
  [ -f "$f" ] || continue
  found=$((found + 1))
  echo "# ---- $f"
  sed 's/^/# /' "$f" | head -n 60
  mkdir -p "$D/seen" && mv "$f" "$D/seen/"
done
[ "$found" -eq 0 ]
ok $? "no sanitizer report during make check ($found found; see the comments above and the seen/ folder)"
tap_done
