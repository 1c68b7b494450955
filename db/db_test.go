package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.mau.fi/util/dbutil"
	_ "go.mau.fi/util/dbutil/litestream" // registers sqlite3-fk-wal
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/internal/seal"
	"github.com/otrbridge/otrbridge/internal/teststack"
	"github.com/otrbridge/otrbridge/migrations"
)

// The same scenarios run on SQLite and on a private PostgreSQL cluster; each
// uses its own Matrix user so they can share a database.
var scenarios = []struct {
	name string
	fn   func(t *testing.T, d *Database, user id.UserID)
}{
	{"Identity", testIdentity},
	{"IdentitySealed", testIdentitySealed},
	{"Fingerprints", testFingerprints},
	{"FingerprintIsolation", testFingerprintIsolation},
	{"FingerprintHistoryCapped", testFingerprintHistoryCapped},
	{"MovePeer", testMovePeer},
	{"RefusedKeys", testRefusedKeys},
	{"ConcurrentSeen", testConcurrentSeen},
	{"Policies", testPolicies},
	{"Constraints", testConstraints},
	{"PrivateMarkers", testPrivateMarkers},
	{"Channels", testChannels},
	{"Inflight", testInflight},
}

func TestSQLite(t *testing.T) {
	uri := "file:" + filepath.Join(t.TempDir(), "bridge.db") + "?_txlock=immediate"
	runScenarios(t, "sqlite3-fk-wal", uri)
}

// TestUpgradeFromV1 upgrades a database made by the first schema version,
// as an existing installation would be.
func TestUpgradeFromV1(t *testing.T) {
	uri := "file:" + filepath.Join(t.TempDir(), "bridge.db") + "?_txlock=immediate"
	parent, err := dbutil.NewWithDialect(uri, "sqlite3-fk-wal")
	if err != nil {
		t.Fatal(err)
	}
	defer parent.Close()
	ctx := context.Background()
	old := parent.Child(VersionTable, migrations.Table[:1], nil)
	if err := old.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	if exists, _ := parent.TableExists(ctx, "otr_private_marker"); exists {
		t.Fatal("v1 already has the v2 table")
	}
	user := id.UserID("@upgrade:example.org")
	// A row as v1 wrote it (today's queries read later columns).
	if _, err := old.Exec(ctx, `INSERT INTO otr_fingerprint (user_mxid, network, peer, fingerprint, trust, verified_how, first_seen, last_seen)
		VALUES ($1, 'libera', 'bob', $2, 'smp', 'SMP', 1, 2)`, user, fp(1)); err != nil {
		t.Fatal(err)
	}
	d := New(parent, zerolog.Nop())
	if err := d.Upgrade(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Private.Mark(ctx, user, "libera", "bob", t0); err != nil {
		t.Fatalf("v2 table missing after upgrade: %v", err)
	}
	if f, err := d.Fingerprints.Get(ctx, user, "libera", "bob", fp(1)); err != nil || f == nil || f.Trust != TrustSMP || f.Refused {
		t.Fatalf("v1 data lost in the upgrade: %+v, %v", f, err)
	}
}

func TestPostgres(t *testing.T) {
	runScenarios(t, "postgres", teststack.Postgres(t))
}

func runScenarios(t *testing.T, dialect, uri string) {
	parent, err := dbutil.NewWithDialect(uri, dialect)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { parent.Close() })
	ctx := context.Background()
	d := New(parent, zerolog.Nop())
	if err := d.Upgrade(ctx); err != nil {
		t.Fatalf("Upgrade: %v", err)
	}
	// A second start finds the schema current.
	if err := New(parent, zerolog.Nop()).Upgrade(ctx); err != nil {
		t.Fatalf("second Upgrade: %v", err)
	}
	var version int
	if err := d.QueryRow(ctx, "SELECT version FROM "+VersionTable).Scan(&version); err != nil || version != len(d.UpgradeTable) {
		t.Fatalf("version = %d, %v; want %d", version, err, len(d.UpgradeTable))
	}
	// The child must not touch the parent's (bridgev2's) version table.
	if exists, err := parent.TableExists(ctx, "version"); err != nil || exists {
		t.Errorf("parent version table exists=%v err=%v", exists, err)
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			sc.fn(t, d, id.UserID("@"+strings.ToLower(sc.name)+":example.org"))
		})
	}
}

