package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"go.mau.fi/zeroconfig"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRedactLoggingHidesMatrixRequestBodies sends a message through a real
// mautrix client with debug logging (which logs req_body) and checks that
// the text never reaches either log format.
func TestRedactLoggingHidesMatrixRequestBodies(t *testing.T) {
	const secret = "attack at dawn 7f3a"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"event_id":"$x"}`))
	}))
	defer srv.Close()

	for _, format := range []zeroconfig.LogFormat{zeroconfig.LogFormatJSON, zeroconfig.LogFormatPretty} {
		out := &syncBuffer{}
		zeroconfig.Stdout = out
		debug := zerolog.DebugLevel
		cfg := zeroconfig.Config{MinLevel: &debug, Writers: []zeroconfig.WriterConfig{{Type: zeroconfig.WriterTypeStdout, Format: format}}}
		RedactLogging(&cfg)
		log, err := cfg.Compile()
		if err != nil {
			t.Fatal(err)
		}
		cli, err := mautrix.NewClient(srv.URL, id.UserID("@bot:example.org"), "token")
		if err != nil {
			t.Fatal(err)
		}
		cli.Log = *log
		_, err = cli.SendMessageEvent(log.WithContext(context.Background()), "!room:example.org", event.EventMessage,
			&event.MessageEventContent{MsgType: event.MsgText, Body: secret, FormattedBody: "<b>" + secret + "</b>"})
		if err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if !strings.Contains(got, "req_body") {
			t.Fatalf("%s: expected the request log line with a redacted req_body, got:\n%s", format, got)
		}
		if strings.Contains(got, secret) {
			t.Fatalf("%s: message text reached the log:\n%s", format, got)
		}
	}
	zeroconfig.Stdout = nil
}

func TestRedactLine(t *testing.T) {
	line := []byte(`{"level":"debug","req_body":{"body":"hello"},"url":"x","message":"Request completed"}` + "\n")
	got := redactLine(line)
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatalf("redacted line is not JSON: %v: %s", err, got)
	}
	if strings.Contains(string(got), "hello") || m["url"] != "x" || m["message"] != "Request completed" {
		t.Errorf("redactLine = %s", got)
	}
	plain := []byte(`{"level":"info","message":"Starting bridge"}` + "\n")
	if !bytes.Equal(redactLine(plain), plain) {
		t.Error("lines without sensitive fields must pass unchanged")
	}
	broken := []byte(`{"req_body": "unterminated`)
	if strings.Contains(string(redactLine(broken)), "unterminated") {
		t.Error("unparseable lines with sensitive fields must be withheld")
	}
	unknown := []byte(`{"mx_command":"mypassword","message":"Received unknown command"}`)
	if strings.Contains(string(redactLine(unknown)), "mypassword") {
		t.Error("the first word of unknown commands must not be logged")
	}
	known := []byte(`{"mx_command":"login","message":"Received command"}`)
	if !strings.Contains(string(redactLine(known)), "login") {
		t.Error("known command names may be logged")
	}
}
