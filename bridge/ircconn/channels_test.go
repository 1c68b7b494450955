package ircconn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
)

// stateISupport is a server with halfops, three list modes, a MONITOR
// limit and WHOX.
const stateISupport = "CASEMAPPING=rfc1459 CHANTYPES=#& STATUSMSG=@%+ PREFIX=(ohv)@%+ CHANMODES=beI,k,l,imnpst " +
	"MODES=3 MONITOR=5 WHOX CHANNELLEN=32 KEYLEN=16 TOPICLEN=50 KICKLEN=40 NICKLEN=20 TARGMAX=JOIN:,KICK:1 NETWORK=Fake\\x20Net"

const stateCaps = "extended-join account-notify away-notify chghost multi-prefix userhost-in-names invite-notify setname extended-monitor"

// registerWith plays registration with the given caps and ISUPPORT tokens.
func (fc *fakeConn) registerWith(t *testing.T, nick, caps, isupport string) {
	t.Helper()
	fc.expect(t, "CAP")
	fc.expect(t, "NICK")
	fc.expect(t, "USER")
	fc.send(":srv.test CAP * LS :" + caps)
	if caps != "" {
		req := fc.expect(t, "CAP")
		fc.send(":srv.test CAP * ACK :" + req.Params[len(req.Params)-1])
	}
	fc.expect(t, "CAP") // END
	fc.send(":srv.test 001 "+nick+" :Welcome "+nick+"!~u@host.example",
		":srv.test 005 "+nick+" "+isupport+" :are supported",
		":srv.test 376 "+nick+" :End of MOTD")
	fc.expect(t, "USERHOST")
}

// stateConn is a connected Conn on a server with stateISupport.
func stateConn(t *testing.T, caps string, mod func(*Config)) (*Conn, *recorder, *fakeConn, *fakeNet) {
	t.Helper()
	fn := newFakeNet(t)
	c, rec := pipeConn(t, fn, mod)
	fc := fn.next(t)
	fc.registerWith(t, "me", caps, stateISupport)
	rec.waitState(t, 2*time.Second, Connected)
	return c, rec, fc, fn
}

// fence answers the PING that ends a channel command.
func (fc *fakeConn) fence(t *testing.T) {
	t.Helper()
	ping := fc.expect(t, "PING")
	fc.send(":srv.test PONG srv.test :" + ping.Params[len(ping.Params)-1])
}

func async(f func() error) chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

func waitErr(t *testing.T, ch chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("call did not return")
		return nil
	}
}

func waitEvent[T Event](t *testing.T, rec *recorder, what string, f func(T) bool) T {
	t.Helper()
	return rec.waitFor(t, 2*time.Second, what, func(e Event) bool {
		v, ok := e.(T)
		return ok && (f == nil || f(v))
	}).(T)
}

// joinChannel joins #Chan on the fake server: we, op bob, voiced carol.
func joinChannel(t *testing.T, c *Conn, fc *fakeConn) {
	t.Helper()
	done := async(func() error { return c.Join(context.Background(), "#Chan", "") })
	if m := fc.expect(t, "JOIN"); strings.Join(m.Params, " ") != "#Chan" {
		t.Fatalf("JOIN %v", m.Params)
	}
	fc.send(":me!~u@cloak.example JOIN #Chan * :My Real Name",
		":srv.test 332 me #Chan :the topic",
		":srv.test 333 me #Chan bob!b@bob.example :1700000000",
		":srv.test 353 me = #Chan :me!~u@cloak.example @%bob!b@bob.example +carol!c@carol.example",
		":srv.test 366 me #Chan :End of /NAMES list.")
	fc.fence(t)
	if err := waitErr(t, done); err != nil {
		t.Fatalf("Join: %v", err)
	}
}

