#!/bin/sh
# plugins-listed.sh - every plugin source plugins/samplers/NAME.c and
# plugins/models/NAME.c is built: Makefile.am lists plugins/DIR/NAME.la in
# pkglib_LTLIBRARIES (automake then requires its _LDFLAGS line, and its
# sources default to NAME.c). The rule of docs/plugin-kit-notes.md. TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
top="$S/.."
# the pkglib_LTLIBRARIES list: from its line to the first line without a backslash
listed=$(awk '/^pkglib_LTLIBRARIES *=/ { on = 1 } on { print; if (!/\\$/) exit }' "$top/Makefile.am")
[ -n "$listed" ]; ok $? "Makefile.am has a pkglib_LTLIBRARIES list"
for c in "$top"/plugins/samplers/*.c "$top"/plugins/models/*.c; do
  rel=${c#$top/}
  la=${rel%.c}.la
  echo "$listed" | grep -q "[[:space:]=]$la\([[:space:]\\]\|$\)"
  ok $? "$rel is built ($la listed in pkglib_LTLIBRARIES)"
done
tap_done
