package db

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/util/dbutil"
	"maunium.net/go/mautrix/id"
)

// Trust is how far a user trusts a peer's fingerprint.
type Trust string

const (
	TrustNone   Trust = "none"   // seen, not verified
	TrustManual Trust = "manual" // the user said so ("trust" command, or imported)
	TrustSMP    Trust = "smp"    // verified by the Socialist Millionaires' Protocol
)

// Valid reports whether t is one of the defined levels.
func (t Trust) Valid() bool { return t == TrustNone || t == TrustManual || t == TrustSMP }

// Trusted reports whether the fingerprint counts as verified.
func (t Trust) Trusted() bool { return t == TrustManual || t == TrustSMP }

// MaxFingerprintLength bounds stored fingerprints (OTRv3 fingerprints are 20
// bytes; OTRv4's are 56).
const MaxFingerprintLength = 64

// The history of one peer is capped: a peer (or whoever uses its nick)
// can present a new key in every key exchange. Beyond MaxFingerprintsPerPeer
// Seen forgets the unverified fingerprints seen longest ago (verified ones
// stay: only the user makes those); beyond MaxNicksPerFingerprint the nicks
// seen longest ago with one key.
const (
	MaxFingerprintsPerPeer = 16
	MaxNicksPerFingerprint = 16
)

// Fingerprint is one key a peer has used, with the trust the user put in it.
type Fingerprint struct {
	User        id.UserID
	Network     string
	Peer        string
	Fingerprint []byte
	// Nicks are the nicks the key was seen with, in order of first use.
	Nicks       []string
	Trust       Trust
	VerifiedHow string    // free text, e.g. "SMP with question", "libotr import"
	VerifiedAt  time.Time // zero unless trusted
	// Refused: messages that waited for a private conversation were refused
	// to this key (it answered in place of the keys the peer was known by),
	// until the user verifies it.
	Refused   bool
	FirstSeen time.Time
	LastSeen  time.Time
}

// SeenResult is what Seen learned.
type SeenResult struct {
	// Fingerprint is the stored record after the update.
	Fingerprint *Fingerprint
	// New is true the first time this fingerprint is seen for the peer.
	New bool
	// Others are the peer's other known fingerprints, in the order they
	// were first seen. A New fingerprint with Others means the peer changed keys (or
	// someone is impersonating them): warn loudly.
	Others []*Fingerprint
}

// FingerprintStore is the trust store.
type FingerprintStore struct {
	db *dbutil.Database
}

func checkFingerprint(fp []byte) error {
	if len(fp) == 0 || len(fp) > MaxFingerprintLength {
		return fmt.Errorf("invalid fingerprint length %d", len(fp))
	}
	return nil
}

func checkPeer(user id.UserID, network, peer string) error {
	if user == "" || network == "" || peer == "" {
		return errors.New("empty user, network or peer")
	}
	return nil
}

