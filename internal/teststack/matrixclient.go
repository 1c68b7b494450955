package teststack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// MatrixEvent is one event a MatrixClient saw in a room timeline, room state
// or invite.
type MatrixEvent struct {
	RoomID   string         `json:"room_id"`
	EventID  string         `json:"event_id"`
	Sender   string         `json:"sender"`
	Type     string         `json:"type"`
	StateKey *string        `json:"state_key,omitempty"`
	Content  map[string]any `json:"content"`
	TS       int64          `json:"origin_server_ts"`
	// Invite is true for stripped state from an invite (not yet joined).
	Invite bool `json:"-"`
	// Received is when the client's sync returned the event.
	Received time.Time `json:"-"`
}

// Str returns a string field of the content ("" if absent).
func (e MatrixEvent) Str(key string) string {
	s, _ := e.Content[key].(string)
	return s
}

// Body is content.body.
func (e MatrixEvent) Body() string { return e.Str("body") }

// MsgType is content.msgtype.
func (e MatrixEvent) MsgType() string { return e.Str("msgtype") }

// HTML is content.formatted_body when the format is org.matrix.custom.html.
func (e MatrixEvent) HTML() string {
	if e.Str("format") != "org.matrix.custom.html" {
		return ""
	}
	return e.Str("formatted_body")
}

// IsMessage reports whether the event is an m.room.message.
func (e MatrixEvent) IsMessage() bool { return e.Type == "m.room.message" }

// MatrixClient drives one Matrix user through the client-server API over
// plain HTTP, with a background /sync loop that records every event.
type MatrixClient struct {
	HS       string // homeserver base URL
	UserID   string
	Token    string
	DeviceID string

	http *http.Client
	txn  atomic.Int64

	mu       sync.Mutex
	events   []MatrixEvent
	consumed []bool
	notify   chan struct{}
	syncErr  error
	// invitesTaken are rooms WaitInvite already returned.
	invitesTaken map[string]bool
	cancel       context.CancelFunc
	stopped      chan struct{}
}

// RegisterMatrixUser creates a user through Dendrite's shared-secret admin
// registration API and returns a logged-in client with its sync loop
// running; the loop stops at cleanup.
func (hs *Homeserver) RegisterMatrixUser(t testing.TB, localpart, password string, admin bool) *MatrixClient {
	t.Helper()
	c, err := hs.Register(localpart, password, admin)
	if err != nil {
		t.Fatalf("register %s: %v", localpart, err)
	}
	c.StartSync()
	t.Cleanup(c.StopSync)
	return c
}

// Register creates a user with the shared-secret admin API (Synapse's
// /_synapse/admin/v1/register, which Dendrite implements) and returns a
// client (sync not started).
func (hs *Homeserver) Register(localpart, password string, admin bool) (*MatrixClient, error) {
	c := newMatrixClient(hs.URL)
	var nonce struct {
		Nonce string `json:"nonce"`
	}
	if err := c.do("GET", "/_synapse/admin/v1/register", nil, &nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	mac := hmac.New(sha1.New, []byte(hs.SharedSecret))
	role := "notadmin"
	if admin {
		role = "admin"
	}
	mac.Write([]byte(nonce.Nonce + "\x00" + localpart + "\x00" + password + "\x00" + role))
	req := map[string]any{
		"nonce": nonce.Nonce, "username": localpart, "password": password, "admin": admin,
		"mac": hex.EncodeToString(mac.Sum(nil)),
	}
	var resp struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	if err := c.do("POST", "/_synapse/admin/v1/register", req, &resp); err != nil {
		return nil, err
	}
	c.UserID, c.Token, c.DeviceID = resp.UserID, resp.AccessToken, resp.DeviceID
	return c, nil
}

// LoginMatrix logs in with a password and returns a client (sync not
// started).
func LoginMatrix(hsURL, user, password string) (*MatrixClient, error) {
	c := newMatrixClient(hsURL)
	req := map[string]any{
		"type":       "m.login.password",
		"identifier": map[string]any{"type": "m.id.user", "user": user},
		"password":   password,
	}
	var resp struct {
		UserID      string `json:"user_id"`
		AccessToken string `json:"access_token"`
		DeviceID    string `json:"device_id"`
	}
	if err := c.do("POST", "/_matrix/client/v3/login", req, &resp); err != nil {
		return nil, fmt.Errorf("login %s: %w", user, err)
	}
	c.UserID, c.Token, c.DeviceID = resp.UserID, resp.AccessToken, resp.DeviceID
	return c, nil
}

func newMatrixClient(hs string) *MatrixClient {
	return &MatrixClient{HS: strings.TrimRight(hs, "/"), http: &http.Client{Timeout: 60 * time.Second},
		notify: make(chan struct{})}
}

// HTTPError is a non-2xx answer of the homeserver.
type HTTPError struct {
	Status  int
	ErrCode string `json:"errcode"`
	Message string `json:"error"`
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.ErrCode, e.Message)
}

