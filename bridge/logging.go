package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/rs/zerolog"
	"go.mau.fi/zeroconfig"
)

// Log privacy. mautrix-go logs the full body of every Matrix API request at
// debug level ("req_body"), and a few other places log event contents; that
// would put message text (the plaintext of OTR conversations) and typed
// passwords into the log. RedactLogging puts a filter in front of every
// configured log writer that replaces those fields before anything is
// written, at every level.

// redactedFields are log fields whose values are replaced by their size.
var redactedFields = []string{"req_body", "resp_body", "body", "content", "formatted_body", "pack_data", "new_content"}

// RedactLogging rewrites the logging config so that each writer receives
// zerolog's JSON through the redacting filter and then formats it as
// configured. Call it after the config is loaded and before the logger is
// compiled.
func RedactLogging(cfg *zeroconfig.Config) {
	for i := range cfg.Writers {
		orig := cfg.Writers[i]
		typ := zeroconfig.WriterType(fmt.Sprintf("otrbridge-redacted-%d", i))
		zeroconfig.RegisterWriter(typ, func(*zeroconfig.WriterConfig) (io.Writer, error) {
			out, err := orig.Compile()
			if err != nil {
				return nil, err
			}
			return &redactingWriter{out: out}, nil
		})
		cfg.Writers[i] = zeroconfig.WriterConfig{Type: typ, Format: zeroconfig.LogFormatJSON}
	}
}

// redactingWriter removes sensitive fields from zerolog JSON events.
type redactingWriter struct {
	out io.Writer
}

var _ zerolog.LevelWriter = (*redactingWriter)(nil)

func (w *redactingWriter) Write(p []byte) (int, error) {
	if _, err := w.out.Write(redactLine(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *redactingWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	lw, ok := w.out.(zerolog.LevelWriter)
	if !ok {
		return w.Write(p)
	}
	if _, err := lw.WriteLevel(level, redactLine(p)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// redactLine returns the event with sensitive fields replaced. Lines that
// contain none of them are returned unchanged (the common case); a line that
// cannot be parsed is replaced entirely rather than passed through.
func redactLine(p []byte) []byte {
	if !mayContainSensitive(p) {
		return p
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(p, &fields); err != nil {
		return []byte(`{"level":"warn","message":"log line withheld: it may contain message content and could not be filtered"}` + "\n")
	}
	for _, key := range redactedFields {
		if v, ok := fields[key]; ok {
			fields[key] = json.RawMessage(strconv.Quote(fmt.Sprintf("<redacted %d bytes>", len(v))))
		}
	}
	// The first word of any text typed in a control room is logged as the
	// command name when it is not a known command.
	if msg, ok := fields[zerolog.MessageFieldName]; ok && string(msg) == `"Received unknown command"` {
		delete(fields, "mx_command")
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return []byte(`{"level":"warn","message":"log line withheld: it may contain message content and could not be filtered"}` + "\n")
	}
	return append(out, '\n')
}

func mayContainSensitive(p []byte) bool {
	for _, key := range redactedFields {
		if bytes.Contains(p, []byte(`"`+key+`":`)) {
			return true
		}
	}
	return bytes.Contains(p, []byte(`"mx_command":`))
}
