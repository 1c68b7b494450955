package teststack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/attachment"
	"maunium.net/go/mautrix/crypto/cryptohelper"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// EncryptedClient is a Matrix user with end-to-end encryption: Olm and
// Megolm from mautrix-go's crypto package (goolm), keys in a SQLite store of
// its own. It is the client side of the bridge's end-to-bridge encryption:
// it sends Megolm-encrypted messages into encrypted rooms and decrypts what
// the bridge sends there.
//
// Every event its sync sees goes to Plain's event list, so Plain's
// WaitEvent/WaitMessage helpers work unchanged: an encrypted room event is
// recorded once as m.room.encrypted and, once decrypted, again under the
// same event ID with its real type and content. Plain (same user, device
// and access token) is for the unencrypted API calls; its own sync loop
// must not be started.
type EncryptedClient struct {
	Plain *MatrixClient

	cli    *mautrix.Client
	crypto *cryptohelper.CryptoHelper
	logf   *os.File

	mu        sync.Mutex
	decrypted map[string]bool
	failures  []error
	// withheld are the Megolm sessions of SendWithheldKey: nobody can
	// decrypt their events, this client included, and that is no failure.
	withheld map[id.SessionID]bool
	cancel   context.CancelFunc
	done     chan struct{}
}

// RegisterEncryptedUser registers a user with the shared-secret API, sets up
// its device's encryption keys (store in a temporary directory) and starts
// its sync loop; everything stops at cleanup.
func (hs *Homeserver) RegisterEncryptedUser(t testing.TB, localpart, password string) *EncryptedClient {
	t.Helper()
	plain, err := hs.Register(localpart, password, false)
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	c, err := NewEncryptedClient(plain, t.TempDir())
	if err != nil {
		t.Fatalf("encryption for %s: %v", localpart, err)
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// NewEncryptedClient adds encryption to the logged-in device of plain: it
// creates the Olm account in storeDir/crypto.db and uploads the device and
// one-time keys. Start runs the sync loop.
func NewEncryptedClient(plain *MatrixClient, storeDir string) (*EncryptedClient, error) {
	if plain.Token == "" || plain.DeviceID == "" {
		return nil, fmt.Errorf("encrypted client: %s is not logged in with a device", plain.UserID)
	}
	cli, err := mautrix.NewClient(plain.HS, id.UserID(plain.UserID), plain.Token)
	if err != nil {
		return nil, fmt.Errorf("encrypted client: %w", err)
	}
	cli.DeviceID = id.DeviceID(plain.DeviceID)
	// The client's own log (debug, in the store directory) is for whoever
	// debugs a failing test; it is never grepped for privacy.
	logf, err := os.OpenFile(filepath.Join(storeDir, "client.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("encrypted client log: %w", err)
	}
	cli.Log = zerolog.New(logf).With().Timestamp().Str("user", plain.UserID).Logger().Level(zerolog.DebugLevel)
	pickleKey := make([]byte, 32)
	if _, err := rand.Read(pickleKey); err != nil {
		logf.Close()
		return nil, err
	}
	helper, err := cryptohelper.NewCryptoHelper(cli, pickleKey, filepath.Join(storeDir, "crypto.db"))
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("encrypted client: crypto helper: %w", err)
	}
	c := &EncryptedClient{Plain: plain, cli: cli, crypto: helper, logf: logf, decrypted: map[string]bool{}, withheld: map[id.SessionID]bool{}}
	helper.DecryptErrorCallback = func(evt *event.Event, err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if enc, ok := evt.Content.Parsed.(*event.EncryptedEventContent); ok && c.withheld[enc.SessionID] {
			return
		}
		c.failures = append(c.failures, fmt.Errorf("decrypt %s in %s: %w", evt.ID, evt.RoomID, err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := helper.Init(ctx); err != nil {
		helper.Close()
		logf.Close()
		return nil, fmt.Errorf("encrypted client: init crypto: %w", err)
	}
	cli.Crypto = helper
	cli.Syncer.(mautrix.ExtensibleSyncer).OnEvent(c.record)
	return c, nil
}

// record copies a room event (raw or decrypted) into Plain's event list.
func (c *EncryptedClient) record(_ context.Context, evt *event.Event) {
	if evt.RoomID == "" {
		return // to-device, presence, global account data
	}
	src := evt.Mautrix.EventSource
	if src&(event.SourceEphemeral|event.SourceAccountData) != 0 {
		return
	}
	raw := []byte(evt.Content.VeryRaw)
	if len(raw) == 0 {
		var err error
		if raw, err = json.Marshal(&evt.Content); err != nil {
			return
		}
	}
	var content map[string]any
	if err := json.Unmarshal(raw, &content); err != nil {
		return
	}
	me := MatrixEvent{
		RoomID:   evt.RoomID.String(),
		EventID:  evt.ID.String(),
		Sender:   evt.Sender.String(),
		Type:     evt.Type.Type,
		StateKey: evt.StateKey,
		Content:  content,
		TS:       evt.Timestamp,
		Invite:   src&event.SourceInvite != 0,
		Received: time.Now(),
	}
	if src&event.SourceDecrypted != 0 {
		c.mu.Lock()
		c.decrypted[me.EventID] = true
		c.mu.Unlock()
	}
	c.Plain.record([]MatrixEvent{me})
}

// record appends events seen by a sync loop other than the client's own
// (EncryptedClient's) and wakes the waiters.
func (c *MatrixClient) record(batch []MatrixEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, batch...)
	c.consumed = append(c.consumed, make([]bool, len(batch))...)
	close(c.notify)
	c.notify = make(chan struct{})
}

// Start runs the sync loop (which also processes to-device messages: room
// keys, device list changes, one-time key counts) until Close.
func (c *EncryptedClient) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			err := c.cli.SyncWithContext(ctx)
			if ctx.Err() != nil {
				return
			}
			c.Plain.mu.Lock()
			c.Plain.syncErr = err
			c.Plain.mu.Unlock()
			time.Sleep(500 * time.Millisecond)
		}
	}()
}

// Close stops the sync loop and closes the key store.
func (c *EncryptedClient) Close() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.cancel = nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	_ = c.crypto.Close()
	_ = c.logf.Close()
}