func TestChannelTracking(t *testing.T) {
	c, rec, fc, _ := stateConn(t, stateCaps, nil)
	joinChannel(t, c, fc)
	j := waitEvent[Joined](t, rec, "own Joined", nil)
	if !j.Self || j.Channel != "#Chan" || j.Realname != "My Real Name" || j.Account != "" || j.User.Host != "cloak.example" {
		t.Errorf("Joined %+v", j)
	}
	tc := waitEvent[TopicChanged](t, rec, "topic", nil)
	if !tc.Current || tc.Topic != "the topic" || tc.By.Nick != "bob" || tc.By.Host != "bob.example" || tc.Time.Unix() != 1700000000 {
		t.Errorf("TopicChanged %+v", tc)
	}
	names := waitEvent[Names](t, rec, "names", nil)
	if names.Count != 3 || len(names.Members) != 3 || names.Members[1].Nick != "bob" || names.Members[1].Prefixes != "@%" ||
		names.Members[1].User != "b" || names.Members[1].Host != "bob.example" {
		t.Errorf("Names %+v", names)
	}
	if got := c.Channels(); !slices.Equal(got, []string{"#Chan"}) {
		t.Errorf("Channels %v", got)
	}
	ch, ok := c.Channel("#chan")
	if !ok || !ch.Synced || ch.Count != 3 || ch.Truncated || ch.Topic != "the topic" || ch.TopicBy.Nick != "bob" {
		t.Fatalf("Channel %+v %v", ch, ok)
	}
	if _, _, h := c.Hostmask(); h != "cloak.example" {
		t.Errorf("own host from our JOIN: %q", h)
	}

	// Others join (extended-join: account and realname), statuses change.
	fc.send(":dave!d@dave.example JOIN #chan dave_acct :Dave D",
		":bob!b@bob.example MODE #Chan +vk-h dave sekrit bob",
		":bob!b@bob.example MODE #Chan +l-v+m 10 carol",
		":dave!d@dave.example AWAY :lunch",
		":carol!c@carol.example ACCOUNT carol_acct",
		":carol!c@carol.example CHGHOST carol2 new.example",
		":carol!carol2@new.example SETNAME :Carol C",
		":bob!b@bob.example TOPIC #Chan :new topic")
	dj := waitEvent[Joined](t, rec, "dave joins", nil)
	if dj.Self || dj.Account != "dave_acct" || dj.Realname != "Dave D" || dj.User.Nick != "dave" {
		t.Errorf("Joined %+v", dj)
	}
	mc := waitEvent[ModeChanged](t, rec, "modes", nil)
	want := []ModeChange{{true, 'v', ModePrefix, "dave"}, {true, 'k', ModeParam, "sekrit"}, {false, 'h', ModePrefix, "bob"}}
	if !slices.Equal(mc.Changes, want) || mc.By.Nick != "bob" || mc.Current {
		t.Errorf("ModeChanged %+v", mc)
	}
	waitEvent[ModeChanged](t, rec, "modes 2", nil)
	if a := waitEvent[AwayChanged](t, rec, "away", nil); a.Nick != "dave" || !a.Away || a.Message != "lunch" {
		t.Errorf("AwayChanged %+v", a)
	}
	if a := waitEvent[AccountChanged](t, rec, "account", nil); a.Nick != "carol" || a.Account != "carol_acct" {
		t.Errorf("AccountChanged %+v", a)
	}
	if h := waitEvent[HostChanged](t, rec, "chghost", nil); h.Nick != "carol" || h.User != "carol2" || h.Host != "new.example" || h.Self {
		t.Errorf("HostChanged %+v", h)
	}
	if r := waitEvent[RealnameChanged](t, rec, "setname", nil); r.Realname != "Carol C" {
		t.Errorf("RealnameChanged %+v", r)
	}
	if tc := waitEvent[TopicChanged](t, rec, "topic change", nil); tc.Current || tc.Topic != "new topic" || tc.By.Nick != "bob" {
		t.Errorf("TopicChanged %+v", tc)
	}
	ch, _ = c.Channel("#CHAN")
	if ch.Topic != "new topic" || ch.Count != 4 || !slices.Equal(sortedModes(ch.Modes), []string{"k=sekrit", "l=10", "m="}) || ch.ModesKnown {
		t.Errorf("Channel %+v", ch)
	}
	wantMembers := []Member{
		{Nick: "bob", User: "b", Host: "bob.example", Prefixes: "@"},
		{Nick: "carol", User: "carol2", Host: "new.example", Account: "carol_acct", Realname: "Carol C"},
		{Nick: "dave", User: "d", Host: "dave.example", Account: "dave_acct", Realname: "Dave D", Prefixes: "+", Away: true},
		{Nick: "me", User: "~u", Host: "cloak.example", Realname: "My Real Name"},
	}
	if !slices.Equal(ch.Members, wantMembers) {
		t.Errorf("members\n got %+v\nwant %+v", ch.Members, wantMembers)
	}

	// NICK, PART, KICK and QUIT keep the list, and say which channels.
	fc.send(":dave!d@dave.example NICK :David",
		":carol!carol2@new.example PART #chan :later",
		":bob!b@bob.example KICK #Chan David :behave",
		":srv.test 353 me = #Chan :me @bob erin",
		":srv.test 366 me #Chan :End of /NAMES list.")
	if n := waitEvent[NickChanged](t, rec, "nick", nil); n.New != "David" || !slices.Equal(n.Channels, []string{"#Chan"}) {
		t.Errorf("NickChanged %+v", n)
	}
	if p := waitEvent[Parted](t, rec, "part", nil); p.User.Nick != "carol" || p.Reason != "later" || p.Self {
		t.Errorf("Parted %+v", p)
	}
	if k := waitEvent[Kicked](t, rec, "kick", nil); k.Nick != "David" || k.By.Nick != "bob" || k.Reason != "behave" || k.Self {
		t.Errorf("Kicked %+v", k)
	}
	// NAMES again (as after a /NAMES): erin appears, bob keeps his host.
	waitEvent[Names](t, rec, "names again", nil)
	if m, ok := c.Member("#chan", "BOB"); !ok || m.Host != "bob.example" || m.Prefixes != "@" {
		t.Errorf("bob after NAMES: %+v %v", m, ok)
	}
	fc.send(":bob!b@bob.example QUIT :Quit: bye")
	if q := waitEvent[Quit](t, rec, "quit", nil); q.Nick != "bob" || !slices.Equal(q.Channels, []string{"#Chan"}) {
		t.Errorf("Quit %+v", q)
	}
	ch, _ = c.Channel("#chan")
	if ch.Count != 2 || len(ch.Members) != 2 || ch.Members[0].Nick != "erin" || ch.Members[1].Nick != "me" {
		t.Errorf("after quit: %+v", ch)
	}
	if got := c.SharedChannels("erin"); !slices.Equal(got, []string{"#Chan"}) {
		t.Errorf("SharedChannels %v", got)
	}
	if got := c.SharedChannels("bob"); len(got) != 0 {
		t.Errorf("bob still tracked in %v", got)
	}

	// Invites: to us, and (invite-notify) to someone else.
	fc.send(":erin!e@h INVITE me :#other", ":erin!e@h INVITE frank #Chan")
	if iv := waitEvent[Invited](t, rec, "invite", nil); !iv.ToMe || iv.Channel != "#other" || iv.By.Nick != "erin" {
		t.Errorf("Invited %+v", iv)
	}
	if iv := waitEvent[Invited](t, rec, "invite-notify", nil); iv.ToMe || iv.Nick != "frank" {
		t.Errorf("Invited %+v", iv)
	}

	// Kicked ourselves: the channel is gone.
	fc.send(":erin!e@h KICK #chan me :out")
	if k := waitEvent[Kicked](t, rec, "own kick", nil); !k.Self {
		t.Errorf("Kicked %+v", k)
	}
	if _, ok := c.Channel("#chan"); ok || len(c.Channels()) != 0 {
		t.Error("channel still tracked after we were kicked")
	}
}

