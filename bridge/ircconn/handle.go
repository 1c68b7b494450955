package ircconn

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/ergochat/irc-go/ircutils"
)

// peerErrors are numerics that mean a message to the named target was not
// delivered.
var peerErrors = map[string]bool{
	"401": true, // ERR_NOSUCHNICK
	"402": true, // ERR_NOSUCHSERVER
	"403": true, // ERR_NOSUCHCHANNEL
	"404": true, // ERR_CANNOTSENDTOCHAN
	"407": true, // ERR_TOOMANYTARGETS
	"477": true, // ERR_NEEDREGGEDNICK (InspIRCd +R)
	"486": true, // ERR_NONONREG (registered users only)
	"489": true, // ERR_SECUREONLYCHAN
	"492": true, // ERR_NOCTCP
	"531": true, // ERR_CANTSENDTOUSER
	"716": true, // ERR_TARGUMODEG (callerid +g)
}

// peerInfo are numerics about a target that do not mean failure.
var peerInfo = map[string]bool{
	"301": true, // RPL_AWAY
	"717": true, // RPL_TARGNOTIFY
	"718": true, // RPL_UMODEGMSG (someone messaged us while we are +g)
}

var nickErrors = map[string]bool{"431": true, "432": true, "433": true, "436": true, "437": true, "438": true, "447": true, "484": true}

// quietNumerics are registration and MOTD noise not worth an event.
var quietNumerics = map[string]bool{
	"001": true, "002": true, "003": true, "004": true, "005": true,
	"250": true, "251": true, "252": true, "253": true, "254": true, "255": true, "265": true, "266": true,
	"372": true, "375": true, "376": true, "422": true, "396": true, "302": true,
	"900": true, "901": true, "903": true, "907": true,
}

// handle processes one line from the server. A non-nil error ends the session.
func (s *session) handle(m *ircmsg.Message) error {
	c := s.c
	// Only this goroutine touches the pending topic: no lock to look.
	if s.track.topic != nil && m.Command != "333" {
		s.flushTopic()
	}
	if label, direct, ok := s.labelOf(m); ok {
		if done := s.handleLabeled(label, direct, m); done {
			return nil
		}
	}
	switch m.Command {
	case "PING":
		s.send("PONG", m.Params...)
		return nil
	case "PONG":
		s.handlePong(m)
		return nil
	case "ERROR":
		return classifyERROR(param(m, 0), c.cfg.ServerPassword != "")
	case "CAP":
		return s.handleCAP(m)
	case "AUTHENTICATE":
		if param(m, 0) != "+" {
			return nil
		}
		if c.cfg.SASLExternal {
			// No authorisation identity: the account the certificate
			// belongs to.
			s.send("AUTHENTICATE", "+")
			return nil
		}
		payload := c.cfg.SASLAccount + "\x00" + c.cfg.SASLAccount + "\x00" + c.cfg.SASLPassword
		for _, chunk := range ircutils.EncodeSASLResponse([]byte(payload)) {
			s.send("AUTHENTICATE", chunk)
		}
		return nil
	case "BATCH":
		ref := param(m, 0)
		if strings.HasPrefix(ref, "-") {
			s.lockReader()
			if label, ok := s.batches[ref[1:]]; ok {
				delete(s.batches, ref[1:])
				// The labeled batch ended without an error: delivered
				// (with echo-message the echo inside it already counted).
				if r := s.labels[label]; r != nil {
					c.resolveLocked(s, r, nil, nil)
				}
			}
			s.unlockReader()
		}
		return nil
	case "PRIVMSG", "NOTICE":
		return s.handleMessage(m)
	case "NICK":
		s.handleNick(m)
		return nil
	case "CHGHOST":
		s.handleChghost(m)
		return nil
	case "QUIT":
		s.handleQuit(m)
		return nil
	case "JOIN":
		s.handleJoin(m)
		return nil
	case "PART":
		s.handlePart(m)
		return nil
	case "KICK":
		s.handleKick(m)
		return nil
	case "TOPIC":
		s.handleTopic(m)
		return nil
	case "MODE":
		s.handleMode(m)
		return nil
	case "INVITE":
		s.handleInvite(m)
		return nil
	case "AWAY":
		s.handleAway(m)
		return nil
	case "ACCOUNT":
		s.handleAccount(m)
		return nil
	case "SETNAME":
		s.handleSetname(m)
		return nil
	}
	if isNumeric(m.Command) {
		return s.handleNumeric(m)
	}
	return nil
}

