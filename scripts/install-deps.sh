#!/usr/bin/env bash
# Installs everything the tests and the demo need on a fresh Debian machine:
# libotr 4.1.1 (headers and tools), InspIRCd, python3-potr, microsocks (the
# SOCKS5 proxy of the proxy tests), openssl and Dendrite v0.13.8. Safe to
# run again: it skips what is already there.
set -euo pipefail

need_apt=()
[ -f /usr/include/libotr/proto.h ] || need_apt+=(libotr5-dev)
command -v otr_parse >/dev/null 2>&1 || need_apt+=(libotr5-bin)
command -v inspircd >/dev/null 2>&1 || [ -x /usr/sbin/inspircd ] || need_apt+=(inspircd)
[ -d /usr/lib/python3/dist-packages/potr ] || need_apt+=(python3-potr)
[ -x /usr/bin/microsocks ] || need_apt+=(microsocks)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)

if [ ${#need_apt[@]} -gt 0 ]; then
	echo "install-deps: apt-get install ${need_apt[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

gobin=$(go env GOPATH)/bin
if [ ! -x "$gobin/dendrite" ]; then
	echo "install-deps: go install dendrite v0.13.8 (takes about 90 s)"
	(cd /tmp && GOFLAGS= go install github.com/matrix-org/dendrite/cmd/...@v0.13.8)
fi
echo "install-deps: ok"