func sortedModes(m map[rune]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, string(k)+"="+v)
	}
	slices.Sort(out)
	return out
}

// The topic without RPL_TOPICWHOTIME is still reported.
func TestTopicWithoutWhoTime(t *testing.T) {
	c, rec, fc, _ := stateConn(t, "", nil)
	fc.send(":srv.test 332 me #x :bare topic", ":srv.test 331 me #y :No topic is set")
	if tc := waitEvent[TopicChanged](t, rec, "332", nil); tc.Topic != "bare topic" || !tc.Current || tc.By.Nick != "" {
		t.Errorf("%+v", tc)
	}
	if tc := waitEvent[TopicChanged](t, rec, "331", nil); tc.Topic != "" || tc.Channel != "#y" {
		t.Errorf("%+v", tc)
	}
	_ = c
}

func TestJoinAnswers(t *testing.T) {
	c, rec, fc, _ := stateConn(t, "", nil)
	var pe *PeerError

	// Refused: the numeric fails the Join and is not reported again.
	done := async(func() error { return c.Join(context.Background(), "#locked", "wrongkey") })
	if m := fc.expect(t, "JOIN"); strings.Join(m.Params, " ") != "#locked wrongkey" {
		t.Fatalf("JOIN %v", m.Params)
	}
	fc.send(":srv.test 475 me #locked :Cannot join channel (+k)")
	fc.fence(t)
	if err := waitErr(t, done); !errors.As(err, &pe) || pe.Code != "475" || pe.Target != "#locked" {
		t.Fatalf("Join +k: %v", err)
	}
	// No answer at all: not joined, and said so.
	done = async(func() error { return c.Join(context.Background(), "#silent", "") })
	fc.expect(t, "JOIN")
	fc.fence(t)
	if err := waitErr(t, done); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("Join without answer: %v", err)
	}
	// Several at once: one result each.
	res := make(chan []error, 1)
	go func() {
		r, err := c.JoinAll(context.Background(), []ChannelKey{{"#a", ""}, {"#b", "k"}, {"#c", ""}, {"#A", ""}})
		if err != nil {
			t.Error(err)
		}
		res <- r
	}()
	if m := fc.expect(t, "JOIN"); strings.Join(m.Params, " ") != "#b,#a,#c k" {
		t.Fatalf("JOIN %v: keyed channels must come first", m.Params)
	}
	fc.send(":me!~u@h JOIN #b", ":srv.test 366 me #b :End",
		":srv.test 473 me #a :Cannot join channel (+i)",
		":me!~u@h JOIN #c", ":srv.test 366 me #c :End")
	fc.fence(t)
	r := <-res
	if r[0] == nil || !errors.As(r[0], &pe) || pe.Code != "473" || r[1] != nil || r[2] != nil || r[3] == nil {
		t.Fatalf("JoinAll results %v", r)
	}
	// Already in: nil, and nothing on the wire.
	if err := c.Join(context.Background(), "#B", ""); err != nil {
		t.Errorf("Join of a channel we are in: %v", err)
	}
	fc.nothing(t, 100*time.Millisecond)
	// An unanswered refusal (someone's Raw JOIN) is a ChannelError.
	fc.send(":srv.test 474 me #banned :Cannot join channel (+b)")
	if ce := waitEvent[ChannelError](t, rec, "ChannelError", nil); ce.Channel != "#banned" || ce.Code != "474" {
		t.Errorf("ChannelError %+v", ce)
	}
}

