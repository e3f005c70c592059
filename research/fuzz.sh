#!/usr/bin/env bash
# Long run of the fuzz harness (tests/fuzz.rs): N mutated inputs per reader (default 100 000),
# then the declared-size attacks. Prints the table of RELIABILITY.md. A failing input is kept
# in $TMPDIR/adain-fuzz-failures/<reader>/; minimise it and commit it under
# tests/fuzz/regressions/<reader>/ so that every test run replays it.
#   ADAIN_FUZZ_INPUTS=100000 ADAIN_FUZZ_SEED=1 research/fuzz.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
scripts/setup.sh
export ADAIN_FUZZ_INPUTS="${ADAIN_FUZZ_INPUTS:-100000}" ADAIN_FUZZ_SEED="${ADAIN_FUZZ_SEED:-1}"
cargo test --test fuzz -- --nocapture --test-threads 1 2>&1 | grep -vE "^\s+(Running|Finished|Compiling)"
