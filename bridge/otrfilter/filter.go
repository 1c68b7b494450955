package otrfilter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge"
	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/internal/seal"
	"github.com/otrbridge/otrbridge/otr"
)

// SealPurpose is the internal/seal purpose label of OTR private keys: pass
// seal.NewKey(secret, SealPurpose) as Config.Seal.
const SealPurpose = "otrbridge otr private key"

// Clock is the filter's time source; tests replace it.
type Clock interface {
	Now() time.Time
	// NewTicker delivers ticks every d until stop is called.
	NewTicker(d time.Duration) (ticks <-chan time.Time, stop func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Config configures the filter of one login (one Matrix user on one
// network).
type Config struct {
	DB   *db.Database
	Seal *seal.Key // seal.NewKey(secret, SealPurpose)
	User id.UserID
	// Network is the configured network key.
	Network string
	// DefaultPolicy is the network's policy from the config ("never",
	// "manual", "opportunistic", "always"); empty means opportunistic.
	DefaultPolicy string
	// IsService reports nicks that never get OTR (NickServ, *Serv, ...).
	IsService func(nick string) bool
	// MaxFragmentSize caps OTR lines (the network's max_fragment_size);
	// the peer's LineBudget caps them further. 0 means 400.
	MaxFragmentSize int
	// HoldTimeout is how long a message waits for a private conversation
	// (policy always, or after a restart) before it fails; 0 means 60 s.
	HoldTimeout time.Duration
	// Resolve finds the peer link of a nick, for control-room commands
	// that name a peer. Nil: those commands fail with a clear error.
	Resolve func(ctx context.Context, nick string) (bridge.PeerLink, error)
	// Account names our side in exported libotr files (e.g. "nick@irc.libera.chat").
	Account string

	Log          zerolog.Logger
	Clock        Clock         // nil: the real clock
	TickInterval time.Duration // 0: 1 s
	Rand         io.Reader     // nil: crypto/rand
	// GenerateKey makes a new identity key; nil means otr.GenerateKey.
	// Tests inject pre-made keys.
	GenerateKey func(io.Reader) (*otr.PrivateKey, error)
	// ReplyBurst and ReplyInterval bound the automatic replies (to
	// queries, errors, AKE and SMP messages) sent to one peer: a burst of
	// ReplyBurst, then one per ReplyInterval. 0 means 10 and 6 s.
	ReplyBurst    int
	ReplyInterval time.Duration
}

// Filter implements bridge.MessageFilter with OTR. Create it with New and
// stop it with Close.
type Filter struct {
	cfg   Config
	clock Clock
	log   zerolog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	peers    map[networkid.UserID]*peer
	ident    *identity
	restarts map[string]bool // peers with a private-conversation marker from before a restart
}

var _ bridge.MessageFilter = (*Filter)(nil)

// New creates the filter and starts its clock. The identity key is loaded
// (or generated, in the background) when OTR is first needed.
func New(cfg Config) (*Filter, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("otrfilter: Config.DB is required")
	case cfg.Seal == nil:
		return nil, errors.New("otrfilter: Config.Seal is required")
	case cfg.User == "" || cfg.Network == "":
		return nil, errors.New("otrfilter: Config.User and Config.Network are required")
	}
	if cfg.DefaultPolicy == "" {
		cfg.DefaultPolicy = string(db.PolicyOpportunistic)
	}
	if _, err := otr.ParsePolicy(cfg.DefaultPolicy); err != nil {
		return nil, fmt.Errorf("otrfilter: default policy: %w", err)
	}
	if cfg.IsService == nil {
		cfg.IsService = func(nick string) bool { return strings.HasSuffix(strings.ToLower(nick), "serv") }
	}
	if cfg.MaxFragmentSize <= 0 {
		cfg.MaxFragmentSize = 400
	}
	if cfg.HoldTimeout <= 0 {
		cfg.HoldTimeout = 60 * time.Second
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = time.Second
	}
	if cfg.GenerateKey == nil {
		cfg.GenerateKey = otr.GenerateKey
	}
	if cfg.ReplyBurst <= 0 {
		cfg.ReplyBurst = 10
	}
	if cfg.ReplyInterval <= 0 {
		cfg.ReplyInterval = 6 * time.Second
	}
	f := &Filter{cfg: cfg, clock: cfg.Clock, log: cfg.Log, peers: map[networkid.UserID]*peer{}, restarts: map[string]bool{}}
	if f.clock == nil {
		f.clock = realClock{}
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	markers, err := cfg.DB.Private.List(f.ctx, cfg.User)
	if err != nil {
		f.log.Err(err).Msg("Failed to load private conversation markers")
	}
	for _, m := range markers {
		if m.Network == cfg.Network {
			f.restarts[m.Peer] = true
		}
	}
	ticks, stop := f.clock.NewTicker(cfg.TickInterval)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer stop()
		for {
			select {
			case <-f.ctx.Done():
				return
			case now := <-ticks:
				f.tick(now)
			}
		}
	}()
	return f, nil
}

// Close stops the clock and fails messages still waiting. Private
// conversations are not ended on the wire (their markers stay, so the next
// start tells the portals).
func (f *Filter) Close() {
	f.cancel()
	f.wg.Wait()
	f.mu.Lock()
	peers := make([]*peer, 0, len(f.peers))
	for _, p := range f.peers {
		peers = append(peers, p)
	}
	f.mu.Unlock()
	for _, p := range peers {
		p.mu.Lock()
		for hid, w := range p.held {
			w <- errShuttingDown
			delete(p.held, hid)
		}
		p.mu.Unlock()
	}
}

// peerKey is the peer column of the trust store: the stable peer ID, so
// trust follows the portal through nick changes.
func peerKey(link bridge.PeerLink) string { return string(link.PeerID()) }

// peer returns the state kept for link, creating it on first contact.
func (f *Filter) peer(link bridge.PeerLink) *peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.peers[link.PeerID()]
	if p == nil {
		p = newPeer(f, link)
		f.peers[link.PeerID()] = p
	}
	return p
}

// existingPeer returns the peer state if there is one.
func (f *Filter) existingPeer(uid networkid.UserID) *peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peers[uid]
}

