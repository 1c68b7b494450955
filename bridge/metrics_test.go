package bridge

import (
	"strings"
	"testing"
)

func TestMetricsListenLoopbackOnly(t *testing.T) {
	for _, listen := range []string{"127.0.0.1:29341", "[::1]:9000", "localhost:9000", "127.0.0.2:80"} {
		if err := (&MetricsConfig{Enabled: true, Listen: listen}).validate(); err != nil {
			t.Errorf("%s: %v", listen, err)
		}
	}
	for _, listen := range []string{"0.0.0.0:29341", ":29341", "[::]:9000", "192.0.2.1:9000", "example.org:9000", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999"} {
		err := (&MetricsConfig{Enabled: true, Listen: listen}).validate()
		if err == nil || !strings.Contains(err.Error(), "network.metrics.listen") {
			t.Errorf("%s: %v, want refused", listen, err)
		}
	}
	if err := (&MetricsConfig{Listen: "0.0.0.0:1"}).validate(); err != nil {
		t.Errorf("disabled metrics are not checked: %v", err)
	}
}

func TestMetricLabel(t *testing.T) {
	for in, want := range map[string]string{
		"private (verified)": "private_verified", "private (unverified)": "private_unverified",
		"plaintext": "plaintext", "transient-disconnect": "transient_disconnect", "bad-credentials": "bad_credentials",
	} {
		if got := metricLabel(in); got != want {
			t.Errorf("metricLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
