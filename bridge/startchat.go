package bridge

import (
	"context"
	"fmt"
	"strings"

	"go.mau.fi/util/ptr"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/event"
)

// ResolveIdentifier handles `start-chat <nick>` / `pm <nick>` (and the
// provisioning API). The identifier is a nick on this login's network, or
// "<network>.<nick>" to pick the network when the user has several logins.
func (c *IRCClient) ResolveIdentifier(ctx context.Context, identifier string, createChat bool) (*bridgev2.ResolveIdentifierResponse, error) {
	identifier = strings.TrimSpace(identifier)
	nick := identifier
	if network, rest, ok := strings.Cut(identifier, "."); ok {
		if network != c.meta.Network {
			return nil, fmt.Errorf("%w: %s is not on %s", bridgev2.ErrResolveIdentifierTryNext, identifier, c.meta.Network)
		}
		nick, _, _ = strings.Cut(rest, ".")
	}
	if err := validateNick(nick); err != nil {
		return nil, err
	}
	if c.ic.Config.IsService(nick) {
		return nil, fmt.Errorf("%s is a network service; its notices appear in this control room", nick)
	}
	return c.resolveNick(ctx, nick, createChat)
}

func (c *IRCClient) resolveNick(ctx context.Context, nick string, createChat bool) (*bridgev2.ResolveIdentifierResponse, error) {
	// A nick typed in lower case would otherwise replace the peer's real
	// spelling in the portal; keep a known spelling if there is one.
	uid, err := c.peerID(ctx, nick)
	if err != nil {
		return nil, err
	}
	ghost, err := c.ic.Bridge.GetGhostByID(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("getting ghost: %w", err)
	}
	if meta, ok := ghost.Metadata.(*GhostMetadata); ok && meta.Nick != "" && c.fold(meta.Nick) == c.fold(nick) {
		nick = meta.Nick
	}
	resp := &bridgev2.ResolveIdentifierResponse{
		Ghost:    ghost,
		UserID:   uid,
		UserInfo: c.userInfo(nick),
	}
	if createChat {
		c.strangers.opened(uid)
		portal, err := c.ic.Bridge.GetPortalByKey(ctx, portalKeyFor(uid, c.login.ID))
		if err != nil {
			return nil, fmt.Errorf("getting portal: %w", err)
		}
		if meta, ok := portal.Metadata.(*PortalMetadata); ok {
			meta.seen(nick, "", c.fold)
		}
		resp.Chat = &bridgev2.CreateChatResponse{
			PortalKey:  portal.PortalKey,
			Portal:     portal,
			PortalInfo: c.chatInfo(uid),
		}
	}
	return resp, nil
}

// CreateChatWithGhost handles a Matrix user inviting a ghost to a new DM,
// as clients do when someone clicks a channel member and sends a message.
// A ghost of a nick (no ".<n>" suffix) means whoever has that nick now, so
// it goes through peerID like `pm <nick>` and a DM from IRC: all three reach
// the same DM portal, also after the nick changed hands (bridgev2 then
// redirects the new room to the ghost of that peer).
func (c *IRCClient) CreateChatWithGhost(ctx context.Context, ghost *bridgev2.Ghost) (*bridgev2.CreateChatResponse, error) {
	network, folded, ok := parseUserID(ghost.ID)
	if !ok || network != c.meta.Network {
		return nil, fmt.Errorf("%w: %s is not on %s", bridgev2.ErrResolveIdentifierTryNext, ghost.ID, c.meta.Network)
	}
	uid := ghost.ID
	if uid == makeUserID(network, folded, 1) {
		var err error
		if uid, err = c.peerID(ctx, folded); err != nil {
			return nil, err
		}
		if uid != ghost.ID {
			if ghost, err = c.ic.Bridge.GetGhostByID(ctx, uid); err != nil {
				return nil, fmt.Errorf("getting ghost: %w", err)
			}
		}
	}
	nick := folded
	if meta, ok := ghost.Metadata.(*GhostMetadata); ok && meta.Nick != "" && c.fold(meta.Nick) == folded {
		nick = meta.Nick
	}
	portal, err := c.ic.Bridge.GetPortalByKey(ctx, portalKeyFor(uid, c.login.ID))
	if err != nil {
		return nil, fmt.Errorf("getting portal: %w", err)
	}
	if meta, ok := portal.Metadata.(*PortalMetadata); ok {
		meta.seen(nick, "", c.fold)
	}
	if ghost.Name == "" {
		ghost.UpdateInfo(ctx, c.userInfo(nick))
	}
	return &bridgev2.CreateChatResponse{
		PortalKey:      portal.PortalKey,
		Portal:         portal,
		PortalInfo:     c.chatInfo(uid),
		DMRedirectedTo: uid,
	}, nil
}