// Do calls an API path with an optional JSON body and decodes the answer
// into out (if not nil).
func (c *MatrixClient) Do(method, path string, body, out any) error {
	return c.do(method, path, body, out)
}

func (c *MatrixClient) do(method, path string, body, out any) error {
	return c.doCtx(context.Background(), method, path, body, out)
}

func (c *MatrixClient) doCtx(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.HS+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		he := &HTTPError{Status: resp.StatusCode}
		_ = json.Unmarshal(data, he)
		return fmt.Errorf("%s %s: %w", method, pathOnly(path), he)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, pathOnly(path), err)
		}
	}
	return nil
}

func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// CreateRoom creates a room from a raw createRoom request body.
func (c *MatrixClient) CreateRoom(req map[string]any) (string, error) {
	var resp struct {
		RoomID string `json:"room_id"`
	}
	if err := c.do("POST", "/_matrix/client/v3/createRoom", req, &resp); err != nil {
		return "", err
	}
	return resp.RoomID, nil
}

// CreateDM creates an unencrypted direct chat with invitee (is_direct).
func (c *MatrixClient) CreateDM(invitee string) (string, error) {
	return c.CreateRoom(map[string]any{
		"is_direct": true,
		"preset":    "trusted_private_chat",
		"invite":    []string{invitee},
	})
}

// Join joins a room by ID or alias.
func (c *MatrixClient) Join(room string) error {
	return c.do("POST", "/_matrix/client/v3/join/"+url.PathEscape(room), map[string]any{}, nil)
}

// Leave leaves a room.
func (c *MatrixClient) Leave(roomID string) error {
	return c.do("POST", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/leave", map[string]any{}, nil)
}

// SendEvent sends a message event of any type and returns its event ID.
func (c *MatrixClient) SendEvent(roomID, evType string, content map[string]any) (string, error) {
	txn := strconv.FormatInt(time.Now().UnixNano(), 36) + "." + strconv.FormatInt(c.txn.Add(1), 10)
	var resp struct {
		EventID string `json:"event_id"`
	}
	p := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/send/" + url.PathEscape(evType) + "/" + txn
	if err := c.do("PUT", p, content, &resp); err != nil {
		return "", err
	}
	return resp.EventID, nil
}

// SendText sends an m.text message.
func (c *MatrixClient) SendText(roomID, body string) (string, error) {
	return c.SendEvent(roomID, "m.room.message", map[string]any{"msgtype": "m.text", "body": body})
}

// SendHTML sends an m.text message with an HTML formatted_body.
func (c *MatrixClient) SendHTML(roomID, body, html string) (string, error) {
	return c.SendEvent(roomID, "m.room.message", map[string]any{
		"msgtype": "m.text", "body": body, "format": "org.matrix.custom.html", "formatted_body": html,
	})
}

// SendEmote sends an m.emote (/me).
func (c *MatrixClient) SendEmote(roomID, body string) (string, error) {
	return c.SendEvent(roomID, "m.room.message", map[string]any{"msgtype": "m.emote", "body": body})
}

// SendNotice sends an m.notice.
func (c *MatrixClient) SendNotice(roomID, body string) (string, error) {
	return c.SendEvent(roomID, "m.room.message", map[string]any{"msgtype": "m.notice", "body": body})
}

// JoinedMembers returns the user IDs joined to roomID.
func (c *MatrixClient) JoinedMembers(roomID string) ([]string, error) {
	var resp struct {
		Joined map[string]any `json:"joined"`
	}
	if err := c.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/joined_members", nil, &resp); err != nil {
		return nil, err
	}
	var ids []string
	for id := range resp.Joined {
		ids = append(ids, id)
	}
	return ids, nil
}

// StateEvent fetches one state event's content.
func (c *MatrixClient) StateEvent(roomID, evType, stateKey string) (map[string]any, error) {
	var out map[string]any
	err := c.do("GET", "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/"+url.PathEscape(evType)+"/"+url.PathEscape(stateKey), nil, &out)
	return out, err
}

