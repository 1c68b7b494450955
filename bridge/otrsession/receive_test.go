package otrsession

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// libotr's default query as irssi sends it (HTML) and as Pidgin does (the
// HTML reduced to text, the nick in bold), each line a PRIVMSG: the
// explanation becomes one notice, never the peer's messages; a line later
// on is the peer's again.
func TestQueryExplanationIsOneNotice(t *testing.T) {
	for name, lines := range map[string][]string{
		"irssi": {
			"?OTRv23?",
			`<b>bob</b> has requested an <a href="https://otr.cypherpunks.ca/">Off-the-Record private conversation</a>.  However, you do not have a plugin to support that.`,
			`See <a href="https://otr.cypherpunks.ca/">https://otr.cypherpunks.ca/</a> for more information.`,
		},
		"pidgin": {
			"?OTRv23?",
			"\x02bob\x02 has requested an Off-the-Record private conversation <https://otr.cypherpunks.ca/>.  However, you do not have a plugin to support that.",
			"See https://otr.cypherpunks.ca/ for more information.",
		},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newManager(t, newDB(t), "@alice:example.org", managerOpts{policy: "manual", keys: []string{"otrbridge.key"}})
				l := newLink("net", "bob")
				for _, line := range lines {
					f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: line})
				}
				f.Receive(context.Background(), l, IncomingText{Kind: ircconn.Privmsg, Text: "a message of bob's"})
				synctest.Wait()
				if got := l.deliveredTexts(); len(got) != 1 || got[0] != "a message of bob's" {
					t.Errorf("delivered %q", got)
				}
				_, _, notices, _ := l.snapshot()
				n := 0
				for _, s := range notices {
					if strings.Contains(s, "explanation for people without OTR") {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d explanation notices in %q", n, notices)
				}
			})
		})
	}
}