var t0 = time.UnixMilli(1_760_000_000_000)

func testIdentity(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	if got, err := d.Identity.Get(ctx, user, "libera"); err != nil || got != nil {
		t.Fatalf("Get before Put = %v, %v", got, err)
	}
	ident := &Identity{User: user, Network: "libera", SealedKey: []byte{1, 2, 3}, InstanceTag: 0xdeadbeef, CreatedAt: t0}
	if err := d.Identity.Put(ctx, ident); err != nil {
		t.Fatal(err)
	}
	got, err := d.Identity.Get(ctx, user, "libera")
	if err != nil || got == nil || !bytes.Equal(got.SealedKey, ident.SealedKey) || got.InstanceTag != 0xdeadbeef || !got.CreatedAt.Equal(t0) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if other, _ := d.Identity.Get(ctx, user, "oftc"); other != nil {
		t.Errorf("identity leaked to another network: %+v", other)
	}
	// genkey replaces the identity.
	ident2 := &Identity{User: user, Network: "libera", SealedKey: []byte{9}, InstanceTag: 0x100, CreatedAt: t0.Add(time.Hour)}
	if err := d.Identity.Put(ctx, ident2); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Identity.Get(ctx, user, "libera"); got == nil || !bytes.Equal(got.SealedKey, []byte{9}) || got.InstanceTag != 0x100 {
		t.Fatalf("after replace: %+v", got)
	}
	for _, bad := range []*Identity{
		{User: user, Network: "libera", SealedKey: []byte{1}, InstanceTag: 0xff},
		{User: user, Network: "libera", InstanceTag: 0x100},
		{User: "", Network: "libera", SealedKey: []byte{1}, InstanceTag: 0x100},
	} {
		if err := d.Identity.Put(ctx, bad); err == nil {
			t.Errorf("Put(%+v) succeeded", bad)
		}
	}
	d.Identity.Put(ctx, &Identity{User: user, Network: "oftc", SealedKey: []byte{7}, InstanceTag: 0x200, CreatedAt: t0})
	if l, err := d.Identity.List(ctx, user); err != nil || len(l) != 2 || l[0].Network != "libera" || l[1].Network != "oftc" || l[1].InstanceTag != 0x200 {
		t.Fatalf("List = %+v, %v", l, err)
	}
	if ok, err := d.Identity.Delete(ctx, user, "libera"); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if ok, err := d.Identity.Delete(ctx, user, "libera"); ok || err != nil {
		t.Fatalf("second Delete = %v, %v", ok, err)
	}
}