// StartSync runs the /sync loop in the background until StopSync.
func (c *MatrixClient) StartSync() {
	c.mu.Lock()
	if c.cancel != nil {
		c.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.stopped = make(chan struct{})
	c.mu.Unlock()
	go c.syncLoop(ctx)
}

// StopSync ends the sync loop and waits for it.
func (c *MatrixClient) StopSync() {
	c.mu.Lock()
	cancel, stopped := c.cancel, c.stopped
	c.cancel = nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-stopped
	}
}

type syncResponse struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			State    struct{ Events []MatrixEvent } `json:"state"`
			Timeline struct{ Events []MatrixEvent } `json:"timeline"`
		} `json:"join"`
		Invite map[string]struct {
			InviteState struct{ Events []MatrixEvent } `json:"invite_state"`
		} `json:"invite"`
		Leave map[string]struct {
			Timeline struct{ Events []MatrixEvent } `json:"timeline"`
		} `json:"leave"`
	} `json:"rooms"`
}

func (c *MatrixClient) syncLoop(ctx context.Context) {
	defer close(c.stopped)
	since := ""
	filter := url.QueryEscape(`{"room":{"timeline":{"limit":100}}}`)
	for ctx.Err() == nil {
		p := "/_matrix/client/v3/sync?timeout=5000&filter=" + filter
		if since != "" {
			p += "&since=" + url.QueryEscape(since)
		}
		var resp syncResponse
		if err := c.doCtx(ctx, "GET", p, nil, &resp); err != nil {
			if ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.syncErr = err
			c.mu.Unlock()
			time.Sleep(500 * time.Millisecond)
			continue
		}
		since = resp.NextBatch
		now := time.Now()
		var batch []MatrixEvent
		add := func(roomID string, evs []MatrixEvent, invite bool) {
			for _, e := range evs {
				e.RoomID, e.Invite, e.Received = roomID, invite, now
				batch = append(batch, e)
			}
		}
		for id, r := range resp.Rooms.Join {
			add(id, r.State.Events, false)
			add(id, r.Timeline.Events, false)
		}
		for id, r := range resp.Rooms.Invite {
			add(id, r.InviteState.Events, true)
		}
		for id, r := range resp.Rooms.Leave {
			add(id, r.Timeline.Events, false)
		}
		if len(batch) == 0 {
			continue
		}
		c.mu.Lock()
		c.events = append(c.events, batch...)
		c.consumed = append(c.consumed, make([]bool, len(batch))...)
		c.syncErr = nil
		close(c.notify)
		c.notify = make(chan struct{})
		c.mu.Unlock()
	}
}

// WaitEvent waits until the sync loop has seen an event matching f that no
// earlier WaitEvent returned, marks it returned and gives it back. Events
// seen before the call count, so a test can send first and wait after.
func (c *MatrixClient) WaitEvent(timeout time.Duration, f func(MatrixEvent) bool) (MatrixEvent, error) {
	return c.waitFrom(timeout, "", f)
}

func (c *MatrixClient) waitFrom(timeout time.Duration, afterID string, f func(MatrixEvent) bool) (MatrixEvent, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	checked := 0
	if afterID != "" {
		g := f
		seen := false
		f = func(e MatrixEvent) bool {
			if !seen {
				seen = e.EventID == afterID
				return false
			}
			return g(e)
		}
	}
	for {
		c.mu.Lock()
		evs := c.events[checked:]
		start := checked
		ch := c.notify
		c.mu.Unlock()
		for i, e := range evs {
			if !f(e) {
				continue
			}
			c.mu.Lock()
			taken := c.consumed[start+i]
			c.consumed[start+i] = true
			c.mu.Unlock()
			if !taken {
				return e, nil
			}
		}
		checked = start + len(evs)
		select {
		case <-ch:
		case <-deadline.C:
			c.mu.Lock()
			serr := c.syncErr
			c.mu.Unlock()
			if serr != nil {
				return MatrixEvent{}, fmt.Errorf("%s: %w after %s (last sync error: %v)", c.UserID, ErrTimeout, timeout, serr)
			}
			return MatrixEvent{}, fmt.Errorf("%s: %w after %s", c.UserID, ErrTimeout, timeout)
		}
	}
}

