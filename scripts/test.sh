#!/usr/bin/env bash
# Runs every test: unit tests, libotr interop, fuzz smoke runs and the
# end-to-end suite against the real stack. Prints a closing count line.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export GOFLAGS="${GOFLAGS:--tags=goolm}"
# The interop and e2e tests fail instead of skipping when a peer is missing.
export OTRBRIDGE_REQUIRE_PEERS=1
# The full load test (100 users x 20 messages each way, 6-13 minutes here);
# OTRBRIDGE_LOAD=0 runs its small version instead.
export OTRBRIDGE_LOAD="${OTRBRIDGE_LOAD:-1}"

go vet ./... || exit 1
go test -count=1 -timeout 75m -v ./... 2>&1 | tee "$log" | grep -E '^\s*--- (FAIL|SKIP)|^(FAIL|ok|panic)|^\s+\S+\.go:[0-9]+' | grep -vE '^\s+writer\.go:[0-9]+:'
status=${PIPESTATUS[0]}
if [ -x scripts/fuzz.sh ]; then
	scripts/fuzz.sh "${FUZZ_SMOKE_TIME:-10s}" || status=1
fi
passed=$(grep -cE '^\s*--- PASS' "$log")
failed=$(grep -cE '^\s*--- FAIL' "$log")
skipped=$(grep -cE '^\s*--- SKIP' "$log")
echo
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
