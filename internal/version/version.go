// Package version names a build of otrbridge: the release it is or comes
// after, and the commit.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"go.mau.fi/util/progver"
)

// Release returns the release this build is, or comes after, and the
// release tag when the build is exactly that release. Releases are the git
// tags vX.Y.Z that CHANGELOG.md lists. Without tags from -ldflags it reads
// the version Go stamps from git: "v0.2.0" on the tagged commit, a
// pseudo-version such as "v0.2.1-0.20260101120000-abcdef123456" after it,
// "+dirty" with local changes, "(devel)" without a stamp.
func Release(tag, release string, info *debug.BuildInfo) (version, releaseTag string) {
	set := func(s string) bool { return s != "" && s != "unknown" }
	switch {
	case set(tag):
		return tag, tag
	case set(release):
		return release, ""
	case info == nil || !strings.HasPrefix(info.Main.Version, "v"):
		return "v0.0.0", ""
	}
	v := info.Main.Version
	if base, _, found := strings.Cut(v, "-"); found {
		return base, ""
	}
	if base, _, found := strings.Cut(v, "+"); found {
		return base, ""
	}
	return v, v
}

// Text is the answer to --version and to the `version` command:
// the release, the commit and the build. mxmain's own names the commit only
// between releases; a bug report about a release build needs it too.
func Text(v progver.ProgramVersion) string {
	built := "built with " + runtime.Version()
	if !v.BuildTime.IsZero() {
		built = "built at " + v.BuildTime.Format(time.RFC1123) + " with " + runtime.Version()
	}
	return fmt.Sprintf("%s %s (commit %s, %s)", v.Name, v.FormattedVersion, v.Commit, built)
}
