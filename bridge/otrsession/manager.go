package otrsession

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/internal/seal"
	"github.com/otrbridge/otrbridge/otr"
)

// SealPurpose is the internal/seal purpose label of OTR private keys: pass
// seal.NewKey(secret, SealPurpose) as Config.Seal.
const SealPurpose = "otrbridge otr private key"

// Config configures the session manager of one login (one Matrix user on one
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
	// IsService reports nicks on the configured services list (exact
	// names, no patterns). They get no OTR, unless the user already has
	// OTR with the peer (see peer.isExempt). Nil: no services.
	IsService func(nick string) bool
	// MaxFragmentSize caps OTR lines (the network's max_fragment_size);
	// the peer's LineBudget caps them further. 0 means 400.
	MaxFragmentSize int
	// HoldTimeout is how long a message waits for a private conversation
	// (policy always, or after a restart) before it fails; 0 means 60 s.
	HoldTimeout time.Duration
	// Resolve finds the peer link of a nick, for control-room commands
	// that name a peer. Nil: those commands fail with a clear error.
	Resolve func(ctx context.Context, nick string) (PeerLink, error)
	// Account names our side in exported libotr files (e.g. "nick@irc.libera.chat").
	Account string

	Log  zerolog.Logger
	Rand io.Reader // nil: crypto/rand
	// GenerateKey makes a new identity key; nil means otr.GenerateKey.
	// Tests inject pre-made keys.
	GenerateKey func(io.Reader) (*otr.PrivateKey, error)
	// ReplyBurst and ReplyInterval bound the automatic replies (to
	// queries, errors, AKE and SMP messages) sent to one peer: a burst of
	// ReplyBurst, then one per ReplyInterval. 0 means 10 and 6 s.
	ReplyBurst    int
	ReplyInterval time.Duration
	// OnEvent, when set, is told the name of each OTR event the manager
	// logs ("secure", "ended_by_peer", "smp_succeeded", ...; see
	// logEvent) and, for "secure", whether it was a refresh (for metrics).
	// It must not block.
	OnEvent func(name string, refreshed bool)
}

// Manager keeps the OTR sessions of one login: one otr.Conversation per
// peer, the identity key, trust and policies. Create it with New and stop
// it with Close.
type Manager struct {
	cfg Config
	log zerolog.Logger

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// effectBytes is what the effects of all peers waiting for the Matrix
	// side hold; runners counts the peers whose queue runs.
	effectBytes       atomic.Int64
	runners           runners
	peerEffectBudget  int
	loginEffectBudget int64
	// fragments caps the memory incomplete incoming messages hold over
	// all peers of the login.
	fragments *otr.FragmentBudget

	// tickTimer runs the timers (armTick): every tickInterval while a
	// conversation waits for them, every evictEvery while the login has
	// peers, not at all otherwise; tickDue is when it fires.
	tickMu    sync.Mutex
	tickTimer *time.Timer
	tickDue   time.Time

	mu    sync.Mutex
	peers map[networkid.UserID]*peer
	// evictedAt is when idle peers were last looked for (idle.go).
	evictedAt time.Time
	ident     *identity
	restarts  map[string]bool // peers with a private-conversation marker from before a restart
}

// fragmentBudget is what incomplete incoming messages may hold over all
// peers of one login: room for about ten of the largest messages a Matrix
// event can carry (64 KiB, some 90 KiB as OTR) arriving at once. Each
// conversation holds at most 256 KiB on its own (the engine's cap), so a
// few peers sending fragments without end cannot together hold more than
// this; the engine drops their oldest incomplete messages first.
const fragmentBudget = 1 << 20

// New creates the manager. The identity key is loaded
// (or generated, in the background) when OTR is first needed.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("otrsession: Config.DB is required")
	case cfg.Seal == nil:
		return nil, errors.New("otrsession: Config.Seal is required")
	case cfg.User == "" || cfg.Network == "":
		return nil, errors.New("otrsession: Config.User and Config.Network are required")
	}
	if cfg.DefaultPolicy == "" {
		cfg.DefaultPolicy = string(db.PolicyOpportunistic)
	}
	if _, err := otr.ParsePolicy(cfg.DefaultPolicy); err != nil {
		return nil, fmt.Errorf("otrsession: default policy: %w", err)
	}
	if cfg.IsService == nil {
		cfg.IsService = func(string) bool { return false }
	}
	if cfg.MaxFragmentSize <= 0 {
		cfg.MaxFragmentSize = 400
	}
	if cfg.HoldTimeout <= 0 {
		cfg.HoldTimeout = 60 * time.Second
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
	m := &Manager{cfg: cfg, log: cfg.Log, peers: map[networkid.UserID]*peer{}, restarts: map[string]bool{},
		peerEffectBudget: peerEffectBudget, loginEffectBudget: loginEffectBudget,
		fragments: otr.NewFragmentBudget(fragmentBudget)}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	markers, err := cfg.DB.Private.List(m.ctx, cfg.User)
	if err != nil {
		m.log.Err(err).Msg("Failed to load private conversation markers")
	}
	for _, mk := range markers {
		if mk.Network == cfg.Network {
			m.restarts[mk.Peer] = true
		}
	}
	return m, nil
}

