package e2e

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// scrape reads the bridge's Prometheus metrics: series (name with labels,
// as Prometheus writes them) → value.
func (e *env) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	if e.bridge.MetricsURL == "" {
		t.Fatal("the stack's bridge serves no metrics")
	}
	resp, err := http.Get(e.bridge.MetricsURL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s", resp.Status)
	}
	series := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			series[line[:i]] = v
		}
	}
	return series
}

// testOTRMetrics: a private conversation shows in the metrics: a key
// exchange, messages inside OTR both ways, a private session, the login's
// connection, a portal, the send queues.
func testOTRMetrics(t *testing.T, e *env) {
	u, p, room := e.otrSetup(t, otrtest.Options{Policy: otrtest.PolicyManual})
	before := e.scrape(t)
	u.mx.SendText(room, "!otr init")
	p.goSecure(t, u, room)
	e.exchange(t, u, p, room, "metrics")
	after := e.scrape(t)
	for _, s := range []string{
		`otrbridge_otr_akes_total{kind="new"}`,
		`otrbridge_otr_events_total{event="secure"}`,
		`otrbridge_messages_total{direction="to_irc",result="encrypted"}`,
		`otrbridge_messages_total{direction="to_matrix",result="encrypted"}`,
	} {
		if after[s] <= before[s] {
			t.Errorf("%s: %v before, %v after the private conversation", s, before[s], after[s])
		}
	}
	for _, s := range []string{
		`otrbridge_otr_sessions{state="private_unverified"}`,
		`otrbridge_irc_connections{network="local",state="connected"}`,
		`otrbridge_portals`,
	} {
		if after[s] < 1 {
			t.Errorf("%s = %v, want at least 1", s, after[s])
		}
	}
	if _, ok := after[`otrbridge_irc_send_queue{kind="user",network="local"}`]; !ok {
		t.Error("no send queue length")
	}
	// The labels name no user, nick or room.
	for s := range after {
		if strings.Contains(s, u.nick) || strings.Contains(s, p.irc.Nick()) || strings.Contains(s, room) || strings.Contains(s, u.mx.UserID) {
			t.Errorf("a series names the user, the peer or the room: %s", s)
		}
	}
}
