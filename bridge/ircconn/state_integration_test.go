package ircconn

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// Channel and presence state against the real InspIRCd of the test stack.

// do sends a line from a test client and waits for the server's echo of
// the command (from the client itself).
func do(t *testing.T, cl *teststack.IRCClient, line string) {
	t.Helper()
	cmd := strings.ToUpper(strings.Fields(line)[0])
	if err := cl.Send(line); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.WaitFor(5*time.Second, func(l teststack.IRCLine) bool {
		return l.Command() == cmd && strings.EqualFold(l.From(), cl.Nick())
	}); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
}

func waitReal[T Event](t *testing.T, rec *recorder, what string, f func(T) bool) T {
	t.Helper()
	return rec.waitFor(t, 10*time.Second, what, func(e Event) bool {
		v, ok := e.(T)
		return ok && (f == nil || f(v))
	}).(T)
}

func TestInspIRCdCapsAndISupport(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	c, rec := realConn(t, srv, "bridgeuser", nil)
	rec.waitState(t, 10*time.Second, Connected)
	for _, name := range []string{"extended-join", "account-notify", "away-notify", "chghost", "multi-prefix",
		"userhost-in-names", "invite-notify", "setname", "extended-monitor", "message-tags", "server-time"} {
		if !c.HasCap(name) {
			t.Errorf("cap %s not negotiated", name)
		}
	}
	is := c.ISupport()
	if is.PrefixModes != "ohv" || is.PrefixSymbols != "@%+" || !strings.Contains(is.ListModes, "b") ||
		is.ParamModes != "k" || is.SetParamModes != "l" || !strings.Contains(is.FlagModes, "m") ||
		!is.Monitor || is.MonitorLimit != 30 || !is.WHOX || is.NickLen != 30 || is.ChannelLen != 64 ||
		is.TopicLen != 307 || is.KickLen != 255 || is.KeyLen != 32 || is.Modes != 20 ||
		is.MaxTargets("PRIVMSG") != 20 || is.ChanLimit["#"] != 20 || is.Network != srv.Network || is.ChanTypes != "#" {
		t.Errorf("ISUPPORT %+v", is)
	}
}

