package teststack

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestEncryptedClient: two EncryptedClients talk in an encrypted room; the
// homeserver only ever serves ciphertext there, each side decrypts the
// other, and no Send method writes plaintext into a room it does not know
// to be encrypted.
func TestEncryptedClient(t *testing.T) {
	hs := Dendrite(t, HSOptions{})
	alice := hs.RegisterEncryptedUser(t, "alice", "alice-password")
	bob := hs.RegisterEncryptedUser(t, "bob", "bob-password")
	room, err := alice.Plain.CreateRoom(map[string]any{
		"preset": "private_chat",
		"invite": []string{bob.UserID()},
		"initial_state": []any{map[string]any{
			"type": "m.room.encryption", "state_key": "",
			"content": map[string]any{"algorithm": "m.megolm.v1.aes-sha2"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Plain.WaitInvite(20*time.Second, alice.UserID()); err != nil {
		t.Fatal(err)
	}
	if err := bob.Plain.Join(room); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*EncryptedClient{alice, bob} {
		if err := c.WaitRoomEncrypted(20*time.Second, room); err != nil {
			t.Fatal(err)
		}
	}
	// Alice must know Bob joined before she shares her room key.
	if _, err := alice.Plain.WaitEvent(20*time.Second, func(e MatrixEvent) bool {
		return e.RoomID == room && e.Type == "m.room.member" && e.StateKey != nil &&
			*e.StateKey == bob.UserID() && e.Str("membership") == "join"
	}); err != nil {
		t.Fatal(err)
	}

	sent, err := alice.SendText(room, "megolm hello zq1")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := bob.Plain.WaitMessage(30*time.Second, room, alice.UserID(), nil)
	if err != nil {
		t.Fatalf("bob: %v (decrypt failures: %v)", err, bob.DecryptFailures())
	}
	if ev.EventID != sent || ev.Body() != "megolm hello zq1" || !bob.WasDecrypted(sent) {
		t.Fatalf("bob got %s %+v (decrypted %v)", ev.EventID, ev.Content, bob.WasDecrypted(sent))
	}
	if _, err := bob.SendEmote(room, "waves zq2"); err != nil {
		t.Fatal(err)
	}
	ev, err = alice.Plain.WaitMessage(30*time.Second, room, bob.UserID(), nil)
	if err != nil || ev.MsgType() != "m.emote" || ev.Body() != "waves zq2" || !alice.WasDecrypted(ev.EventID) {
		t.Fatalf("alice got %+v, %v (decrypt failures: %v)", ev.Content, err, alice.DecryptFailures())
	}

	// The server has only the ciphertext.
	var raw MatrixEvent
	if err := bob.Plain.Do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/event/"+url.PathEscape(sent), nil, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Type != "m.room.encrypted" || raw.Str("algorithm") != "m.megolm.v1.aes-sha2" || raw.Str("ciphertext") == "" ||
		strings.Contains(raw.Str("ciphertext"), "hello") {
		t.Fatalf("the homeserver has %s %+v", raw.Type, raw.Content)
	}

	plainRoom, err := alice.Plain.CreateRoom(map[string]any{"preset": "private_chat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.SendText(plainRoom, "never in plaintext"); !errors.Is(err, ErrNotEncrypted) {
		t.Fatalf("sending into an unencrypted room: %v, want ErrNotEncrypted", err)
	}
	if f := append(alice.DecryptFailures(), bob.DecryptFailures()...); len(f) > 0 {
		t.Fatalf("decrypt failures: %v", f)
	}
}
