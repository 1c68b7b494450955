package otr_test

import (
	"strings"
	"testing"

	"github.com/otrbridge/otrbridge/otr"
	"github.com/otrbridge/otrbridge/testpeers/otrtest"
)

// weechatCutAt is where WeeChat cuts a PRIVMSG text to the nick "alice"
// on InspIRCd: 510 bytes, less the longest ":nick!user@host " the server
// may put in front (NICKLEN 30, USERLEN 10, HOSTLEN 64: 108 bytes), less
// "PRIVMSG ", the target and ":".
const weechatCutAt = 510 - 108 - len("PRIVMSG ") - len("alice") - len(":")

// TestPeerLinesCutByIRCClient: the peer's IRC client cuts every line
// longer than weechatCutAt in two, as WeeChat does with weechat-otr's
// fragment lines (potr at the max message size weechat-otr sets for the
// nick "alice", 415-10-5), with libotr's 399-byte v3 fragments, and with
// unfragmented data lines. The AKE and messages both ways go through;
// no rest of a line is ever shown as a message.
func TestPeerLinesCutByIRCClient(t *testing.T) {
	t.Parallel() // python is slow; each case has its own peer
	for _, c := range []struct {
		name    string
		potr    bool
		mms     int
		version int
	}{
		{"potr v2 fragments", true, 415 - 10 - len("alice"), 2},
		{"libotr v3 fragments", false, 400, 3},
		{"libotr unfragmented", false, -1, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			opts := otrtest.Options{Account: "weechat", MaxMessageSize: c.mms, Policy: otrtest.PolicyManual}
			var l *link
			if c.potr {
				opts.Policy = otrtest.PolicyAllowV2
				l = &link{t: t, us: newOurs(t, defaultOurConfig()), lib: otrtest.StartPotr(t, opts)}
			} else {
				l = newLink(t, defaultOurConfig(), opts)
			}
			l.cutAt = weechatCutAt
			var x exchange
			if c.potr {
				x = establishPotr(t, l, ourQuery)
			} else {
				x = establish(t, l, ourQuery, c.version)
			}
			long := strings.Repeat("a paragraph from the IRC side, ", 60)
			x = libSend(t, l, long)
			if !cut(x.fromLib) {
				t.Fatalf("no line of the peer was long enough to be cut: %d lines", len(x.fromLib))
			}
			if m, ok := ourEvent[otr.Malformed](x); ok {
				t.Fatalf("cut lines reported malformed: %+v", m)
			}
			ourSend(t, l, "got it all")
			libSend(t, l, "short")
		})
	}
}

func cut(lines []string) bool {
	for _, l := range lines {
		if len(l) > weechatCutAt {
			return true
		}
	}
	return false
}