func TestInspIRCdChannelTracking(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	bob := teststack.DialIRC(t, srv.Addr(), "bob", teststack.IRCClientOptions{})
	do(t, bob, "JOIN #room")
	do(t, bob, "TOPIC #room :welcome to the room")
	c, rec := realConn(t, srv, "bridgeuser", nil)
	rec.waitState(t, 10*time.Second, Connected)

	if err := c.Join(ctx10(t), "#Room", ""); err != nil {
		t.Fatalf("Join: %v", err)
	}
	if j := waitReal[Joined](t, rec, "own join", nil); !j.Self || j.Realname == "" {
		t.Errorf("Joined %+v", j)
	}
	if tc := waitReal[TopicChanged](t, rec, "topic on join", nil); !tc.Current || tc.Topic != "welcome to the room" || tc.By.Nick != "bob" || tc.Time.IsZero() {
		t.Errorf("TopicChanged %+v", tc)
	}
	names := waitReal[Names](t, rec, "names", nil)
	if names.Count != 2 {
		t.Errorf("Names %+v", names)
	}
	bm, ok := c.Member("#room", "BOB")
	if !ok || bm.Prefixes != "@" || bm.User != "bob" || bm.Host != "127.0.0.1" {
		t.Errorf("bob %+v %v (userhost-in-names)", bm, ok)
	}

	carol := teststack.DialIRC(t, srv.Addr(), "carol", teststack.IRCClientOptions{})
	do(t, carol, "JOIN #room")
	cj := waitReal[Joined](t, rec, "carol joins", func(j Joined) bool { return j.User.Nick == "carol" })
	if cj.Realname != "otrbridge test user carol" || cj.Account != "" {
		t.Errorf("extended-join: %+v", cj)
	}
	do(t, bob, "MODE #room +hv carol carol")
	if mc := waitReal[ModeChanged](t, rec, "+hv", nil); len(mc.Changes) != 2 || mc.Changes[0] != (ModeChange{true, 'h', ModePrefix, "carol"}) {
		t.Errorf("ModeChanged %+v", mc)
	}
	if m, _ := c.Member("#room", "carol"); m.Prefixes != "%+" {
		t.Errorf("carol's status %q, want %%+", m.Prefixes)
	}
	carol.Send("AWAY :brb")
	if a := waitReal[AwayChanged](t, rec, "away-notify", nil); a.Nick != "carol" || !a.Away || a.Message != "brb" {
		t.Errorf("AwayChanged %+v", a)
	}
	carol.Send("SETNAME :Carol Renamed")
	if r := waitReal[RealnameChanged](t, rec, "setname", nil); r.Realname != "Carol Renamed" {
		t.Errorf("RealnameChanged %+v", r)
	}
	oper := teststack.DialIRC(t, srv.Addr(), "oper", teststack.IRCClientOptions{})
	if err := oper.Oper(srv); err != nil {
		t.Fatal(err)
	}
	oper.Send("CHGHOST carol carol.cloak")
	if h := waitReal[HostChanged](t, rec, "chghost", nil); h.Nick != "carol" || h.Host != "carol.cloak" {
		t.Errorf("HostChanged %+v", h)
	}
	members, err := c.RefreshMembers(ctx10(t), "#room")
	if err != nil || len(members) != 3 {
		t.Fatalf("RefreshMembers: %v %+v", err, members)
	}
	m, _ := c.Member("#room", "carol")
	if m.Host != "carol.cloak" || !m.Away || m.Prefixes != "%+" || m.Realname != "Carol Renamed" || m.User != "carol" || m.Account != "" {
		t.Errorf("carol after WHOX: %+v", m)
	}

	// Without the privilege, a topic change is refused under +t; with it, it works.
	var pe *PeerError
	if err := c.Topic(ctx10(t), "#room", "mine now"); !errors.As(err, &pe) || pe.Code != "482" {
		t.Errorf("Topic without op: %v", err)
	}
	do(t, bob, "MODE #room +o bridgeuser")
	waitReal[ModeChanged](t, rec, "+o us", func(mc ModeChanged) bool { return mc.Changes[0].Param == "bridgeuser" })
	if err := c.Topic(ctx10(t), "#room", "mine now"); err != nil {
		t.Errorf("Topic with op: %v", err)
	}
	if err := c.Topic(ctx10(t), "#room", "mine now"); err != nil {
		t.Errorf("unchanged topic (the server answers nothing): %v", err)
	}
	if ch, _ := c.Channel("#room"); ch.Topic != "mine now" || ch.TopicBy.Nick != "bridgeuser" {
		t.Errorf("topic %q by %+v", ch.Topic, ch.TopicBy)
	}
	if err := c.Mode(ctx10(t), "#room", ModeChange{Add: true, Mode: 'm'}, ModeChange{Add: true, Mode: 'l', Param: "50"}); err != nil {
		t.Errorf("Mode +ml: %v", err)
	}
	if err := c.Mode(ctx10(t), "#room", ModeChange{Add: true, Mode: 'm'}); err != nil {
		t.Errorf("Mode +m again (no change, no answer): %v", err)
	}
	if err := c.RefreshModes(ctx10(t), "#room"); err != nil {
		t.Fatal(err)
	}
	if ch, _ := c.Channel("#room"); !ch.ModesKnown || !slices.Equal(sortedModes(ch.Modes), []string{"l=50", "m=", "n=", "t="}) {
		t.Errorf("modes %v", ch.Modes)
	}

	// NICK, KICK, QUIT, PART with the channels they concern.
	if err := carol.SetNick("carol2"); err != nil {
		t.Fatal(err)
	}
	if n := waitReal[NickChanged](t, rec, "nick", nil); n.New != "carol2" || !slices.Equal(n.Channels, []string{"#room"}) {
		t.Errorf("NickChanged %+v", n)
	}
	if err := c.Kick(ctx10(t), "#room", "carol2", "out"); err != nil {
		t.Errorf("Kick: %v", err)
	}
	if k := waitReal[Kicked](t, rec, "kick", nil); k.Nick != "carol2" || k.By.Nick != "bridgeuser" || k.Reason != "out" {
		t.Errorf("Kicked %+v", k)
	}
	if err := c.Kick(ctx10(t), "#room", "carol2", "again"); !errors.As(err, &pe) || pe.Code != "441" {
		t.Errorf("Kick of a non-member: %v", err)
	}
	bob.Quit("gone")
	if q := waitReal[Quit](t, rec, "quit", nil); q.Nick != "bob" || !slices.Equal(q.Channels, []string{"#room"}) {
		t.Errorf("Quit %+v", q)
	}
	if ch, _ := c.Channel("#room"); ch.Count != 1 || len(ch.Members) != 1 {
		t.Errorf("after kick and quit: %+v", ch)
	}
	if err := c.Part(ctx10(t), "#room", "bye"); err != nil {
		t.Errorf("Part: %v", err)
	}
	if p := waitReal[Parted](t, rec, "own part", nil); !p.Self || p.Reason != "bye" {
		t.Errorf("Parted %+v", p)
	}
	if len(c.Channels()) != 0 {
		t.Errorf("channels after part: %v", c.Channels())
	}
	if err := c.Part(ctx10(t), "#room", ""); !errors.As(err, &pe) || (pe.Code != "442" && pe.Code != "403") {
		t.Errorf("Part when out: %v", err)
	}
}