// Invalid input fails with a clear error before anything is written.
func TestChannelInputValidation(t *testing.T) {
	c, _, fc, _ := stateConn(t, "", func(cfg *Config) { cfg.Channels.MaxChannels = 3 })
	ctx := context.Background()
	long := "#" + strings.Repeat("x", 599)
	for _, tc := range []struct {
		name string
		err  error
		call func() error
	}{
		{"empty", ErrBadChannel, func() error { return c.Join(ctx, "", "") }},
		{"no chantype", ErrBadChannel, func() error { return c.Join(ctx, "chan", "") }},
		{"other chantype", ErrBadChannel, func() error { return c.Join(ctx, "!chan", "") }},
		{"600 bytes", ErrBadChannel, func() error { return c.Join(ctx, long, "") }},
		{"over CHANNELLEN", ErrBadChannel, func() error { return c.Join(ctx, "#"+strings.Repeat("y", 32), "") }},
		{"space", ErrBadChannel, func() error { return c.Join(ctx, "#a b", "") }},
		{"comma", ErrBadChannel, func() error { return c.Join(ctx, "#a,#b", "") }},
		{"CRLF", ErrBadChannel, func() error { return c.Join(ctx, "#a\r\nQUIT", "") }},
		{"BEL", ErrBadChannel, func() error { return c.Join(ctx, "#a\x07", "") }},
		{"key with space", ErrBadKey, func() error { return c.Join(ctx, "#a", "se cret") }},
		{"key with comma", ErrBadKey, func() error { return c.Join(ctx, "#a", "a,b") }},
		{"key with CRLF", ErrBadKey, func() error { return c.Join(ctx, "#a", "k\r\nQUIT") }},
		{"key colon", ErrBadKey, func() error { return c.Join(ctx, "#a", ":k") }},
		{"key over KEYLEN", ErrBadKey, func() error { return c.Join(ctx, "#a", strings.Repeat("k", 17)) }},
		{"too many", ErrTooManyChannels, func() error {
			_, err := c.JoinAll(ctx, []ChannelKey{{"#1", ""}, {"#2", ""}, {"#3", ""}, {"#4", ""}})
			return err
		}},
		{"1000 channels", ErrTooManyChannels, func() error {
			var many []ChannelKey
			for i := range 1000 {
				many = append(many, ChannelKey{Channel: fmt.Sprintf("#c%d", i)})
			}
			_, err := c.JoinAll(ctx, many)
			return err
		}},
		{"one bad among good", ErrBadChannel, func() error {
			_, err := c.JoinAll(ctx, []ChannelKey{{"#ok", ""}, {"bad", ""}})
			return err
		}},
		{"part bad", ErrBadChannel, func() error { return c.Part(ctx, "#a b", "") }},
		{"part reason CRLF", ErrBadLine, func() error { return c.Part(ctx, "#a", "bye\r\nQUIT") }},
		{"topic over TOPICLEN", ErrLineTooLong, func() error { return c.Topic(ctx, "#a", strings.Repeat("t", 51)) }},
		{"topic NUL", ErrBadLine, func() error { return c.Topic(ctx, "#a", "a\x00b") }},
		{"kick bad nick", ErrBadTarget, func() error { return c.Kick(ctx, "#a", "bad nick", "") }},
		{"kick reason over KICKLEN", ErrLineTooLong, func() error { return c.Kick(ctx, "#a", "bob", strings.Repeat("r", 41)) }},
		{"invite bad channel", ErrBadChannel, func() error { return c.Invite(ctx, "bob", "#a\n") }},
		{"mode unknown letter", ErrBadMode, func() error { return c.Mode(ctx, "#a", ModeChange{Add: true, Mode: 'Z'}) }},
		{"mode +o without nick", ErrBadMode, func() error { return c.Mode(ctx, "#a", ModeChange{Add: true, Mode: 'o'}) }},
		{"mode +m with param", ErrBadMode, func() error { return c.Mode(ctx, "#a", ModeChange{Add: true, Mode: 'm', Param: "x"}) }},
		{"mode +k with space", ErrBadMode, func() error { return c.Mode(ctx, "#a", ModeChange{Add: true, Mode: 'k', Param: "a b"}) }},
		{"mode +b with CR", ErrBadMode, func() error { return c.Mode(ctx, "#a", ModeChange{Add: true, Mode: 'b', Param: "a\rb"}) }},
		{"mode none", ErrBadMode, func() error { return c.Mode(ctx, "#a") }},
		{"modes bad channel", ErrBadChannel, func() error { return c.RefreshModes(ctx, "a") }},
		{"who bad channel", ErrBadChannel, func() error { _, err := c.RefreshMembers(ctx, ""); return err }},
	} {
		if err := tc.call(); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		} else if strings.Contains(err.Error(), strings.Repeat("x", 100)) {
			t.Errorf("%s: error quotes the whole input: %.120s", tc.name, err)
		}
	}
	fc.nothing(t, 200*time.Millisecond)
}

