package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"maunium.net/go/mautrix/bridgev2"

	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// Prometheus metrics (network.metrics). mautrix-go's bridgev2 has no
// metrics of its own, so these are all the bridge's: counters where
// something happens (messages, OTR events, key exchanges) and gauges read
// when Prometheus asks (connections, portals, OTR sessions, send queues).
// No label names a user, a nick or a room: the numbers show activity, not
// who is active; and they are served on a loopback address only.

// MetricsConfig is network.metrics.
type MetricsConfig struct {
	Enabled bool   `yaml:"enabled"`
	Listen  string `yaml:"listen"`
}

// validate accepts a loopback host:port.
func (m *MetricsConfig) validate() error {
	if !m.Enabled {
		return nil
	}
	host, port, err := net.SplitHostPort(m.Listen)
	if err != nil {
		return fmt.Errorf("network.metrics.listen: %q is not host:port", m.Listen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("network.metrics.listen: %q is not a TCP port", port)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("network.metrics.listen: %q is not a loopback address; the metrics show when your users are active, "+
			"so they are only served on loopback (put an authenticating reverse proxy in front to scrape from elsewhere)", host)
	}
	return nil
}

// bridgeMetrics are the bridge's counters and its metrics server. A nil
// *bridgeMetrics (metrics off) counts nothing.
type bridgeMetrics struct {
	registry *prometheus.Registry
	messages *prometheus.CounterVec
	events   *prometheus.CounterVec
	akes     *prometheus.CounterVec
	server   *http.Server
}

// Labels of otrbridge_messages_total.
const (
	toIRC    = "to_irc"
	toMatrix = "to_matrix"

	resultEncrypted = "encrypted"
	resultPlaintext = "plaintext"
	resultFailed    = "failed"
)

func newBridgeMetrics(ic *IRCConnector) *bridgeMetrics {
	m := &bridgeMetrics{
		registry: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otrbridge_messages_total",
			Help: "Messages bridged, by direction (to_irc, to_matrix) and result (encrypted: inside OTR, plaintext, failed: not sent).",
		}, []string{"direction", "result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otrbridge_otr_events_total",
			Help: "OTR events, by name as in the log (secure, ended_by_user, ended_by_peer, smp_succeeded, smp_failed, malformed, ...).",
		}, []string{"event"}),
		akes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "otrbridge_otr_akes_total",
			Help: "Completed OTR key exchanges: new private conversations and refreshes.",
		}, []string{"kind"}),
	}
	m.registry.MustRegister(m.messages, m.events, m.akes,
		&stateCollector{ic: ic},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *bridgeMetrics) message(direction, result string) {
	if m != nil {
		m.messages.WithLabelValues(direction, result).Inc()
	}
}

// otrEvent is the OTR session managers' OnEvent.
func (m *bridgeMetrics) otrEvent(name string, refreshed bool) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(name).Inc()
	if name == "secure" {
		kind := "new"
		if refreshed {
			kind = "refresh"
		}
		m.akes.WithLabelValues(kind).Inc()
	}
}

// serve starts the metrics server; a listen address that cannot be used
// stops the bridge from starting.
func (m *bridgeMetrics) serve(listen string, log func(error)) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("network.metrics.listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	m.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log(err)
		}
	}()
	return nil
}

func (m *bridgeMetrics) stop() {
	if m == nil || m.server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.server.Shutdown(ctx)
}

// stateCollector reads the gauges when Prometheus scrapes.
type stateCollector struct {
	ic *IRCConnector
}

var (
	descConnections = prometheus.NewDesc("otrbridge_irc_connections",
		"IRC connections (one per login), by network and state (connected, connecting, transient_disconnect, bad_credentials, fatal, disconnected, not_started).",
		[]string{"network", "state"}, nil)
	descPortals = prometheus.NewDesc("otrbridge_portals",
		"DM portals (Matrix rooms) the bridge has.", nil, nil)
	descSessions = prometheus.NewDesc("otrbridge_otr_sessions",
		"Peers the OTR session managers keep, by conversation state (plaintext, private_unverified, private_verified, finished).",
		[]string{"state"}, nil)
	descQueue = prometheus.NewDesc("otrbridge_irc_send_queue",
		"Messages waiting to be sent to IRC, by network and kind (user: the users' messages; automatic: replies the bridge makes, e.g. OTR).",
		[]string{"network", "kind"}, nil)
)

func (s *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descConnections
	ch <- descPortals
	ch <- descSessions
	ch <- descQueue
}

func (s *stateCollector) Collect(ch chan<- prometheus.Metric) {
	br := s.ic.Bridge
	if br == nil {
		return
	}
	type netState struct{ network, state string }
	conns := map[netState]int{}
	queues := map[[2]string]int{}
	sessions := map[otrsession.State]int{}
	for _, login := range br.GetAllCachedUserLogins() {
		c, ok := login.Client.(*IRCClient)
		if !ok {
			continue
		}
		state := "not_started"
		if conn := c.connection(); conn != nil {
			state = metricLabel(conn.State().String())
			user, auto := conn.QueueLen()
			queues[[2]string{c.meta.Network, "user"}] += user
			queues[[2]string{c.meta.Network, "automatic"}] += auto
		}
		if c.meta.Disconnected {
			state = "disconnected"
		}
		conns[netState{c.meta.Network, state}]++
		for st, n := range c.otr.SessionStates() {
			sessions[st] += n
		}
	}
	for k, n := range conns {
		ch <- prometheus.MustNewConstMetric(descConnections, prometheus.GaugeValue, float64(n), k.network, k.state)
	}
	for k, n := range queues {
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for _, st := range []otrsession.State{otrsession.StatePlaintext, otrsession.StatePrivateUnverified, otrsession.StatePrivateVerified, otrsession.StateFinished} {
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(sessions[st]), metricLabel(st.String()))
	}
	if n, err := countPortals(br); err == nil {
		ch <- prometheus.MustNewConstMetric(descPortals, prometheus.GaugeValue, float64(n))
	}
}

// countPortals counts the bridge's portals that have a room.
func countPortals(br *bridgev2.Bridge) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int
	err := br.DB.QueryRow(ctx, "SELECT COUNT(*) FROM portal WHERE bridge_id=$1 AND mxid IS NOT NULL", br.ID).Scan(&n)
	return n, err
}

// metricLabel turns a state's name into a label value: "private
// (verified)" → "private_verified", "transient-disconnect" →
// "transient_disconnect".
var metricLabel = strings.NewReplacer(" (", "_", ")", "", "-", "_", " ", "_").Replace
