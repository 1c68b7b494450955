package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
	"github.com/otrbridge/otrbridge/bridge/ircfmt"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/internal/seal"
)

// Joining and parting, and the stored channel list that a reconnect or a
// restart rejoins. ircconn validates names and keys before anything goes on
// the wire; the per-login limit is checked here, against the stored list
// and the joins under way.

// sealPurposeChannelKey labels the key that encrypts channel keys at rest.
const sealPurposeChannelKey = "otrbridge channel key v1"

var (
	errNotConnected = errors.New("not connected to IRC right now; try again once the connection is back (`status`)")
)

// channelLimitError says a login is in as many channels as it may be.
type channelLimitError struct{ limit int }

func (e channelLimitError) Error() string {
	return fmt.Sprintf("you are in %d channels on this network, the most this bridge allows (network.channels.max_per_user); part one first", e.limit)
}

// channelKeys seals channel keys with a key derived from network.secret.
type channelKeys struct {
	once sync.Once
	key  *seal.Key
	err  error
}

func (k *channelKeys) get(secret string) (*seal.Key, error) {
	k.once.Do(func() { k.key, k.err = seal.NewKey(secret, sealPurposeChannelKey) })
	return k.key, k.err
}

// channelKeyAD binds a sealed channel key to its row.
func channelKeyAD(user, network, folded string) []byte {
	return []byte(user + "\x00" + network + "\x00" + folded)
}

func (c *IRCClient) sealChannelKey(folded, key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	k, err := c.ic.channels.keys.get(c.ic.Config.Secret)
	if err != nil {
		return nil, err
	}
	return k.Seal([]byte(key), channelKeyAD(string(c.login.UserMXID), c.meta.Network, folded)), nil
}

func (c *IRCClient) openChannelKey(ch *db.Channel) (string, error) {
	if ch.SealedKey == nil {
		return "", nil
	}
	k, err := c.ic.channels.keys.get(c.ic.Config.Secret)
	if err != nil {
		return "", err
	}
	key, err := k.Open(ch.SealedKey, channelKeyAD(string(ch.User), ch.Network, ch.Channel))
	return string(key), err
}

// joinChannel joins a channel for the user and stores it for the rejoin.
// The room follows when the server confirms and sends the member list.
func (c *IRCClient) joinChannel(ctx context.Context, name, key string) error {
	conn, err := c.getConn()
	if err != nil {
		return err
	}
	if c.meta.Disconnected {
		return errUserDisconnected
	}
	if conn.State() != ircconn.Connected {
		return errNotConnected
	}
	is := conn.ISupport()
	folded := is.Casemapping.Fold(name)
	known, release, err := c.reserveChannel(ctx, folded)
	if err != nil {
		return err
	}
	defer release()
	// Joining again without a key (accepting the room's invite, say) uses
	// and keeps the key stored before.
	var sealed []byte
	if key == "" && known != nil {
		if key, err = c.openChannelKey(known); err != nil {
			return err
		}
		sealed = known.SealedKey
	}
	if err := conn.Join(ctx, name, key); err != nil {
		return err
	}
	if ch, ok := conn.Channel(name); ok {
		name = ch.Name
	}
	if sealed == nil {
		if sealed, err = c.sealChannelKey(folded, key); err != nil {
			return err
		}
	}
	return c.ic.DB.Channels.Put(ctx, &db.Channel{
		User: c.login.UserMXID, Network: c.meta.Network, Channel: folded, Name: name, SealedKey: sealed, AddedAt: time.Now(),
	})
}

// channelReservations are the channels logins are joining right now. The
// stored list has a channel only once the server confirmed the JOIN, so
// joins at the same time, each checked against the list alone, could
// together pass the per-login limit.
type channelReservations struct {
	mu sync.Mutex
	// joining maps a user and network to the casemapped channels being
	// joined and how many joins of each are under way.
	joining map[string]map[string]int
}