// Seen records that peer, using nick, presented fingerprint fp at time now.
// It never changes trust.
func (s *FingerprintStore) Seen(ctx context.Context, user id.UserID, network, peer, nick string, fp []byte, now time.Time) (*SeenResult, error) {
	if err := checkPeer(user, network, peer); err != nil {
		return nil, fmt.Errorf("record fingerprint: %w", err)
	}
	if err := checkFingerprint(fp); err != nil {
		return nil, fmt.Errorf("record fingerprint: %w", err)
	}
	if nick == "" {
		nick = peer
	}
	ms := toMillis(now)
	res := &SeenResult{}
	err := s.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		r, err := s.db.Exec(ctx, `
			INSERT INTO otr_fingerprint (user_mxid, network, peer, fingerprint, trust, verified_how, first_seen, last_seen)
			VALUES ($1, $2, $3, $4, 'none', '', $5, $5)
			ON CONFLICT (user_mxid, network, peer, fingerprint) DO NOTHING`,
			user, network, peer, fp, ms)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			res.New = true
		} else if _, err = s.db.Exec(ctx, `
			UPDATE otr_fingerprint SET last_seen=$5
			WHERE user_mxid=$1 AND network=$2 AND peer=$3 AND fingerprint=$4 AND last_seen<$5`,
			user, network, peer, fp, ms); err != nil {
			return err
		}
		_, err = s.db.Exec(ctx, `
			INSERT INTO otr_fingerprint_nick (user_mxid, network, peer, fingerprint, nick, first_seen, last_seen)
			VALUES ($1, $2, $3, $4, $5, $6, $6)
			ON CONFLICT (user_mxid, network, peer, fingerprint, nick) DO UPDATE
				SET last_seen=CASE WHEN excluded.last_seen > otr_fingerprint_nick.last_seen
					THEN excluded.last_seen ELSE otr_fingerprint_nick.last_seen END`,
			user, network, peer, fp, nick, ms)
		if err != nil {
			return err
		}
		if err := s.capHistory(ctx, user, network, peer, fp, res.New); err != nil {
			return err
		}
		all, err := s.list(ctx, user, network, peer)
		if err != nil {
			return err
		}
		for _, f := range all {
			if bytes.Equal(f.Fingerprint, fp) {
				res.Fingerprint = f
			} else {
				res.Others = append(res.Others, f)
			}
		}
		if res.Fingerprint == nil {
			return errors.New("fingerprint vanished during the transaction")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record fingerprint for %s on %s: %w", peer, network, err)
	}
	return res, nil
}

// capHistory keeps a peer's history within MaxFingerprintsPerPeer (when a
// new fingerprint was added) and fp's nicks within MaxNicksPerFingerprint.
// It runs inside Seen's transaction.
func (s *FingerprintStore) capHistory(ctx context.Context, user id.UserID, network, peer string, fp []byte, added bool) error {
	if added {
		var n int
		err := s.db.QueryRow(ctx, "SELECT COUNT(*) FROM otr_fingerprint WHERE user_mxid=$1 AND network=$2 AND peer=$3",
			user, network, peer).Scan(&n)
		if err != nil {
			return err
		}
		if excess := n - MaxFingerprintsPerPeer; excess > 0 {
			// Nicks first: SQLite without foreign_keys=ON does not cascade.
			const oldest = `(SELECT fingerprint FROM otr_fingerprint
				WHERE user_mxid=$1 AND network=$2 AND peer=$3 AND trust='none' AND fingerprint<>$4
				ORDER BY last_seen, first_seen LIMIT $5)`
			for _, table := range []string{"otr_fingerprint_nick", "otr_fingerprint"} {
				_, err := s.db.Exec(ctx, "DELETE FROM "+table+
					" WHERE user_mxid=$1 AND network=$2 AND peer=$3 AND fingerprint IN "+oldest,
					user, network, peer, fp, excess)
				if err != nil {
					return err
				}
			}
		}
	}
	var n int
	err := s.db.QueryRow(ctx, "SELECT COUNT(*) FROM otr_fingerprint_nick WHERE user_mxid=$1 AND network=$2 AND peer=$3 AND fingerprint=$4",
		user, network, peer, fp).Scan(&n)
	if err != nil || n <= MaxNicksPerFingerprint {
		return err
	}
	_, err = s.db.Exec(ctx, `
		DELETE FROM otr_fingerprint_nick WHERE user_mxid=$1 AND network=$2 AND peer=$3 AND fingerprint=$4 AND nick IN
			(SELECT nick FROM otr_fingerprint_nick WHERE user_mxid=$1 AND network=$2 AND peer=$3 AND fingerprint=$4
			ORDER BY last_seen, first_seen LIMIT $5)`,
		user, network, peer, fp, n-MaxNicksPerFingerprint)
	return err
}

