package e2e

import (
	"testing"

	"github.com/otrbridge/otrbridge/internal/teststack"
)

// scenario is one end-to-end behaviour; the suite runs each against a stack.
type scenario struct {
	name string
	run  func(t *testing.T, e *env)
	// sqliteOnly scenarios (slow or about the IRC side only) are not
	// repeated on PostgreSQL.
	sqliteOnly bool
}

var scenarios = []scenario{
	{name: "StartupAndRegistration", run: testStartup},
	{name: "ControlRoomHelp", run: testHelp},
	{name: "LoginWithoutPassword", run: testLogin},
	{name: "DMFromIRC", run: testDMFromIRC},
	{name: "DMStartChat", run: testDMStartChat},
	{name: "DMInviteGhost", run: testDMInviteGhost},
	{name: "DMRejoin", run: testDMRejoin},
	{name: "LogoutTellsRooms", run: testLogoutTellsRooms, sqliteOnly: true},
	{name: "LongMessageSplit", run: testLongMessage},
	{name: "FloodPacing", run: testFloodPacing, sqliteOnly: true},
	{name: "PeerNickChange", run: testPeerNickChange},
	{name: "NoSuchNick", run: testNoSuchNick},
	{name: "CommandPlaces", run: testCommandPlaces, sqliteOnly: true},
	{name: "ReactionsAndJoin", run: testReactionsAndJoin, sqliteOnly: true},
	{name: "LoginNickServ", run: testLoginNickServ},
	{name: "Permissions", run: testPermissions},
	{name: "ConnectionStaysUp", run: testConnectionStaysUp, sqliteOnly: true},
	{name: "ReconnectAfterIRCRestart", run: testReconnectAfterIRCRestart},
	{name: "BridgeRestart", run: testBridgeRestart},
	{name: "ChannelJoinTalk", run: testChannelJoinTalk},
	{name: "ChannelBadInput", run: testChannelBadInput, sqliteOnly: true},
	{name: "ChannelLimit", run: testChannelLimit, sqliteOnly: true},
	{name: "ChannelShared", run: testChannelShared},
	{name: "ChannelOps", run: testChannelOps},
	{name: "ChannelDedupNoMsgid", run: testChannelDedupNoMsgid},
	{name: "ChannelRestartRejoin", run: testChannelRestartRejoin},
	{name: "ChannelReconnect", run: testChannelReconnectRejoin},
}

func runSuite(t *testing.T, e *env, pg bool) {
	for _, s := range scenarios {
		if pg && s.sqliteOnly {
			continue
		}
		t.Run(s.name, func(t *testing.T) { s.run(t, e) })
	}
	// Last: every message the scenarios sent must be absent from the logs
	// and from the bridge's database.
	t.Run("LogPrivacy", func(t *testing.T) { e.checkLogs(t) })
	t.Run("DatabasePrivacy", func(t *testing.T) { e.checkDatabase(t) })
}

func TestSQLite(t *testing.T) {
	e := newEnv(t, "", "")
	runSuite(t, e, false)
}

func TestPostgres(t *testing.T) {
	dsn := teststack.Postgres(t)
	e := newEnv(t, "postgres", dsn)
	runSuite(t, e, true)
}