// reserveChannel checks the per-login limit against the stored channels
// and the joins under way, and counts folded as being joined until release
// is called. known is the stored row of folded, if any.
func (c *IRCClient) reserveChannel(ctx context.Context, folded string) (known *db.Channel, release func(), err error) {
	res := &c.ic.channels.joins
	res.mu.Lock()
	defer res.mu.Unlock()
	stored, err := c.ic.DB.Channels.List(ctx, c.login.UserMXID, c.meta.Network)
	if err != nil {
		return nil, nil, err
	}
	isStored := make(map[string]bool, len(stored))
	for _, ch := range stored {
		isStored[ch.Channel] = true
		if ch.Channel == folded {
			known = ch
		}
	}
	owner := string(c.login.UserMXID) + "\x00" + c.meta.Network
	if res.joining == nil {
		res.joining = make(map[string]map[string]int)
	}
	joining := res.joining[owner]
	count := len(stored)
	for ch := range joining {
		if !isStored[ch] {
			count++
		}
	}
	if limit := c.ic.Config.Channels.MaxPerUser; known == nil && joining[folded] == 0 && count >= limit {
		return nil, nil, channelLimitError{limit}
	}
	if joining == nil {
		joining = make(map[string]int)
		res.joining[owner] = joining
	}
	joining[folded]++
	return known, func() {
		res.mu.Lock()
		defer res.mu.Unlock()
		if joining[folded]--; joining[folded] == 0 {
			delete(joining, folded)
		}
		if len(joining) == 0 {
			delete(res.joining, owner)
		}
	}, nil
}

// partChannel leaves a channel for the user and forgets it. Without a
// connection it is only forgotten (and not rejoined).
func (c *IRCClient) partChannel(ctx context.Context, name, reason string) error {
	folded := c.fold(name)
	if _, err := c.ic.DB.Channels.Remove(ctx, c.login.UserMXID, c.meta.Network, folded); err != nil {
		return err
	}
	conn := c.connection()
	if conn != nil && conn.State() == ircconn.Connected {
		if _, in := conn.Channel(name); in {
			return conn.Part(ctx, name, reason)
		}
	}
	if r := c.memberRoom(name); r != nil {
		obs, changed := r.removeMember(c)
		r.enqueue(c, "self part", func(ctx context.Context) { r.leftRoom(ctx, c, "") })
		if changed && obs != nil {
			r.enqueue(obs, "resync", func(ctx context.Context) { r.resync(ctx, obs) })
		}
	}
	return nil
}

// forgetChannel drops a channel c's connection left (a PART, also one the
// server forced, or a KICK) from the stored list.
func (c *IRCClient) forgetChannel(ctx context.Context, r *channelRoom) {
	zerolog.Ctx(ctx).Debug().Msg("Forgetting a channel the connection left")
	if _, err := c.ic.DB.Channels.Remove(ctx, c.login.UserMXID, c.meta.Network, r.folded); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to forget a channel")
	}
}

// storeChannelKey keeps a channel's new key (+k) for the rejoin.
func (c *IRCClient) storeChannelKey(ctx context.Context, r *channelRoom, key string) {
	stored, err := c.ic.DB.Channels.List(ctx, c.login.UserMXID, c.meta.Network)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to read the stored channels")
		return
	}
	for _, ch := range stored {
		if ch.Channel != r.folded {
			continue
		}
		if ch.SealedKey, err = c.sealChannelKey(r.folded, key); err != nil {
			zerolog.Ctx(ctx).Err(err).Msg("Failed to seal a channel key")
			return
		}
		if err := c.ic.DB.Channels.Put(ctx, ch); err != nil {
			zerolog.Ctx(ctx).Err(err).Msg("Failed to store a channel key")
		}
	}
}

