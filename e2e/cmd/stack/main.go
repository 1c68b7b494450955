// Command stack starts, stops and inspects the local stack that the demo
// runs on: a private InspIRCd and a private Dendrite on free loopback
// ports, and (with demo) the bridge, with all state under one directory.
// scripts/stack.sh and scripts/demo.sh wrap it.
//
//	stack [-dir .stack] start                    InspIRCd + Dendrite
//	stack [-dir .stack] demo -bridge ./otrbridge  start everything, play a conversation
//	stack [-dir .stack] status
//	stack [-dir .stack] stop                     stop exactly what was started
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	dir := flag.String("dir", ".stack", "state directory")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: stack [-dir DIR] start|stop|status|demo [-bridge BINARY]")
	}
	flag.Parse()
	if flag.NArg() < 1 {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	switch cmd := flag.Arg(0); cmd {
	case "start":
		_, err = start(*dir)
	case "stop":
		err = stop(*dir)
	case "status":
		err = status(*dir)
	case "demo":
		fs := flag.NewFlagSet("demo", flag.ExitOnError)
		bin := fs.String("bridge", "./otrbridge", "bridge binary")
		_ = fs.Parse(flag.Args()[1:])
		err = demo(*dir, *bin)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}
