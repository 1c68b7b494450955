package bridge

import "testing"

func TestPrefixPower(t *testing.T) {
	for _, tc := range []struct {
		modes, order string
		want         int
	}{
		{"", "qaohv", 0},
		{"v", "qaohv", powerVoice},
		{"hv", "qaohv", powerHalfop},
		{"vo", "ov", powerOperator},
		{"qo", "qaohv", powerOwner},
		{"a", "qaohv", powerAdmin},
		// Unknown letters by their place in PREFIX.
		{"Y", "Yqaohv", powerAdmin},
		{"x", "ohxv", powerHalfop},
		{"z", "ovz", powerVoice},
		{"z", "ov", 0},
	} {
		if got := prefixPower(tc.modes, tc.order); got != tc.want {
			t.Errorf("prefixPower(%q, %q) = %d, want %d", tc.modes, tc.order, got, tc.want)
		}
	}
}
