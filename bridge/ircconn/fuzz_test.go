package ircconn

import (
	"slices"
	"strings"
	"testing"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/rs/zerolog"
)

// FuzzServerLine feeds arbitrary server lines to a registered session: the
// handler must never panic, whatever the server sends.
func FuzzServerLine(f *testing.F) {
	for _, seed := range []string{
		"PRIVMSG", "PRIVMSG me", ":a PRIVMSG me :\x01", ":a PRIVMSG me :\x01ACTION", ":a!b@c NOTICE me :\x01VERSION\x01",
		"NICK", ":me NICK", "BATCH", "BATCH -", "@label=x BATCH +", "@batch=zz :me!u@h PRIVMSG x :y",
		"CAP", "CAP * LS", "CAP * ACK", "CAP * NAK :x", "CAP * DEL", "AUTHENTICATE", "AUTHENTICATE +",
		"001", ":s 001", ":s 005 me", ":s 005 me CASEMAPPING", ":s 302 me :=", ":s 302 me :me=", ":s 302 me :me=+",
		":s 311 me", ":s 317 me x -1 -5 :x", ":s 396 me", ":s 401", ":s 401 me", ":s 433", ":s 731 me :,,,",
		"@label=ob1 ACK", "@label=ob1 :s 401 me", "@label=ob1 FAIL", "ERROR", "PING", ":x QUIT", ":x!y@z CHGHOST",
		":s 716 me", ":s 301 me", ":s 903", ":s 904", ":s 464", ":s 465",
		":me!u@h JOIN #c", ":me!u@h JOIN #c * :real", ":a!u@h JOIN #c acct :real", "JOIN", ":a PART #c", ":me PART #c :x",
		":a KICK #c b :r", ":a KICK #c me", ":a KICK", ":a TOPIC #c :t", ":a MODE #c +ov-k+lb a b k 5 m!*@*", ":a MODE #c",
		":a MODE me +i", ":a INVITE me #c", ":a AWAY :x", ":a AWAY", ":a ACCOUNT *", ":a SETNAME :r", ":a!u@h CHGHOST u2 h2",
		":b NICK :c", ":b NICK b", ":b QUIT :x", ":s 332 me #c :t", ":s 333 me #c a!b@c 99", ":s 333 me #c", ":s 331 me #c",
		":s 353 me = #c :@+a!b@c %b +", ":s 353 me #c :a", ":s 353", ":s 366 me #c", ":s 366 me *", ":s 324 me #c +kl k 3",
		":s 329 me #c 1", ":s 354 me 248 #c u h n G*@ acct :r", ":s 352 me #c u h s n H :0 r", ":s 315 me #c", ":s 354 me 248",
		":s PONG s :otrb-1", ":s PONG", ":s 474 me #c :b", ":s 441 me n #c :x", ":s 470 me #c #d :f", ":s 472 me Z :u",
		":s 404 me #c :m", ":s 730 me :x!u@h,y", ":s 731 me :x", ":s 734 me 5 x,y :full", ":s 303 me :x", ":s 303 me",
		":s 005 me PREFIX=(ov)@+ CHANMODES=b,k,l,m MONITOR=1 :x", ":s 005 me -PREFIX CHANTYPES= :x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		msg, err := ircmsg.ParseLine(line)
		if err != nil {
			return
		}
		c, err := New(Config{Address: "x", Nick: "me", Handler: func(Event) {}, Logger: zerolog.Nop(),
			SASLAccount: "a", SASLPassword: "p", NickServPassword: "n"})
		if err != nil {
			t.Fatal(err)
		}
		s := newSession(c)
		c.sess = s
		s.registered, s.readying, s.ready = true, true, true
		c.caps["echo-message"] = true
		ref := &lineRef{msg: &outMsg{target: "x", lines: []string{"y"}, done: make(chan sendResult, 1)}, label: "ob1"}
		s.labels["ob1"] = ref
		ref.msg.refs = []*lineRef{ref}
		s.echoQ["x"] = []*lineRef{{msg: ref.msg, key: "x"}}
		c.whois = &whoisReq{nick: "me", done: make(chan struct{})}
		// A channel with members, commands in flight, watched nicks.
		s.track.selfJoin(c.casemap.Fold, "#c", Member{Nick: "me"})
		s.track.addMember(c.casemap.Fold, s.track.chans["#c"], Member{Nick: "a", User: "u", Host: "h"})
		s.track.addMember(c.casemap.Fold, s.track.chans["#c"], Member{Nick: "b", Prefixes: "@"})
		for _, kind := range []opKind{opJoin, opWho, opMode} {
			op := newChanOp(kind, c.casemap.Fold, "#c")
			op.who = &memberAcc{channel: "#c"}
			op.nicks = []string{"n"}
			om := &outMsg{raw: true, lines: []string{"X"}, op: op, done: make(chan sendResult, 1)}
			s.startOpLocked(om)
		}
		c.watch["x"] = watched{nick: "x"}
		s.pres.isonWait = [][]string{{"x", "y"}}
		go func() {
			for range s.prio {
			}
		}()
		_ = s.handle(&msg)
		checkTracker(t, c, &s.track)
		_ = s.handle(&msg) // twice: state left by the first must hold
		checkTracker(t, c, &s.track)
		close(s.prio)
		c.Close()
	})
}

