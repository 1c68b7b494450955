package ircconn

import (
	"fmt"
	"strings"
)

// ModeKind is the class of a channel mode, from ISUPPORT PREFIX and CHANMODES.
type ModeKind int

const (
	// ModeUnknown: a letter the server did not announce; taken to have no
	// parameter.
	ModeUnknown  ModeKind = iota
	ModePrefix            // membership status (+o, +h, +v); the parameter is a nick
	ModeList              // a list (+b, +e, +I); the parameter is a mask
	ModeParam             // a parameter to set and to unset (+k key)
	ModeSetParam          // a parameter to set only (+l limit)
	ModeFlag              // no parameter (+i, +m, +n, +t)
)

func (k ModeKind) String() string {
	switch k {
	case ModePrefix:
		return "prefix"
	case ModeList:
		return "list"
	case ModeParam:
		return "param"
	case ModeSetParam:
		return "set-param"
	case ModeFlag:
		return "flag"
	}
	return "unknown"
}

// ModeChange is one change of one channel mode.
type ModeChange struct {
	Add  bool
	Mode rune
	Kind ModeKind
	// Param is the nick (prefix modes), the mask (list modes), the key
	// (+k), the limit (+l)...; empty for flags and for -l.
	Param string
}

func (mc ModeChange) String() string {
	sign := "-"
	if mc.Add {
		sign = "+"
	}
	if mc.Param == "" {
		return sign + string(mc.Mode)
	}
	return sign + string(mc.Mode) + " " + mc.Param
}

// takesParam reports whether the change carries a parameter on the wire.
func (mc ModeChange) takesParam() bool {
	switch mc.Kind {
	case ModePrefix, ModeList, ModeParam:
		return true
	case ModeSetParam:
		return mc.Add
	}
	return false
}

// parseModes splits a channel MODE (or RPL_CHANNELMODEIS) mode string and
// its parameters into changes, classifying each letter with is. A mode
// whose parameter is missing gets an empty Param; surplus parameters are
// ignored. Bytes that cannot be mode letters are skipped.
func parseModes(is *ISupport, modes string, params []string) []ModeChange {
	var out []ModeChange
	add := true
	for i := 0; i < len(modes); i++ {
		ch := modes[i]
		switch {
		case ch == '+':
			add = true
			continue
		case ch == '-':
			add = false
			continue
		case !setByte(ch):
			continue
		}
		mc := ModeChange{Add: add, Mode: rune(ch), Kind: is.ModeKind(rune(ch))}
		if mc.takesParam() && len(params) > 0 {
			mc.Param, params = params[0], params[1:]
		}
		out = append(out, mc)
	}
	return out
}

// checkModeChange validates a change the user wants to make and returns it
// with its Kind from the server's ISUPPORT.
func checkModeChange(is *ISupport, mc ModeChange) (ModeChange, error) {
	if mc.Mode <= ' ' || mc.Mode >= 0x7f || !setByte(byte(mc.Mode)) {
		return mc, fmt.Errorf("%w: %q is not a mode letter", ErrBadMode, mc.Mode)
	}
	mc.Kind = is.ModeKind(mc.Mode)
	if mc.Kind == ModeUnknown {
		return mc, fmt.Errorf("%w: the server has no channel mode %c", ErrBadMode, mc.Mode)
	}
	if !mc.takesParam() {
		if mc.Param != "" {
			return mc, fmt.Errorf("%w: %c%c takes no parameter", ErrBadMode, sign(mc.Add), mc.Mode)
		}
		return mc, nil
	}
	switch {
	case mc.Param == "":
		return mc, fmt.Errorf("%w: %c%c needs a parameter", ErrBadMode, sign(mc.Add), mc.Mode)
	case mc.Kind == ModePrefix && !validNick(mc.Param):
		return mc, fmt.Errorf("%w: %c%c needs a nick", ErrBadMode, sign(mc.Add), mc.Mode)
	case mc.Param[0] == ':' || strings.ContainsAny(mc.Param, " ,") || hasControl(mc.Param) || len(mc.Param) > 300:
		return mc, fmt.Errorf("%w: invalid parameter for %c%c", ErrBadMode, sign(mc.Add), mc.Mode)
	}
	return mc, nil
}

func sign(add bool) byte {
	if add {
		return '+'
	}
	return '-'
}

// modeLines renders changes as MODE lines for channel: at most perLine
// parameters each (ISUPPORT MODES) and each line at most 510 bytes.
func modeLines(channel string, changes []ModeChange, perLine int) []string {
	if perLine <= 0 {
		perLine = 3
	}
	var lines []string
	var modes strings.Builder
	var params []string
	n := 0 // changes in the current line
	var last byte
	flush := func() {
		if n == 0 {
			return
		}
		l := "MODE " + channel + " " + modes.String()
		if len(params) > 0 {
			l += " " + strings.Join(params, " ")
		}
		lines = append(lines, l)
		modes.Reset()
		params, n, last = nil, 0, 0
	}
	for _, mc := range changes {
		p := 0
		if mc.takesParam() {
			p = len(mc.Param) + 1
		}
		// +x-y+z: room for a sign, the letter and the parameter.
		size := len("MODE "+channel+" ") + modes.Len() + 2 + p
		for _, q := range params {
			size += len(q) + 1
		}
		if n > 0 && (size > 510 || (mc.takesParam() && len(params) >= perLine)) {
			flush()
		}
		if s := sign(mc.Add); s != last {
			modes.WriteByte(s)
			last = s
		}
		modes.WriteRune(mc.Mode)
		if mc.takesParam() {
			params = append(params, mc.Param)
		}
		n++
	}
	flush()
	return lines
}