// rejoinChannels joins the stored channels after a registration, in as few
// JOIN lines as fit, and tells the user which the server refused.
func (c *IRCClient) rejoinChannels(ctx context.Context) {
	conn := c.connection()
	if conn == nil {
		return
	}
	stored, err := c.ic.DB.Channels.List(ctx, c.login.UserMXID, c.meta.Network)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to read the channels to rejoin")
		return
	}
	zerolog.Ctx(ctx).Debug().Int("channels", len(stored)).Msg("Rejoining channels")
	var problems []string
	limit := c.ic.Config.Channels.MaxPerUser
	if len(stored) > limit {
		for _, ch := range stored[limit:] {
			problems = append(problems, fmt.Sprintf("%s (over the limit of %d channels)", ch.Name, limit))
		}
		stored = stored[:limit]
	}
	chans := make([]ircconn.ChannelKey, 0, len(stored))
	for _, ch := range stored {
		key, err := c.openChannelKey(ch)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s (its stored key cannot be decrypted: was network.secret changed?)", ch.Name))
			continue
		}
		chans = append(chans, ircconn.ChannelKey{Channel: ch.Name, Key: key})
	}
	if len(chans) > 0 {
		ctx, cancel := context.WithTimeout(ctx, 2*commandTimeout)
		results, err := conn.JoinAll(ctx, chans)
		cancel()
		if err != nil {
			zerolog.Ctx(ctx).Err(err).Msg("Failed to rejoin channels")
			problems = append(problems, fmt.Sprintf("the channels (%v)", err))
		}
		for i, err := range results {
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s (%s)", chans[i].Channel, channelErrorText(err)))
			}
		}
	}
	if len(problems) > 0 {
		c.managementNotice(ctx, fmt.Sprintf("Could not rejoin on %s: %s. They stay on your list; `part <channel>` removes one.",
			c.networkName(), strings.Join(problems, "; ")))
	}
}

// channelErrorText explains why the server refused a channel command.
func channelErrorText(err error) string {
	var pe *ircconn.PeerError
	if !errors.As(err, &pe) {
		// ircconn's validation errors name the problem after its prefix
		// ("channel 1: ircconn: invalid channel name: ...").
		msg := err.Error()
		if i := strings.LastIndex(msg, "ircconn: "); i >= 0 {
			msg = msg[i+len("ircconn: "):]
		}
		return msg
	}
	why := map[string]string{
		"403": "no such channel",
		"405": "you are in too many channels",
		"437": "the channel is temporarily unavailable",
		"471": "the channel is full (+l)",
		"473": "the channel is invite only (+i)",
		"474": "you are banned (+b)",
		"475": "wrong or missing key (+k)",
		"477": "you need to be logged in to an account",
		"482": "you are not a channel operator",
		"442": "you are not in the channel",
		"441": "they are not in the channel",
	}[pe.Code]
	if why == "" {
		why = ircfmt.Strip(pe.Text)
	}
	return fmt.Sprintf("%s: %s", pe.Code, why)
}

// inviteLimiter bounds the invite notices a login gets: anyone can send
// INVITEs. Those beyond the budget are counted and the next notice says
// how many there were.
type inviteLimiter struct {
	mu  sync.Mutex
	per map[string]*inviteBudget
}

type inviteBudget struct {
	lim    *rate.Limiter
	missed int
}

// inviteNotice reports whether c may get another invite notice now and,
// if so, how many invites went unmentioned since the last one.
func (h *channelHub) inviteNotice(c *IRCClient) (ok bool, missed int) {
	h.invites.mu.Lock()
	defer h.invites.mu.Unlock()
	if h.invites.per == nil {
		h.invites.per = make(map[string]*inviteBudget)
	}
	b := h.invites.per[string(c.login.ID)]
	if b == nil {
		b = &inviteBudget{lim: rate.NewLimiter(rate.Every(inviteNoticeEvery), 3)}
		h.invites.per[string(c.login.ID)] = b
	}
	if !b.lim.Allow() {
		b.missed++
		return false, 0
	}
	missed, b.missed = b.missed, 0
	return true, missed
}

// channelConn is the part of *ircconn.Conn that channel rooms use.
type channelConn interface {
	IsChannel(target string) bool
	ISupport() ircconn.ISupport
	Channel(name string) (ircconn.Channel, bool)
	Member(channel, nick string) (ircconn.Member, bool)
	Join(ctx context.Context, channel, key string) error
	JoinAll(ctx context.Context, chans []ircconn.ChannelKey) ([]error, error)
	Part(ctx context.Context, channel, reason string) error
	Topic(ctx context.Context, channel, topic string) error
	Kick(ctx context.Context, channel, nick, reason string) error
	Invite(ctx context.Context, nick, channel string) error
	Mode(ctx context.Context, channel string, changes ...ircconn.ModeChange) error
	RefreshModes(ctx context.Context, channel string) error
}
