package bridge

import "strings"

// Channel membership modes become Matrix power levels, so that Matrix
// clients show who runs the channel and let a bridged operator kick in the
// room. The bridge bot keeps 100, above every level given here.
const (
	powerOwner    = 90 // q, ~
	powerAdmin    = 75 // a, &
	powerOperator = 50 // o, @: Element's "Moderator"
	powerHalfop   = 25 // h, %
	powerVoice    = 10 // v, +
)

// powerTopic is the level needed to change the topic of a +t channel
// (halfops may set it on common servers); without +t anyone may.
const powerTopic = powerHalfop

// prefixPower returns the power level of a member with the membership
// modes in memberModes (letters, any order). order is the server's PREFIX
// modes, highest first ("qaohv"): a mode not known by letter is placed by
// its position relative to o and v.
func prefixPower(memberModes, order string) int {
	best := 0
	for _, m := range memberModes {
		if l := modePower(m, order); l > best {
			best = l
		}
	}
	return best
}

func modePower(m rune, order string) int {
	switch m {
	case 'q':
		return powerOwner
	case 'a':
		return powerAdmin
	case 'o':
		return powerOperator
	case 'h':
		return powerHalfop
	case 'v':
		return powerVoice
	}
	pos := strings.IndexRune(order, m)
	if pos < 0 {
		return 0
	}
	if o := strings.IndexByte(order, 'o'); o >= 0 && pos < o {
		return powerAdmin
	}
	if v := strings.IndexByte(order, 'v'); v >= 0 && pos > v {
		return powerVoice
	}
	return powerHalfop
}