// SetTrust sets the trust in a fingerprint already seen (ErrNotFound
// otherwise). TrustNone clears how and when it was verified; a trusted
// level clears a refusal.
func (s *FingerprintStore) SetTrust(ctx context.Context, user id.UserID, network, peer string, fp []byte, trust Trust, how string, now time.Time) error {
	if !trust.Valid() {
		return fmt.Errorf("set trust: invalid trust level %q", trust)
	}
	var verifiedAt sql.NullInt64
	if trust.Trusted() {
		verifiedAt = sql.NullInt64{Int64: toMillis(now), Valid: true}
	} else {
		how = ""
	}
	res, err := s.db.Exec(ctx, `
		UPDATE otr_fingerprint SET trust=$5, verified_how=$6, verified_at=$7,
			refused_at=CASE WHEN $5 IN ('manual', 'smp') THEN NULL ELSE refused_at END
		WHERE user_mxid=$1 AND network=$2 AND peer=$3 AND fingerprint=$4`,
		user, network, peer, fp, string(trust), how, verifiedAt)
	if err != nil {
		return fmt.Errorf("set trust for %s on %s: %w", peer, network, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set trust for %s on %s: %w", peer, network, err)
	} else if n == 0 {
		return fmt.Errorf("set trust for %s on %s: %w", peer, network, ErrNotFound)
	}
	return nil
}

// Refuse records that messages which waited for a private conversation
// were refused to fp (seen now, if it was not before).
func (s *FingerprintStore) Refuse(ctx context.Context, user id.UserID, network, peer string, fp []byte, now time.Time) error {
	if err := checkPeer(user, network, peer); err != nil {
		return fmt.Errorf("refuse fingerprint: %w", err)
	}
	if err := checkFingerprint(fp); err != nil {
		return fmt.Errorf("refuse fingerprint: %w", err)
	}
	ms := toMillis(now)
	_, err := s.db.Exec(ctx, `
		INSERT INTO otr_fingerprint (user_mxid, network, peer, fingerprint, trust, verified_how, first_seen, last_seen, refused_at)
		VALUES ($1, $2, $3, $4, 'none', '', $5, $5, $5)
		ON CONFLICT (user_mxid, network, peer, fingerprint) DO UPDATE SET refused_at=excluded.refused_at`,
		user, network, peer, fp, ms)
	if err != nil {
		return fmt.Errorf("refuse fingerprint of %s on %s: %w", peer, network, err)
	}
	return nil
}

// Get returns one fingerprint record, or nil and no error if it was never
// seen.
func (s *FingerprintStore) Get(ctx context.Context, user id.UserID, network, peer string, fp []byte) (*Fingerprint, error) {
	all, err := s.list(ctx, user, network, peer)
	if err != nil {
		return nil, fmt.Errorf("get fingerprint for %s on %s: %w", peer, network, err)
	}
	for _, f := range all {
		if bytes.Equal(f.Fingerprint, fp) {
			return f, nil
		}
	}
	return nil, nil
}

// List returns the user's fingerprints, ordered by network, peer and first
// sighting. An empty network or peer matches all.
func (s *FingerprintStore) List(ctx context.Context, user id.UserID, network, peer string) ([]*Fingerprint, error) {
	fps, err := s.list(ctx, user, network, peer)
	if err != nil {
		return nil, fmt.Errorf("list fingerprints: %w", err)
	}
	return fps, nil
}

func (s *FingerprintStore) list(ctx context.Context, user id.UserID, network, peer string) ([]*Fingerprint, error) {
	// "$2 = ''" keeps one query for both the filtered and the full listing.
	const where = "WHERE user_mxid=$1 AND ($2='' OR network=$2) AND ($3='' OR peer=$3)"
	rows, err := s.db.Query(ctx, `
		SELECT network, peer, fingerprint, trust, verified_how, verified_at, refused_at, first_seen, last_seen
		FROM otr_fingerprint `+where+`
		ORDER BY network, peer, first_seen, fingerprint`, user, network, peer)
	if err != nil {
		return nil, err
	}
	var fps []*Fingerprint
	byKey := map[string]*Fingerprint{}
	err = forRows(rows, func() error {
		f := &Fingerprint{User: user}
		var (
			trust                 string
			verifiedAt, refusedAt sql.NullInt64
			firstMs, lastMs       int64
		)
		if err := rows.Scan(&f.Network, &f.Peer, &f.Fingerprint, &trust, &f.VerifiedHow, &verifiedAt, &refusedAt, &firstMs, &lastMs); err != nil {
			return err
		}
		f.Refused = refusedAt.Valid
		f.Trust, f.FirstSeen, f.LastSeen = Trust(trust), fromMillis(firstMs), fromMillis(lastMs)
		if verifiedAt.Valid {
			f.VerifiedAt = fromMillis(verifiedAt.Int64)
		}
		fps = append(fps, f)
		byKey[fpKey(f.Network, f.Peer, f.Fingerprint)] = f
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(fps) == 0 {
		return nil, nil
	}
	rows, err = s.db.Query(ctx, `
		SELECT network, peer, fingerprint, nick FROM otr_fingerprint_nick `+where+`
		ORDER BY first_seen, nick`, user, network, peer)
	if err != nil {
		return nil, err
	}
	err = forRows(rows, func() error {
		var (
			net, p, nick string
			fp           []byte
		)
		if err := rows.Scan(&net, &p, &fp, &nick); err != nil {
			return err
		}
		if f := byKey[fpKey(net, p, fp)]; f != nil {
			f.Nicks = append(f.Nicks, nick)
		}
		return nil
	})
	return fps, err
}

func fpKey(network, peer string, fp []byte) string {
	return network + "\x00" + peer + "\x00" + string(fp)
}

// forRows calls fn for each row and closes rows.
func forRows(rows dbutil.Rows, fn func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := fn(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Forget deletes a fingerprint of the peer, or all of the peer's
// fingerprints when fp is nil, with their nicks. It returns how many
// fingerprints were deleted.
func (s *FingerprintStore) Forget(ctx context.Context, user id.UserID, network, peer string, fp []byte) (int64, error) {
	if err := checkPeer(user, network, peer); err != nil {
		return 0, fmt.Errorf("forget fingerprint: %w", err)
	}
	cond, args := "user_mxid=$1 AND network=$2 AND peer=$3", []any{user, network, peer}
	if fp != nil {
		cond, args = cond+" AND fingerprint=$4", append(args, fp)
	}
	var n int64
	// Nicks are deleted explicitly as well as by the foreign key cascade,
	// so that a SQLite connection without foreign_keys=ON leaves nothing
	// behind either.
	err := s.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		if _, err := s.db.Exec(ctx, "DELETE FROM otr_fingerprint_nick WHERE "+cond, args...); err != nil {
			return err
		}
		res, err := s.db.Exec(ctx, "DELETE FROM otr_fingerprint WHERE "+cond, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("forget fingerprints of %s on %s: %w", peer, network, err)
	}
	return n, nil
}

// MovePeer moves the fingerprints of peer from to peer to, for a caller that
// re-keys a portal after a nick change. Records the target already has are
// merged: earliest first sighting, latest last sighting, the union of nicks,
// and the stronger trust (smp over manual over none).
func (s *FingerprintStore) MovePeer(ctx context.Context, user id.UserID, network, from, to string) error {
	if err := checkPeer(user, network, from); err != nil {
		return fmt.Errorf("move fingerprints: %w", err)
	}
	if err := checkPeer(user, network, to); err != nil {
		return fmt.Errorf("move fingerprints: %w", err)
	}
	if from == to {
		return nil
	}
	err := s.db.DoTxn(ctx, nil, func(ctx context.Context) error {
		src, err := s.list(ctx, user, network, from)
		if err != nil {
			return err
		}
		for _, f := range src {
			if err := s.moveOne(ctx, f, to); err != nil {
				return err
			}
		}
		_, err = s.db.Exec(ctx, "DELETE FROM otr_fingerprint_nick WHERE user_mxid=$1 AND network=$2 AND peer=$3", user, network, from)
		if err == nil {
			_, err = s.db.Exec(ctx, "DELETE FROM otr_fingerprint WHERE user_mxid=$1 AND network=$2 AND peer=$3", user, network, from)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("move fingerprints of %s to %s on %s: %w", from, to, network, err)
	}
	return nil
}

func (s *FingerprintStore) moveOne(ctx context.Context, f *Fingerprint, to string) error {
	var verifiedAt, refusedAt sql.NullInt64
	if !f.VerifiedAt.IsZero() {
		verifiedAt = sql.NullInt64{Int64: toMillis(f.VerifiedAt), Valid: true}
	}
	if f.Refused {
		refusedAt = sql.NullInt64{Int64: toMillis(f.LastSeen), Valid: true}
	}
	// The stronger trust wins, a refusal stays (a verified key does not
	// count as refused); "smp" > "manual" > "none" happens to be the
	// reverse alphabetical order, but spell it out.
	_, err := s.db.Exec(ctx, `
		INSERT INTO otr_fingerprint (user_mxid, network, peer, fingerprint, trust, verified_how, verified_at, first_seen, last_seen, refused_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (user_mxid, network, peer, fingerprint) DO UPDATE SET
			refused_at=COALESCE(otr_fingerprint.refused_at, excluded.refused_at),
			first_seen=CASE WHEN excluded.first_seen < otr_fingerprint.first_seen THEN excluded.first_seen ELSE otr_fingerprint.first_seen END,
			last_seen=CASE WHEN excluded.last_seen > otr_fingerprint.last_seen THEN excluded.last_seen ELSE otr_fingerprint.last_seen END,
			trust=CASE WHEN `+trustRank("excluded.trust")+` > `+trustRank("otr_fingerprint.trust")+` THEN excluded.trust ELSE otr_fingerprint.trust END,
			verified_how=CASE WHEN `+trustRank("excluded.trust")+` > `+trustRank("otr_fingerprint.trust")+` THEN excluded.verified_how ELSE otr_fingerprint.verified_how END,
			verified_at=CASE WHEN `+trustRank("excluded.trust")+` > `+trustRank("otr_fingerprint.trust")+` THEN excluded.verified_at ELSE otr_fingerprint.verified_at END`,
		f.User, f.Network, to, f.Fingerprint, string(f.Trust), f.VerifiedHow, verifiedAt, toMillis(f.FirstSeen), toMillis(f.LastSeen), refusedAt)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `
		INSERT INTO otr_fingerprint_nick (user_mxid, network, peer, fingerprint, nick, first_seen, last_seen)
		SELECT user_mxid, network, $4, fingerprint, nick, first_seen, last_seen FROM otr_fingerprint_nick
		WHERE user_mxid=$1 AND network=$2 AND peer=$3 AND fingerprint=$5
		ON CONFLICT (user_mxid, network, peer, fingerprint, nick) DO UPDATE SET
			first_seen=CASE WHEN excluded.first_seen < otr_fingerprint_nick.first_seen THEN excluded.first_seen ELSE otr_fingerprint_nick.first_seen END,
			last_seen=CASE WHEN excluded.last_seen > otr_fingerprint_nick.last_seen THEN excluded.last_seen ELSE otr_fingerprint_nick.last_seen END`,
		f.User, f.Network, f.Peer, to, f.Fingerprint)
	return err
}

// trustRank is an SQL expression ordering trust levels.
func trustRank(col string) string {
	return strings.NewReplacer("COL", col).Replace("(CASE COL WHEN 'smp' THEN 2 WHEN 'manual' THEN 1 ELSE 0 END)")
}
