package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// ircConn is the part of *ircconn.Conn the client uses (tests fake it).
type ircConn interface {
	Start()
	Disconnect(reason string)
	Reconnect()
	Close()
	Send(ctx context.Context, target string, kind ircconn.Kind, lines []string) (ircconn.Receipt, error)
	SendWith(ctx context.Context, target string, kind ircconn.Kind, lines []string, opts ircconn.SendOptions) (ircconn.Receipt, error)
	SetNick(ctx context.Context, nick string) error
	Whois(ctx context.Context, nick string) (ircconn.WhoisInfo, error)
	Raw(ctx context.Context, line string) error
	Watch(nicks ...string) error
	Unwatch(nicks ...string)
	WatchLimit() int
	State() ircconn.State
	Nick() string
	LineBudget(target string, kind ircconn.Kind) int
	Casefold(name string) string
	HasCap(name string) bool
	QueueLen() (user, automatic int)
	channelConn
}

// IRCClient is the bridgev2.NetworkAPI of one login: one IRC connection of
// one Matrix user to one configured network.
type IRCClient struct {
	ic     *IRCConnector
	login  *bridgev2.UserLogin
	meta   *LoginMetadata
	netCfg *NetworkConfig
	// otr keeps the OTR session with every peer; every message to and
	// from a peer passes through it.
	otr *otrsession.Manager
	log zerolog.Logger

	connOnce sync.Once
	connErr  error
	// conn is set once by getConn; read it with connection().
	conn atomic.Pointer[ircConn]

	mu sync.Mutex
	// aliases maps a casemapped current nick to the peer ID it belongs to
	// when that differs from the default ID (after nick changes) and caches
	// resolved defaults. Loaded from portal metadata on Connect.
	aliases map[string]networkid.UserID
	// rawUntil is when Numeric replies stop being shown (after `raw`).
	rawUntil time.Time
	// recentPeerErrors: numerics that just failed a message, by "code nick".
	recentPeerErrors map[string]time.Time
	// eventLoop measures the IRC event handler.
	eventLoop eventLoopWatch
	// watch follows DM peers' nick changes without a shared channel.
	watch *nickWatch
	// strangers decides about messages from peers without a chat.
	strangers *strangerGate
	// ghostNicks are the ghost display-name updates waiting to run off
	// the IRC reader, with each peer's latest nick.
	ghostNicks latestByPeer[string]
	// services limits the service notices shown in the control room.
	services *serviceNotices
	// renames coalesces the notices of peers' renames; portalNicks
	// writes their portals' nicks off the IRC reader.
	renames     *renameNotices
	portalNicks portalNickSaves
	// control is the queue of control-room notices.
	control controlNotices
	// loginWatcher receives the first connection result during login.
	loginWatcher chan<- ircconn.StateChanged
}

func (c *IRCClient) setLoginWatcher(ch chan<- ircconn.StateChanged) {
	c.mu.Lock()
	c.loginWatcher = ch
	c.mu.Unlock()
}

// reportLoginResult passes a state to a waiting login, without blocking.
func (c *IRCClient) reportLoginResult(e ircconn.StateChanged) {
	c.mu.Lock()
	ch := c.loginWatcher
	c.mu.Unlock()
	if ch == nil {
		return
	}
	select {
	case ch <- e:
	default:
	}
}

var (
	_ bridgev2.NetworkAPI                    = (*IRCClient)(nil)
	_ bridgev2.IdentifierResolvingNetworkAPI = (*IRCClient)(nil)
	_ bridgev2.GhostDMCreatingNetworkAPI     = (*IRCClient)(nil)
	_ bridgev2.EditHandlingNetworkAPI        = (*IRCClient)(nil)
	_ bridgev2.PollHandlingNetworkAPI        = (*IRCClient)(nil)
)

