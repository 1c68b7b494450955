package main

// The Makefile and the Dockerfile set these from git with -ldflags:
//
//	-X main.Tag=$(git describe --exact-match --tags --match 'v[0-9]*')   # empty between releases
//	-X main.Release=$(git describe --tags --abbrev=0 --match 'v[0-9]*')  # the last release tag
//	-X main.Commit=$(git rev-parse HEAD) -X main.BuildTime=$(date -u +%Y-%m-%dT%H:%M:%SZ)
//
// Without them the version and commit come from Go's own VCS stamp in the
// binary, where the build made one.
var (
	Tag       = "unknown"
	Release   = "unknown"
	Commit    = "unknown"
	BuildTime = "unknown"
)
