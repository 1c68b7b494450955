package bridge

import (
	"testing"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/otrbridge/otrbridge/bridge/ircconn"
)

func TestPendingMembersOrder(t *testing.T) {
	st := newRoomState()
	st.addPending("dave", "Dave", 0)
	st.addPending("carol", "Carol", powerOperator)
	st.addPending("erin", "Erin", powerVoice)
	st.addPending("frank", "Frank", 0)
	st.ghosts["gina"] = "local.gina"
	st.addPending("gina", "Gina", powerOwner) // already in the room
	var order []string
	for {
		_, p, ok := st.popPending()
		if !ok {
			break
		}
		order = append(order, p.nick)
	}
	want := []string{"Carol", "Erin", "Dave", "Frank"}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v (operators first, then by arrival)", order, want)
		}
	}
}

func TestMemberPower(t *testing.T) {
	is := ircconn.ISupport{PrefixModes: "qaohv", PrefixSymbols: "~&@%+"}
	for prefixes, want := range map[string]int{"": 0, "+": powerVoice, "@+": powerOperator, "%": powerHalfop, "~@": powerOwner, "&": powerAdmin} {
		if got := memberPower(prefixes, is); got != want {
			t.Errorf("memberPower(%q) = %d, want %d", prefixes, got, want)
		}
	}
}

func TestPowerOverrides(t *testing.T) {
	pl := &event.PowerLevelsEventContent{}
	ov := powerOverrides(ircconn.Channel{ModesKnown: true, Modes: map[rune]string{'n': ""}}, map[id.UserID]int{"@a:x": powerOperator})
	ov.Apply("", pl)
	if pl.GetEventLevel(event.StateTopic) != 0 || pl.GetUserLevel("@a:x") != powerOperator || pl.Kick() != powerHalfop {
		t.Errorf("-t channel: topic level %d, user %d, kick %d", pl.GetEventLevel(event.StateTopic), pl.GetUserLevel("@a:x"), pl.Kick())
	}
	ov = powerOverrides(ircconn.Channel{ModesKnown: true, Modes: map[rune]string{'t': ""}}, map[id.UserID]int{"@a:x": 0})
	ov.Apply("", pl)
	if pl.GetEventLevel(event.StateTopic) != powerTopic || pl.GetUserLevel("@a:x") != 0 {
		t.Errorf("+t channel: topic level %d, deopped user %d", pl.GetEventLevel(event.StateTopic), pl.GetUserLevel("@a:x"))
	}
}
