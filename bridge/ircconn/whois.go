package ircconn

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
)

type whoisReq struct {
	nick string
	info WhoisInfo
	err  error
	once sync.Once
	done chan struct{}
}

func (r *whoisReq) finish(err error) {
	r.once.Do(func() {
		r.err = err
		close(r.done)
	})
}

// Whois asks the server about nick and collects the reply. A nick that is
// not online gives a *PeerError with code 401.
func (c *Conn) Whois(ctx context.Context, nick string) (WhoisInfo, error) {
	if !validNick(nick) {
		return WhoisInfo{}, ErrBadTarget
	}
	c.whoisMu.Lock()
	defer c.whoisMu.Unlock()
	req := &whoisReq{nick: nick, done: make(chan struct{})}
	c.mu.Lock()
	c.whois = req
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.whois == req {
			c.whois = nil
		}
		c.mu.Unlock()
	}()
	if err := c.Raw(ctx, "WHOIS "+nick); err != nil {
		return WhoisInfo{}, err
	}
	t := time.NewTimer(c.cfg.ConfirmTimeout)
	defer t.Stop()
	select {
	case <-req.done:
		return req.info, req.err
	case <-ctx.Done():
		return WhoisInfo{}, ctx.Err()
	case <-t.C:
		return WhoisInfo{}, ErrUnconfirmed
	}
}

// whoisReply collects a numeric into the pending WHOIS, if it belongs to it.
func (s *session) whoisReply(m *ircmsg.Message) bool {
	c := s.c
	s.lockReader()
	defer s.unlockReader()
	r := c.whois
	if r == nil || len(m.Params) < 2 || c.casemap.Fold(m.Params[1]) != c.casemap.Fold(r.nick) {
		return false
	}
	select {
	case <-r.done:
		return false
	default:
	}
	in := &r.info
	switch m.Command {
	case "311": // nick user host * :realname
		in.Nick, in.User, in.Host, in.Realname = param(m, 1), param(m, 2), param(m, 3), lastParam(m)
	case "312":
		in.Server, in.ServerInfo = param(m, 2), lastParam(m)
	case "313":
		in.Operator = true
	case "317": // nick idle signon :text
		if n, err := strconv.ParseInt(param(m, 2), 10, 64); err == nil && n >= 0 {
			in.Idle = time.Duration(n) * time.Second
		}
		if n, err := strconv.ParseInt(param(m, 3), 10, 64); err == nil && n > 0 && len(m.Params) > 4 {
			in.SignOn = time.Unix(n, 0)
		}
	case "319":
		in.Channels = append(in.Channels, strings.Fields(lastParam(m))...)
	case "330":
		in.Account = param(m, 2)
	case "671":
		in.Secure = true
	case "301":
		in.Away = lastParam(m)
	case "318":
		r.finish(nil)
	case "401", "402":
		r.finish(&PeerError{Target: param(m, 1), Code: m.Command, Text: lastParam(m)})
	default:
		if !isWhoisNumeric(m.Command) {
			return false
		}
		in.Other = append(in.Other, m.Command+" "+strings.Join(m.Params[2:], " "))
	}
	return true
}

// isWhoisNumeric: other numerics that servers put in a WHOIS reply
// (276 certfp, 307 registered, 320 swhois, 335 bot, 338 actual host, 378, 379).
func isWhoisNumeric(code string) bool {
	switch code {
	case "276", "307", "310", "320", "335", "338", "378", "379":
		return true
	}
	return false
}

type nickReq struct {
	nick string
	err  error
	once sync.Once
	done chan struct{}
}

func (r *nickReq) finish(err error) {
	r.once.Do(func() {
		r.err = err
		close(r.done)
	})
}

// SetNick changes our nick and waits for the server's answer; a refusal is a
// *PeerError (433 in use, 432 erroneous, 437/438 too soon...). After a
// reconnect the Conn registers with the last nick set this way.
func (c *Conn) SetNick(ctx context.Context, nick string) error {
	if !validNick(nick) {
		return ErrBadTarget
	}
	c.nickMu.Lock()
	defer c.nickMu.Unlock()
	req := &nickReq{nick: nick, done: make(chan struct{})}
	c.mu.Lock()
	c.nickReq = req
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.nickReq == req {
			c.nickReq = nil
		}
		c.mu.Unlock()
	}()
	if err := c.Raw(ctx, "NICK "+nick); err != nil {
		return err
	}
	t := time.NewTimer(c.cfg.ConfirmTimeout)
	defer t.Stop()
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrUnconfirmed
	}
}

func (c *Conn) wantNickLocked() string {
	if c.wantNick == "" {
		return c.cfg.Nick
	}
	return c.wantNick
}
