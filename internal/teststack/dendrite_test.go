package teststack

import (
	"testing"
	"time"
)

func TestDendriteUsersDMAndRestart(t *testing.T) {
	hs := Dendrite(t, HSOptions{})
	alice := hs.RegisterMatrixUser(t, "alice", "alice-password", false)
	bob := hs.RegisterMatrixUser(t, "bob", "bob-password", false)
	if alice.UserID != "@alice:localhost" {
		t.Fatalf("user ID %q", alice.UserID)
	}
	room, err := alice.CreateDM(bob.UserID)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := bob.WaitInvite(20*time.Second, alice.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if inv.RoomID != room || inv.Content["is_direct"] != true {
		t.Fatalf("invite %+v", inv)
	}
	if err := bob.Join(room); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendHTML(room, "hi bob", "<b>hi</b> bob"); err != nil {
		t.Fatal(err)
	}
	ev, err := bob.WaitMessage(20*time.Second, room, alice.UserID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Body() != "hi bob" || ev.HTML() != "<b>hi</b> bob" {
		t.Fatalf("bob got %+v", ev.Content)
	}

	hs.Restart(t)
	if _, err := LoginMatrix(hs.URL, "alice", "alice-password"); err != nil {
		t.Fatalf("login after restart: %v", err)
	}
	if _, err := bob.SendEmote(room, "waves"); err != nil {
		t.Fatal(err)
	}
	ev, err = alice.WaitMessage(20*time.Second, room, bob.UserID, nil)
	if err != nil || ev.MsgType() != "m.emote" {
		t.Fatalf("alice got %+v, %v", ev.Content, err)
	}
	if _, err := hs.Register("alice", "x", false); err == nil {
		t.Fatal("registering an existing user succeeded")
	}
}
