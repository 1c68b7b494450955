package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// What the load test and the benchmarks learn from inside the bridge: its
// goroutines and heap (through bridgev2's debug endpoints, which expose
// net/http/pprof), CPU profiles of a phase, and the IRC event loop's slow
// events from its log.

// profiler talks to the bridge's pprof endpoints. Profiles go to dir.
type profiler struct {
	base, secret, dir string

	mu      sync.Mutex
	stopCPU chan struct{}
	cpuDone chan struct{}
}

// debugEndpoints turns on bridgev2's debug API (pprof, behind the
// provisioning secret) in a bridge config; the profiler's secret opens it.
func debugEndpoints(cfg map[string]any, secret string) {
	prov, _ := cfg["provisioning"].(map[string]any)
	if prov == nil {
		prov = map[string]any{}
		cfg["provisioning"] = prov
	}
	prov["debug_endpoints"] = true
	prov["shared_secret"] = secret
}

func newProfiler(dir string) *profiler {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	if dir != "" {
		_ = os.MkdirAll(dir, 0o755)
	}
	return &profiler{secret: hex.EncodeToString(b), dir: dir}
}

// attach points the profiler at a started bridge.
func (p *profiler) attach(b *teststack.Bridge) {
	p.base = "http://127.0.0.1:" + strconv.Itoa(b.Port) + "/debug/pprof/"
}

func (p *profiler) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %.200s", path, resp.Status, body)
	}
	return body, nil
}

// goroutines counts the bridge's goroutines.
func (p *profiler) goroutines() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	body, err := p.get(ctx, "goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	// "goroutine profile: total 123"
	first, _, _ := bytes.Cut(body, []byte("\n"))
	n, err := strconv.Atoi(strings.TrimPrefix(string(first), "goroutine profile: total "))
	if err != nil {
		return 0, fmt.Errorf("goroutine profile header %q", first)
	}
	return n, nil
}

// snapshot saves the goroutine (debug=1) and heap profiles as
// <name>-goroutine.txt, <name>-heap.pb.gz and <name>-heap.txt (with the
// runtime's memory statistics).
func (p *profiler) snapshot(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for path, file := range map[string]string{"goroutine?debug=1": "-goroutine.txt", "heap?gc=1": "-heap.pb.gz", "heap?debug=1": "-heap.txt"} {
		body, err := p.get(ctx, path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(p.dir, name+file), body, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// startCPU records CPU profiles in pieces of at most 30 s (cpu-<name>-<n>.pb.gz,
// merge them with `go tool pprof -proto`) until stopCPUProfiles.
func (p *profiler) startCPU(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopCPU, p.cpuDone = make(chan struct{}), make(chan struct{})
	stop, done := p.stopCPU, p.cpuDone
	go func() {
		defer close(done)
		for n := 0; ; n++ {
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan struct{})
			var body []byte
			var err error
			go func() {
				body, err = p.get(ctx, "profile?seconds=30")
				close(got)
			}()
			stopped := false
			select {
			case <-got:
			case <-stop:
				// The profile request ends with its 30 s; the rest of
				// the phase is worth keeping, so wait for it.
				<-got
				stopped = true
			}
			cancel()
			if err == nil {
				_ = os.WriteFile(filepath.Join(p.dir, fmt.Sprintf("cpu-%s-%02d.pb.gz", name, n)), body, 0o644)
			}
			if stopped {
				return
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
}

func (p *profiler) stopCPUProfiles() {
	p.mu.Lock()
	stop, done := p.stopCPU, p.cpuDone
	p.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
}

// eventLoopStats are the IRC event loop's slow events, from the bridge's
// log: per connection the last line has its totals (the bridge logs them
// again when a login disconnects, so read them after stopping it).
type eventLoopStats struct {
	SlowEvents int     `json:"slow_events"`
	SlowestMS  float64 `json:"slowest_ms"`
	// Connections is how many connections had slow events.
	Connections int `json:"connections_with_slow_events"`
}

func readEventLoopStats(logPath string) (eventLoopStats, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return eventLoopStats{}, err
	}
	defer f.Close()
	type totals struct {
		slow    int
		slowest float64
	}
	perLogin := map[string]totals{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte("IRC event loop held up")) {
			continue
		}
		var l struct {
			Login   string  `json:"login_id"`
			Network string  `json:"irc_network"`
			Slow    int     `json:"slow_events_total"`
			Slowest float64 `json:"slowest_ms"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			continue
		}
		perLogin[l.Login+" "+l.Network] = totals{l.Slow, l.Slowest}
	}
	var s eventLoopStats
	for _, t := range perLogin {
		s.SlowEvents += t.slow
		s.SlowestMS = max(s.SlowestMS, t.slowest)
		s.Connections++
	}
	return s, sc.Err()
}

// akeMarks are when the bridge logged a conversation's first `!otr init`
// and its first secure state.
type akeMarks struct{ command, secure time.Time }

// readAKEMarks reads them for every peer from the bridge's log.
func readAKEMarks(logPath string) (map[string]akeMarks, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	marks := map[string]akeMarks{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		isCommand := bytes.Contains(line, []byte(`"otr_command":"init"`))
		isSecure := bytes.Contains(line, []byte(`"otr_event":"secure"`))
		if !isCommand && !isSecure {
			continue
		}
		var l struct {
			Peer string    `json:"peer"`
			Time time.Time `json:"time"`
		}
		if json.Unmarshal(line, &l) != nil || l.Peer == "" {
			continue
		}
		m := marks[l.Peer]
		if isCommand && m.command.IsZero() {
			m.command = l.Time
		}
		if isSecure && m.secure.IsZero() {
			m.secure = l.Time
		}
		marks[l.Peer] = m
	}
	return marks, sc.Err()
}