func TestJoinLines(t *testing.T) {
	var chans []ChannelKey
	for i := range 60 {
		ck := ChannelKey{Channel: fmt.Sprintf("#channel-%02d-%s", i, strings.Repeat("n", i%20))}
		if i%3 == 0 {
			ck.Key = fmt.Sprintf("key%d", i)
		}
		chans = append(chans, ck)
	}
	for _, maxTargets := range []int{0, 7} {
		lines := joinLines(chans, maxTargets)
		var got []ChannelKey
		for _, l := range lines {
			if len(l) > 510 {
				t.Errorf("line of %d bytes", len(l))
			}
			m, err := ircmsg.ParseLine(l)
			if err != nil || m.Command != "JOIN" {
				t.Fatalf("line %q: %v", l, err)
			}
			names := strings.Split(m.Params[0], ",")
			var keys []string
			if len(m.Params) > 1 {
				keys = strings.Split(m.Params[1], ",")
			}
			if maxTargets > 0 && len(names) > maxTargets {
				t.Errorf("%d targets > %d", len(names), maxTargets)
			}
			for i, n := range names {
				ck := ChannelKey{Channel: n}
				if i < len(keys) {
					ck.Key = keys[i]
				}
				got = append(got, ck)
			}
		}
		if len(lines) < 2 {
			t.Errorf("maxTargets %d: %d lines for 60 channels", maxTargets, len(lines))
		}
		want := slices.Clone(chans)
		slices.SortFunc(want, func(a, b ChannelKey) int { return strings.Compare(a.Channel, b.Channel) })
		slices.SortFunc(got, func(a, b ChannelKey) int { return strings.Compare(a.Channel, b.Channel) })
		if !slices.Equal(got, want) {
			t.Errorf("maxTargets %d: channels and keys do not survive the packing", maxTargets)
		}
	}
}