// Close stops the timers, fails messages still waiting and lets the
// effects already queued reach the Matrix side (for at most
// closeDrainTimeout). Private conversations are not ended on the wire
// (their markers stay, so the next start tells the portals).
func (m *Manager) Close() {
	m.cancel()
	m.tickMu.Lock()
	if m.tickTimer != nil {
		m.tickTimer.Stop()
		m.tickTimer = nil
	}
	m.tickMu.Unlock()
	m.wg.Wait()
	m.mu.Lock()
	peers := make([]*peer, 0, len(m.peers))
	for _, p := range m.peers {
		peers = append(peers, p)
	}
	m.mu.Unlock()
	for _, p := range peers {
		p.mu.Lock()
		for hid, w := range p.held {
			w <- errShuttingDown
			delete(p.held, hid)
		}
		p.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeDrainTimeout)
	defer cancel()
	if err := m.waitEffects(ctx); err != nil {
		m.log.Warn().Int64("queued_bytes", m.effectBytes.Load()).Msg("Closing with notices or messages for Matrix still queued: the homeserver does not answer")
	}
}

// peerKey is the peer column of the trust store: the stable peer ID, so
// trust follows the portal through nick changes.
func peerKey(link PeerLink) string { return string(link.PeerID()) }

// peer returns the state kept for link, creating it on first contact.
func (m *Manager) peer(link PeerLink) *peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[link.PeerID()]
	if p == nil {
		p = newPeer(m, link)
		m.peers[link.PeerID()] = p
		m.armTick(evictEvery) // to forget it when idle
	}
	p.lastUsed = time.Now()
	return p
}

// existingPeer returns the peer state if there is one.
func (m *Manager) existingPeer(uid networkid.UserID) *peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.peers[uid]
	if p != nil {
		p.lastUsed = time.Now()
	}
	return p
}

func (m *Manager) allPeers() []*peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*peer, 0, len(m.peers))
	for _, p := range m.peers {
		out = append(out, p)
	}
	return out
}

// takeRestartMarker reports (once) whether the peer had a private
// conversation when the bridge last stopped.
func (m *Manager) takeRestartMarker(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.restarts[key] {
		return false
	}
	delete(m.restarts, key)
	return true
}

// tickInterval is how often the engines' timers run while a conversation
// waits for them.
const tickInterval = time.Second

// armTick makes the timers run within d, unless they are due sooner: a
// conversation with held or incomplete messages asks for tickInterval
// (settle), a login with peers for evictEvery. No goroutine waits for
// them.
func (m *Manager) armTick(d time.Duration) {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	if m.ctx.Err() != nil {
		return
	}
	due := time.Now().Add(d)
	if m.tickTimer != nil {
		if !due.Before(m.tickDue) {
			return
		}
		m.tickTimer.Stop()
	}
	m.tickDue, m.tickTimer = due, time.AfterFunc(d, m.tick)
}

// tick runs the engines' timers (held and incomplete messages expire, noise
// is summed up) and forgets idle peers; peers still waiting arm the next
// tick, and so does a login with peers.
func (m *Manager) tick() {
	m.tickMu.Lock()
	m.tickTimer = nil
	m.tickMu.Unlock()
	now := time.Now()
	for _, p := range m.allPeers() {
		p.tick(now)
	}
	m.evictIdle(now)
	m.mu.Lock()
	havePeers := len(m.peers) > 0
	m.mu.Unlock()
	if havePeers {
		m.armTick(evictEvery)
	}
}

// PeerRenamed keeps the conversation (it is keyed by the peer ID) and
// shows notice, unless it is empty, saying also whether the private
// conversation continues: the caller decides which renames get a notice
// (a peer can rename as fast as the server lets it).
func (m *Manager) PeerRenamed(ctx context.Context, link PeerLink, notice string) {
	p := m.existingPeer(link.PeerID())
	if p == nil {
		if notice != "" {
			m.Tell(ctx, link, notice)
		}
		return
	}
	p.mu.Lock()
	p.link = link
	p.policyValid = false // a service nick, or no longer one
	var fx []effect
	if notice != "" {
		fx = append(fx, noticeTo(link, p.renameNotice(notice, link.Nick())))
	}
	p.releaseReceived(ctx, fx)
}

// TellRenames shows notice about renames that were not shown one by one
// (see PeerRenamed), saying also whether the private conversation
// continues with link's nick. It leaves the peer's link alone: a newer
// rename may have moved it meanwhile.
func (m *Manager) TellRenames(ctx context.Context, link PeerLink, notice string) {
	p := m.peer(link)
	p.mu.Lock()
	p.releaseReceived(ctx, []effect{noticeTo(link, p.renameNotice(notice, link.Nick()))})
}

// renameNotice is notice with, in a private conversation, the sentence
// that it continues with nick. Called with mu held.
func (p *peer) renameNotice(notice, nick string) string {
	if p.conv != nil && p.conv.Info().State == otr.Encrypted {
		notice += fmt.Sprintf(" The private conversation continues with %s (same OTR session and keys).", nick)
	}
	return notice
}

// Tell shows a notice about the peer in its portal (creating it if
// needed), in order with the peer's messages and the other notices: for
// what the connector learns about the peer from IRC (a QUIT, a numeric, a
// nick change). A peer can provoke those, so they are bounded like the
// peer's messages.
func (m *Manager) Tell(ctx context.Context, link PeerLink, text string) {
	p := m.peer(link)
	p.mu.Lock()
	p.releaseReceived(ctx, []effect{noticeTo(link, text)})
}

var errShuttingDown = errors.New("not sent: the bridge is shutting down")
