#!/usr/bin/env bash
# The README's run command: builds the bridge, starts a local Dendrite and
# InspIRCd, configures and starts otrbridge against them, creates a Matrix
# user (alice) and IRC users (bob, carol) and plays a short conversation
# through the bridge, printing what each side sees. The stack keeps running
# afterwards so you can connect any Matrix or IRC client; stop it with
# `make demo-stop` (scripts/stack.sh stop).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOFLAGS="${GOFLAGS:--tags=goolm}"

if ! [ -x /usr/sbin/inspircd ] || ! [ -x "$(go env GOPATH)/bin/dendrite" ]; then
	scripts/install-deps.sh
fi

echo "== Building otrbridge (go build -tags goolm ./cmd/otrbridge)"
go build -tags goolm -o otrbridge ./cmd/otrbridge
exec scripts/stack.sh demo -bridge ./otrbridge