func TestChannelCommands(t *testing.T) {
	c, _, fc, _ := stateConn(t, stateCaps, nil)
	joinChannel(t, c, fc)
	ctx := context.Background()
	var pe *PeerError

	done := async(func() error { return c.Topic(ctx, "#Chan", "hello world") })
	if m := fc.expect(t, "TOPIC"); strings.Join(m.Params, "|") != "#Chan|hello world" {
		t.Fatalf("TOPIC %v", m.Params)
	}
	fc.send(":srv.test 482 me #Chan :You must be a channel op or higher to change the topic.")
	fc.fence(t)
	if err := waitErr(t, done); !errors.As(err, &pe) || pe.Code != "482" {
		t.Fatalf("Topic: %v", err)
	}

	done = async(func() error { return c.Kick(ctx, "#Chan", "carol", "spam") })
	if m := fc.expect(t, "KICK"); strings.Join(m.Params, "|") != "#Chan|carol|spam" {
		t.Fatalf("KICK %v", m.Params)
	}
	fc.send(":me!~u@cloak.example KICK #Chan carol :spam")
	fc.fence(t)
	if err := waitErr(t, done); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	done = async(func() error { return c.Kick(ctx, "#Chan", "nobody", "") })
	fc.expect(t, "KICK")
	fc.send(":srv.test 441 me nobody #Chan :They aren't on that channel")
	fc.fence(t)
	if err := waitErr(t, done); !errors.As(err, &pe) || pe.Code != "441" {
		t.Fatalf("Kick absent: %v", err)
	}

	// Four parameter modes with MODES=3: two lines, one command.
	done = async(func() error {
		return c.Mode(ctx, "#Chan", ModeChange{Add: true, Mode: 'o', Param: "bob"}, ModeChange{Add: true, Mode: 'v', Param: "me"},
			ModeChange{Add: true, Mode: 'b', Param: "*!*@spam"}, ModeChange{Add: true, Mode: 'm'}, ModeChange{Add: false, Mode: 'l'},
			ModeChange{Add: true, Mode: 'k', Param: "key"})
	})
	if m := fc.expect(t, "MODE"); strings.Join(m.Params, " ") != "#Chan +ovbm-l bob me *!*@spam" {
		t.Fatalf("MODE %v", m.Params)
	}
	if m := fc.expect(t, "MODE"); strings.Join(m.Params, " ") != "#Chan +k key" {
		t.Fatalf("MODE %v", m.Params)
	}
	// nothing changed (all already set): no reply, still success
	fc.fence(t)
	if err := waitErr(t, done); err != nil {
		t.Fatalf("Mode: %v", err)
	}
	done = async(func() error { return c.Mode(ctx, "#Chan", ModeChange{Add: true, Mode: 'o', Param: "ghost"}) })
	fc.expect(t, "MODE")
	fc.send(":srv.test 401 me ghost :No such nick/channel")
	fc.fence(t)
	if err := waitErr(t, done); !errors.As(err, &pe) || pe.Code != "401" || pe.Target != "ghost" {
		t.Fatalf("Mode +o ghost: %v", err)
	}

	done = async(func() error { return c.Invite(ctx, "frank", "#Chan") })
	if m := fc.expect(t, "INVITE"); strings.Join(m.Params, " ") != "frank #Chan" {
		t.Fatalf("INVITE %v", m.Params)
	}
	fc.send(":srv.test 341 me frank #Chan")
	fc.fence(t)
	if err := waitErr(t, done); err != nil {
		t.Fatalf("Invite: %v", err)
	}

	done = async(func() error { return c.RefreshModes(ctx, "#Chan") })
	if m := fc.expect(t, "MODE"); strings.Join(m.Params, " ") != "#Chan" {
		t.Fatalf("MODE %v", m.Params)
	}
	fc.send(":srv.test 324 me #Chan +ntkl secret 5", ":srv.test 329 me #Chan 1700000000")
	fc.fence(t)
	if err := waitErr(t, done); err != nil {
		t.Fatalf("RefreshModes: %v", err)
	}
	if ch, _ := c.Channel("#chan"); !ch.ModesKnown || !slices.Equal(sortedModes(ch.Modes), []string{"k=secret", "l=5", "n=", "t="}) {
		t.Errorf("modes %v known %v", ch.Modes, ch.ModesKnown)
	}

	done = async(func() error { return c.Part(ctx, "#Chan", "bye") })
	if m := fc.expect(t, "PART"); strings.Join(m.Params, "|") != "#Chan|bye" {
		t.Fatalf("PART %v", m.Params)
	}
	fc.send(":me!~u@cloak.example PART #Chan :bye")
	fc.fence(t)
	if err := waitErr(t, done); err != nil {
		t.Fatalf("Part: %v", err)
	}
	if len(c.Channels()) != 0 {
		t.Errorf("still in %v", c.Channels())
	}
	done = async(func() error { return c.Part(ctx, "#Chan", "") })
	fc.expect(t, "PART")
	fc.send(":srv.test 442 me #Chan :You're not on that channel")
	fc.fence(t)
	if err := waitErr(t, done); !errors.As(err, &pe) || pe.Code != "442" {
		t.Fatalf("Part when out: %v", err)
	}
}

