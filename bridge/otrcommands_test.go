package bridge

import (
	"html"
	"reflect"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/format"

	"github.com/otrbridge/otrbridge/bridge/otrsession"
)

// The OTR commands must not replace bridgev2's or the other connector
// commands.
func TestOTRCommandsDoNotShadowOthers(t *testing.T) {
	taken := map[string]bool{}
	// bridgev2's built-in commands, as its processor registers them (the
	// map is not exported; reading it keeps the list complete when
	// bridgev2 adds one).
	proc := commands.NewProcessor(&bridgev2.Bridge{})
	handlers := reflect.ValueOf(proc).Elem().FieldByName("handlers")
	aliases := reflect.ValueOf(proc).Elem().FieldByName("aliases")
	for _, m := range []reflect.Value{handlers, aliases} {
		for _, k := range m.MapKeys() {
			taken[k.String()] = true
		}
	}
	if !taken["login"] || !taken["logout"] || len(taken) < 20 {
		t.Fatalf("bridgev2's commands not found (%d names)", len(taken))
	}
	for _, h := range slices.Concat(ircCommands(), requestCommands(), channelCommands()) {
		taken[h.GetName()] = true
	}
	for _, h := range otrCommands() {
		fh := h.(*commands.FullHandler)
		for _, name := range append([]string{fh.Name}, fh.Aliases...) {
			if taken[name] {
				t.Errorf("OTR command %q would replace another command", name)
			}
			taken[name] = true
		}
		if fh.Help.Section != helpSectionOTR || fh.Help.Description == "" {
			t.Errorf("OTR command %q has no help in the OTR section", fh.Name)
		}
	}
}

func TestOTRCommandHelpNamesTheNick(t *testing.T) {
	args := map[string]string{}
	for _, h := range otrCommands() {
		fh := h.(*commands.FullHandler)
		args[fh.Name] = fh.Help.Args
	}
	for name, want := range map[string]string{
		"init": "[_nick_]", "authq": "[_nick_] <question> <secret>", "policy": "[_nick_] [default] [never|manual|opportunistic|always|reset]",
		"fingerprint": "", "genkey": "[confirm]", "import-key": "",
	} {
		if args[name] != want {
			t.Errorf("help args of %s = %q, want %q", name, args[name], want)
		}
	}
}

func TestSplitQuestion(t *testing.T) {
	for _, tc := range []struct {
		text             string
		question, secret string
	}{
		{"Where did we meet? in Berlin", "Where did we meet?", "in Berlin"},
		{"colour blue green", "colour", "blue green"},
		{"really? yes?", "really?", "yes?"},
		{"what is it?", "what", "is it?"}, // "?" on the last word: that is the secret
		// irssi: /otr authq "question" secret, the secret quoted or not.
		{`"Where did we meet?" "at the lighthouse"`, "Where did we meet?", "at the lighthouse"},
		{`"Where did we meet?" at the lighthouse`, "Where did we meet?", "at the lighthouse"},
		{`"Our cat's name" Felix`, "Our cat's name", "Felix"},
		// znc-otr: [question] secret.
		{"[Where did we meet?] at the lighthouse", "Where did we meet?", "at the lighthouse"},
		{"[colour] blue", "colour", "blue"},
	} {
		q, s, err := splitQuestion(strings.Fields(tc.text))
		if err != nil || q != tc.question || s != tc.secret {
			t.Errorf("splitQuestion(%q) = %q, %q, %v; want %q, %q", tc.text, q, s, err, tc.question, tc.secret)
		}
	}
	for _, bad := range []string{"alone", `"unclosed question secret`, "[unclosed secret", `"question only"`, "[question only]", `"" secret`} {
		// The usage, which never quotes the input (the secret).
		if _, _, err := splitQuestion(strings.Fields(bad)); err != errAuthqUsage {
			t.Errorf("splitQuestion(%q): %v, want the usage", bad, err)
		}
	}
}

func TestIsPolicyWord(t *testing.T) {
	for _, w := range []string{"never", "Manual", "opportunistic", "ALWAYS", "reset"} {
		if !isPolicyWord(w) {
			t.Errorf("%q is a policy word", w)
		}
	}
	for _, w := range []string{"bob", "default", "sometimes"} {
		if isPolicyWord(w) {
			t.Errorf("%q is not a policy word", w)
		}
	}
}

// The export is shown as a Markdown code block, which keeps libotr's
// tabs, empty trust fields and nicks with _ or * as they are.
func TestExportReplyKeepsTheFile(t *testing.T) {
	file := "b_o*b\tme@net\tprpl-irc\t0123456789abcdef0123456789abcdef01234567\t\ncarol\tme@net\tprpl-irc\t0123456789abcdef0123456789abcdef01234567\tsmp\n"
	rendered := format.RenderMarkdown(exportReply([]byte(file)), true, false).FormattedBody
	_, pre, ok := strings.Cut(rendered, "<pre><code>")
	out, _, ok2 := strings.Cut(pre, "</code></pre>")
	if !ok || !ok2 {
		t.Fatalf("the export is not in a code block: %q", rendered)
	}
	if got := html.UnescapeString(out); got != file {
		t.Errorf("rendered export = %q, want %q", got, file)
	}
	if exportReply(nil) != "No fingerprints stored yet." {
		t.Errorf("empty export = %q", exportReply(nil))
	}
}

func TestOTRTopic(t *testing.T) {
	if got := otrTopic(otrsession.StatePrivateVerified); got != "OTR: private (verified)" {
		t.Errorf("otrTopic = %q", got)
	}
}