// WaitMessage waits for an m.room.message in roomID ("" for any room) from
// sender ("" for anyone) that matches f (nil for any).
func (c *MatrixClient) WaitMessage(timeout time.Duration, roomID, sender string, f func(MatrixEvent) bool) (MatrixEvent, error) {
	return c.WaitMessageAfter(timeout, "", roomID, sender, f)
}

// WaitMessageAfter is WaitMessage for messages after the event afterID.
func (c *MatrixClient) WaitMessageAfter(timeout time.Duration, afterID, roomID, sender string, f func(MatrixEvent) bool) (MatrixEvent, error) {
	return c.waitFrom(timeout, afterID, func(e MatrixEvent) bool {
		return e.IsMessage() && !e.Invite && (roomID == "" || e.RoomID == roomID) &&
			(sender == "" || e.Sender == sender) && (f == nil || f(e))
	})
}

// WaitInvite waits for an invite of this user from inviter ("" for anyone)
// and returns the invite's member event (RoomID set).
// Each room is returned once, even when the homeserver repeats the invite
// in later syncs.
func (c *MatrixClient) WaitInvite(timeout time.Duration, inviter string) (MatrixEvent, error) {
	return c.waitInvite(timeout, inviter, false)
}

// WaitChatInvite is WaitInvite for rooms that are not spaces, so that the
// bridge's personal space invite is skipped.
func (c *MatrixClient) WaitChatInvite(timeout time.Duration, inviter string) (MatrixEvent, error) {
	return c.waitInvite(timeout, inviter, true)
}

// isSpaceInvite reports whether the invite state of roomID says it is a space.
func (c *MatrixClient) isSpaceInvite(roomID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		if e.RoomID == roomID && e.Type == "m.room.create" && e.Str("type") == "m.space" {
			return true
		}
	}
	return false
}

func (c *MatrixClient) waitInvite(timeout time.Duration, inviter string, noSpaces bool) (MatrixEvent, error) {
	ev, err := c.WaitEvent(timeout, func(e MatrixEvent) bool {
		if !e.Invite || e.Type != "m.room.member" || e.StateKey == nil || *e.StateKey != c.UserID ||
			e.Str("membership") != "invite" || (inviter != "" && e.Sender != inviter) {
			return false
		}
		if noSpaces && c.isSpaceInvite(e.RoomID) {
			return false
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.invitesTaken[e.RoomID]
	})
	if err == nil {
		c.mu.Lock()
		if c.invitesTaken == nil {
			c.invitesTaken = map[string]bool{}
		}
		c.invitesTaken[ev.RoomID] = true
		c.mu.Unlock()
	}
	return ev, err
}

// Events returns a copy of everything the sync loop has seen.
func (c *MatrixClient) Events() []MatrixEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]MatrixEvent(nil), c.events...)
}

// HistoryMessage looks for a message matching match among the newest limit
// events of roomID (RoomHistory): a message the bridge did send but that
// the homeserver's /sync never returned. A message found there has
// Received set to now.
func (c *MatrixClient) HistoryMessage(roomID string, limit int, match func(MatrixEvent) bool) (MatrixEvent, bool, error) {
	hist, err := c.RoomHistory(roomID, limit)
	if err != nil {
		return MatrixEvent{}, false, err
	}
	for _, h := range hist {
		if h.IsMessage() && match(h) {
			h.Received = time.Now()
			return h, true, nil
		}
	}
	return MatrixEvent{}, false, nil
}

// RoomHistory reads the newest limit events of roomID from the homeserver
// (/messages), newest first, independently of the sync loop.
func (c *MatrixClient) RoomHistory(roomID string, limit int) ([]MatrixEvent, error) {
	var resp struct {
		Chunk []MatrixEvent `json:"chunk"`
	}
	p := fmt.Sprintf("/_matrix/client/v3/rooms/%s/messages?dir=b&limit=%d", url.PathEscape(roomID), limit)
	if err := c.do("GET", p, nil, &resp); err != nil {
		return nil, err
	}
	for i := range resp.Chunk {
		resp.Chunk[i].RoomID = roomID
	}
	return resp.Chunk, nil
}

// Messages returns the m.room.message events seen in roomID, in order.
func (c *MatrixClient) Messages(roomID string) []MatrixEvent {
	var out []MatrixEvent
	for _, e := range c.Events() {
		if e.IsMessage() && e.RoomID == roomID {
			out = append(out, e)
		}
	}
	return out
}
