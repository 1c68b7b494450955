package bridge

import (
	"context"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/event"

	"github.com/otrbridge/otrbridge/bridge/ircfmt"
	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// A reply's quote and a reaction's emote repeat the start of an earlier
// message. That text may only go where the earlier message went: inside
// the private conversation, or in plaintext if the earlier message itself
// went over IRC unencrypted. So each bridged message of a DM portal
// records whether it went in plaintext (MessageMetadata), and a reply or a
// reaction to any other message gets a plaintext form without the quote
// (otrsession.OutgoingText.PlaintextLines), which the OTR session sends
// instead whenever the new message goes out unencrypted.

// MessageMetadata is stored with every bridged message.
type MessageMetadata struct {
	// Plaintext: the message went over IRC unencrypted, so its text may
	// be quoted in plaintext. A message that went inside OTR, and one
	// stored without metadata, counts as private.
	Plaintext bool `json:"plaintext,omitempty"`
}

// wentInPlaintext reports whether msg is known to have gone over IRC
// unencrypted.
func wentInPlaintext(msg *database.Message) bool {
	if msg == nil {
		return false
	}
	meta, ok := msg.Metadata.(*MessageMetadata)
	return ok && meta.Plaintext
}

// withQuote returns out with quote (of the message quoted) as its first
// line. Unless the quoted message went over IRC in plaintext, the quote
// stays inside OTR: out's plaintext form is without it.
func withQuote(out otrsession.OutgoingText, quote string, quoted *database.Message) otrsession.OutgoingText {
	if !wentInPlaintext(quoted) {
		out.PlaintextLines = out.Lines
	}
	out.Lines = append([]string{quote}, out.Lines...)
	return out
}

// maxQuoteBytes bounds the quoted text of a reply.
const maxQuoteBytes = 60

// replyQuote renders "> <nick> first words of the replied message" from the
// reply fallback if the client sent one, else from the replied event.
func (c *IRCClient) replyQuote(ctx context.Context, portal *bridgev2.Portal, content *event.MessageEventContent, replyTo *database.Message, p *peerLink) string {
	who := c.ownNick()
	if replyTo.SenderID == p.id {
		who = p.nick
	}
	return c.quoteLine(ctx, portal, content, replyTo, who)
}

// quoteLine renders "> <who> first words of the replied message".
// A message of another room (a reply across rooms, which bridgev2 lets
// through) is not quoted: it belongs to another conversation.
func (c *IRCClient) quoteLine(ctx context.Context, portal *bridgev2.Portal, content *event.MessageEventContent, replyTo *database.Message, who string) string {
	if replyTo.Room != portal.PortalKey {
		return fmt.Sprintf("> <%s> …", who)
	}
	snippet := shorten(firstLine(ircfmt.Strip(fallbackSnippet(content.Body))), maxQuoteBytes)
	if snippet == "" {
		snippet = c.messageSnippet(ctx, portal, replyTo)
	}
	if snippet == "" {
		return fmt.Sprintf("> <%s> …", who)
	}
	return fmt.Sprintf("> <%s> %s", who, snippet)
}

// messageSnippet is the beginning of a bridged message's first line, read
// back from the room (decrypted where it is encrypted); "" if it cannot be
// or the message is not of this room.
func (c *IRCClient) messageSnippet(ctx context.Context, portal *bridgev2.Portal, msg *database.Message) string {
	if portal.MXID == "" || msg == nil || msg.MXID == "" || msg.Room != portal.PortalKey {
		return ""
	}
	fetchCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	evt, err := c.ic.Bridge.Bot.GetEvent(fetchCtx, portal.MXID, msg.MXID)
	cancel()
	if err != nil || evt == nil {
		return ""
	}
	mc := evt.Content.AsMessage()
	if mc == nil {
		return ""
	}
	return shorten(firstLine(ircfmt.Strip(mc.Body)), maxQuoteBytes)
}

// fallbackSnippet extracts the quoted text of a reply fallback
// ("> <@user:server> text\n\nreply").
func fallbackSnippet(body string) string {
	if !strings.HasPrefix(body, "> ") {
		return ""
	}
	first, _, _ := strings.Cut(body, "\n")
	first = strings.TrimPrefix(first, "> ")
	if strings.HasPrefix(first, "<") {
		if _, rest, ok := strings.Cut(first, "> "); ok {
			first = rest
		}
	} else if strings.HasPrefix(first, "* <") {
		if _, rest, ok := strings.Cut(first, "> "); ok {
			first = rest
		}
	}
	return first
}