// UserID is the client's Matrix ID.
func (c *EncryptedClient) UserID() string { return c.Plain.UserID }

// IsEncrypted reports whether the client has seen m.room.encryption in
// roomID.
func (c *EncryptedClient) IsEncrypted(roomID string) (bool, error) {
	return c.cli.StateStore.IsEncrypted(context.Background(), id.RoomID(roomID))
}

// WaitRoomEncrypted waits until the client knows roomID is encrypted.
func (c *EncryptedClient) WaitRoomEncrypted(timeout time.Duration, roomID string) error {
	deadline := time.Now().Add(timeout)
	for {
		enc, err := c.IsEncrypted(roomID)
		if err != nil {
			return err
		}
		if enc {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: room %s: no m.room.encryption seen: %w", c.UserID(), roomID, ErrTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ErrNotEncrypted is returned by the Send methods for a room the client
// does not know to be encrypted: they never fall back to plaintext.
var ErrNotEncrypted = errors.New("room is not encrypted")

// SendEncrypted Megolm-encrypts an m.room.message with content (sharing
// the room key with the members' devices first when needed) and sends it
// as m.room.encrypted. It returns the event ID.
func (c *EncryptedClient) SendEncrypted(roomID string, content map[string]any) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	enc, err := c.IsEncrypted(roomID)
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", roomID, err)
	}
	if !enc {
		return "", fmt.Errorf("send to %s: %w", roomID, ErrNotEncrypted)
	}
	encrypted, err := c.crypto.Encrypt(ctx, id.RoomID(roomID), event.EventMessage, content)
	if err != nil {
		return "", fmt.Errorf("send to %s: encrypt: %w", roomID, err)
	}
	resp, err := c.cli.SendMessageEvent(ctx, id.RoomID(roomID), event.EventEncrypted, encrypted)
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", roomID, err)
	}
	return resp.EventID.String(), nil
}

// SendText sends an encrypted m.text.
func (c *EncryptedClient) SendText(roomID, body string) (string, error) {
	return c.SendEncrypted(roomID, map[string]any{"msgtype": "m.text", "body": body})
}

// SendFile sends data as an encrypted attachment (m.file): the file is
// encrypted with a fresh key before the upload, so the homeserver's media
// store holds only ciphertext, and the key travels in the Megolm-encrypted
// event, as Element does.
func (c *EncryptedClient) SendFile(roomID, name string, data []byte) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	file := attachment.NewEncryptedFile()
	ciphertext := bytes.Clone(data)
	file.EncryptInPlace(ciphertext)
	up, err := c.cli.UploadBytes(ctx, ciphertext, "application/octet-stream")
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", name, err)
	}
	content := event.MessageEventContent{
		MsgType:  event.MsgFile,
		Body:     name,
		FileName: name,
		File:     &event.EncryptedFileInfo{EncryptedFile: *file, URL: up.ContentURI.CUString()},
		Info:     &event.FileInfo{Size: len(data), MimeType: "application/octet-stream"},
	}
	raw, err := json.Marshal(&content)
	if err != nil {
		return "", err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", err
	}
	return c.SendEncrypted(roomID, m)
}

// SendWithheldKey sends an m.room.encrypted event of a Megolm session whose
// key nobody was given: what the other members' devices receive when the
// sender's client withholds the key from them (Element's "never send to
// unverified sessions"). Its ciphertext is random bytes; no device can
// decrypt it, and DecryptFailures does not count it.
func (c *EncryptedClient) SendWithheldKey(roomID string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	session := make([]byte, 32)
	ciphertext := make([]byte, 128)
	if _, err := rand.Read(session); err != nil {
		return "", err
	}
	if _, err := rand.Read(ciphertext); err != nil {
		return "", err
	}
	content := &event.EncryptedEventContent{
		Algorithm:        id.AlgorithmMegolmV1,
		SenderKey:        c.crypto.Machine().OwnIdentity().IdentityKey,
		SessionID:        id.SessionID(base64.RawStdEncoding.EncodeToString(session)),
		MegolmCiphertext: []byte(base64.RawStdEncoding.EncodeToString(ciphertext)),
	}
	c.mu.Lock()
	c.withheld[content.SessionID] = true
	c.mu.Unlock()
	resp, err := c.cli.SendMessageEvent(ctx, id.RoomID(roomID), event.EventEncrypted, content)
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", roomID, err)
	}
	return resp.EventID.String(), nil
}

// SendEmote sends an encrypted m.emote.
func (c *EncryptedClient) SendEmote(roomID, body string) (string, error) {
	return c.SendEncrypted(roomID, map[string]any{"msgtype": "m.emote", "body": body})
}

// WasDecrypted reports whether the event eventID reached the client
// encrypted and was decrypted by it.
func (c *EncryptedClient) WasDecrypted(eventID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.decrypted[eventID]
}

// DecryptFailures returns the events the client could not decrypt, but
// those of SendWithheldKey.
func (c *EncryptedClient) DecryptFailures() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.failures...)
}
