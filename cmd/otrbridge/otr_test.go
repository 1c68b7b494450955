package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/otrbridge/otrbridge/bridge"
	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/otrfilter"
)

type recLink struct {
	sent      [][]string
	delivered []bridge.IncomingText
}

func (r *recLink) PeerID() networkid.UserID       { return "local.bob" }
func (r *recLink) Nick() string                   { return "bob" }
func (r *recLink) LineBudget(ircconn.Kind) int    { return 400 }
func (r *recLink) Notice(context.Context, string) {}
func (r *recLink) Deliver(_ context.Context, m bridge.IncomingText) {
	r.delivered = append(r.delivered, m)
}
func (r *recLink) SendLines(_ context.Context, _ ircconn.Kind, lines []string) error {
	r.sent = append(r.sent, lines)
	return nil
}

// A broken OTR setup must never fall back to sending plaintext.
func TestUnavailableFilterFailsClosed(t *testing.T) {
	l := &recLink{}
	f := unavailableFilter{err: errors.New("secret too short")}
	err := f.Send(context.Background(), l, bridge.OutgoingText{Lines: []string{"hello"}})
	if err == nil || len(l.sent) != 0 {
		t.Fatalf("Send = %v, sent %q; want an error and nothing on the wire", err, l.sent)
	}
	if strings.Contains(err.Error(), "hello") {
		t.Error("the error must not contain the message")
	}
	f.Receive(context.Background(), l, bridge.IncomingText{Text: "hi"})
	if len(l.delivered) != 1 || l.delivered[0].Annotation == "" {
		t.Errorf("incoming text must be delivered with a visible annotation, got %+v", l.delivered)
	}
}

func TestOTRCommandsRegistered(t *testing.T) {
	names := map[string]bool{}
	for _, h := range otrCommands() {
		names[h.GetName()] = true
	}
	for _, c := range otrfilter.Commands {
		if !names[c.Name] {
			t.Errorf("OTR command %q has no handler", c.Name)
		}
	}
	for _, builtin := range []string{"help", "login", "logout", "start-chat", "nick", "status"} {
		if names[builtin] {
			t.Errorf("OTR command would replace the %q command", builtin)
		}
	}
}

func TestTopicAndHelp(t *testing.T) {
	if got := otrTopic(otrfilter.StatePrivateVerified); got != "OTR: private (verified)" {
		t.Errorf("otrTopic = %q", got)
	}
	if got := helpArgs(otrfilter.CommandInfo{PeerFirst: true, Args: "<secret>"}); got != "[_nick_] <secret>" {
		t.Errorf("helpArgs = %q", got)
	}
	lf := &loginFilter{}
	l := &recLink{}
	w := lf.wrap(l)
	if lf.wrap(w) != w {
		t.Error("wrapping twice must not nest")
	}
	if _, ok := w.(otrfilter.StateShower); !ok {
		t.Error("wrapped links must show OTR states")
	}
}
