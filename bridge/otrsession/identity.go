package otrsession

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/otrbridge/otrbridge/db"
	"github.com/otrbridge/otrbridge/otr"
)

// identity is the user's long-term OTR key and instance tag on the
// network. It is loaded or generated in the background; ready is closed
// once key/tag or err are set.
type identity struct {
	ready chan struct{}
	key   *otr.PrivateKey
	tag   otr.InstanceTag
	err   error
}

func (id *identity) isReady() bool {
	select {
	case <-id.ready:
		return true
	default:
		return false
	}
}

var errKeyUnreadable = errors.New("your stored OTR key cannot be decrypted (was network.secret changed?); `!otr genkey confirm` makes a new one")

func (m *Manager) rand() io.Reader {
	if m.cfg.Rand != nil {
		return m.cfg.Rand
	}
	return rand.Reader
}

// startIdentity loads the identity from the database, or generates and
// stores one, in a goroutine. Lines that arrived meanwhile are processed
// once it is ready.
func (m *Manager) startIdentity() *identity {
	id := &identity{ready: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		func() {
			defer func() {
				if r := recover(); r != nil {
					logPanic(m.log, r, "", "identity")
					id.err = errors.New("an internal error stopped loading it (logged)")
				}
			}()
			id.key, id.tag, id.err = m.loadOrGenerate(m.ctx, false)
		}()
		if id.err != nil {
			m.log.Err(id.err).Msg("OTR identity unavailable")
		}
		close(id.ready)
		m.drainPending()
	}()
	return id
}

func (m *Manager) loadOrGenerate(ctx context.Context, regenerate bool) (*otr.PrivateKey, otr.InstanceTag, error) {
	ad := db.KeyAssociatedData(m.cfg.User, m.cfg.Network)
	stored, err := m.cfg.DB.Identity.Get(ctx, m.cfg.User, m.cfg.Network)
	if err != nil {
		return nil, 0, fmt.Errorf("loading OTR identity: %w", err)
	}
	var tag otr.InstanceTag
	if stored != nil {
		tag = otr.InstanceTag(stored.InstanceTag)
		if !regenerate {
			raw, err := m.cfg.Seal.Open(stored.SealedKey, ad)
			if err != nil {
				return nil, 0, errKeyUnreadable
			}
			key := new(otr.PrivateKey)
			if err := key.UnmarshalBinary(raw); err != nil {
				return nil, 0, fmt.Errorf("stored OTR key: %w", err)
			}
			return key, tag, nil
		}
	}
	key, err := m.cfg.GenerateKey(m.rand())
	if err != nil {
		return nil, 0, fmt.Errorf("generating OTR key: %w", err)
	}
	if tag == 0 {
		if tag, err = otr.NewInstanceTag(m.rand()); err != nil {
			return nil, 0, err
		}
	}
	if err := m.storeIdentity(ctx, key, tag); err != nil {
		return nil, 0, err
	}
	return key, tag, nil
}

func (m *Manager) storeIdentity(ctx context.Context, key *otr.PrivateKey, tag otr.InstanceTag) error {
	raw, err := key.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encoding OTR key: %w", err)
	}
	err = m.cfg.DB.Identity.Put(ctx, &db.Identity{
		User: m.cfg.User, Network: m.cfg.Network,
		SealedKey:   m.cfg.Seal.Seal(raw, db.KeyAssociatedData(m.cfg.User, m.cfg.Network)),
		InstanceTag: uint32(tag), CreatedAt: time.Now(),
	})
	if err != nil {
		return fmt.Errorf("storing OTR identity: %w", err)
	}
	return nil
}

// identity returns the identity, starting to load or generate it on
// first use: logins that never use OTR never get a key.
func (m *Manager) identity() *identity {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ident == nil {
		m.ident = m.startIdentity()
	}
	return m.ident
}

// waitIdentity waits for the key, at most until ctx ends or the hold
// timeout passes.
func (m *Manager) waitIdentity(ctx context.Context) (*identity, error) {
	id := m.identity()
	t := time.NewTimer(m.cfg.HoldTimeout)
	defer t.Stop()
	select {
	case <-id.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("not sent: your OTR key is still being generated: %w", ctx.Err())
	case <-t.C:
		return nil, errors.New("not sent: your OTR key is still being generated; try again in a moment")
	}
	if id.err != nil {
		return nil, fmt.Errorf("not sent: %w", id.err)
	}
	return id, nil
}

// replaceIdentity installs a new identity (after genkey or import-key):
// every private conversation is ended on the wire with the old key and
// all conversations start over with the new one.
func (m *Manager) replaceIdentity(ctx context.Context, id *identity) {
	m.mu.Lock()
	m.ident = id
	m.mu.Unlock()
	for _, p := range m.allPeers() {
		p.mu.Lock()
		p.release(ctx, p.endConversation(ctx, time.Now(), errKeyChanged))
	}
}

var errKeyChanged = errors.New("not sent: your OTR key was replaced while the message waited")

// GenerateKey replaces the identity key with a new one: every private
// conversation ends, and peers see a new fingerprint.
func (m *Manager) GenerateKey(ctx context.Context) (string, error) {
	key, tag, err := m.loadOrGenerate(ctx, true)
	if err != nil {
		return "", err
	}
	id := &identity{ready: make(chan struct{}), key: key, tag: tag}
	close(id.ready)
	m.replaceIdentity(ctx, id)
	return fmt.Sprintf("New OTR key generated. Your fingerprint on %s is now %s.", m.cfg.Network, key.Public().Fingerprint()), nil
}
