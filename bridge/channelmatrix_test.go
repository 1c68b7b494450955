package bridge

import (
	"context"
	"errors"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// A refused channel action is explained in the notice, with the server's
// text where the bridge has no words of its own; the status bridgev2
// sends unencrypted carries a fixed text only.
func TestChannelRefusal(t *testing.T) {
	serverText := "Only the founder of #x may do that, dave"
	cases := []struct {
		name, action string
		err          error
		notice       []string
		certain      bool
		reason       event.MessageStatusReason
	}{
		{"not an operator", "Your kick of dave", &ircconn.PeerError{Code: "482", Target: "#x", Text: "You're not a channel operator"},
			[]string{"⚠️ Your kick of dave was not bridged: 482: you are not a channel operator."}, true, event.MessageStatusNoPermission},
		{"unlisted numeric", "Your ban of dave", &ircconn.PeerError{Code: "499", Target: "#x", Text: serverText},
			[]string{"Your ban of dave was not bridged", serverText}, true, event.MessageStatusGenericError},
		{"unknown ban mask", "Your unban of dave", errBanMaskUnknown,
			[]string{"Your unban of dave was not bridged", "does not know its mask"}, true, event.MessageStatusGenericError},
		{"no answer", "Your topic change", context.DeadlineExceeded,
			[]string{"⚠️ Your topic change may not have been bridged: the IRC server did not answer in time."}, false, event.MessageStatusNetworkError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := channelRefusal(tc.action, tc.err)
			body := f.notice("$evt").Body
			for _, want := range tc.notice {
				if !strings.Contains(body, want) {
					t.Errorf("notice %q does not contain %q", body, want)
				}
			}
			st := f.status()
			if st.IsCertain != tc.certain || st.ErrorReason != tc.reason {
				t.Errorf("status certain %v reason %q, want %v %q", st.IsCertain, st.ErrorReason, tc.certain, tc.reason)
			}
			for _, s := range []string{st.Message, st.InternalError.Error()} {
				if strings.Contains(s, "dave") || strings.Contains(s, "482") || strings.Contains(s, "operator") || strings.Contains(s, "founder") {
					t.Errorf("the status carries %q", s)
				}
			}
			if !errors.Is(st, tc.err) {
				t.Error("the status does not wrap its cause")
			}
		})
	}
}
