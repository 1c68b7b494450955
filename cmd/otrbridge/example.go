package main

import (
	"errors"
	"fmt"
	"os"
	_ "unsafe" // go:linkname

	"github.com/otrbridge/otrbridge/bridge"
)

// mxmain writes its own example config on -e, with mautrix's defaults;
// otrbridge's example (the connector's ExampleConfigFile) differs, and
// mxmain's --version leaves out the commit of a release build. main lets
// mauflag parse the command line with mxmain's own flag set (mxmain
// registers it on mauflag's default set when it is initialised) and reads
// mxmain's -e, -c and --version from mxmain's variables, so there is no
// second copy of mxmain's flags to fall out of step with it.

//go:linkname mxmainWriteExampleConfig maunium.net/go/mautrix/bridgev2/matrix/mxmain.writeExampleConfig
var mxmainWriteExampleConfig *bool

//go:linkname mxmainConfigPath maunium.net/go/mautrix/bridgev2/matrix/mxmain.configPath
var mxmainConfigPath *string

//go:linkname mxmainVersion maunium.net/go/mautrix/bridgev2/matrix/mxmain.version
var mxmainVersion *bool

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
