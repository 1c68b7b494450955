#!/usr/bin/env bash
# The README's run command: builds the bridge, starts a local Dendrite and
# InspIRCd, configures and starts otrbridge against them, creates a Matrix
# user (alice) and puts an IRC user (bob) on IRC with a libotr 4.1.1 client
# (testpeers/libotr, compiled on first use); they meet in #lobby (alice
# joins it from Matrix, bob says hello there) and alice opens a direct chat
# from bob's name. Then it plays an off-the-record conversation through the
# bridge: the AKE, both fingerprints, an SMP
# verification, encrypted messages both ways and the end of the session,
# with bob's raw IRC wire beside what alice sees in Matrix
# (e2e/cmd/stack/otrdemo.go). It exits non-zero if any step is not observed.
# The stack keeps running afterwards so you can connect any Matrix or IRC
# client; stop it with `make demo-stop` (scripts/stack.sh stop).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--tags=goolm}"

# bob's libotr client is compiled with gcc against libotr5-dev.
if ! [ -x /usr/sbin/inspircd ] || ! [ -x "$(go env GOPATH)/bin/dendrite" ] ||
	! [ -f /usr/include/libotr/proto.h ] || ! command -v gcc >/dev/null; then
	scripts/install-deps.sh
fi

echo "== Building otrbridge (go build -tags goolm ./cmd/otrbridge)"
go build -tags goolm -o otrbridge ./cmd/otrbridge
exec scripts/stack.sh demo -bridge ./otrbridge
