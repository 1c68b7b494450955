package otrfilter

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
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

func (f *Filter) rand() io.Reader {
	if f.cfg.Rand != nil {
		return f.cfg.Rand
	}
	return rand.Reader
}

// startIdentity loads the identity from the database, or generates and
// stores one, in a goroutine. Lines that arrived meanwhile are processed
// once it is ready.
func (f *Filter) startIdentity() *identity {
	id := &identity{ready: make(chan struct{})}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		id.key, id.tag, id.err = f.loadOrGenerate(f.ctx, false)
		if id.err != nil {
			f.log.Err(id.err).Msg("OTR identity unavailable")
		}
		close(id.ready)
		f.drainPending()
	}()
	return id
}

func (f *Filter) loadOrGenerate(ctx context.Context, regenerate bool) (*otr.PrivateKey, otr.InstanceTag, error) {
	ad := db.KeyAssociatedData(f.cfg.User, f.cfg.Network)
	stored, err := f.cfg.DB.Identity.Get(ctx, f.cfg.User, f.cfg.Network)
	if err != nil {
		return nil, 0, fmt.Errorf("loading OTR identity: %w", err)
	}
	var tag otr.InstanceTag
	if stored != nil {
		tag = otr.InstanceTag(stored.InstanceTag)
		if !regenerate {
			raw, err := f.cfg.Seal.Open(stored.SealedKey, ad)
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
	key, err := f.cfg.GenerateKey(f.rand())
	if err != nil {
		return nil, 0, fmt.Errorf("generating OTR key: %w", err)
	}
	if tag == 0 {
		if tag, err = otr.NewInstanceTag(f.rand()); err != nil {
			return nil, 0, err
		}
	}
	if err := f.storeIdentity(ctx, key, tag); err != nil {
		return nil, 0, err
	}
	return key, tag, nil
}

func (f *Filter) storeIdentity(ctx context.Context, key *otr.PrivateKey, tag otr.InstanceTag) error {
	raw, err := key.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encoding OTR key: %w", err)
	}
	err = f.cfg.DB.Identity.Put(ctx, &db.Identity{
		User: f.cfg.User, Network: f.cfg.Network,
		SealedKey:   f.cfg.Seal.Seal(raw, db.KeyAssociatedData(f.cfg.User, f.cfg.Network)),
		InstanceTag: uint32(tag), CreatedAt: f.clock.Now(),
	})
	if err != nil {
		return fmt.Errorf("storing OTR identity: %w", err)
	}
	return nil
}

// identity returns the identity, starting to load or generate it on
// first use: logins that never use OTR never get a key.
func (f *Filter) identity() *identity {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ident == nil {
		f.ident = f.startIdentity()
	}
	return f.ident
}

// waitIdentity waits for the key, at most until ctx ends or the hold
// timeout passes.
func (f *Filter) waitIdentity(ctx context.Context) (*identity, error) {
	id := f.identity()
	t := time.NewTimer(f.cfg.HoldTimeout)
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
func (f *Filter) replaceIdentity(ctx context.Context, id *identity) {
	f.mu.Lock()
	f.ident = id
	f.mu.Unlock()
	for _, p := range f.allPeers() {
		p.mu.Lock()
		if p.conv != nil {
			out, err := p.conv.End(f.clock.Now())
			if err != nil {
				f.log.Err(err).Msg("Ending OTR session before key change")
			}
			p.enqueue(f.ctx, ircconn.Privmsg, out.Wire, nil)
			p.failHeld(errKeyChanged)
			p.conv = nil
			p.clearMarker(ctx)
		}
		p.mu.Unlock()
		p.refreshState(ctx)
	}
}

var errKeyChanged = errors.New("not sent: your OTR key was replaced while the message waited")
