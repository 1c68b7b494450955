package ircconn

// Registration: capability negotiation, SASL, the welcome burst, nick
// collisions and learning our own host.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
)

// wantedCaps are requested when the server offers them.
// chghost keeps our own host current (cloaks, vhosts), which LineBudget needs.
// The others report what the server knows about users and channels
// (channels.go, monitor.go).
var wantedCaps = []string{"message-tags", "server-time", "echo-message", "labeled-response", "account-tag", "batch", "chghost",
	"extended-join", "account-notify", "away-notify", "multi-prefix", "userhost-in-names", "invite-notify", "setname", "extended-monitor"}

// handleCAP follows CAP LS 302 → REQ → ACK/NAK → (SASL) → END.
func (s *session) handleCAP(m *ircmsg.Message) error {
	c := s.c
	sub := strings.ToUpper(param(m, 1))
	switch sub {
	case "LS":
		more := len(m.Params) > 3 && m.Params[2] == "*"
		s.lockReader()
		reqd := s.capReqd
		if !reqd {
			for _, tok := range strings.Fields(lastParam(m)) {
				name, val, _ := strings.Cut(tok, "=")
				s.capLS[name] = val
			}
		}
		s.unlockReader()
		if more || reqd {
			return nil
		}
		return s.requestCaps()
	case "ACK":
		s.lockReader()
		sasl := false
		for _, name := range strings.Fields(lastParam(m)) {
			if strings.HasPrefix(name, "-") {
				delete(c.caps, name[1:])
				continue
			}
			// A copy: the name would keep the whole ACK line alive.
			c.caps[strings.Clone(name)] = true
			sasl = sasl || name == "sasl"
		}
		registered := s.registered
		s.unlockReader()
		if registered {
			return nil
		}
		if mech := c.saslMechanism(); sasl && mech != "" {
			s.send("AUTHENTICATE", mech)
			return nil
		}
		s.send("CAP", "END")
	case "NAK":
		if c.saslMechanism() != "" {
			return &fatalError{Fatal, errors.New("server refused the SASL capability")}
		}
		s.send("CAP", "END")
	case "DEL":
		s.lockReader()
		for _, name := range strings.Fields(lastParam(m)) {
			delete(c.caps, name)
		}
		s.unlockReader()
	}
	return nil
}

// saslMechanism is the configured SASL mechanism, "" for none.
func (c *Conn) saslMechanism() string {
	switch {
	case c.cfg.SASLExternal:
		return "EXTERNAL"
	case c.cfg.SASLAccount != "":
		return "PLAIN"
	}
	return ""
}

// requestCaps asks for the wanted capabilities the server offers, and for
// SASL when configured (fatal if the server does not offer the mechanism:
// never a login other than the one configured).
func (s *session) requestCaps() error {
	c := s.c
	s.lockReader()
	s.capReqd = true
	var req []string
	for _, name := range wantedCaps {
		if _, ok := s.capLS[name]; ok {
			req = append(req, name)
		}
	}
	mechs, hasSASL := s.capLS["sasl"]
	// The offer is read only here; it and the CAP LS lines it points
	// into need not stay for the connection's life.
	s.capLS = nil
	s.unlockReader()
	if mech := c.saslMechanism(); mech != "" {
		if !hasSASL || (mechs != "" && !containsFold(strings.Split(mechs, ","), mech)) {
			return &fatalError{Fatal, fmt.Errorf("server does not offer SASL %s", mech)}
		}
		req = append(req, "sasl")
	}
	if len(req) == 0 {
		s.send("CAP", "END")
		return nil
	}
	s.send("CAP", "REQ", strings.Join(req, " "))
	return nil
}

// How sure we are that user@host is what others see in our messages.
const (
	hostUnknown = iota
	// from 001 or USERHOST: servers show us our real host there, which a
	// cloak may replace for others
	hostGuessed
	// from our echoed messages, 396 or CHGHOST: what others see
	hostShown
)

// setHostLocked records our user@host unless a surer source already did.
func (c *Conn) setHostLocked(user, host string, sure int) {
	if sure < c.hostSure || host == "" {
		return
	}
	if user != "" {
		c.user = user
	}
	c.host, c.hostSure = host, sure
}

// nickError handles a refused nick: during registration it tries nick_,
// nick__ and nick<digits>; afterwards it answers SetNick.
func (s *session) nickError(m *ircmsg.Message) error {
	c := s.c
	code, reason := m.Command, lastParam(m)
	wanted := param(m, 1)
	s.lockReader()
	registered := s.registered
	if registered {
		r := c.nickReq
		s.unlockReader()
		if r != nil {
			r.finish(&PeerError{Target: wanted, Code: code, Text: reason})
		}
		c.emit(NickRejected{Wanted: wanted, Code: code, Reason: reason, Registered: true})
		return nil
	}
	s.nickTries++
	tries := s.nickTries
	base := c.wantNickLocked()
	s.unlockReader()
	if code == "432" && tries == 1 || code == "431" {
		c.emit(NickRejected{Wanted: wanted, Code: code, Reason: reason})
		return &fatalError{Fatal, fmt.Errorf("server rejected the nick (%s)", code)}
	}
	if tries > 5 {
		c.emit(NickRejected{Wanted: wanted, Code: code, Reason: reason})
		return &fatalError{Fatal, errors.New("no usable nick")}
	}
	var alt string
	switch tries {
	case 1:
		alt = base + "_"
	case 2:
		alt = base + "__"
	default:
		alt = base + strconv.Itoa(100+rand.IntN(900))
	}
	s.lockReader()
	c.nick = alt
	s.unlockReader()
	c.emit(NickRejected{Wanted: wanted, Code: code, Reason: reason, Trying: alt})
	s.send("NICK", alt)
	return nil
}

// becomeReady marks the session Connected once (end of MOTD, or a timer
// after 001 for servers without one), then identifies and learns our host.
func (s *session) becomeReady() {
	c := s.c
	c.mu.Lock()
	if s.readying || !s.registered || c.sess != s {
		c.mu.Unlock()
		return
	}
	select {
	case <-s.done:
		c.mu.Unlock()
		return
	default:
	}
	s.readying = true
	nick := c.nick
	want := c.wantNickLocked()
	watch := c.isup.Monitor && c.casemap.Fold(nick) != c.casemap.Fold(want)
	identify := c.cfg.NickServPassword != "" && !s.saslDone
	caps := make([]string, 0, len(c.caps))
	for k := range c.caps {
		caps = append(caps, k)
	}
	c.mu.Unlock()
	c.log.Info().Strs("caps", caps).Msg("IRC connection registered")
	s.send("USERHOST", nick)
	if watch {
		// be told when the holder of our nick leaves, to take it back
		s.send("MONITOR", "+", want)
	}
	if identify {
		s.send("PRIVMSG", c.cfg.NickServNick, "IDENTIFY "+c.cfg.NickServPassword)
	}
	// Only now may messages go out: the writer takes the lines above
	// first, so IDENTIFY precedes messages to users who require it.
	c.mu.Lock()
	s.ready = true
	s.readyAt = time.Now()
	c.mu.Unlock()
	c.setState(Connected, nil, 0)
	c.kick()
	s.startWatch()
}
