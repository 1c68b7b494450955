package version

import (
	"runtime/debug"
	"testing"
)

func TestReleaseVersion(t *testing.T) {
	stamped := func(v string) *debug.BuildInfo { return &debug.BuildInfo{Main: debug.Module{Version: v}} }
	for _, tc := range []struct {
		tag, release string
		info         *debug.BuildInfo
		version, rel string
	}{
		{"v0.2.0", "v0.2.0", nil, "v0.2.0", "v0.2.0"},
		{"", "v0.2.0", nil, "v0.2.0", ""},
		{"unknown", "unknown", stamped("v0.3.0"), "v0.3.0", "v0.3.0"},
		{"unknown", "unknown", stamped("v0.3.1-0.20260101120000-abcdef123456"), "v0.3.1", ""},
		{"unknown", "unknown", stamped("v0.3.0+dirty"), "v0.3.0", ""},
		{"unknown", "unknown", stamped("(devel)"), "v0.0.0", ""},
		{"", "", nil, "v0.0.0", ""},
	} {
		v, r := Release(tc.tag, tc.release, tc.info)
		if v != tc.version || r != tc.rel {
			t.Errorf("Release(%q, %q, %v) = %q, %q; want %q, %q", tc.tag, tc.release, tc.info, v, r, tc.version, tc.rel)
		}
	}
}