func newIRCClient(ic *IRCConnector, login *bridgev2.UserLogin, meta *LoginMetadata) (*IRCClient, error) {
	c := &IRCClient{
		ic:      ic,
		login:   login,
		meta:    meta,
		netCfg:  ic.Config.Networks[meta.Network],
		log:     login.Log.With().Str("irc_network", meta.Network).Logger(),
		aliases: make(map[string]networkid.UserID),
	}
	c.watch = newNickWatch(c)
	c.strangers = c.newStrangerGate()
	c.renames = newRenameNotices(func(uid networkid.UserID, n int, nick string) {
		safely(c.log, "rename summary", func() {
			c.otr.TellRenames(c.log.WithContext(ic.Bridge.BackgroundCtx), c.link(uid, nick), renameSummary(n, nick))
		})
	})
	c.services = newServiceNotices(c.networkName(), func(text string) {
		safely(c.log, "service notice", func() { c.managementNotice(c.log.WithContext(ic.Bridge.BackgroundCtx), text) })
	})
	otr, err := newOTRManager(c)
	if err != nil {
		return nil, err
	}
	c.otr = otr
	return c, nil
}

// getConn creates the IRC connection on first use.
func (c *IRCClient) getConn() (ircConn, error) {
	c.connOnce.Do(func() {
		if c.netCfg == nil {
			c.connErr = fmt.Errorf("network %q is no longer configured on this bridge", c.meta.Network)
			return
		}
		var conn ircConn
		conn, c.connErr = c.ic.newConn(c)
		if c.connErr == nil {
			c.conn.Store(&conn)
		}
	})
	return c.connection(), c.connErr
}

// connection returns the IRC connection, or nil before Connect.
func (c *IRCClient) connection() ircConn {
	if p := c.conn.Load(); p != nil {
		return *p
	}
	return nil
}

// dialIRC builds the real ircconn connection from the config and login.
func dialIRC(c *IRCClient) (ircConn, error) {
	n := c.netCfg
	cfg := ircconn.Config{
		Network:            c.meta.Network,
		Address:            n.Address,
		Port:               n.Port,
		PlainText:          !n.UseTLS(),
		InsecureSkipVerify: n.TLSInsecureSkipVerify,
		ServerPassword:     n.ServerPassword,
		Proxy:              n.Proxy,
		ProxyOnly:          n.ProxyOnly,
		ProxyIsolation:     string(c.login.ID),
		Nick:               c.meta.Nick,
		Username:           identFor(c.meta.Nick),
		Realname:           "otrbridge",
		Flood:              ircconn.FloodConfig{Burst: n.Flood.Burst, Rate: n.Flood.Rate},
		AutoReplies:        c.ic.Config.Limits.autoReplyConfig(),
		Logger:             c.log.With().Str("component", "ircconn").Logger(),
		Handler:            c.handleEvent,
		Channels:           ircconn.ChannelConfig{MaxChannels: c.ic.Config.Channels.MaxPerUser},
		Presence:           ircconn.PresenceConfig{MaxWatched: maxPresenceWatched},
	}
	if c.meta.ServerPassword != "" {
		password, err := c.ic.passwordKey.OpenString(c.meta.ServerPassword, serverPasswordAD(c.login.ID))
		if err != nil {
			return nil, errPasswordUnreadable
		}
		cfg.ServerPassword = password
	}
	if c.meta.Auth == authCertFP && (c.meta.ClientCert == "" || !n.UseTLS()) {
		return nil, errCertFPNeedsTLS
	}
	if c.meta.ClientCert != "" && n.UseTLS() {
		cert, err := c.ic.openClientCert(c.login.ID, c.meta.ClientCert)
		if err != nil {
			return nil, err
		}
		cfg.ClientCertificate = &cert
		cfg.SASLExternal = c.meta.Auth == authCertFP
	}
	if c.meta.Password != "" {
		password, err := c.ic.passwordKey.OpenString(c.meta.Password, string(c.login.ID))
		if err != nil {
			return nil, errPasswordUnreadable
		}
		switch c.meta.Auth {
		case authSASL:
			cfg.SASLAccount = c.meta.SASLAccount
			if cfg.SASLAccount == "" {
				cfg.SASLAccount = c.meta.Nick
			}
			cfg.SASLPassword = password
		case authNickServ:
			cfg.NickServPassword = password
		}
	}
	conn, err := ircconn.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("IRC connection settings: %w", err)
	}
	return conn, nil
}

