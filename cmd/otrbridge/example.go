package main

import (
	"errors"
	"fmt"
	"os"

	flag "maunium.net/go/mauflag"

	"github.com/otrbridge/otrbridge/bridge"
)

// mxmain writes the example config itself on -e, but with mautrix's
// defaults; otrbridge changes a few of them, so -e is handled here, writing
// the connector's ExampleConfigFile.

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
func writeExampleConfig(path string, connector *bridge.IRCConnector) int {
	cfg, err := connector.ExampleConfigFile()
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
