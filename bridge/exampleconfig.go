package bridge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/template"

	up "go.mau.fi/util/configupgrade"
	"gopkg.in/yaml.v3"
	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"
)

// mxmain builds the config from mautrix's own example: `-e` writes it, and
// on every start (and `-g`) the config file is upgraded against it, so a key
// missing from the file gets mautrix's default. otrbridge differs from
// mautrix in a few of those defaults. bridgeDefaults is the one list of
// them: the example config (-e) is written with them, and the upgrader puts
// them into the base before mautrix's upgrader copies the file's own values
// over it, so they hold for a config written by hand, by an older version or
// by a deployment tool just as for one written by -e.
var bridgeDefaults = []struct {
	typ   up.YAMLType
	value string
	path  []string
}{
	// End-to-bridge encryption on for every new portal: without it the
	// homeserver stores every bridged message in plaintext. appservice and
	// msc4190 stay false, which also works with Dendrite (the bot gets its
	// to-device keys through its own /sync).
	{up.Bool, "true", []string{"encryption", "allow"}},
	{up.Bool, "true", []string{"encryption", "default"}},
	// Cross-sign the bot's device where the homeserver lets an appservice
	// upload signing keys; where it does not (Dendrite), the bridge runs on
	// and tells the admins once (selfsign.go).
	{up.Bool, "true", []string{"encryption", "self_sign"}},
	// A namespace of its own, so that otrbridge can be registered beside
	// mautrix-irc (appservice id "irc", @ircbot, @irc_...), heisenbridge
	// (@irc_.* exclusively) and matrix-appservice-irc.
	{up.Str, "otrbridge", []string{"appservice", "id"}},
	{up.Str, "otrbot", []string{"appservice", "bot", "username"}},
	{up.Str, "otrirc_{{.}}", []string{"appservice", "username_template"}},
	// The bridge has no icon; an empty string (not YAML null) keeps the
	// config upgrader from warning on every start.
	{up.Str, "", []string{"appservice", "bot", "avatar"}},
	// SQLite is the default database; PostgreSQL works with the same code.
	// Each SQLite connection keeps its prepared statements
	// (_stmt_cache_size): bridgev2 runs the same few queries for every
	// message, and preparing them anew cost a tenth of the bridge's CPU.
	{up.Str, "sqlite3-fk-wal", []string{"database", "type"}},
	{up.Str, "file:otrbridge.db?_txlock=immediate&_stmt_cache_size=64", []string{"database", "uri"}},
	// Keep the pool's connections open (mautrix keeps one of its five): a
	// connection closed between bursts is reopened by the next one, with its
	// statements to prepare and its page cache to fill again.
	{up.Int, "5", []string{"database", "max_idle_conns"}},
	// Connecting, connected, transient disconnect and bad credentials all
	// appear in the control room.
	{up.Str, "all", []string{"bridge", "bridge_status_notices"}},
	// Matrix notices are messages too: bridge them (as IRC NOTICEs).
	{up.Bool, "true", []string{"bridge", "bridge_notices"}},
	// bridgev2's error notices are unencrypted even in encrypted rooms:
	// the connector sends its own (and turns these off if a config sets
	// them).
	{up.Bool, "false", []string{"matrix", "message_error_notices"}},
}

// applyBridgeDefaults sets otrbridge's defaults in the base config of h.
func applyBridgeDefaults(h up.Helper) {
	for _, d := range bridgeDefaults {
		h.Set(d.typ, d.value, d.path...)
	}
}

// errNoRootHelper means mxmain no longer hands the network upgrader a view
// of the whole config, so the defaults above could not be applied.
var errNoRootHelper = errors.New("the config upgrader cannot reach the whole config")

// rootHelper returns the helper of the whole config. mxmain runs the
// network section's upgrader through a ProxyHelper that prefixes every path
// with "network"; its Target sees the whole config.
func rootHelper(h up.Helper) (up.Helper, error) {
	if p, ok := h.(*up.ProxyHelper); ok && len(p.Prefix) == 1 && p.Prefix[0] == "network" {
		return p.Target, nil
	}
	return nil, errNoRootHelper
}

// ExampleConfigFile renders the whole example config file (what -e
// writes): mxmain's template with the connector's network section and
// otrbridge's defaults.
func (ic *IRCConnector) ExampleConfigFile() (string, error) {
	base, err := ic.mautrixExampleConfig()
	if err != nil {
		return "", err
	}
	return withBridgeDefaults(base)
}

// mautrixExampleConfig renders the example config as mxmain does: the
// connector's network section, then mautrix's template.
func (ic *IRCConnector) mautrixExampleConfig() (string, error) {
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
	return buf.String(), nil
}

// withBridgeDefaults replaces mautrix's values of bridgeDefaults in the
// example config text. It edits the value's line in place instead of
// re-encoding the YAML, which would keep the comments but not the layout.
func withBridgeDefaults(text string) (string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return "", err
	}
	lines := strings.Split(text, "\n")
	for _, d := range bridgeDefaults {
		key, value := lookupYAML(&doc, d.path)
		if key == nil || value.Kind != yaml.ScalarNode || key.Line != value.Line && value.Value != "" {
			return "", fmt.Errorf("mautrix example config changed: no one-line value at %s", strings.Join(d.path, "."))
		}
		encoded, err := yaml.Marshal(scalarValue(d.typ, d.value))
		if err != nil {
			return "", err
		}
		line := lines[key.Line-1]
		lines[key.Line-1] = line[:key.Column-1] + key.Value + ": " + strings.TrimSuffix(string(encoded), "\n")
	}
	out := strings.Join(lines, "\n")
	// Read back what was written, so that a layout this cannot edit fails
	// here instead of writing a wrong example.
	if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
		return "", fmt.Errorf("mautrix example config changed: %w", err)
	}
	for _, d := range bridgeDefaults {
		if _, value := lookupYAML(&doc, d.path); value == nil || value.Value != d.value {
			return "", fmt.Errorf("mautrix example config changed: cannot set %s", strings.Join(d.path, "."))
		}
	}
	return out, nil
}

// scalarValue is value as the Go value of its YAML type.
func scalarValue(typ up.YAMLType, value string) any {
	switch typ {
	case up.Bool:
		return value == "true"
	case up.Int:
		if n, err := strconv.Atoi(value); err == nil {
			return n
		}
	}
	return value
}

// lookupYAML returns the key and value nodes at path in a YAML document.
func lookupYAML(doc *yaml.Node, path []string) (key, value *yaml.Node) {
	node := doc
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	for _, name := range path {
		if node.Kind != yaml.MappingNode {
			return nil, nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == name {
				key, next = node.Content[i], node.Content[i+1]
			}
		}
		if next == nil {
			return nil, nil
		}
		node = next
	}
	return key, node
}