func (f *Filter) allPeers() []*peer {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*peer, 0, len(f.peers))
	for _, p := range f.peers {
		out = append(out, p)
	}
	return out
}

// takeRestartMarker reports (once) whether the peer had a private
// conversation when the bridge last stopped.
func (f *Filter) takeRestartMarker(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.restarts[key] {
		return false
	}
	delete(f.restarts, key)
	return true
}

// bypass reports peers that never get OTR: services and channels.
func (f *Filter) bypass(nick string) bool {
	return nick == "" || strings.ContainsRune("#&!+", rune(nick[0])) || f.cfg.IsService(nick)
}

// tick runs the engines' timers: held messages expire.
func (f *Filter) tick(now time.Time) {
	for _, p := range f.allPeers() {
		p.tick(now)
	}
}

// PeerRenamed keeps the conversation: it is keyed by the peer ID.
func (f *Filter) PeerRenamed(ctx context.Context, link bridge.PeerLink, oldNick string) {
	p := f.existingPeer(link.PeerID())
	if p == nil {
		return
	}
	p.mu.Lock()
	p.link = link
	p.policyValid = false // a service nick, or no longer one
	private := p.conv != nil && p.conv.Info().State == otr.Encrypted
	p.mu.Unlock()
	if private {
		link.Notice(ctx, fmt.Sprintf("The private conversation continues with %s (same OTR session and keys).", link.Nick()))
	}
}

// Disconnected: sessions survive a lost IRC connection, as in libotr
// clients; messages still queued fail through SendLines.
func (f *Filter) Disconnected(context.Context) {}

var errShuttingDown = errors.New("not sent: the bridge is shutting down")
