#!/bin/sh
# e2e-hints-samplers.sh - `negbench plugins --check NAME` passes for every
# shipped sampler: both pairs of its performance hints are ok. The models and
# the fixtures that break a hint are in e2e-hints.sh (two scripts, so that
# make -j2 check runs them side by side). TAP output.

. "${NB_TEST_SRCDIR:-$(dirname "$0")}/tap.sh"
tap_tmpdir nbhintss
check_shipped sampler
tap_done
