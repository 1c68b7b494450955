// Command otrbridge is a Matrix bridge for IRC direct messages with
// off-the-record encryption on the IRC side.
//
//	otrbridge -e -c config.yaml     write the example config
//	otrbridge -g -c config.yaml     write registration.yaml (-r to choose the path)
//	otrbridge -c config.yaml        run
//	otrbridge --version             version and commit
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/rs/zerolog"
	"go.mau.fi/util/progver"
	flag "maunium.net/go/mauflag"
	"maunium.net/go/mautrix/bridgev2/matrix/mxmain"

	"github.com/otrbridge/otrbridge/bridge"
	buildversion "github.com/otrbridge/otrbridge/internal/version"
)

func main() {
	connector := &bridge.IRCConnector{}
	info, _ := debug.ReadBuildInfo()
	version, tag := buildversion.Release(Tag, Release, info)
	m := mxmain.BridgeMain{
		Name:        "otrbridge",
		URL:         "https://github.com/otrbridge/otrbridge",
		Description: "A Matrix bridge for IRC direct messages with off-the-record encryption.",
		Version:     version,
		Connector:   connector,
	}
	m.InitVersion(tag, Commit, BuildTime)
	about := buildversion.Text(progver.ProgramVersion{Name: m.Name, URL: m.URL, BaseVersion: version}.Init(tag, Commit, BuildTime))
	// A command line mxmain cannot parse is left to its PreInit, which
	// prints the error and the help.
	switch parsed := flag.Parse() == nil; {
	case parsed && *mxmainVersion:
		fmt.Println(about)
		os.Exit(0)
	case parsed && *mxmainWriteExampleConfig:
		os.Exit(writeExampleConfig(*mxmainConfigPath, connector))
	}
	m.PreInit()
	// No message body, password or secret may reach the log at any level.
	bridge.RedactLogging(&m.Config.Logging)
	// Before anything connects: never run unencrypted portals by accident.
	m.PostInit = func() {
		if err := connector.CheckEncryption(*m.Log, m.Config.Encryption); err != nil {
			m.Log.WithLevel(zerolog.FatalLevel).Err(err).Msg("Configuration error")
			os.Exit(11)
		}
		connector.GuardBuiltinCommands(about)
	}
	m.Init()
	m.Start()
	code := m.WaitForInterrupt()
	m.Stop()
	os.Exit(code)
}
