package bridge

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

var (
	errEmptyMessage      = errors.New("the message has no text that can be sent to IRC")
	errNotDMPortal       = errors.New("this room is not an IRC direct chat of this login")
	errMediaNeedsPublic  = errors.New("files can only be sent to IRC as links, and public media links are disabled in this bridge's config (public_media)")
	errUnsupportedMsgTyp = errors.New("this kind of message cannot be sent to IRC")
)

// HandleMatrixMessage sends a Matrix message to the peer of a DM portal. It
// returns only after the IRC server confirmed the message (or, without
// echo-message/labeled-response, after it was written); any failure becomes
// a visible error on the Matrix message (reportFailure).
func (c *IRCClient) HandleMatrixMessage(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, error) {
	if isChannelPortal(msg.Portal.PortalKey) {
		return c.handleChannelMessage(ctx, msg)
	}
	p, err := c.portalPeer(ctx, msg.Portal)
	if err != nil {
		return nil, c.reportFailure(ctx, msg.Portal, msg.Event, unsupported(err))
	}
	quote := ""
	if msg.ReplyTo != nil {
		quote = c.replyQuote(ctx, msg.Portal, msg.Content, msg.ReplyTo, p)
	}
	out, err := c.convertOutgoing(ctx, p, msg.Content, nil)
	if err != nil {
		return nil, c.reportFailure(ctx, msg.Portal, msg.Event, unsupported(err))
	}
	if quote != "" {
		out = withQuote(out, quote, msg.ReplyTo)
	}
	out.Event = msg.Event.ID
	done := c.inflight(ctx, msg.Portal, msg.Event)
	defer done()
	res, err := c.sendToPeer(ctx, p, out)
	if err != nil {
		return nil, c.reportFailure(ctx, msg.Portal, msg.Event, sendFailure(err))
	}
	return &bridgev2.MatrixMessageResponse{DB: &database.Message{
		ID:        networkid.MessageID("mx:" + msg.Event.ID),
		SenderID:  makeUserID(c.meta.Network, c.fold(c.ownNick()), 1),
		Timestamp: time.Now(),
		Metadata:  &MessageMetadata{Plaintext: res.Unencrypted},
	}}, nil
}

// errNoPolls explains a poll: IRC has none, and bridgev2 would drop a poll
// without a word unless the connector takes it.
var errNoPolls = errors.New("IRC has no polls; ask in a message instead")

// HandleMatrixPollStart explains that a poll cannot go to IRC.
func (c *IRCClient) HandleMatrixPollStart(ctx context.Context, msg *bridgev2.MatrixPollStart) (*bridgev2.MatrixMessageResponse, error) {
	return nil, c.reportFailure(ctx, msg.Portal, msg.Event, unsupported(errNoPolls))
}

// HandleMatrixPollVote explains a vote the same way (no poll ever reached
// IRC, so a vote can only be on one that did not go there).
func (c *IRCClient) HandleMatrixPollVote(ctx context.Context, msg *bridgev2.MatrixPollVote) (*bridgev2.MatrixMessageResponse, error) {
	return nil, c.reportFailure(ctx, msg.Portal, msg.Event, unsupported(errNoPolls))
}

// HandleMatrixEdit sends an edit as a new message starting with "* ", the
// IRC convention for corrections.
func (c *IRCClient) HandleMatrixEdit(ctx context.Context, msg *bridgev2.MatrixEdit) error {
	if isChannelPortal(msg.Portal.PortalKey) {
		return c.handleChannelEdit(ctx, msg)
	}
	p, err := c.portalPeer(ctx, msg.Portal)
	if err != nil {
		return c.reportFailure(ctx, msg.Portal, msg.Event, unsupported(err))
	}
	out, err := c.convertOutgoing(ctx, p, msg.Content, nil)
	if err != nil {
		return c.reportFailure(ctx, msg.Portal, msg.Event, unsupported(err))
	}
	out.Lines[0] = "* " + out.Lines[0]
	out.Event = msg.Event.ID
	done := c.inflight(ctx, msg.Portal, msg.Event)
	defer done()
	res, err := c.sendToPeer(ctx, p, out)
	if err != nil {
		return c.reportFailure(ctx, msg.Portal, msg.Event, sendFailure(err))
	}
	// A client's reply fallback quotes the edited text: once an edit went
	// inside OTR, the message counts as private (bridgev2 stores the
	// metadata after the edit).
	if meta, ok := msg.EditTarget.Metadata.(*MessageMetadata); ok && !res.Unencrypted {
		meta.Plaintext = false
	}
	return nil
}

// sendToPeer sends one converted Matrix message through the peer's OTR
// session (which has it marked in the portal when it went out
// unencrypted, see PeerLink.MarkUnencrypted).
func (c *IRCClient) sendToPeer(ctx context.Context, p *peerLink, out otrsession.OutgoingText) (otrsession.SendResult, error) {
	// One sanitiser for every line: the body, a reply's quote, a
	// reaction's emote.
	out.Lines = textLines(strings.Join(out.Lines, "\n"))
	if len(out.Lines) == 0 {
		return otrsession.SendResult{}, errEmptyMessage
	}
	if out.PlaintextLines != nil {
		// Never nil again: nil would mean "send Lines" (with the quote).
		out.PlaintextLines = append([]string{}, textLines(strings.Join(out.PlaintextLines, "\n"))...)
	}
	res, err := c.otr.Send(ctx, p, out)
	if err != nil {
		c.ic.metrics.message(toIRC, resultFailed)
		c.notePeerError(err)
		var pe *ircconn.PeerError
		if errors.As(err, &pe) && pe.Code == "401" {
			// The nick is gone, and with it the peer's session keys.
			c.otr.PeerGone(ctx, p)
		}
		return res, err
	}
	if res.Encrypted {
		c.ic.metrics.message(toIRC, resultEncrypted)
	} else {
		c.ic.metrics.message(toIRC, resultPlaintext)
	}
	return res, nil
}

