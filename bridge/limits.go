package bridge

import (
	"fmt"
	"time"

	up "go.mau.fi/util/configupgrade"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

// LimitsConfig is `network.limits`: what people on IRC can make the bridge
// spend for one login (one Matrix user on one network). Anyone on IRC can
// message a user, and every new person costs a room, a ghost, an invite
// and an OTR conversation; every OTR message a peer sends can make the
// bridge answer. Zero values take the defaults.
type LimitsConfig struct {
	// NewPeers people who never talked to the user before get a chat per
	// NewPeersWindow (a burst of NewPeers, then one every window/NewPeers);
	// messages from more are dropped and summarised in the control room.
	// Defaults 10 and 1h.
	NewPeers       int    `yaml:"new_peers"`
	NewPeersWindow string `yaml:"new_peers_window"`
	// MessageRequests: a new person's messages wait as a request in the
	// control room until the user accepts (`accept <nick>`) or declines
	// them, instead of opening a chat at once.
	MessageRequests bool `yaml:"message_requests"`
	// RequestExpiry is how long a message request waits for the user,
	// counted from its first message; then it is dropped, so that junk
	// requests do not fill the list for good. Default 24h.
	RequestExpiry string `yaml:"request_expiry"`
	// AutoReplies bounds the OTR messages the bridge sends by itself (key
	// exchanges, answers to queries, errors and SMP messages) on one
	// connection: a burst, then a rate per second; beyond it they are
	// dropped. The user's own messages always go first and are never
	// dropped. Defaults 20 and 0.5.
	AutoReplies AutoReplyLimits `yaml:"auto_replies"`

	newPeersWindow time.Duration
	requestExpiry  time.Duration
}

// AutoReplyLimits is a token bucket of automatic messages.
type AutoReplyLimits struct {
	Burst int     `yaml:"burst"`
	Rate  float64 `yaml:"rate"`
}

// autoReplyConfig is the connection's budget for automatic messages
// (zero values: ircconn's defaults).
func (l *LimitsConfig) autoReplyConfig() ircconn.AutoReplyConfig {
	return ircconn.AutoReplyConfig{Burst: l.AutoReplies.Burst, Rate: l.AutoReplies.Rate}
}

const (
	defaultNewPeers       = 10
	defaultNewPeersWindow = time.Hour
	defaultRequestExpiry  = 24 * time.Hour
)

// RequestLifetime returns how long a message request waits (valid after
// Validate).
func (l *LimitsConfig) RequestLifetime() time.Duration {
	if l.requestExpiry <= 0 {
		return defaultRequestExpiry
	}
	return l.requestExpiry
}

// NewPeerBudget returns how many new peers get a chat per window (valid
// after Validate).
func (l *LimitsConfig) NewPeerBudget() (int, time.Duration) {
	n, w := l.NewPeers, l.newPeersWindow
	if n <= 0 {
		n = defaultNewPeers
	}
	if w <= 0 {
		w = defaultNewPeersWindow
	}
	return n, w
}

// validate checks the section; it is part of Config.Validate.
func (l *LimitsConfig) validate() error {
	if l.NewPeers < 0 || l.NewPeers > 10000 {
		return fmt.Errorf("network.limits.new_peers: %d must be between 0 (default %d) and 10000", l.NewPeers, defaultNewPeers)
	}
	l.newPeersWindow = 0
	if l.NewPeersWindow != "" {
		d, err := time.ParseDuration(l.NewPeersWindow)
		if err != nil || d < time.Minute || d > 7*24*time.Hour {
			return fmt.Errorf("network.limits.new_peers_window: %q must be a duration between 1m and 168h, e.g. 1h", l.NewPeersWindow)
		}
		l.newPeersWindow = d
	}
	l.requestExpiry = 0
	if l.RequestExpiry != "" {
		d, err := time.ParseDuration(l.RequestExpiry)
		if err != nil || d < time.Minute || d > 30*24*time.Hour {
			return fmt.Errorf("network.limits.request_expiry: %q must be a duration between 1m and 720h, e.g. 24h", l.RequestExpiry)
		}
		l.requestExpiry = d
	}
	if l.AutoReplies.Burst < 0 || l.AutoReplies.Rate < 0 {
		return fmt.Errorf("network.limits.auto_replies: burst and rate must not be negative")
	}
	return nil
}

// upgradeLimits copies the user's `limits:` over the example.
func upgradeLimits(helper up.Helper) {
	helper.Copy(up.Int, "limits", "new_peers")
	helper.Copy(up.Str, "limits", "new_peers_window")
	helper.Copy(up.Bool, "limits", "message_requests")
	helper.Copy(up.Str, "limits", "request_expiry")
	helper.Copy(up.Int, "limits", "auto_replies", "burst")
	helper.Copy(up.Int|up.Float, "limits", "auto_replies", "rate")
}

// exampleLimits is the `limits:` part of ExampleConfig.
const exampleLimits = `# What people on IRC can make the bridge spend, per login (one Matrix user on one network).
limits:
    # People who never wrote to you before get a chat (a room, an invite) at most new_peers per
    # new_peers_window; messages from more are not delivered and are summarised in the control room
    # ("12 more people tried to message you; pm <nick> to answer").
    new_peers: 10
    new_peers_window: 1h
    # true: a new person's messages wait as a request in the control room until you
    # "accept <nick>" (or "decline <nick>") instead of opening a chat at once.
    message_requests: false
    # How long a message request waits for you (from its first message); then it is dropped.
    request_expiry: 24h
    # OTR messages the bridge sends by itself (key exchanges, answers to queries and errors),
    # which anyone can provoke, per connection: a burst, then per second; more are dropped.
    # Your own messages always go first and are never dropped.
    auto_replies:
        burst: 20
        rate: 0.5`