// Every way the server refuses a join or a channel message fails the call
// with the server's numeric.
func TestInspIRCdChannelRefusals(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	op := teststack.DialIRC(t, srv.Addr(), "chanop", teststack.IRCClientOptions{})
	do(t, op, "JOIN #guarded")
	c, rec := realConn(t, srv, "bridgeuser", nil)
	rec.waitState(t, 10*time.Second, Connected)
	var pe *PeerError
	refused := func(code string) {
		t.Helper()
		if err := c.Join(ctx10(t), "#guarded", ""); !errors.As(err, &pe) || pe.Code != code || pe.Target != "#guarded" {
			t.Errorf("Join: %v, want PeerError %s", err, code)
		}
	}
	do(t, op, "MODE #guarded +i")
	refused("473")
	do(t, op, "MODE #guarded -i+k sekrit")
	if err := c.Join(ctx10(t), "#guarded", "wrong"); !errors.As(err, &pe) || pe.Code != "475" {
		t.Errorf("Join with a wrong key: %v", err)
	}
	do(t, op, "MODE #guarded -k+l sekrit 1")
	refused("471")
	do(t, op, "MODE #guarded -l+b bridgeuser!*@*")
	refused("474")
	do(t, op, "MODE #guarded -b+k bridgeuser!*@* sekrit")
	if err := c.Join(ctx10(t), "#guarded", "sekrit"); err != nil {
		t.Fatalf("Join with the key: %v", err)
	}
	// An invitation arrives as an event.
	do(t, op, "JOIN #private")
	do(t, op, "MODE #private +i")
	op.Send("INVITE bridgeuser #private")
	if iv := waitReal[Invited](t, rec, "invite", nil); !iv.ToMe || iv.Channel != "#private" || iv.By.Nick != "chanop" {
		t.Errorf("Invited %+v", iv)
	}
	if err := c.Join(ctx10(t), "#private", ""); err != nil {
		t.Errorf("Join after an invitation: %v", err)
	}

	// Messages: +m and bans fail the Send with 404; +n outside too.
	if _, err := c.Send(ctx10(t), "#guarded", Privmsg, []string{"hello"}); err != nil {
		t.Errorf("Send to the channel: %v", err)
	}
	do(t, op, "MODE #guarded +m")
	if _, err := c.Send(ctx10(t), "#guarded", Privmsg, []string{"moderated"}); !errors.As(err, &pe) || pe.Code != "404" || !strings.Contains(pe.Text, "+m") {
		t.Errorf("Send under +m: %v", err)
	}
	do(t, op, "MODE #guarded -m+b bridgeuser!*@*")
	if _, err := c.Send(ctx10(t), "#guarded", Notice, []string{"banned"}); !errors.As(err, &pe) || pe.Code != "404" || !strings.Contains(pe.Text, "banned") {
		t.Errorf("Send while banned: %v", err)
	}
	do(t, op, "JOIN #closed")
	if _, err := c.Send(ctx10(t), "#closed", Privmsg, []string{"from outside"}); !errors.As(err, &pe) || pe.Code != "404" {
		t.Errorf("Send to a +n channel from outside: %v", err)
	}
	if _, err := c.Send(ctx10(t), "#nowhere", Privmsg, []string{"anyone?"}); !errors.As(err, &pe) || pe.Code != "401" && pe.Code != "403" {
		t.Errorf("Send to a channel that does not exist: %v", err)
	}
	// Commands that need a privilege we lack.
	if err := c.Mode(ctx10(t), "#guarded", ModeChange{Add: true, Mode: 'o', Param: "bridgeuser"}); !errors.As(err, &pe) || pe.Code != "482" {
		t.Errorf("Mode +o without op: %v", err)
	}
	if err := c.Kick(ctx10(t), "#guarded", "chanop", ""); !errors.As(err, &pe) || pe.Code != "482" {
		t.Errorf("Kick without op: %v", err)
	}
	op.Send("KICK #guarded bridgeuser :enough")
	if k := waitReal[Kicked](t, rec, "kicked", func(k Kicked) bool { return k.Channel == "#guarded" }); !k.Self {
		t.Errorf("Kicked %+v", k)
	}
	if got := c.Channels(); !slices.Equal(got, []string{"#private"}) {
		t.Errorf("Channels %v", got)
	}
}