// labelOf finds the label of a labeled response, directly on the line
// (direct) or through the labeled-response batch it belongs to.
func (s *session) labelOf(m *ircmsg.Message) (label string, direct, ok bool) {
	if ok, l := m.GetTag("label"); ok {
		if m.Command == "BATCH" && strings.HasPrefix(param(m, 0), "+") {
			s.lockReader()
			s.batches[param(m, 0)[1:]] = l
			s.unlockReader()
			return "", false, false
		}
		return l, true, true
	}
	if ok, ref := m.GetTag("batch"); ok {
		s.lockReader()
		l, ok := s.batches[ref]
		s.unlockReader()
		return l, false, ok
	}
	return "", false, false
}

// handleLabeled applies a labeled response to the message line it answers.
// It reports whether the line was consumed; lines that are not (such as a
// 301 away reply) are then processed as usual.
func (s *session) handleLabeled(label string, direct bool, m *ircmsg.Message) bool {
	c := s.c
	s.lockReader()
	defer s.unlockReader()
	ref := s.labels[label]
	if ref == nil {
		return false
	}
	switch {
	case m.Command == "ACK":
		c.resolveLocked(s, ref, nil, nil)
	case m.Command == "PRIVMSG" || m.Command == "NOTICE":
		s.learnSelfLocked(m)
		c.resolveLocked(s, ref, nil, m)
	case peerErrors[m.Command]:
		c.resolveLocked(s, ref, &PeerError{Target: param(m, 1), Code: m.Command, Text: lastParam(m)}, nil)
	case m.Command == "FAIL":
		c.resolveLocked(s, ref, &PeerError{Target: ref.msg.target, Code: "FAIL " + param(m, 1), Text: lastParam(m)}, nil)
	default:
		// The only response, not an error (e.g. 301 away without
		// echo-message): the message went through. Inside a batch the
		// batch's end decides.
		if direct {
			c.resolveLocked(s, ref, nil, nil)
		}
		return false
	}
	return true
}

func (s *session) handleMessage(m *ircmsg.Message) error {
	c := s.c
	if len(m.Params) < 2 {
		return nil
	}
	target, text := m.Params[0], m.Params[1]
	nuh, _ := ircmsg.ParseNUH(m.Source)
	src := Source{Nick: nuh.Name, User: nuh.User, Host: nuh.Host}
	src.Server = m.Source == "" || (nuh.User == "" && nuh.Host == "" && strings.Contains(nuh.Name, "."))

	s.lockReader()
	fold := c.casemap.Fold
	if !src.Server && fold(src.Nick) == fold(c.nick) && c.caps["echo-message"] {
		// our own message coming back: it confirms a line (labeled echoes
		// were consumed by handleLabeled already)
		s.learnSelfLocked(m)
		if !c.caps["labeled-response"] {
			if ref := s.popEchoLocked(fold(target)); ref != nil {
				c.resolveLocked(s, ref, nil, m)
			}
		}
		s.unlockReader()
		return nil
	}
	toMe := fold(target) == fold(c.nick)
	channel := c.isChannelLocked(target)
	nickServ := toMe && m.Command == "NOTICE" && fold(src.Nick) == fold(c.cfg.NickServNick) && c.cfg.NickServPassword != "" && !s.saslDone
	s.unlockReader()

	if nickServ && nickServRejected(text) {
		c.emit(s.incoming(m, Notice, src, target, toMe, channel, text))
		return &fatalError{BadCredentials, errors.New("NickServ rejected the password")}
	}
	if strings.HasPrefix(text, "\x01") {
		body := strings.TrimSuffix(text[1:], "\x01")
		cmd, args, _ := strings.Cut(body, " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "ACTION" {
			c.emit(s.incoming(m, Action, src, target, toMe, channel, args))
			return nil
		}
		reply := m.Command == "NOTICE"
		if !reply && toMe && !src.Server {
			s.ctcpReply(src.Nick, cmd, args)
		}
		c.emit(CTCP{From: src, Target: target, Command: cmd, Args: args, Reply: reply})
		return nil
	}
	kind := Privmsg
	if m.Command == "NOTICE" {
		kind = Notice
	}
	c.emit(s.incoming(m, kind, src, target, toMe, channel, text))
	return nil
}

func (s *session) incoming(m *ircmsg.Message, kind Kind, src Source, target string, toMe, channel bool, text string) Message {
	ev := Message{Kind: kind, From: src, Target: target, ToMe: toMe, Channel: channel, Text: text, Time: serverTime(m)}
	_, ev.Account = m.GetTag("account")
	_, ev.MsgID = m.GetTag("msgid")
	return ev
}

