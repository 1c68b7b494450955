package libotrfile

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// InstanceTag is one line of libotr's instance tags file.
type InstanceTag struct {
	Account  string
	Protocol string
	Tag      uint32
}

// minTag is the smallest valid instance tag; smaller values are reserved.
const minTag = 0x100

// instagHeader is the comment libotr writes at the top of the file.
const instagHeader = "# WARNING! You shouldn't copy this file to another computer. It is unnecessary and can cause problems.\n"

// ParseInstanceTags reads a libotr instance tags file. Lines starting with
// "#" and empty lines are skipped.
func ParseInstanceTags(data []byte) ([]InstanceTag, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	var out []InstanceTag
	for i, line := range lines(data) {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("%w: line %d: %d fields, want 3", ErrMalformed, i+1, len(f))
		}
		if len(f[2]) == 0 || len(f[2]) > 8 {
			return nil, fmt.Errorf("%w: line %d: tag is not 1 to 8 hex digits", ErrMalformed, i+1)
		}
		tag, err := strconv.ParseUint(f[2], 16, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: tag is not 1 to 8 hex digits", ErrMalformed, i+1)
		}
		if tag < minTag {
			return nil, fmt.Errorf("%w: line %d: tag %#x below 0x100", ErrMalformed, i+1, tag)
		}
		out = append(out, InstanceTag{Account: f[0], Protocol: f[1], Tag: uint32(tag)})
	}
	return out, nil
}

// MarshalInstanceTags writes tags in libotr's format, with its header line.
func MarshalInstanceTags(tags []InstanceTag) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(instagHeader)
	for i, t := range tags {
		if strings.ContainsAny(t.Account+t.Protocol, "\t\r\n") {
			return nil, fmt.Errorf("%w: entry %d: tab or line break in a name", ErrInvalidField, i+1)
		}
		if t.Tag < minTag {
			return nil, fmt.Errorf("%w: entry %d: tag %#x below 0x100", ErrInvalidField, i+1, t.Tag)
		}
		fmt.Fprintf(&b, "%s\t%s\t%08x\n", t.Account, t.Protocol, t.Tag)
	}
	return b.Bytes(), nil
}