var errCertFPNeedsTLS = errors.New("this login uses a client certificate (certfp), which needs TLS, and the network is now configured without it")

var errPasswordUnreadable = errors.New("the stored IRC password cannot be decrypted (was network.secret changed?); log in again")

// identFor derives a username (ident) from a nick: servers accept fewer
// characters there.
func identFor(nick string) string {
	var sb strings.Builder
	for i := 0; i < len(nick) && sb.Len() < 10; i++ {
		c := nick[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			sb.WriteByte(c)
		}
	}
	if sb.Len() == 0 {
		return "otrbridge"
	}
	return sb.String()
}

func (c *IRCClient) Connect(ctx context.Context) {
	if err := c.loadAliases(ctx); err != nil {
		c.log.Err(err).Msg("Failed to load renamed peers")
	}
	go c.reportInterrupted(c.log.WithContext(c.ic.Bridge.BackgroundCtx))
	conn, err := c.getConn()
	if err != nil {
		c.reportLoginResult(ircconn.StateChanged{State: ircconn.BadCredentials, Err: err})
		c.login.BridgeState.Send(status.BridgeState{
			StateEvent: status.StateBadCredentials,
			Error:      "irc-config",
			Message:    err.Error(),
		})
		return
	}
	if c.meta.Disconnected {
		c.sendDisconnectedByUser()
		return
	}
	c.watch.watchAll()
	c.login.BridgeState.Send(status.BridgeState{StateEvent: status.StateConnecting})
	conn.Start()
}

func (c *IRCClient) sendDisconnectedByUser() {
	c.login.BridgeState.Send(status.BridgeState{
		StateEvent: status.StateUnknownError,
		Error:      "irc-disconnected-by-user",
		Message:    "disconnected with the `disconnect` command; use `reconnect` to connect again",
	})
}

// Disconnect closes the connection for good: bridgev2 makes a new client
// when the login connects again.
func (c *IRCClient) Disconnect() {
	c.strangers.stop()
	c.services.stop()
	c.renames.stop()
	if conn := c.connection(); conn != nil {
		conn.Close()
	}
	c.eventLoop.flush(c.log)
	c.otr.Close()
}

// IsLoggedIn is true while the login has a connection, also during a
// reconnect: messages sent meanwhile wait in ircconn's queue and are
// delivered after the reconnect or fail with an explanation, which is
// better than bridgev2's generic "not logged in".
func (c *IRCClient) IsLoggedIn() bool {
	return c.connection() != nil
}

// LogoutRemote closes the connection (IRC has no session to invalidate)
// and says so in the login's rooms: bridgev2 deletes the login next and
// keeps its rooms (cleanup_on_logout is off), and drops whatever is sent
// there afterwards without a word (its error notices are off).
func (c *IRCClient) LogoutRemote(ctx context.Context) {
	c.Disconnect()
	c.tellRoomsLoggedOut(ctx)
}

// tellRoomsLoggedOut leaves a notice in every room of the login.
func (c *IRCClient) tellRoomsLoggedOut(ctx context.Context) {
	ups, err := c.ic.Bridge.DB.UserPortal.GetAllForLogin(ctx, c.login.UserLogin)
	if err != nil {
		c.log.Err(err).Msg("Failed to list the rooms of a login that logs out")
		return
	}
	text := fmt.Sprintf("You are no longer logged in to %s as %s: this chat no longer reaches IRC, and what you send here goes nowhere. "+
		"`login` in the control room logs in again.", c.networkName(), c.ownNick())
	for _, up := range ups {
		if portal, err := c.ic.Bridge.GetExistingPortalByKey(ctx, up.Portal); err == nil {
			c.sendNotice(ctx, portal, text)
		}
	}
}

func (c *IRCClient) IsThisUser(ctx context.Context, uid networkid.UserID) bool {
	network, folded, ok := parseUserID(uid)
	return ok && network == c.meta.Network && folded == c.fold(c.ownNick())
}

func (c *IRCClient) ownNick() string {
	if conn := c.connection(); conn != nil {
		if n := conn.Nick(); n != "" {
			return n
		}
	}
	return c.meta.Nick
}