// ctcpReply answers the harmless CTCP queries, rate-limited so that a CTCP
// flood cannot make us flood the server.
func (s *session) ctcpReply(nick, cmd, args string) {
	var reply string
	switch cmd {
	case "VERSION":
		reply = "VERSION " + s.c.cfg.Version
	case "PING":
		if len(args) > 64 {
			return
		}
		reply = "PING " + args
	case "TIME":
		reply = "TIME " + time.Now().UTC().Format(time.RFC1123)
	case "CLIENTINFO":
		reply = "CLIENTINFO ACTION CLIENTINFO PING TIME VERSION"
	default:
		return
	}
	if !s.ctcpReplies.Allow() {
		return
	}
	s.send("NOTICE", nick, "\x01"+reply+"\x01")
}

func (s *session) handleNick(m *ircmsg.Message) {
	c := s.c
	old, nw := m.Nick(), param(m, 0)
	if nw == "" {
		return
	}
	s.lockReader()
	self := c.casemap.Fold(old) == c.casemap.Fold(c.nick)
	chans := s.track.rename(c.casemap.Fold, old, nw)
	if !self {
		s.noteRenameLocked(old, nw)
	}
	if self {
		c.nick = nw
		s.learnSelfLocked(m)
		if r := c.nickReq; r != nil && c.casemap.Fold(r.nick) == c.casemap.Fold(nw) {
			c.wantNick = nw
			r.finish(nil)
		}
	}
	s.unlockReader()
	c.emit(NickChanged{Old: old, New: nw, Self: self, Channels: chans})
	if !self {
		s.maybeReclaim(old)
	}
}

// maybeReclaim takes our wanted nick back when the user holding it leaves.
func (s *session) maybeReclaim(gone string) {
	c := s.c
	s.lockReader()
	want := c.wantNickLocked()
	fire := s.ready && c.casemap.Fold(gone) == c.casemap.Fold(want) && c.casemap.Fold(c.nick) != c.casemap.Fold(want)
	s.unlockReader()
	if fire {
		s.send("NICK", want)
	}
}

// learnSelfLocked takes user and host from a line whose source is us.
func (s *session) learnSelfLocked(m *ircmsg.Message) {
	if nuh, err := ircmsg.ParseNUH(m.Source); err == nil && nuh.User != "" && nuh.Host != "" {
		s.c.setHostLocked(nuh.User, nuh.Host, hostShown)
	}
}

func (s *session) handleNumeric(m *ircmsg.Message) error {
	c := s.c
	code := m.Command
	switch code {
	case "001":
		s.lockReader()
		s.registered = true
		if n := param(m, 0); n != "" {
			c.nick = n
		}
		if f := strings.Fields(lastParam(m)); len(f) > 0 {
			if nuh, err := ircmsg.ParseNUH(f[len(f)-1]); err == nil && nuh.User != "" && nuh.Host != "" {
				c.setHostLocked(nuh.User, nuh.Host, hostGuessed)
			}
		}
		saslMissing := c.saslMechanism() != "" && !s.saslDone
		s.unlockReader()
		if saslMissing {
			return &fatalError{Fatal, errors.New("server registered us without SASL")}
		}
		// Servers that send no MOTD end still get us going.
		time.AfterFunc(10*time.Second, func() { s.becomeReady() })
	case "005":
		s.isupport(m)
	case "376", "422":
		s.becomeReady()
	case "396":
		if h := param(m, 1); h != "" {
			s.lockReader()
			if u, hh, ok := strings.Cut(h, "@"); ok {
				c.setHostLocked(u, hh, hostShown)
			} else {
				c.setHostLocked(c.user, h, hostShown)
			}
			s.unlockReader()
		}
	case "302":
		s.lockReader()
		for _, e := range strings.Fields(lastParam(m)) {
			n, uh, ok := strings.Cut(e, "=")
			n = strings.TrimSuffix(n, "*")
			if !ok || c.casemap.Fold(n) != c.casemap.Fold(c.nick) || len(uh) < 2 {
				continue
			}
			if u, h, ok := strings.Cut(uh[1:], "@"); ok {
				c.setHostLocked(u, h, hostGuessed)
			}
		}
		s.unlockReader()
	case "730", "731", "734":
		s.monitorReply(m)
	case "732", "733":
		// MONITOR L: we never ask; the watch list is ours
	case "303":
		if !s.isonReply(m) {
			c.emit(Numeric{Code: code, Params: append([]string(nil), m.Params...)})
		}
	case "324":
		s.modesReply(m)
	case "329":
		// channel creation time: not used
	case "331", "332", "333":
		s.topicReply(m)
	case "353":
		s.namesReply(m)
	case "366":
		s.namesEnd(m)
	case "900":
		// logged in; the account name is not needed
	case "903":
		s.lockReader()
		s.saslDone = true
		s.unlockReader()
		s.send("CAP", "END")
	case "902", "904", "905":
		if code == "904" && c.cfg.SASLExternal {
			return &fatalError{BadCredentials, fmt.Errorf("SASL EXTERNAL failed (%s): the client certificate's fingerprint is not registered with the account (NickServ CERT ADD)", code)}
		}
		return &fatalError{BadCredentials, fmt.Errorf("SASL authentication failed (%s)", code)}
	case "906":
		return &fatalError{BadCredentials, errors.New("SASL authentication aborted")}
	case "908":
		return &fatalError{Fatal, fmt.Errorf("server does not accept SASL %s (it offers %s)", c.saslMechanism(), param(m, 1))}
	case "907":
		s.send("CAP", "END")
	case "464":
		return &fatalError{BadCredentials, errors.New("server password rejected (464)")}
	case "465", "463":
		return &fatalError{Fatal, fmt.Errorf("banned from the server (%s): %s", code, lastParam(m))}
	default:
		if s.channelNumeric(m) || s.whoReply(m) || (code == "315" && s.whoEnd(m)) {
			return nil
		}
		if nickErrors[code] {
			return s.nickError(m)
		}
		if s.whoisReply(m) {
			return nil
		}
		if peerErrors[code] {
			s.peerError(m)
			return nil
		}
		if peerInfo[code] {
			if code == "301" && !s.awayChanged(param(m, 1), lastParam(m)) {
				return nil
			}
			c.emit(PeerNotice{Nick: param(m, 1), Code: code, Text: lastParam(m)})
			return nil
		}
		s.lockReader()
		ready := s.ready
		s.unlockReader()
		if ready && !quietNumerics[code] {
			c.emit(Numeric{Code: code, Params: append([]string(nil), m.Params...)})
		}
	}
	return nil
}

