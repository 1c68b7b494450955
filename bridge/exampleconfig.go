package bridge

import (
	"fmt"
	"strings"
	"text/template"

	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"
)

// mxmain writes the example config itself on -e, but with mautrix's
// defaults. otrbridge changes a few of them (end-to-bridge encryption on,
// SQLite, state notices for every connection change); main writes
// ExampleConfigFile instead.

// defaultOverrides replace mautrix's example defaults. Each old text must
// occur exactly once, so a mautrix upgrade that changes them fails loudly.
var defaultOverrides = []struct{ old, new string }{
	// End-to-bridge encryption on by default for new portals: otherwise the
	// homeserver stores every bridged message in plaintext. appservice and
	// msc4190 stay false, which also works with Dendrite (the bot gets its
	// to-device keys through its own /sync).
	{"    allow: false\n    # Whether to force-enable encryption in all bridged rooms.\n    default: false\n",
		"    allow: true\n    # Whether to force-enable encryption in all bridged rooms.\n    default: true\n"},
	// SQLite is the default database; PostgreSQL works with the same code.
	{"    type: postgres\n    # The database URI.",
		"    type: sqlite3-fk-wal\n    # The database URI."},
	{"    uri: postgres://user:password@host/database?sslmode=disable\n",
		"    uri: file:otrbridge.db?_txlock=immediate\n"},
	// Connecting, connected, transient disconnect and bad credentials all
	// appear in the control room.
	{"    bridge_status_notices: errors\n", "    bridge_status_notices: all\n"},
	// Matrix notices are messages too: bridge them (as IRC NOTICEs).
	{"    bridge_notices: false\n", "    bridge_notices: true\n"},
	// The bridge has no icon; an empty string (not YAML null) keeps the
	// config upgrader from warning on every start.
	{"        avatar: \n", "        avatar: \"\"\n"},
}

// ExampleConfigFile renders the whole example config file (what -e
// writes): mxmain's template with the connector's network section and
// otrbridge's defaults.
func (ic *IRCConnector) ExampleConfigFile() (string, error) {
	tmpl, err := template.New("example-config.yaml").Delims("$<<", ">>").Parse(mxmain.MatrixExampleConfigBase)
	if err != nil {
		return "", err
	}
	var buf strings.Builder
	buf.WriteString("# Network-specific config options\nnetwork:\n")
	networkExample, _, _ := ic.GetConfig()
	for line := range strings.SplitSeq(networkExample, "\n") {
		buf.WriteString("    ")
		buf.WriteString(line)
		buf.WriteRune('\n')
	}
	buf.WriteRune('\n')
	if err := tmpl.Execute(&buf, ic.GetName()); err != nil {
		return "", err
	}
	out := buf.String()
	for _, o := range defaultOverrides {
		if n := strings.Count(out, o.old); n != 1 {
			return "", fmt.Errorf("mautrix example config changed: %q occurs %d times", o.old, n)
		}
		out = strings.Replace(out, o.old, o.new, 1)
	}
	return out, nil
}