// fold casemaps a nick with the server's CASEMAPPING (RFC 1459 before the
// server told us).
func (c *IRCClient) fold(nick string) string {
	if conn := c.connection(); conn != nil {
		return conn.Casefold(nick)
	}
	return ircconn.RFC1459.Fold(nick)
}

// loadAliases remembers the current nicks of renamed peers from the portal
// metadata, so that their messages keep arriving in the same portal after a
// restart.
func (c *IRCClient) loadAliases(ctx context.Context) error {
	ups, err := c.ic.Bridge.DB.UserPortal.GetAllForLogin(ctx, c.login.UserLogin)
	if err != nil {
		return err
	}
	for _, up := range ups {
		if up.Portal.Receiver != c.login.ID {
			continue
		}
		portal, err := c.ic.Bridge.GetExistingPortalByKey(ctx, up.Portal)
		if err != nil || portal == nil {
			continue
		}
		meta, _ := portal.Metadata.(*PortalMetadata)
		_, folded, ok := parseUserID(networkid.UserID(portal.ID))
		if !ok || meta == nil {
			continue
		}
		nick, userHost := meta.peer()
		if nick == "" {
			continue
		}
		c.watch.known(networkid.UserID(portal.ID), nick, userHost)
		if cur := c.fold(nick); cur != folded || strings.Count(string(portal.ID), ".") == 2 {
			c.mu.Lock()
			c.aliases[cur] = networkid.UserID(portal.ID)
			c.mu.Unlock()
		}
	}
	return nil
}

// maxNickReuse bounds how many different people may have used one nick
// with this login (each gets its own portal: libera.bob, libera.bob.2, ...).
const maxNickReuse = 20

// peerID finds the stable peer ID for a nick as it is now: a renamed peer
// keeps its original ID; a nick taken over by someone else after its first
// owner renamed gets the next free suffix.
func (c *IRCClient) peerID(ctx context.Context, nick string) (networkid.UserID, error) {
	return c.lookupPeerID(ctx, nick, true)
}

// lookupPeerID resolves a nick; with remember false it does not cache the
// result (used for events about nicks that may never get a portal, so the
// cache does not grow with every nick seen in a channel).
func (c *IRCClient) lookupPeerID(ctx context.Context, nick string, remember bool) (networkid.UserID, error) {
	folded := c.fold(nick)
	c.mu.Lock()
	uid, ok := c.aliases[folded]
	c.mu.Unlock()
	if ok {
		return uid, nil
	}
	for n := 1; n <= maxNickReuse; n++ {
		uid = makeUserID(c.meta.Network, folded, n)
		portal, err := c.ic.Bridge.GetExistingPortalByKey(ctx, portalKeyFor(uid, c.login.ID))
		if err != nil {
			return "", fmt.Errorf("looking up the portal of %s: %w", nick, err)
		}
		if portal != nil {
			if current := portalNick(portal); current != "" && c.fold(current) != folded {
				continue // that portal's peer now has another nick
			}
		}
		if remember {
			c.rememberPeer(nick, uid)
		}
		return uid, nil
	}
	return "", fmt.Errorf("nick %s has been used by more than %d different peers", nick, maxNickReuse)
}

// hasAlias reports whether a casemapped nick is in the aliases: a peer
// with a chat uses it now.
func (c *IRCClient) hasAlias(folded string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.aliases[folded]
	return ok
}

// maxCachedPeers bounds the aliases map: beyond it the entries that
// lookupPeerID can work out again (a nick's own peer ID) are dropped; the
// aliases of renamed peers stay, there is one per renamed portal.
const maxCachedPeers = 4096

// rememberPeer caches the peer ID of a nick that has a chat.
func (c *IRCClient) rememberPeer(nick string, uid networkid.UserID) {
	folded := c.fold(nick)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aliases[folded] == uid {
		return
	}
	if len(c.aliases) >= maxCachedPeers {
		for key, id := range c.aliases {
			if _, own, ok := parseUserID(id); ok && own == key {
				delete(c.aliases, key)
			}
		}
	}
	c.aliases[folded] = uid
}