func TestRefreshMembersWHOX(t *testing.T) {
	c, rec, fc, _ := stateConn(t, stateCaps, nil)
	joinChannel(t, c, fc)
	fc.send(":carol!c@carol.example ACCOUNT carol_acct")
	waitEvent[AccountChanged](t, rec, "account", nil)
	type res struct {
		m   []Member
		err error
	}
	done := make(chan res, 1)
	go func() {
		m, err := c.RefreshMembers(context.Background(), "#Chan")
		done <- res{m, err}
	}()
	if m := fc.expect(t, "WHO"); strings.Join(m.Params, " ") != "#Chan %tcuhnfar,"+whoxToken {
		t.Fatalf("WHO %v", m.Params)
	}
	fc.send(":srv.test 354 me "+whoxToken+" #Chan ~u cloak.example me H 0 :My Real Name",
		":srv.test 354 me "+whoxToken+" #Chan b bob.example bob G*@% bob_acct :Bob B",
		":srv.test 354 me "+whoxToken+" #Chan c carol.example carol H+ 0 :Carol",
		":srv.test 354 me 317 other.example x y z H 0 :someone else's WHO",
		":srv.test 315 me #Chan :End of /WHO list.")
	fc.fence(t)
	r := <-done
	if r.err != nil || len(r.m) != 3 {
		t.Fatalf("RefreshMembers: %v %+v", r.err, r.m)
	}
	if n := waitEvent[Numeric](t, rec, "other WHO reply", nil); n.Code != "354" || n.Params[1] != "317" {
		t.Errorf("Numeric %+v", n)
	}
	wl := waitEvent[WhoList](t, rec, "WhoList", nil)
	if wl.Count != 3 || wl.Channel != "#Chan" {
		t.Errorf("WhoList %+v", wl)
	}
	bob, _ := c.Member("#chan", "bob")
	if bob.Account != "bob_acct" || !bob.Away || bob.Prefixes != "@%" || bob.Realname != "Bob B" {
		t.Errorf("bob %+v", bob)
	}
	// WHOX says carol is not logged in (any more).
	if carol, _ := c.Member("#chan", "carol"); carol.Account != "" || carol.Away || carol.Prefixes != "+" {
		t.Errorf("carol %+v", carol)
	}
}

