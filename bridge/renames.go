package bridge

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mau.fi/util/dbutil"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// A peer who shares a channel with the user can rename as fast as the
// server lets it, and every rename the server reports moves the chat
// (handleNick). What a rename costs is bounded per peer: the chat shows
// renameBurst renames at once and the ones after them, within
// renameQuiet of the first, in one notice at the end of that interval
// (like the OTR noise of otrsession); the portal's stored nick is written
// off the IRC reader, one write at a time per peer, with the latest nick.

const (
	// renameBurst is how many renames of one peer are shown one by one
	// per renameQuiet: a peer that renames twice (a nick and back, or an
	// oper's SANICK after its own) is shown exactly.
	renameBurst = 3
	renameQuiet = time.Minute
)

// renameNotices coalesces the rename notices of one login's peers. The
// clock is the real one (tests use testing/synctest).
type renameNotices struct {
	// summarise shows that uid renamed n more times and is now nick; it
	// is called on a timer goroutine.
	summarise func(uid networkid.UserID, n int, nick string)

	mu    sync.Mutex
	peers map[networkid.UserID]*renameCount
}

// renameCount is one peer's renames in the current interval: shown, and
// more counted for the summary.
type renameCount struct {
	shown, more int
	latest      string
	timer       *time.Timer
}

func newRenameNotices(summarise func(uid networkid.UserID, n int, nick string)) *renameNotices {
	return &renameNotices{summarise: summarise, peers: map[networkid.UserID]*renameCount{}}
}

// admit reports whether the notice of uid's rename to nick is shown now;
// if not, it is counted for the summary at the end of the interval.
func (r *renameNotices) admit(uid networkid.UserID, nick string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc := r.peers[uid]
	if rc == nil {
		rc = &renameCount{}
		rc.timer = time.AfterFunc(renameQuiet, func() { r.flush(uid) })
		r.peers[uid] = rc
	}
	if rc.shown < renameBurst {
		rc.shown++
		return true
	}
	rc.more++
	rc.latest = nick
	return false
}

// flush ends one interval of uid: the renames counted in it are
// summarised and the next interval counts them again (no new burst); an
// interval without counted renames ends the count, and the next renames
// are shown at once.
func (r *renameNotices) flush(uid networkid.UserID) {
	r.mu.Lock()
	rc := r.peers[uid]
	if rc == nil {
		r.mu.Unlock()
		return
	}
	if rc.more == 0 {
		delete(r.peers, uid)
		r.mu.Unlock()
		return
	}
	n, nick := rc.more, rc.latest
	rc.more = 0
	rc.timer.Reset(renameQuiet)
	r.mu.Unlock()
	r.summarise(uid, n, nick)
}

// stop cancels the pending summaries (the login is going away).
func (r *renameNotices) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for uid, rc := range r.peers {
		rc.timer.Stop()
		delete(r.peers, uid)
	}
}

// renameSummary is the notice about renames that were not shown one by one.
func renameSummary(n int, nick string) string {
	times := "times"
	if n == 1 {
		times = "time"
	}
	return fmt.Sprintf("The peer changed nick %d more %s in the last minute (the server reported each). This chat continues with %s.", n, times, nick)
}

// portalNickSaves are the DM portals whose nick changed and waits to be
// written, by peer: a peer that renames in a loop costs one write at a
// time, with its latest nick, off the IRC reader.
type portalNickSaves struct {
	// write stores a portal's metadata (the database; tests replace it).
	write func(ctx context.Context, key networkid.PortalKey, meta *PortalMetadata) error

	pending latestByPeer[portalNickSave]
}

// portalNickSave is the metadata of one portal, to be written.
type portalNickSave struct {
	key  networkid.PortalKey
	meta *PortalMetadata
}

// setPortalNick records the peer's new nick in its portal now (for the
// lookups that follow) and writes it to the database off the IRC reader.
func (c *IRCClient) setPortalNick(uid networkid.UserID, portal *bridgev2.Portal, nick string) {
	meta, ok := portal.Metadata.(*PortalMetadata)
	if !ok {
		return
	}
	meta.renamed(nick)
	if c.portalNicks.pending.put(uid, portalNickSave{key: portal.PortalKey, meta: meta}) {
		go c.writePortalNicks(uid)
	}
}

// writePortalNicks writes uid's portal metadata until no newer nick
// waits. Only the metadata column is written, as it is when written (its
// encoding takes the metadata's lock): the rest of the row belongs to
// bridgev2's portal loop, and the last write has the latest nick.
func (c *IRCClient) writePortalNicks(uid networkid.UserID) {
	ctx := c.log.WithContext(c.ic.Bridge.BackgroundCtx)
	s := &c.portalNicks
	for {
		save, ok := s.pending.take(uid)
		if !ok {
			return
		}
		write := s.write
		if write == nil {
			write = c.writePortalMetadata
		}
		safely(c.log, "portal nick", func() {
			if err := write(ctx, save.key, save.meta); err != nil {
				c.log.Err(err).Msg("Failed to save portal after nick change")
			}
		})
	}
}

// writePortalMetadata stores the metadata of one portal row of bridgev2's
// portal table.
func (c *IRCClient) writePortalMetadata(ctx context.Context, key networkid.PortalKey, meta *PortalMetadata) error {
	d := c.ic.Bridge.DB
	_, err := d.Exec(ctx, `UPDATE portal SET metadata=$4 WHERE bridge_id=$1 AND id=$2 AND receiver=$3`,
		d.BridgeID, key.ID, key.Receiver, dbutil.JSON{Data: meta})
	return err
}