// chatInfo describes a DM portal: the user and the peer's ghost.
func (c *IRCClient) chatInfo(uid networkid.UserID) *bridgev2.ChatInfo {
	members := bridgev2.ChatMemberMap{}
	// is_direct on the user's invite makes clients list the portal as a
	// direct chat; bridgev2 sets it only through double puppeting.
	members.Set(bridgev2.ChatMember{
		EventSender:      bridgev2.EventSender{IsFromMe: true, SenderLogin: c.login.ID},
		Membership:       event.MembershipJoin,
		MemberEventExtra: map[string]any{"is_direct": true},
	})
	members.Set(bridgev2.ChatMember{EventSender: bridgev2.EventSender{Sender: uid}, Membership: event.MembershipJoin})
	return &bridgev2.ChatInfo{
		Type: ptr.Ptr(database.RoomTypeDM),
		Members: &bridgev2.ChatMemberList{
			IsFull:      true,
			OtherUserID: uid,
			MemberMap:   members,
		},
		CanBackfill: false,
	}
}

func (c *IRCClient) GetChatInfo(ctx context.Context, portal *bridgev2.Portal) (*bridgev2.ChatInfo, error) {
	if isChannelPortal(portal.PortalKey) {
		return c.channelChatInfo(portal)
	}
	uid := networkid.UserID(portal.ID)
	if network, _, ok := parseUserID(uid); !ok || network != c.meta.Network {
		return nil, errNotDMPortal
	}
	return c.chatInfo(uid), nil
}

func (c *IRCClient) GetUserInfo(ctx context.Context, ghost *bridgev2.Ghost) (*bridgev2.UserInfo, error) {
	_, folded, ok := parseUserID(ghost.ID)
	if !ok {
		return nil, fmt.Errorf("not an IRC ghost: %s", ghost.ID)
	}
	nick := folded
	if meta, ok := ghost.Metadata.(*GhostMetadata); ok && meta.Nick != "" {
		nick = meta.Nick
	}
	return c.userInfo(nick), nil
}

// roomFeatures: what a DM portal can carry to IRC.
var roomFeatures = &event.RoomFeatures{
	ID: "org.otrbridge.capabilities.dm.v1",
	Formatting: event.FormattingFeatureMap{
		event.FmtBold:                event.CapLevelFullySupported,
		event.FmtItalic:              event.CapLevelFullySupported,
		event.FmtUnderline:           event.CapLevelFullySupported,
		event.FmtStrikethrough:       event.CapLevelFullySupported,
		event.FmtInlineCode:          event.CapLevelFullySupported,
		event.FmtCodeBlock:           event.CapLevelPartialSupport,
		event.FmtTextForegroundColor: event.CapLevelPartialSupport,
		event.FmtTextBackgroundColor: event.CapLevelPartialSupport,
		event.FmtInlineLink:          event.CapLevelPartialSupport,
		event.FmtBlockquote:          event.CapLevelPartialSupport,
		event.FmtUnorderedList:       event.CapLevelPartialSupport,
		event.FmtOrderedList:         event.CapLevelPartialSupport,
	},
	File: event.FileFeatureMap{
		event.MsgImage: {MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelPartialSupport}, Caption: event.CapLevelPartialSupport},
		event.MsgFile:  {MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelPartialSupport}, Caption: event.CapLevelPartialSupport},
		event.MsgVideo: {MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelPartialSupport}, Caption: event.CapLevelPartialSupport},
		event.MsgAudio: {MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelPartialSupport}, Caption: event.CapLevelPartialSupport},
		// Stickers, voice messages and GIFs go as links like other files.
		event.CapMsgSticker: {MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelPartialSupport}},
		event.CapMsgVoice:   {MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelPartialSupport}},
		event.CapMsgGIF:     {MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelPartialSupport}, Caption: event.CapLevelPartialSupport},
	},
	// A location goes as its description and geo: URI.
	LocationMessage: event.CapLevelPartialSupport,
	Poll:            event.CapLevelRejected,
	Reply:           event.CapLevelPartialSupport,
	Edit:            event.CapLevelPartialSupport,
	Delete:          event.CapLevelRejected,
	Reaction:        event.CapLevelPartialSupport,
}

func (c *IRCClient) GetCapabilities(ctx context.Context, portal *bridgev2.Portal) *event.RoomFeatures {
	return roomFeatures
}
