package bridge

import (
	"reflect"
	"unsafe"

	"go.mau.fi/util/exsync"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
)

// bridgev2 keeps, per login, the set of portals the user is known to be in
// (UserLogin.inPortalCache), so that queueing a remote event does not ask the
// database and the state store each time (UserLogin.MarkInPortal). In
// mautrix v0.32 and v0.33 User.NewLogin does not create that set: only a
// login loaded when the bridge starts has one. For a login made in this run
// of the bridge, every message from an IRC peer then upserts a user_portal
// row and looks up the user's membership, until the next restart (a tenth of
// the bridge's CPU per message in the load test).
//
// ensureInPortalCache gives such a login the set that loading it at start
// would have given it. It runs in LoadUserLogin, before bridgev2 publishes a
// new login, so nothing reads the field yet; a login that already has a set
// keeps it. If a mautrix version renames or retypes the field, this does
// nothing and TestInPortalCacheField fails.
func ensureInPortalCache(login *bridgev2.UserLogin) {
	f := reflect.ValueOf(login).Elem().FieldByName(inPortalCacheField)
	if !f.IsValid() || f.Type() != reflect.TypeFor[*exsync.Set[networkid.PortalKey]]() {
		return
	}
	set := (**exsync.Set[networkid.PortalKey])(unsafe.Pointer(f.UnsafeAddr()))
	if *set == nil {
		*set = exsync.NewSet[networkid.PortalKey]()
	}
}

const inPortalCacheField = "inPortalCache"
