package ircconn

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestISupportApply(t *testing.T) {
	is := defaultISupport()
	// InspIRCd 3.15's 005 lines, as the test stack sends them.
	for _, line := range []string{
		"ACCEPT=30 AWAYLEN=200 CALLERID=g CASEMAPPING=rfc1459 CHANLIMIT=#:20 CHANMODES=IXbeg,k,FJLfjl,ACKMNOPQRSTcimnprstz CHANNELLEN=64 CHANTYPES=# ELIST=CMNTU EXTBAN=,ACNOQRSTUacjmnprswz HOSTLEN=64 KEYLEN=32",
		"KICKLEN=255 LINELEN=512 MAXLIST=I:100,X:100,b:100,e:100,g:100 MAXTARGETS=20 MODES=20 MONITOR=30 NAMELEN=128 NAMESX NETWORK=OtrTest NICKLEN=30 PREFIX=(ohv)@%+ SAFELIST STATUSMSG=@%+",
		"TOPICLEN=307 UHNAMES USERLEN=10 USERMODES=,,s,BDHILRSTWcdghikorswxz WHOX",
	} {
		is.apply(strings.Fields(line))
	}
	want := ISupport{
		Network: "OtrTest", Casemapping: RFC1459, ChanTypes: "#", StatusMsg: "@%+",
		PrefixModes: "ohv", PrefixSymbols: "@%+",
		ListModes: "IXbeg", ParamModes: "k", SetParamModes: "FJLfjl", FlagModes: "ACKMNOPQRSTcimnprstz",
		Monitor: true, MonitorLimit: 30, WHOX: true,
		NickLen: 30, ChannelLen: 64, TopicLen: 307, KickLen: 255, KeyLen: 32, AwayLen: 200, Modes: 20,
		TargMax: map[string]int{"PRIVMSG": 20, "NOTICE": 20}, ChanLimit: map[string]int{"#": 20},
	}
	if !reflect.DeepEqual(is, want) {
		t.Fatalf("\n got %+v\nwant %+v", is, want)
	}
	for _, tc := range []struct {
		mode rune
		kind ModeKind
	}{{'o', ModePrefix}, {'b', ModeList}, {'k', ModeParam}, {'l', ModeSetParam}, {'m', ModeFlag}, {'Y', ModeUnknown}, {'é', ModeUnknown}} {
		if k := is.ModeKind(tc.mode); k != tc.kind {
			t.Errorf("ModeKind(%c) = %v, want %v", tc.mode, k, tc.kind)
		}
	}

	// TARGMAX wins over MAXTARGETS; an empty limit is none; escapes decode.
	is.apply([]string{"TARGMAX=PRIVMSG:4,notice:4,JOIN:,KICK:1", `NETWORK=Some\x20Net`, "MAXTARGETS=9"})
	if is.MaxTargets("privmsg") != 4 || is.MaxTargets("JOIN") != 0 || is.MaxTargets("KICK") != 1 || is.MaxTargets("NOTICE") != 4 {
		t.Errorf("TargMax %v", is.TargMax)
	}
	if is.Network != "Some Net" {
		t.Errorf("Network %q", is.Network)
	}

	// Withdrawn tokens return to their defaults; malformed ones are ignored.
	is.apply([]string{"-WHOX", "-MONITOR", "-PREFIX", "-CHANNELLEN", "PREFIX=(ov)@", "PREFIX=ov@+", "CHANTYPES=#\x00 ,&"})
	if is.WHOX || is.Monitor || is.ChannelLen != 0 || is.PrefixModes != "ov" || is.PrefixSymbols != "@+" || is.ChanTypes != "#&" {
		t.Errorf("after withdrawal: %+v", is)
	}
	is.apply([]string{"PREFIX="})
	if is.PrefixModes != "" || is.ModeKind('o') != ModeUnknown {
		t.Errorf("PREFIX= (no membership modes): %+v", is)
	}
	is.apply([]string{"CHANMODES=b"})
	if is.ListModes != "b" || is.ParamModes != "" || is.FlagModes != "" {
		t.Errorf("short CHANMODES: %+v", is)
	}
}

