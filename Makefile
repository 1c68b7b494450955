# The two commands: `make demo` runs the bridge on a local stack,
# `make test` runs every test. Both install what they need first.
GOFLAGS ?= -tags=goolm
export GOFLAGS

.PHONY: all build deps test demo demo-stop bench bench-otr load-test fuzz

all: build

# The version comes from git tags (vX.Y.Z, see CHANGELOG.md): the release
# this commit is, or the last one before it; --version shows it with the commit.
GIT_TAG     := $(shell git describe --exact-match --tags --match 'v[0-9]*' 2>/dev/null)
GIT_RELEASE := $(shell git describe --tags --abbrev=0 --match 'v[0-9]*' 2>/dev/null)
GIT_COMMIT  := $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.Tag=$(GIT_TAG) -X main.Release=$(GIT_RELEASE) -X main.Commit=$(GIT_COMMIT) \
	-X main.BuildTime=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

build:
	go build -ldflags "$(LDFLAGS)" -o otrbridge ./cmd/otrbridge

deps:
	scripts/install-deps.sh

test: deps
	scripts/test.sh

demo: deps
	scripts/demo.sh

demo-stop:
	scripts/stack.sh stop

bench:
	go test -run '^$$' -bench . -benchmem ./...

bench-otr:
	scripts/bench-otr.sh

# 100 users x 1 private conversation x 20 messages each way on the local stack.
load-test: deps
	OTRBRIDGE_LOAD=1 OTRBRIDGE_REQUIRE_PEERS=1 go test ./e2e -run '^TestOTRLoad$$' -v -count=1 -timeout 40m

fuzz:
	scripts/fuzz.sh $${FUZZTIME:-10m}