// awayChanged reports whether nick's away message differs from the one last
// reported: servers answer every message to an away user with 301, and the
// user needs to hear it once, not once per line.
func (s *session) awayChanged(nick, text string) bool {
	c := s.c
	s.lockReader()
	defer s.unlockReader()
	k := c.casemap.Fold(nick)
	if old, ok := s.away[k]; ok && old == text {
		return false
	}
	if len(s.away) >= 1000 {
		clear(s.away)
	}
	s.away[k] = text
	return true
}

// peerError fails the oldest unconfirmed line to the target (echo-message
// mode) or reports the numeric as a PeerNotice (ChannelError for a
// channel).
func (s *session) peerError(m *ircmsg.Message) {
	c := s.c
	target := param(m, 1)
	s.lockReader()
	if c.caps["echo-message"] && !c.caps["labeled-response"] {
		if ref := s.popEchoLocked(c.casemap.Fold(target)); ref != nil {
			c.resolveLocked(s, ref, &PeerError{Target: target, Code: m.Command, Text: lastParam(m)}, nil)
			s.unlockReader()
			return
		}
	}
	channel := c.isChannelLocked(target)
	s.unlockReader()
	if channel {
		c.emit(ChannelError{Channel: target, Code: m.Command, Text: lastParam(m)})
		return
	}
	c.emit(PeerNotice{Nick: target, Code: m.Command, Text: lastParam(m)})
}

// classifyERROR turns the server's ERROR into a session error: bans are
// fatal, anything else (ping timeout, excess flood, restart) is transient.
// InspIRCd refuses a wrong server password with "Access denied by
// configuration" (no connect class matches), not 464: with a password
// sent that means bad credentials, without one a server that admits no
// one like us.
func classifyERROR(text string, sentPassword bool) error {
	err := fmt.Errorf("server closed the link: %s", text)
	l := strings.ToLower(text)
	if strings.Contains(l, "access denied by configuration") {
		if sentPassword {
			return &fatalError{BadCredentials, fmt.Errorf("%w (is the server password right?)", err)}
		}
		return &fatalError{Fatal, err}
	}
	for _, k := range []string{"k-line", "k-lined", "g-line", "g-lined", "z-line", "z-lined", "kline", "gline", "zline", "banned", "akill"} {
		if strings.Contains(l, k) {
			return &fatalError{Fatal, err}
		}
	}
	return err
}

// nickServRejected recognises the usual wrong-password replies of Atheme
// and Anope.
func nickServRejected(text string) bool {
	l := strings.ToLower(text)
	return strings.Contains(l, "invalid password") || strings.Contains(l, "password incorrect") ||
		strings.Contains(l, "incorrect password")
}

func param(m *ircmsg.Message, i int) string {
	if i < len(m.Params) {
		return m.Params[i]
	}
	return ""
}

func lastParam(m *ircmsg.Message) string {
	if len(m.Params) == 0 {
		return ""
	}
	return m.Params[len(m.Params)-1]
}

func isNumeric(cmd string) bool {
	if len(cmd) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if cmd[i] < '0' || cmd[i] > '9' {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}
