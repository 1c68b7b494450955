package teststack

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// Crowd is many idle IRC clients in one channel, for load tests: each
// registers, joins and then only answers PINGs, keeping nothing of what it
// receives (an IRCClient records every line, which a thousand clients in
// one channel cannot afford).
type Crowd struct {
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// StartCrowd connects n clients named prefix0, prefix1, ... to addr, at
// most parallel at a time, and has each join channel. It returns once all
// have joined, or the first error (the crowd is then closed).
func StartCrowd(ctx context.Context, addr, prefix, channel string, n, parallel int) (*Crowd, error) {
	c := &Crowd{}
	sem := make(chan struct{}, parallel)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(nick string) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := c.join(ctx, addr, nick, channel); err != nil {
				errs <- fmt.Errorf("%s: %w", nick, err)
			}
		}(fmt.Sprintf("%s%d", prefix, i))
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// join registers one client and joins it to channel.
func (c *Crowd) join(ctx context.Context, addr, nick, channel string) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.conns = append(c.conns, conn)
	c.mu.Unlock()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if _, err := fmt.Fprintf(conn, "NICK %s\r\nUSER %s 0 * :crowd\r\n", nick, nick); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	// Registration, then the end of the channel's member list.
	for _, want := range []string{" 001 ", " 366 "} {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("waiting for%s: %w", want, err)
			}
			if strings.HasPrefix(line, "PING ") {
				fmt.Fprintf(conn, "PONG %s\r\n", strings.TrimSpace(line[5:]))
			}
			if strings.Contains(line, want) {
				break
			}
		}
		if want == " 001 " {
			if _, err := fmt.Fprintf(conn, "JOIN %s\r\n", channel); err != nil {
				return err
			}
		}
	}
	conn.SetDeadline(time.Time{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "PING ") {
				fmt.Fprintf(conn, "PONG %s\r\n", strings.TrimSpace(line[5:]))
			}
		}
	}()
	return nil
}

// Len is the number of connected clients.
func (c *Crowd) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

// Close disconnects every client.
func (c *Crowd) Close() {
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
	c.mu.Unlock()
	c.wg.Wait()
}
