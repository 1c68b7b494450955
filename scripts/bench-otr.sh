#!/bin/sh
# Compare our OTR engine with libotr 4.1.1 on the same scenarios in one run
# and print both, the ratios and the performance targets (see
# docs/performance.md). Needs gcc and libotr5-dev.
set -eu
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--tags=goolm}"
OTRBRIDGE_BENCH_COMPARE=1 exec go test ./otr -run '^TestCompareWithLibotr$' -count=1 -v "$@"