// The Conn exposes what the server announced, and a copy of it.
func TestISupportFromServer(t *testing.T) {
	c, _, _, _ := stateConn(t, "", nil)
	is := c.ISupport()
	if is.Network != "Fake Net" || is.PrefixSymbols != "@%+" || !is.WHOX || is.MonitorLimit != 5 || is.ChannelLen != 32 ||
		is.StatusMsg != "@%+" || is.ChanTypes != "#&" || is.MaxTargets("KICK") != 1 {
		t.Fatalf("%+v", is)
	}
	is.TargMax["KICK"] = 99
	if c.ISupport().MaxTargets("KICK") != 1 {
		t.Error("ISupport shares its maps with the caller")
	}
	if !c.IsChannel("&local") || !c.IsChannel("%#chan") || c.IsChannel("nick") {
		t.Error("IsChannel does not follow CHANTYPES/STATUSMSG")
	}
}

func TestParseModes(t *testing.T) {
	is := defaultISupport()
	is.apply([]string{"PREFIX=(qaohv)~&@%+", "CHANMODES=beI,k,lj,imnpst"})
	for _, tc := range []struct {
		modes  string
		params []string
		want   []string
	}{
		{"+ov", []string{"alice", "bob"}, []string{"+o alice", "+v bob"}},
		{"+ok-h", []string{"alice", "key", "bob"}, []string{"+o alice", "+k key", "-h bob"}},
		{"-k+l-l+j", []string{"*", "10", "3:5"}, []string{"-k *", "+l 10", "-l", "+j 3:5"}},
		{"+b-e+I", []string{"*!*@a", "*!*@b", "*!*@c"}, []string{"+b *!*@a", "-e *!*@b", "+I *!*@c"}},
		{"+mnt-is", nil, []string{"+m", "+n", "+t", "-i", "-s"}},
		{"+oZv", []string{"a", "b"}, []string{"+o a", "+Z", "+v b"}}, // unknown: no parameter
		{"+o", nil, []string{"+o"}}, // parameter missing
		{"+m", []string{"surplus"}, []string{"+m"}},
		{"mt", nil, []string{"+m", "+t"}}, // no sign: adding
		{"+ \x00,:", nil, nil},
		{"", nil, nil},
	} {
		var got []string
		for _, mc := range parseModes(&is, tc.modes, tc.params) {
			got = append(got, mc.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q %q: got %q, want %q", tc.modes, tc.params, got, tc.want)
		}
	}
}

func TestModeLines(t *testing.T) {
	is := defaultISupport()
	is.apply([]string{"PREFIX=(ohv)@%+", "CHANMODES=beI,k,l,imnpst"})
	var changes []ModeChange
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		changes = append(changes, ModeChange{Add: true, Mode: 'v', Kind: ModePrefix, Param: n})
	}
	changes = append(changes, ModeChange{Add: false, Mode: 'm', Kind: ModeFlag})
	lines := modeLines("#c", changes, 3)
	want := []string{"MODE #c +vvv a b c", "MODE #c +vvv d e f", "MODE #c +v-m g"}
	if !slices.Equal(lines, want) {
		t.Errorf("got %q, want %q", lines, want)
	}
	// Long masks: split by length even under a high MODES.
	changes = changes[:0]
	for i := range 6 {
		changes = append(changes, ModeChange{Add: true, Mode: 'b', Kind: ModeList, Param: strings.Repeat(string(rune('a'+i)), 200)})
	}
	lines = modeLines("#c", changes, 100)
	n := 0
	for _, l := range lines {
		if len(l) > 510 {
			t.Errorf("line of %d bytes", len(l))
		}
		n += strings.Count(l, " ") - 2
	}
	if n != 6 || len(lines) != 3 {
		t.Errorf("%d parameters in %d lines", n, len(lines))
	}
}

func TestParseNamesEntry(t *testing.T) {
	for _, tc := range []struct {
		entry string
		want  Member
	}{
		{"@%bob!b@host.example", Member{Nick: "bob", User: "b", Host: "host.example", Prefixes: "@%"}},
		{"+carol", Member{Nick: "carol", Prefixes: "+"}},
		{"dave!d", Member{Nick: "dave", User: "d"}},
		{"@", Member{Prefixes: "@"}},
		{"", Member{}},
	} {
		if got := parseNamesEntry(tc.entry, "@%+"); got != tc.want {
			t.Errorf("%q: %+v, want %+v", tc.entry, got, tc.want)
		}
	}
	if got := orderPrefixes("@%+", "+%@@x"); got != "@%+" {
		t.Errorf("orderPrefixes %q", got)
	}
}
