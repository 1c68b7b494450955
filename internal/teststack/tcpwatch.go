package teststack

import (
	"io"
	"net"
	"sync"
	"testing"
)

// TCPWatch is a loopback TCP port in front of a server that records the
// address of every client that connects, then relays the connection to the
// server. Tests use it to prove where connections come from (e.g. only
// from a proxy's bind address, never directly).
type TCPWatch struct {
	Host string
	Port int
	ln   net.Listener

	mu    sync.Mutex
	peers []string
	open  map[net.Conn]bool
}

// WatchTCP listens on a free loopback port and relays to target.
func WatchTCP(t testing.TB, target string) *TCPWatch {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &TCPWatch{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, ln: ln, open: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		w.mu.Lock()
		for c := range w.open {
			c.Close()
		}
		w.mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			w.mu.Lock()
			w.peers = append(w.peers, host)
			w.open[c] = true
			w.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				relay(c, target)
				w.mu.Lock()
				delete(w.open, c)
				w.mu.Unlock()
			}()
		}
	}()
	return w
}

func relay(c net.Conn, target string) {
	defer c.Close()
	s, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); done <- struct{}{} }()
	<-done
}

// Peers returns the address of each client that connected, in order.
func (w *TCPWatch) Peers() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.peers...)
}
