package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"text/template"

	flag "maunium.net/go/mauflag"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"
)

// mxmain writes the example config itself on -e, but with mautrix's
// defaults. otrbridge changes a few of them (end-to-bridge encryption on,
// SQLite, state notices for every connection change), so -e is handled
// here, writing what mxmain would write with those defaults replaced.

// exampleConfigRequested parses the command line with mxmain's flags and
// reports whether -e was given and the config path (-c, default
// config.yaml).
func exampleConfigRequested(args []string) (string, bool) {
	fs := flag.New(args)
	configPath := fs.MakeFull("c", "config", "", "config.yaml").String()
	write := fs.MakeFull("e", "generate-example-config", "", "false").Bool()
	fs.MakeFull("n", "no-update", "", "false").Bool()
	fs.MakeFull("r", "registration", "", "registration.yaml").String()
	fs.MakeFull("g", "generate-registration", "", "false").Bool()
	fs.MakeFull("v", "version", "", "false").Bool()
	fs.Make().LongKey("version-json").Default("false").Bool()
	fs.Make().LongKey("ignore-unsupported-database").Default("false").Bool()
	fs.Make().LongKey("ignore-foreign-tables").Default("false").Bool()
	fs.Make().LongKey("ignore-unsupported-server").Default("false").Bool()
	fs.MakeHelpFlag()
	if err := fs.Parse(); err != nil {
		return "", false // mxmain reports the error
	}
	return *configPath, *write
}

// writeExampleConfig behaves like mxmain's -e: it refuses to overwrite a
// file, and "-" prints to stdout.
func writeExampleConfig(path string, connector bridgev2.NetworkConnector) int {
	cfg, err := fullExampleConfig(connector)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Failed to build the example config:", err)
		return 1
	}
	if path == "-" || path == "/dev/stdout" {
		fmt.Print(cfg)
		return 0
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(os.Stderr, path, "already exists, please remove it if you want to generate a new example")
		return 1
	}
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "Failed to write the example config:", err)
		return 1
	}
	fmt.Println("Wrote example config to", path)
	return 0
}

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

// fullExampleConfig renders mxmain's example config template with the
// connector's network section and otrbridge's defaults.
func fullExampleConfig(connector bridgev2.NetworkConnector) (string, error) {
	tmpl, err := template.New("example-config.yaml").Delims("$<<", ">>").Parse(mxmain.MatrixExampleConfigBase)
	if err != nil {
		return "", err
	}
	var buf strings.Builder
	buf.WriteString("# Network-specific config options\nnetwork:\n")
	networkExample, _, _ := connector.GetConfig()
	for line := range strings.SplitSeq(networkExample, "\n") {
		buf.WriteString("    ")
		buf.WriteString(line)
		buf.WriteRune('\n')
	}
	buf.WriteRune('\n')
	if err := tmpl.Execute(&buf, connector.GetName()); err != nil {
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