// testIdentitySealed shows the intended use: the key is sealed bound to its
// row, the database holds no usable key, and a sealed key copied to another
// user's row does not open.
func testIdentitySealed(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	key, err := seal.NewKey("a-config-secret-of-32-bytes-long", "otr-private-key")
	if err != nil {
		t.Fatal(err)
	}
	private := []byte("(privkeys (account (name \"alice\") (private-key (dsa (x #0123#)))))")
	sealed := key.Seal(private, KeyAssociatedData(user, "libera"))
	if err := d.Identity.Put(ctx, &Identity{User: user, Network: "libera", SealedKey: sealed, InstanceTag: 0x1234, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := d.QueryRow(ctx, "SELECT sealed_key FROM otr_identity WHERE user_mxid=$1", user).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("privkeys")) || bytes.Contains(raw, []byte("#0123#")) {
		t.Fatal("the database holds the private key in the clear")
	}
	got, _ := d.Identity.Get(ctx, user, "libera")
	if pt, err := key.Open(got.SealedKey, KeyAssociatedData(user, "libera")); err != nil || !bytes.Equal(pt, private) {
		t.Fatalf("Open = %v", err)
	}
	if _, err := key.Open(got.SealedKey, KeyAssociatedData("@mallory:example.org", "libera")); err == nil {
		t.Fatal("a key sealed for one user opened for another")
	}
	if _, err := key.Open(got.SealedKey, KeyAssociatedData(user, "oftc")); err == nil {
		t.Fatal("a key sealed for one network opened for another")
	}
}

func fp(b byte) []byte { return bytes.Repeat([]byte{b}, 20) }

func testFingerprints(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	res, err := d.Fingerprints.Seen(ctx, user, "libera", "bob", "Bob", fp(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	f := res.Fingerprint
	if !res.New || len(res.Others) != 0 || f.Trust != TrustNone || !f.FirstSeen.Equal(t0) || !f.LastSeen.Equal(t0) ||
		strings.Join(f.Nicks, ",") != "Bob" || f.Peer != "bob" || !bytes.Equal(f.Fingerprint, fp(1)) {
		t.Fatalf("first Seen = %+v, fp %+v", res, f)
	}
	// Seen again later under a new nick, then once with an older clock.
	res, err = d.Fingerprints.Seen(ctx, user, "libera", "bob", "Bobby", fp(1), t0.Add(time.Hour))
	if err != nil || res.New {
		t.Fatalf("second Seen = %+v, %v", res, err)
	}
	res, _ = d.Fingerprints.Seen(ctx, user, "libera", "bob", "Bob", fp(1), t0.Add(time.Minute))
	f = res.Fingerprint
	if !f.FirstSeen.Equal(t0) || !f.LastSeen.Equal(t0.Add(time.Hour)) || strings.Join(f.Nicks, ",") != "Bob,Bobby" {
		t.Fatalf("after sightings: %+v", f)
	}

	if err := d.Fingerprints.SetTrust(ctx, user, "libera", "bob", fp(1), TrustSMP, "SMP with question", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	f, err = d.Fingerprints.Get(ctx, user, "libera", "bob", fp(1))
	if err != nil || f.Trust != TrustSMP || f.VerifiedHow != "SMP with question" || !f.VerifiedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("after SetTrust: %+v, %v", f, err)
	}

	// A new key for the same peer: reported with the old one, and untrusted.
	res, err = d.Fingerprints.Seen(ctx, user, "libera", "bob", "Bob", fp(2), t0.Add(3*time.Hour))
	if err != nil || !res.New || res.Fingerprint.Trust != TrustNone || len(res.Others) != 1 ||
		!bytes.Equal(res.Others[0].Fingerprint, fp(1)) || res.Others[0].Trust != TrustSMP {
		t.Fatalf("new key: %+v, %v", res, err)
	}
	d.Fingerprints.Seen(ctx, user, "libera", "carol", "carol", fp(3), t0)
	d.Fingerprints.Seen(ctx, user, "oftc", "bob", "bob", fp(4), t0)

	if l, err := d.Fingerprints.List(ctx, user, "libera", "bob"); err != nil || len(l) != 2 ||
		!bytes.Equal(l[0].Fingerprint, fp(1)) || !bytes.Equal(l[1].Fingerprint, fp(2)) {
		t.Fatalf("List bob = %+v, %v", l, err)
	}
	if l, _ := d.Fingerprints.List(ctx, user, "libera", ""); len(l) != 3 {
		t.Fatalf("List libera = %d records", len(l))
	}
	if l, _ := d.Fingerprints.List(ctx, user, "", ""); len(l) != 4 || l[3].Network != "oftc" {
		t.Fatalf("List all = %+v", l)
	}

	if err := d.Fingerprints.SetTrust(ctx, user, "libera", "bob", fp(9), TrustManual, "", t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetTrust of an unknown fingerprint: %v", err)
	}
	if err := d.Fingerprints.SetTrust(ctx, user, "libera", "bob", fp(1), "total", "", t0); err == nil {
		t.Error("SetTrust accepted an invalid level")
	}
	if err := d.Fingerprints.SetTrust(ctx, user, "libera", "bob", fp(1), TrustNone, "ignored", t0); err != nil {
		t.Fatal(err)
	}
	if f, _ := d.Fingerprints.Get(ctx, user, "libera", "bob", fp(1)); f.Trust != TrustNone || f.VerifiedHow != "" || !f.VerifiedAt.IsZero() {
		t.Errorf("distrust left %+v", f)
	}
	if f, err := d.Fingerprints.Get(ctx, user, "libera", "bob", fp(9)); f != nil || err != nil {
		t.Errorf("Get of an unknown fingerprint = %+v, %v", f, err)
	}

	if n, err := d.Fingerprints.Forget(ctx, user, "libera", "bob", fp(1)); n != 1 || err != nil {
		t.Fatalf("Forget one = %d, %v", n, err)
	}
	if n, err := d.Fingerprints.Forget(ctx, user, "libera", "bob", nil); n != 1 || err != nil {
		t.Fatalf("Forget all = %d, %v", n, err)
	}
	if l, _ := d.Fingerprints.List(ctx, user, "libera", "bob"); len(l) != 0 {
		t.Fatalf("after Forget: %+v", l)
	}
	var nicks int
	if err := d.QueryRow(ctx, "SELECT COUNT(*) FROM otr_fingerprint_nick WHERE user_mxid=$1 AND peer='bob' AND network='libera'", user).Scan(&nicks); err != nil || nicks != 0 {
		t.Errorf("nick rows left after Forget: %d, %v", nicks, err)
	}
	if l, _ := d.Fingerprints.List(ctx, user, "", ""); len(l) != 2 {
		t.Errorf("Forget removed other peers' records: %+v", l)
	}

	for _, bad := range [][]byte{nil, {}, make([]byte, MaxFingerprintLength+1)} {
		if _, err := d.Fingerprints.Seen(ctx, user, "libera", "bob", "bob", bad, t0); err == nil {
			t.Errorf("Seen accepted a %d-byte fingerprint", len(bad))
		}
	}
	if _, err := d.Fingerprints.Seen(ctx, user, "libera", "", "bob", fp(1), t0); err == nil {
		t.Error("Seen accepted an empty peer")
	}
}

func testFingerprintIsolation(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	other := id.UserID(string(user) + ".other")
	d.Fingerprints.Seen(ctx, user, "libera", "bob", "bob", fp(1), t0)
	d.Fingerprints.SetTrust(ctx, user, "libera", "bob", fp(1), TrustManual, "trust command", t0)
	res, err := d.Fingerprints.Seen(ctx, other, "libera", "bob", "bob", fp(1), t0)
	if err != nil || !res.New || res.Fingerprint.Trust != TrustNone {
		t.Fatalf("another user's trust leaked: %+v, %v", res, err)
	}
	if l, _ := d.Fingerprints.List(ctx, other, "", ""); len(l) != 1 {
		t.Fatalf("other user sees %d records", len(l))
	}
}

func testMovePeer(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	d.Fingerprints.Seen(ctx, user, "libera", "bob", "bob", fp(1), t0)
	d.Fingerprints.SetTrust(ctx, user, "libera", "bob", fp(1), TrustSMP, "SMP", t0.Add(time.Minute))
	d.Fingerprints.Seen(ctx, user, "libera", "bob", "bob", fp(2), t0.Add(time.Hour))
	// The target already knows fp(1) (untrusted, seen earlier, other nick).
	d.Fingerprints.Seen(ctx, user, "libera", "robert", "robert", fp(1), t0.Add(-time.Hour))

	if err := d.Fingerprints.MovePeer(ctx, user, "libera", "bob", "robert"); err != nil {
		t.Fatal(err)
	}
	if l, _ := d.Fingerprints.List(ctx, user, "libera", "bob"); len(l) != 0 {
		t.Fatalf("records left under the old peer: %+v", l)
	}
	l, err := d.Fingerprints.List(ctx, user, "libera", "robert")
	if err != nil || len(l) != 2 {
		t.Fatalf("List robert = %+v, %v", l, err)
	}
	f1 := l[0]
	if !bytes.Equal(f1.Fingerprint, fp(1)) || f1.Trust != TrustSMP || f1.VerifiedHow != "SMP" ||
		!f1.FirstSeen.Equal(t0.Add(-time.Hour)) || !f1.LastSeen.Equal(t0) || strings.Join(f1.Nicks, ",") != "robert,bob" {
		t.Errorf("merged record = %+v", f1)
	}
	if f2 := l[1]; !bytes.Equal(f2.Fingerprint, fp(2)) || f2.Trust != TrustNone || strings.Join(f2.Nicks, ",") != "bob" {
		t.Errorf("moved record = %+v", f2)
	}
	if err := d.Fingerprints.MovePeer(ctx, user, "libera", "robert", "robert"); err != nil {
		t.Errorf("MovePeer to itself: %v", err)
	}
}

func testConcurrentSeen(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		news int
		errs []error
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := d.Fingerprints.Seen(ctx, user, "libera", "bob", "bob", fp(7), t0.Add(time.Duration(i)*time.Second))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else if res.New {
				news++
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 || news != 1 {
		t.Fatalf("concurrent Seen: %d reported new, errors %v", news, errs)
	}
	if f, _ := d.Fingerprints.Get(ctx, user, "libera", "bob", fp(7)); !f.LastSeen.Equal(t0.Add(7 * time.Second)) {
		t.Errorf("LastSeen = %v", f.LastSeen)
	}
}

func testPolicies(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	if p, sc, err := d.Policies.Effective(ctx, user, "libera", "bob"); p != "" || sc != ScopeNone || err != nil {
		t.Fatalf("Effective without overrides = %q, %v, %v", p, sc, err)
	}
	if err := d.Policies.Set(ctx, user, "libera", DefaultPeer, PolicyOpportunistic, t0); err != nil {
		t.Fatal(err)
	}
	if p, sc, _ := d.Policies.Effective(ctx, user, "libera", "bob"); p != PolicyOpportunistic || sc != ScopeUser {
		t.Fatalf("Effective with user default = %q, %v", p, sc)
	}
	if err := d.Policies.Set(ctx, user, "libera", "bob", PolicyAlways, t0); err != nil {
		t.Fatal(err)
	}
	if err := d.Policies.Set(ctx, user, "libera", "bob", PolicyNever, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if p, sc, _ := d.Policies.Effective(ctx, user, "libera", "bob"); p != PolicyNever || sc != ScopePeer {
		t.Fatalf("Effective with peer override = %q, %v", p, sc)
	}
	if p, sc, _ := d.Policies.Effective(ctx, user, "libera", "carol"); p != PolicyOpportunistic || sc != ScopeUser {
		t.Fatalf("Effective for another peer = %q, %v", p, sc)
	}
	if p, sc, _ := d.Policies.Effective(ctx, user, "oftc", "bob"); sc != ScopeNone {
		t.Fatalf("override leaked to another network: %q, %v", p, sc)
	}
	if p, ok, err := d.Policies.Get(ctx, user, "libera", "bob"); p != PolicyNever || !ok || err != nil {
		t.Fatalf("Get = %q, %v, %v", p, ok, err)
	}
	if err := d.Policies.Set(ctx, user, "libera", "bob", "sometimes", t0); err == nil {
		t.Error("Set accepted an unknown policy")
	}
	d.Policies.Set(ctx, user, "oftc", "dave", PolicyManual, t0)
	l, err := d.Policies.List(ctx, user, "")
	if err != nil || len(l) != 3 || l[0].Peer != DefaultPeer || l[1].Peer != "bob" || l[1].Policy != PolicyNever ||
		!l[1].UpdatedAt.Equal(t0.Add(time.Second)) || l[2].Network != "oftc" {
		t.Fatalf("List = %+v, %v", l, err)
	}
	if ok, err := d.Policies.Delete(ctx, user, "libera", "bob"); !ok || err != nil {
		t.Fatalf("Delete = %v, %v", ok, err)
	}
	if p, sc, _ := d.Policies.Effective(ctx, user, "libera", "bob"); p != PolicyOpportunistic || sc != ScopeUser {
		t.Fatalf("after Delete = %q, %v", p, sc)
	}
}

// testConstraints checks that the schema itself rejects bad rows on both
// dialects, whatever code writes them.
func testConstraints(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	bad := []string{
		"INSERT INTO otr_fingerprint (user_mxid, network, peer, fingerprint, trust, first_seen, last_seen) VALUES ($1, 'n', 'p', $2, 'total', 0, 0)",
		"INSERT INTO otr_policy (user_mxid, network, peer, policy, updated_at) VALUES ($1, 'n', 'p', 'sometimes', 0)",
		"INSERT INTO otr_identity (user_mxid, network, sealed_key, instance_tag, created_at) VALUES ($1, 'n', $2, 5, 0)",
		"INSERT INTO otr_fingerprint_nick (user_mxid, network, peer, fingerprint, nick, first_seen, last_seen) VALUES ($1, 'n', 'nobody', $2, 'x', 0, 0)",
	}
	for _, q := range bad {
		var err error
		if strings.Contains(q, "otr_policy") {
			_, err = d.Exec(ctx, q, user)
		} else {
			_, err = d.Exec(ctx, q, user, fp(5))
		}
		if err == nil {
			t.Errorf("schema accepted: %s", q)
		}
	}
}

func testPrivateMarkers(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	if err := d.Private.Mark(ctx, user, "libera", "bob", t0); err != nil {
		t.Fatal(err)
	}
	// Marking again (a refreshed session) keeps the original time.
	if err := d.Private.Mark(ctx, user, "libera", "bob", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	d.Private.Mark(ctx, user, "oftc", "carol", t0)
	other := id.UserID(string(user) + ".other")
	d.Private.Mark(ctx, other, "libera", "bob", t0)

	l, err := d.Private.List(ctx, user)
	if err != nil || len(l) != 2 || l[0].Network != "libera" || l[0].Peer != "bob" || !l[0].Since.Equal(t0) || l[0].User != user {
		t.Fatalf("List = %+v, %v", l, err)
	}
	all, _ := d.Private.List(ctx, "")
	mine := 0
	for _, m := range all {
		if m.User == user || m.User == other {
			mine++
		}
	}
	if mine != 3 {
		t.Fatalf("List of all users has %d of this test's markers, want 3", mine)
	}
	if ok, err := d.Private.Clear(ctx, user, "libera", "bob"); !ok || err != nil {
		t.Fatalf("Clear = %v, %v", ok, err)
	}
	if ok, _ := d.Private.Clear(ctx, user, "libera", "bob"); ok {
		t.Fatal("second Clear found a marker")
	}
	if l, _ := d.Private.List(ctx, other); len(l) != 1 {
		t.Fatalf("Clear touched another user's marker: %+v", l)
	}
}

func testChannels(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	other := id.UserID(string(user) + ".other")
	put := func(c *Channel) {
		t.Helper()
		if err := d.Channels.Put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	put(&Channel{User: user, Network: "libera", Channel: "#otr", Name: "#OTR", AddedAt: t0.Add(time.Minute)})
	put(&Channel{User: user, Network: "libera", Channel: "#go", Name: "#go", SealedKey: []byte{1, 2}, AddedAt: t0})
	put(&Channel{User: user, Network: "oftc", Channel: "#otr", Name: "#otr", AddedAt: t0})
	put(&Channel{User: other, Network: "libera", Channel: "#otr", Name: "#otr", AddedAt: t0})

	l, err := d.Channels.List(ctx, user, "libera")
	if err != nil || len(l) != 2 {
		t.Fatalf("List = %+v, %v", l, err)
	}
	if l[0].Channel != "#go" || !bytes.Equal(l[0].SealedKey, []byte{1, 2}) || !l[0].AddedAt.Equal(t0) || l[0].User != user || l[0].Network != "libera" {
		t.Fatalf("first channel = %+v (want #go, oldest first, with its key)", l[0])
	}
	if l[1].Channel != "#otr" || l[1].Name != "#OTR" || l[1].SealedKey != nil {
		t.Fatalf("second channel = %+v", l[1])
	}

	// Joining again with a new key and spelling updates both, keeps the time.
	put(&Channel{User: user, Network: "libera", Channel: "#otr", Name: "#Otr", SealedKey: []byte{3}, AddedAt: t0.Add(time.Hour)})
	l, _ = d.Channels.List(ctx, user, "libera")
	if len(l) != 2 || l[1].Name != "#Otr" || !bytes.Equal(l[1].SealedKey, []byte{3}) || !l[1].AddedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after a second Put: %+v", l)
	}

	if ok, err := d.Channels.Remove(ctx, user, "libera", "#otr"); !ok || err != nil {
		t.Fatalf("Remove = %v, %v", ok, err)
	}
	if ok, _ := d.Channels.Remove(ctx, user, "libera", "#otr"); ok {
		t.Fatal("second Remove found the channel")
	}
	if l, _ := d.Channels.List(ctx, other, "libera"); len(l) != 1 {
		t.Fatalf("Remove touched another user's channel: %+v", l)
	}
	if l, _ := d.Channels.List(ctx, user, "oftc"); len(l) != 1 {
		t.Fatalf("Remove touched another network: %+v", l)
	}
	if err := d.Channels.Put(ctx, &Channel{User: user, Network: "libera", Name: "#x"}); err == nil {
		t.Fatal("Put without a casemapped channel succeeded")
	}
	if err := d.Channels.Put(ctx, &Channel{User: user, Network: "libera", Channel: "#x"}); err == nil {
		t.Fatal("Put without a name succeeded")
	}
}

// A peer presenting a new key in every key exchange, under many nicks,
// keeps a bounded history: the unverified keys seen longest ago go, the
// verified ones and the one just seen stay.
func testFingerprintHistoryCapped(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	if _, err := d.Fingerprints.Seen(ctx, user, "libera", "mallory", "mallory", fp(200), t0); err != nil {
		t.Fatal(err)
	}
	if err := d.Fingerprints.SetTrust(ctx, user, "libera", "mallory", fp(200), TrustSMP, "SMP", t0); err != nil {
		t.Fatal(err)
	}
	const keys = MaxFingerprintsPerPeer + 10
	var last *SeenResult
	for i := 1; i <= keys; i++ {
		res, err := d.Fingerprints.Seen(ctx, user, "libera", "mallory", fmt.Sprintf("nick%d", i), fp(byte(i)), t0.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		last = res
	}
	all, err := d.Fingerprints.List(ctx, user, "libera", "mallory")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != MaxFingerprintsPerPeer {
		t.Fatalf("%d fingerprints kept, want %d", len(all), MaxFingerprintsPerPeer)
	}
	kept := map[byte]bool{}
	for _, f := range all {
		kept[f.Fingerprint[0]] = true
	}
	if !kept[200] || !kept[keys] || kept[1] || !kept[keys-MaxFingerprintsPerPeer+2] {
		t.Errorf("kept %v: want the verified key, the newest and the %d seen last", kept, MaxFingerprintsPerPeer-1)
	}
	if !last.New || len(last.Others) != MaxFingerprintsPerPeer-1 {
		t.Errorf("last Seen: new %v, %d others", last.New, len(last.Others))
	}
	for i := 1; i <= MaxNicksPerFingerprint+5; i++ {
		if _, err := d.Fingerprints.Seen(ctx, user, "libera", "mallory", fmt.Sprintf("alias%d", i), fp(200), t0.Add(time.Duration(100+i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	f, err := d.Fingerprints.Get(ctx, user, "libera", "mallory", fp(200))
	if err != nil || f == nil {
		t.Fatal(err)
	}
	if len(f.Nicks) != MaxNicksPerFingerprint || f.Nicks[len(f.Nicks)-1] != fmt.Sprintf("alias%d", MaxNicksPerFingerprint+5) {
		t.Errorf("nicks kept: %v", f.Nicks)
	}
}

func testInflight(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	login := "libera/" + string(user)
	for i, ev := range []id.EventID{"$b", "$a", "$c"} {
		m := InflightMessage{Login: login, Room: "!room:example.org", Event: ev, Sender: user, Since: t0.Add(time.Duration(i) * time.Second)}
		if err := d.Inflight.Begin(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// Another login's record stays apart.
	if err := d.Inflight.Begin(ctx, InflightMessage{Login: "oftc/" + string(user), Room: "!r:x", Event: "$a", Sender: user, Since: t0}); err != nil {
		t.Fatal(err)
	}
	if err := d.Inflight.End(ctx, login, "$a"); err != nil {
		t.Fatal(err)
	}
	got, err := d.Inflight.List(ctx, login)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Event != "$b" || got[1].Event != "$c" || got[0].Room != "!room:example.org" || got[0].Sender != user || !got[0].Since.Equal(t0) {
		t.Fatalf("List = %+v", got)
	}
	if other, _ := d.Inflight.List(ctx, "oftc/"+string(user)); len(other) != 1 {
		t.Errorf("the other login's records: %+v", other)
	}
}

// A refused key stays refused (across Seen and a move to another peer ID)
// until the user verifies it.
func testRefusedKeys(t *testing.T, d *Database, user id.UserID) {
	ctx := context.Background()
	refused := func(peer string, n byte) bool {
		t.Helper()
		f, err := d.Fingerprints.Get(ctx, user, "libera", peer, fp(n))
		if err != nil || f == nil {
			t.Fatalf("Get %s %d = %+v, %v", peer, n, f, err)
		}
		return f.Refused
	}
	// Refused before the key exchange stored it, then seen.
	if err := d.Fingerprints.Refuse(ctx, user, "libera", "frank", fp(7), t0); err != nil {
		t.Fatal(err)
	}
	if res, err := d.Fingerprints.Seen(ctx, user, "libera", "frank", "frank", fp(7), t0.Add(time.Minute)); err != nil || res.New || !res.Fingerprint.Refused {
		t.Fatalf("Seen after Refuse = %+v, %v", res, err)
	}
	// Seen first, refused after; untrusting keeps the refusal.
	d.Fingerprints.Seen(ctx, user, "libera", "frank", "frank", fp(8), t0)
	if err := d.Fingerprints.Refuse(ctx, user, "libera", "frank", fp(8), t0.Add(time.Minute)); err != nil || !refused("frank", 8) {
		t.Fatalf("Refuse a seen key: %v", err)
	}
	d.Fingerprints.SetTrust(ctx, user, "libera", "frank", fp(8), TrustNone, "", t0.Add(2*time.Minute))
	if !refused("frank", 8) {
		t.Error("TrustNone cleared the refusal")
	}
	if err := d.Fingerprints.MovePeer(ctx, user, "libera", "frank", "franky"); err != nil {
		t.Fatal(err)
	}
	if !refused("franky", 7) || !refused("franky", 8) {
		t.Error("a move lost the refusal")
	}
	// Verifying clears it.
	d.Fingerprints.SetTrust(ctx, user, "libera", "franky", fp(8), TrustManual, "manually", t0.Add(3*time.Minute))
	if refused("franky", 8) || !refused("franky", 7) {
		t.Error("verifying did not clear only that key's refusal")
	}
}
