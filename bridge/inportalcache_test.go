package bridge

import (
	"reflect"
	"testing"
	"unsafe"

	"go.mau.fi/util/exsync"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// TestInPortalCacheField: the field ensureInPortalCache fills still exists
// with the type it expects (a mautrix upgrade that changes it must be
// noticed: the workaround would silently stop working).
func TestInPortalCacheField(t *testing.T) {
	f, ok := reflect.TypeFor[bridgev2.UserLogin]().FieldByName(inPortalCacheField)
	if !ok {
		t.Fatalf("bridgev2.UserLogin has no field %s: check whether User.NewLogin now creates the set, then drop ensureInPortalCache", inPortalCacheField)
	}
	if want := reflect.TypeFor[*exsync.Set[networkid.PortalKey]](); f.Type != want {
		t.Fatalf("bridgev2.UserLogin.%s is a %s, not %s", inPortalCacheField, f.Type, want)
	}
}

// TestEnsureInPortalCache: a login as User.NewLogin makes it gets a set;
// one that has a set keeps it.
func TestEnsureInPortalCache(t *testing.T) {
	login := &bridgev2.UserLogin{}
	field := func() *exsync.Set[networkid.PortalKey] {
		f := reflect.ValueOf(login).Elem().FieldByName(inPortalCacheField)
		return *(**exsync.Set[networkid.PortalKey])(unsafe.Pointer(f.UnsafeAddr()))
	}
	if field() != nil {
		t.Fatal("a new UserLogin already has the set: bridgev2 may have fixed NewLogin")
	}
	ensureInPortalCache(login)
	set := field()
	if set == nil {
		t.Fatal("ensureInPortalCache left the set nil")
	}
	key := networkid.PortalKey{ID: "local.peer"}
	set.Add(key)
	ensureInPortalCache(login)
	if field() != set || !field().Has(key) {
		t.Fatal("ensureInPortalCache replaced an existing set")
	}
}