// Beyond MaxMembers only counts are kept.
func TestMemberCap(t *testing.T) {
	c, rec, fc, _ := stateConn(t, "userhost-in-names", func(cfg *Config) { cfg.Channels.MaxMembers = 3 })
	done := async(func() error { return c.Join(context.Background(), "#big", "") })
	fc.expect(t, "JOIN")
	fc.send(":me!~u@h JOIN #big",
		":srv.test 353 me = #big :me a!u@h b!u@h",
		":srv.test 353 me = #big :c!u@h d!u@h",
		":srv.test 366 me #big :End of /NAMES list.")
	fc.fence(t)
	if err := waitErr(t, done); err != nil {
		t.Fatal(err)
	}
	ch, _ := c.Channel("#big")
	if ch.Count != 5 || len(ch.Members) != 3 || !ch.Truncated {
		t.Fatalf("%+v", ch)
	}
	fc.send(":e!u@h JOIN #big", ":a!u@h PART #big", ":d!u@h PART #big", ":b!u@h NICK bb")
	waitEvent[NickChanged](t, rec, "nick", nil)
	// e joined while the list was full; a left; d, never tracked, left.
	ch, _ = c.Channel("#big")
	if ch.Count != 4 || !ch.Truncated || len(ch.Members) != 2 || ch.Members[0].Nick != "bb" || ch.Members[1].Nick != "me" {
		t.Errorf("%+v", ch)
	}
}

// Errors of a Send to a channel fail the Send where it can be matched,
// and are reported as ChannelError where not.
func TestSendToChannelErrors(t *testing.T) {
	var pe *PeerError
	for _, caps := range []string{"echo-message", "echo-message labeled-response batch"} {
		c, _, fc, _ := stateConn(t, caps, nil)
		ch := sendAsync(c, "#mod", Privmsg, "hello")
		m := fc.expect(t, "PRIVMSG")
		prefix := ""
		if ok, l := m.GetTag("label"); ok {
			prefix = "@label=" + l + " "
		}
		fc.send(prefix + ":srv.test 404 me #mod :You cannot send messages to this channel whilst the +m (moderated) mode is set.")
		if r := waitResult(t, ch); !errors.As(r.err, &pe) || pe.Code != "404" || pe.Target != "#mod" {
			t.Errorf("%s: Send to +m channel: %v", caps, r.err)
		}
	}
	c, rec, fc, _ := stateConn(t, "", nil)
	ch := sendAsync(c, "#mod", Privmsg, "hello")
	fc.expect(t, "PRIVMSG")
	if r := waitResult(t, ch); r.err != nil || r.receipt.Confirmed {
		t.Fatalf("unconfirmed Send: %+v %v", r.receipt, r.err)
	}
	fc.send(":srv.test 404 me #mod :You cannot send messages to this channel whilst banned.")
	if ce := waitEvent[ChannelError](t, rec, "ChannelError", nil); ce.Channel != "#mod" || ce.Code != "404" {
		t.Errorf("%+v", ce)
	}
}

// After a reconnect we are in no channel until we join again.
func TestChannelsResetOnReconnect(t *testing.T) {
	c, rec, fc, fn := stateConn(t, stateCaps, nil)
	joinChannel(t, c, fc)
	fc.send("ERROR :Closing link: (u@h) [Ping timeout]")
	rec.waitState(t, 2*time.Second, TransientDisconnect)
	if len(c.Channels()) != 0 {
		t.Errorf("channels while down: %v", c.Channels())
	}
	fc2 := fn.next(t)
	fc2.registerWith(t, "me", "", "CHANTYPES=#")
	rec.waitState(t, 2*time.Second, Connected)
	if len(c.Channels()) != 0 {
		t.Errorf("channels after reconnect: %v", c.Channels())
	}
	if is := c.ISupport(); is.WHOX || is.PrefixModes != "ov" || is.ChannelLen != 0 {
		t.Errorf("ISUPPORT of the old server kept: %+v", is)
	}
}
