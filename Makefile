# The two commands: `make demo` runs the bridge on a local stack,
# `make test` runs every test. Both install what they need first.
GOFLAGS ?= -tags=goolm
export GOFLAGS

.PHONY: all build deps test demo demo-stop bench fuzz

all: build

build:
	go build -o otrbridge ./cmd/otrbridge

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

fuzz:
	scripts/fuzz.sh $${FUZZTIME:-10m}
