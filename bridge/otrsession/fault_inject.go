//go:build faultinject

package otrsession

import (
	"errors"
	"strings"
)

// injectedPanic is the value of every panic injected here; the end-to-end
// test checks that it never reaches the log.
const injectedPanic = "otrbridge injected panic value"

// Builds with the faultinject tag (the end-to-end tests' bridge) panic on
// purpose for peers whose nick starts with "panic" and a point of
// faultPoint: "panicreceive…" while deciding about each of their lines,
// "paniceffect…" when showing anything of theirs in Matrix, "panicwrite…"
// when sending to them, "panictick…" in the timers. The bridge is never
// built with the tag.
func init() {
	faultPoint = func(where, peer string) {
		_, nick, _ := strings.Cut(peer, ".") // "<network>.<nick>[.<n>]"
		if strings.HasPrefix(nick, "panic"+where) {
			panic(errors.New(injectedPanic))
		}
	}
}