// checkTracker verifies the tracker's bookkeeping: every member is a user
// counted once per channel, every user is in a channel, counts cover the
// members, capacities hold.
func checkTracker(t *testing.T, c *Conn, tr *tracker) {
	t.Helper()
	refs := map[string]int{}
	for k, ch := range tr.chans {
		if c.casemap.Fold(ch.name) != k {
			t.Fatalf("channel %q under key %q", ch.name, k)
		}
		if ch.count < len(ch.members) || len(ch.members) > ch.capacity {
			t.Fatalf("channel %q: count %d, %d members, capacity %d", ch.name, ch.count, len(ch.members), ch.capacity)
		}
		for nk := range ch.members {
			refs[nk]++
		}
	}
	for k, u := range tr.users {
		if u.refs != refs[k] || u.refs <= 0 {
			t.Fatalf("user %q: refs %d, in %d channels", k, u.refs, refs[k])
		}
	}
	for k := range refs {
		if tr.users[k] == nil {
			t.Fatalf("member %q has no user entry", k)
		}
	}
}

// FuzzISupport applies arbitrary 005 tokens: the result stays usable
// (sets of printable bytes, PREFIX modes and symbols paired) and parsing
// modes with it never panics.
func FuzzISupport(f *testing.F) {
	for _, seed := range []string{
		"PREFIX=(ohv)@%+ CHANMODES=beI,k,l,imnpst MONITOR=30 WHOX CHANNELLEN=64",
		"TARGMAX=PRIVMSG:4,JOIN:,KICK:1 MAXTARGETS=20 CHANLIMIT=#&:20,!:5",
		"-PREFIX -CHANMODES PREFIX= PREFIX=( PREFIX=(ov)@ CHANMODES=,,, NETWORK=a\\x20b\\x2",
		"CHANTYPES= STATUSMSG=@+ CASEMAPPING=ascii MODES=x NICKLEN=-1",
	} {
		f.Add(seed, "+ov-k+l a b c 5")
	}
	f.Fuzz(func(t *testing.T, tokens, modes string) {
		is := defaultISupport()
		is.apply(strings.Fields(tokens))
		if len(is.PrefixModes) != len(is.PrefixSymbols) {
			t.Fatalf("PREFIX modes %q, symbols %q", is.PrefixModes, is.PrefixSymbols)
		}
		for _, set := range []string{is.ChanTypes, is.StatusMsg, is.PrefixModes, is.PrefixSymbols, is.ListModes, is.ParamModes, is.SetParamModes, is.FlagModes} {
			if printableSet(set) != set {
				t.Fatalf("set %q has bytes that cannot be types, prefixes or modes", set)
			}
		}
		f := strings.Fields(modes)
		if len(f) > 0 {
			parseModes(&is, f[0], f[1:])
		}
		_ = checkChannelName(&is, modes)
		_ = checkKey(&is, modes)
	})
}

// FuzzModes parses a MODE line; every change the user could send back is
// rendered in lines of at most 510 bytes that parse to the same changes.
func FuzzModes(f *testing.F) {
	for _, seed := range [][2]string{
		{"+ov-k+lb", "alice bob key 10 *!*@spam"}, {"-l+m-i", ""}, {"+bbbb", "a b c d"}, {"+o", ""}, {"+-+-", "x"},
	} {
		f.Add(seed[0], seed[1])
	}
	is := defaultISupport()
	is.apply([]string{"PREFIX=(qaohv)~&@%+", "CHANMODES=beI,k,lj,imnpst", "MODES=4"})
	f.Fuzz(func(t *testing.T, modes, params string) {
		changes := parseModes(&is, modes, strings.Fields(params))
		var valid []ModeChange
		for _, mc := range changes {
			if mc.Kind != ModeUnknown && mc.takesParam() && mc.Param == "" {
				continue
			}
			if checked, err := checkModeChange(&is, mc); err == nil {
				if checked != mc {
					t.Fatalf("checkModeChange changed %+v to %+v", mc, checked)
				}
				valid = append(valid, mc)
			}
		}
		if len(valid) == 0 {
			return
		}
		var back []ModeChange
		for _, l := range modeLines("#chan", valid, is.Modes) {
			if len(l) > 510 {
				t.Fatalf("line of %d bytes", len(l))
			}
			m, err := ircmsg.ParseLine(l)
			if err != nil || len(m.Params) < 2 || m.Params[0] != "#chan" {
				t.Fatalf("line %q: %v", l, err)
			}
			if n := len(m.Params) - 2; n > is.Modes {
				t.Fatalf("%d parameters > MODES %d: %q", n, is.Modes, l)
			}
			back = append(back, parseModes(&is, m.Params[1], m.Params[2:])...)
		}
		if !slices.Equal(back, valid) {
			t.Fatalf("round trip: %v became %v", valid, back)
		}
	})
}

// FuzzNamesEntry parses RPL_NAMREPLY entries (multi-prefix,
// userhost-in-names).
func FuzzNamesEntry(f *testing.F) {
	for _, seed := range []string{"@%bob!b@host", "+carol", "dave!d", "@", "", "!@", "@@!!@@"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		m := parseNamesEntry(entry, "@%+")
		if strings.Trim(m.Prefixes, "@%+") != "" || (m.Nick != "" && strings.IndexByte("@%+", m.Nick[0]) >= 0) {
			t.Fatalf("%q: %+v", entry, m)
		}
		if len(m.Prefixes)+len(m.Nick) > len(entry) || !strings.HasPrefix(entry, m.Prefixes+m.Nick) {
			t.Fatalf("%q: %+v", entry, m)
		}
		if o := orderPrefixes("@%+", m.Prefixes); len(o) > 3 || strings.Trim(o, "@%+") != "" {
			t.Fatalf("orderPrefixes(%q) = %q", m.Prefixes, o)
		}
	})
}