// peerRenamed moves the alias of a peer from its old to its new nick.
func (c *IRCClient) peerRenamed(oldNick, newNick string, uid networkid.UserID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.aliases, c.fold(oldNick))
	c.aliases[c.fold(newNick)] = uid
}

// existingPortal returns the DM portal room of a nick only if it already
// exists (for notices, which must not create rooms).
func (c *IRCClient) existingPortal(ctx context.Context, nick string) (*bridgev2.Portal, networkid.UserID) {
	uid, err := c.lookupPeerID(ctx, nick, false)
	if err != nil {
		return nil, ""
	}
	portal, err := c.ic.Bridge.GetExistingPortalByKey(ctx, portalKeyFor(uid, c.login.ID))
	if err != nil || portal == nil || portal.MXID == "" {
		return nil, uid
	}
	return portal, uid
}

// lineBudget is the number of text bytes that fit in one line to target.
func (c *IRCClient) lineBudget(target string, kind ircconn.Kind) int {
	budget := 0
	if conn := c.connection(); conn != nil {
		budget = conn.LineBudget(target, kind)
	}
	if budget <= 0 {
		// No connection yet: our ident as the server would show it
		// without identd, and the longest host.
		budget = ircconn.TextBudget(c.ownNick(), "~"+identFor(c.meta.Nick), "", target, kind)
	}
	if c.netCfg != nil && c.netCfg.MaxLineBytes > 0 && c.netCfg.MaxLineBytes < budget {
		budget = c.netCfg.MaxLineBytes
	}
	return budget
}

// peerLink is the otrsession.PeerLink of one peer of this client.
type peerLink struct {
	c    *IRCClient
	id   networkid.UserID
	nick string
	// userHost is "user@host" of the message being delivered, if any.
	userHost string
}

func (c *IRCClient) link(uid networkid.UserID, nick string) *peerLink {
	return &peerLink{c: c, id: uid, nick: nick}
}

func (p *peerLink) PeerID() networkid.UserID { return p.id }
func (p *peerLink) Nick() string             { return p.nick }
func (p *peerLink) LineBudget(kind ircconn.Kind) int {
	return p.c.lineBudget(p.nick, kind)
}

func (p *peerLink) SendLines(ctx context.Context, kind ircconn.Kind, lines []string) error {
	return p.send(ctx, kind, lines, ircconn.SendOptions{})
}

// SendReply sends an automatic OTR reply in ircconn's automatic class:
// behind the user's messages, within network.limits.auto_replies.
func (p *peerLink) SendReply(ctx context.Context, lines []string) error {
	return p.send(ctx, ircconn.Privmsg, lines, ircconn.SendOptions{Automatic: true})
}

func (p *peerLink) send(ctx context.Context, kind ircconn.Kind, lines []string, opts ircconn.SendOptions) error {
	conn, err := p.c.getConn()
	if err != nil {
		return err
	}
	if p.c.meta.Disconnected {
		return errUserDisconnected
	}
	if _, err = conn.SendWith(ctx, p.nick, kind, lines, opts); err != nil {
		return err
	}
	p.c.watch.sent(p.id, p.nick)
	return nil
}

func (p *peerLink) Deliver(ctx context.Context, msg otrsession.IncomingText) {
	p.c.queueIncoming(ctx, p, msg)
}

func (p *peerLink) Notice(ctx context.Context, text string) {
	p.c.portalNotice(ctx, p, text)
}

func (p *peerLink) Unconfirmed(ctx context.Context, events []id.EventID) {
	p.c.markMessages(ctx, p, unreadMark, events...)
}

func (p *peerLink) MarkUnencrypted(ctx context.Context, evt id.EventID) {
	p.c.markUnencrypted(ctx, p, evt)
}

func (p *peerLink) ShowState(ctx context.Context, s otrsession.State) {
	p.c.watch.conversation(p.id, s != otrsession.StatePlaintext)
	p.c.showOTRState(ctx, p, s)
}

var errUserDisconnected = errors.New("you disconnected from this network with `disconnect`; use `reconnect` first")

// forgetNick drops a cached nick (its owner renamed and has no portal).
func (c *IRCClient) forgetNick(nick string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.aliases, c.fold(nick))
}