// recordingConn keeps a copy of every byte the client writes.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recordingConn) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.buf.Write(b)
	r.mu.Unlock()
	return r.Conn.Write(b)
}

func (r *recordingConn) written() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// Bad input gets a clear error and puts nothing on the wire.
func TestInspIRCdBadChannelInputSendsNothing(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	var rc *recordingConn
	var mu sync.Mutex
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", srv.Addr())
		if err != nil {
			return nil, err
		}
		mu.Lock()
		rc = &recordingConn{Conn: nc}
		mu.Unlock()
		return rc, nil
	}
	c, rec := realConn(t, srv, "bridgeuser", func(cfg *Config) { cfg.Dial = dial })
	rec.waitState(t, 10*time.Second, Connected)
	if err := c.Join(ctx10(t), "#ok", ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	before := rc.written()
	mu.Unlock()
	ctx := ctx10(t)
	long := "#" + strings.Repeat("a", 599)
	var thousand []ChannelKey
	for i := range 1000 {
		thousand = append(thousand, ChannelKey{Channel: "#c" + strings.Repeat("x", i%50) + itoa(i%100)})
	}
	for name, err := range map[string]error{
		"600-byte name":       c.Join(ctx, long, ""),
		"over CHANNELLEN":     c.Join(ctx, "#"+strings.Repeat("b", 64), ""),
		"no channel type":     c.Join(ctx, "room", ""),
		"space":               c.Join(ctx, "#a room", ""),
		"CR LF":               c.Join(ctx, "#a\r\nPRIVMSG bob :x", ""),
		"key with a space":    c.Join(ctx, "#k", "a key"),
		"key with CR LF":      c.Join(ctx, "#k", "key\r\nQUIT"),
		"key with a comma":    c.Join(ctx, "#k", "a,b"),
		"1000 channels":       func() error { _, err := c.JoinAll(ctx, thousand); return err }(),
		"topic CR LF":         c.Topic(ctx, "#ok", "a\r\nQUIT"),
		"topic over TOPICLEN": c.Topic(ctx, "#ok", strings.Repeat("t", 308)),
		"kick reason NUL":     c.Kick(ctx, "#ok", "bob", "a\x00b"),
		"mode unknown":        c.Mode(ctx, "#ok", ModeChange{Add: true, Mode: 'z'}),
		"mode bad key":        c.Mode(ctx, "#ok", ModeChange{Add: true, Mode: 'k', Param: "a b"}),
		"part bad channel":    c.Part(ctx, "ok", ""),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !errors.Is(err, ErrBadChannel) && !errors.Is(err, ErrBadKey) && !errors.Is(err, ErrBadMode) &&
			!errors.Is(err, ErrBadLine) && !errors.Is(err, ErrLineTooLong) && !errors.Is(err, ErrTooManyChannels) {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	}
	// A PING round trip: anything queued would have gone out before it.
	if err := c.RefreshModes(ctx, "#ok"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	after := rc.written()[len(before):]
	mu.Unlock()
	for _, l := range strings.Split(strings.TrimSpace(after), "\r\n") {
		if !strings.HasPrefix(l, "MODE #ok") && !strings.HasPrefix(l, "PING ") && !strings.HasPrefix(l, "PONG ") {
			t.Errorf("on the wire after bad input: %.80q", l)
		}
	}
}

// Presence from the server: MONITOR online/offline, a rename seen in a
// shared channel (NickChanged, then PeerOffline with NewNick) and one that
// is not (only PeerOffline: the server sends no NICK), and the limit.
func TestInspIRCdMonitor(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	c, rec := realConn(t, srv, "bridgeuser", nil)
	rec.waitState(t, 10*time.Second, Connected)
	peer := teststack.DialIRC(t, srv.Addr(), "peer", teststack.IRCClientOptions{})
	if err := c.Watch("peer", "friend"); err != nil {
		t.Fatal(err)
	}
	waitReal[PeerOnline](t, rec, "peer online", func(e PeerOnline) bool { return e.Nick == "peer" })
	waitReal[PeerOffline](t, rec, "friend offline", func(e PeerOffline) bool { return e.Nick == "friend" })
	friend := teststack.DialIRC(t, srv.Addr(), "friend", teststack.IRCClientOptions{})
	waitReal[PeerOnline](t, rec, "friend comes", func(e PeerOnline) bool { return e.Nick == "friend" })

	// Renamed without a shared channel: offline, and no NickChanged.
	if err := peer.SetNick("peer_away"); err != nil {
		t.Fatal(err)
	}
	if off := waitReal[PeerOffline](t, rec, "peer renamed", nil); off != (PeerOffline{Nick: "peer"}) {
		t.Errorf("PeerOffline %+v", off)
	}
	// Back under the watched nick: online again.
	if err := peer.SetNick("peer"); err != nil {
		t.Fatal(err)
	}
	waitReal[PeerOnline](t, rec, "peer back", func(e PeerOnline) bool { return e.Nick == "peer" })
	for _, e := range rec.all() {
		if n, ok := e.(NickChanged); ok && !n.Self {
			t.Errorf("NickChanged %+v without a shared channel", n)
		}
	}

	// Renamed in a shared channel: the NICK, then the offline naming it.
	if err := c.Join(ctx10(t), "#lobby", ""); err != nil {
		t.Fatal(err)
	}
	do(t, friend, "JOIN #lobby")
	waitReal[Joined](t, rec, "friend joins", func(j Joined) bool { return j.User.Nick == "friend" })
	if err := friend.SetNick("friend2"); err != nil {
		t.Fatal(err)
	}
	if n := waitReal[NickChanged](t, rec, "nick in channel", nil); n.Old != "friend" || n.New != "friend2" {
		t.Errorf("NickChanged %+v", n)
	}
	if off := waitReal[PeerOffline](t, rec, "offline after nick", nil); off != (PeerOffline{Nick: "friend", NewNick: "friend2"}) {
		t.Errorf("PeerOffline %+v", off)
	}
	// Quit: offline.
	peer.Quit("bye")
	waitReal[PeerOffline](t, rec, "peer quit", func(e PeerOffline) bool { return e.Nick == "peer" && e.NewNick == "" })
	if on, known := c.Online("peer"); on || !known {
		t.Errorf("Online(peer) %v %v", on, known)
	}

	// MONITOR=30 with one slot kept for our own nick: 29 at most.
	var many []string
	for i := range 28 {
		many = append(many, "n"+itoa(i+10))
	}
	if err := c.Watch(many[:27]...); err != nil {
		t.Fatal(err)
	}
	if err := c.Watch(many[27:]...); !errors.Is(err, ErrWatchFull) {
		t.Errorf("30th nick: %v", err)
	}
	c.Unwatch("peer", "friend")
	if err := c.Watch(many[27:]...); err != nil {
		t.Errorf("after Unwatch: %v", err)
	}
}

// After the server restarts, JoinAll puts us back in every channel, keyed
// ones included, in few JOIN lines.
func TestInspIRCdRejoinAfterRestart(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{})
	c, rec := realConn(t, srv, "bridgeuser", nil)
	rec.waitState(t, 10*time.Second, Connected)
	var stored []ChannelKey
	for i := range 12 {
		ck := ChannelKey{Channel: "#rejoin-" + strings.Repeat("x", 40) + itoa(i+10)}
		if i%4 == 0 {
			ck.Key = "key" + itoa(i+10)
		}
		stored = append(stored, ck)
	}
	res, err := c.JoinAll(ctx10(t), stored)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range res {
		if e != nil {
			t.Errorf("%s: %v", stored[i].Channel, e)
		}
	}
	if got := c.Channels(); len(got) != len(stored) {
		t.Fatalf("in %d channels, want %d", len(got), len(stored))
	}
	srv.Restart(t)
	rec.waitState(t, 30*time.Second, TransientDisconnect)
	rec.waitState(t, 30*time.Second, Connected)
	if got := c.Channels(); len(got) != 0 {
		t.Errorf("channels right after the reconnect: %v", got)
	}
	// Someone else holds the channels now, the keyed ones locked.
	keeper := teststack.DialIRC(t, srv.Addr(), "keeper", teststack.IRCClientOptions{})
	for _, ck := range stored {
		do(t, keeper, "JOIN "+ck.Channel)
		if ck.Key != "" {
			do(t, keeper, "MODE "+ck.Channel+" +k "+ck.Key)
		}
	}
	wrong := slices.Clone(stored)
	wrong[0].Key = "wrong"
	res, err = c.JoinAll(ctx10(t), wrong[:1])
	var pe *PeerError
	if err != nil || !errors.As(res[0], &pe) || pe.Code != "475" {
		t.Errorf("JoinAll with a wrong key: %v %v", res, err)
	}
	res, err = c.JoinAll(ctx10(t), stored)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range res {
		if e != nil {
			t.Errorf("rejoin %s: %v", stored[i].Channel, e)
		}
	}
	if got := c.Channels(); len(got) != len(stored) {
		t.Errorf("in %d channels after rejoin, want %d", len(got), len(stored))
	}
}

// Accounts as the server reports them: a member logged in with SASL (the
// services stand-in) joins with its account (extended-join), WHOX lists
// it, and a member who is not logged in has none.
func TestInspIRCdChannelAccounts(t *testing.T) {
	srv := teststack.InspIRCd(t, teststack.IRCOptions{Services: true})
	teststack.StartServices(t, srv, teststack.ServicesOptions{Accounts: map[string]teststack.ServiceAccount{
		"dave_acct": {Password: "pw-" + itoa(42)},
	}})
	c, rec := realConn(t, srv, "bridgeuser", nil)
	rec.waitState(t, 10*time.Second, Connected)
	if err := c.Join(ctx10(t), "#accounts", ""); err != nil {
		t.Fatal(err)
	}
	dave, drec := realConn(t, srv, "dave", func(cfg *Config) { cfg.SASLAccount, cfg.SASLPassword = "dave_acct", "pw-"+itoa(42) })
	drec.waitState(t, 15*time.Second, Connected)
	if err := dave.Join(ctx10(t), "#accounts", ""); err != nil {
		t.Fatal(err)
	}
	if j := waitReal[Joined](t, rec, "dave joins", func(j Joined) bool { return j.User.Nick == "dave" }); j.Account != "dave_acct" {
		t.Errorf("extended-join account %q, want dave_acct", j.Account)
	}
	if m, _ := c.Member("#accounts", "dave"); m.Account != "dave_acct" {
		t.Errorf("tracked account %q", m.Account)
	}
	plain := teststack.DialIRC(t, srv.Addr(), "plain", teststack.IRCClientOptions{})
	do(t, plain, "JOIN #accounts")
	members, err := c.RefreshMembers(ctx10(t), "#accounts")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range members {
		got[m.Nick] = m.Account
	}
	if len(got) != 3 || got["dave"] != "dave_acct" || got["plain"] != "" || got["bridgeuser"] != "" {
		t.Errorf("WHOX accounts %v", got)
	}
	// The account-tag of dave's channel message agrees.
	if _, err := dave.Send(ctx10(t), "#accounts", Privmsg, []string{"hi all"}); err != nil {
		t.Fatal(err)
	}
	if msg := waitReal[Message](t, rec, "channel message", nil); !msg.Channel || msg.Account != "dave_acct" {
		t.Errorf("Message %+v", msg)
	}
}
