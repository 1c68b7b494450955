#!/usr/bin/env bash
# Starts, stops or shows the local stack (InspIRCd + Dendrite on free
# loopback ports, plus the bridge when started by scripts/demo.sh). State,
# logs and an env file with the ports live in .stack/ (gitignored).
#   scripts/stack.sh start | stop | status
# `stop` ends exactly the processes recorded in .stack/state.json.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .stack/bin
GOFLAGS=-tags=goolm go build -o .stack/bin/stack ./e2e/cmd/stack
exec .stack/bin/stack -dir .stack "$@"
