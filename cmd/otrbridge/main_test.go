package main

import "testing"

func TestExampleConfigRequested(t *testing.T) {
	for _, tc := range []struct {
		args []string
		path string
		ok   bool
	}{
		{[]string{"-e"}, "config.yaml", true},
		{[]string{"-e", "-c", "x.yaml"}, "x.yaml", true},
		{[]string{"--generate-example-config", "--config", "-"}, "-", true},
		{[]string{"-c", "x.yaml"}, "x.yaml", false},
		{[]string{"-g", "-c", "x.yaml", "-r", "reg.yaml"}, "x.yaml", false},
		{[]string{"--ignore-unsupported-server", "-c", "x.yaml"}, "x.yaml", false},
		{[]string{"--no-such-flag"}, "", false},
	} {
		path, ok := exampleConfigRequested(tc.args)
		if ok != tc.ok || (ok && path != tc.path) {
			t.Errorf("exampleConfigRequested(%q) = %q, %v; want %q, %v", tc.args, path, ok, tc.path, tc.ok)
		}
	}
}