// peerErrorQuiet is how long the same numeric about the same nick is not
// repeated as a notice after it failed a message: the later lines of a
// multi-line message get the same error, which ircconn reports separately.
const peerErrorQuiet = 15 * time.Second

// notePeerError remembers a numeric that failed a message (and was shown
// with it).
func (c *IRCClient) notePeerError(err error) {
	var pe *ircconn.PeerError
	if !errors.As(err, &pe) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.recentPeerErrors == nil {
		c.recentPeerErrors = make(map[string]time.Time)
	}
	now := time.Now()
	for k, t := range c.recentPeerErrors {
		if now.Sub(t) > peerErrorQuiet {
			delete(c.recentPeerErrors, k)
		}
	}
	c.recentPeerErrors[pe.Code+" "+c.fold(pe.Target)] = now
}

// peerErrorShown reports whether a numeric about nick was just shown with a
// failed message.
func (c *IRCClient) peerErrorShown(code, nick string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.recentPeerErrors[code+" "+c.fold(nick)]
	return ok && time.Since(t) <= peerErrorQuiet
}

// portalPeer returns the peer of a DM portal of this login.
func (c *IRCClient) portalPeer(ctx context.Context, portal *bridgev2.Portal) (*peerLink, error) {
	if portal.Receiver != c.login.ID {
		return nil, errNotDMPortal
	}
	uid := networkid.UserID(portal.ID)
	network, folded, ok := parseUserID(uid)
	if !ok || network != c.meta.Network {
		return nil, errNotDMPortal
	}
	nick := folded
	if current := portalNick(portal); current != "" {
		nick = current
	}
	return c.link(uid, nick), nil
}

// convertOutgoing turns Matrix content into IRC lines for p: HTML becomes
// IRC formatting codes, each line of a multi-line message becomes its own
// IRC line, and files become links, which go outside OTR: in a private
// conversation the user is told before a link is made (CheckOutsideOTR).
// In a channel p is nil (there is no OTR) and pill names the users Matrix
// pills mention (see ircfmt.HTMLToIRCWithPills); a nil pill keeps their text.
func (c *IRCClient) convertOutgoing(ctx context.Context, p *peerLink, content *event.MessageEventContent, pill func(string) (string, bool)) (otrsession.OutgoingText, error) {
	out := otrsession.OutgoingText{Kind: ircconn.Privmsg}
	content.RemoveReplyFallback()
	if content.RelatesTo.GetReplyTo() != "" && content.Format != event.FormatHTML {
		// RemoveReplyFallback only handles HTML messages.
		content.Body = event.TrimReplyFallbackText(content.Body)
	}
	var text string
	switch content.MsgType {
	case event.MsgText, event.MsgNotice, event.MsgEmote:
		if content.MsgType == event.MsgNotice {
			out.Kind = ircconn.Notice
		} else if content.MsgType == event.MsgEmote {
			out.Kind = ircconn.Action
		}
		if content.Format == event.FormatHTML && content.FormattedBody != "" {
			text = ircfmt.HTMLToIRCWithPills(content.FormattedBody, pill)
		} else {
			text = content.Body
		}
	case event.MsgLocation:
		text = content.Body
		if content.GeoURI != "" && !strings.Contains(text, content.GeoURI) {
			text = strings.TrimSpace(text + " " + content.GeoURI)
		}
	case event.MsgImage, event.MsgFile, event.MsgVideo, event.MsgAudio, event.CapMsgSticker:
		out.OutsideOTR = "this file"
		if name := content.GetFileName(); name != "" {
			out.OutsideOTR = "the file " + shorten(name, maxQuoteBytes)
		}
		if p != nil {
			if err := c.otr.CheckOutsideOTR(ctx, p, out.OutsideOTR); err != nil {
				return out, err
			}
		}
		link, err := c.mediaLink(ctx, content)
		if err != nil {
			return out, err
		}
		text = link
		if caption := mediaCaption(content); caption != "" {
			text = caption + "\n" + link
		}
	default:
		return out, errUnsupportedMsgTyp
	}
	out.Lines = textLines(text)
	if len(out.Lines) == 0 {
		return out, errEmptyMessage
	}
	return out, nil
}

// textLines splits text at newlines and drops empty lines (IRC cannot send
// an empty line) and characters that cannot appear on an IRC line.
func textLines(text string) []string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		l = strings.Map(func(r rune) rune {
			if r == '\r' || r == 0 || r == '\x01' {
				return -1 // \x01 would make a line (or an emote's end) a CTCP
			}
			return r
		}, l)
		if strings.TrimSpace(ircfmt.Strip(l)) == "" {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

func mediaCaption(content *event.MessageEventContent) string {
	if content.FileName != "" && content.Body != "" && content.Body != content.FileName {
		return content.Body
	}
	return ""
}

func (c *IRCClient) mediaLink(ctx context.Context, content *event.MessageEventContent) (string, error) {
	pm, ok := c.ic.Bridge.Matrix.(bridgev2.MatrixConnectorWithPublicMedia)
	if !ok {
		return "", errMediaNeedsPublic
	}
	link, err := pm.GetPublicMediaAddressForEvent(ctx, content)
	if err != nil || link == "" {
		return "", errMediaNeedsPublic
	}
	name := content.GetFileName()
	if name == "" {
		return link, nil
	}
	return name + ": " + link, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l)
}

// shorten cuts s to at most max bytes on a rune boundary, adding "…".
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
