package bridge

import (
	"fmt"
	"runtime/debug"

	"github.com/rs/zerolog"
)

// goSafe runs f on its own goroutine, under safely. Every goroutine the
// connector starts for what people on IRC send runs this way; ircconn and
// otrsession guard their own.
func goSafe(log zerolog.Logger, what string, f func()) {
	go safely(log, what, f)
}

// safely runs f. A panic in it ends f only: it is logged with its type and
// stack, never its value (which may hold message text), and the bridge
// goes on.
func safely(log zerolog.Logger, what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			log.Error().Str("panic_type", fmt.Sprintf("%T", r)).Str("where", what).Bytes("stack", debug.Stack()).
				Msg("Recovered from a panic; the rest of the login goes on")
		}
	}()
	f()
}
