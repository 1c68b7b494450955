package libotrfile

import "errors"

var (
	// ErrMalformed means the input is not in the expected format.
	ErrMalformed = errors.New("libotr file: malformed")
	// ErrTooLarge means the input exceeds a size limit.
	ErrTooLarge = errors.New("libotr file: too large")
	// ErrInvalidKey means a DSA key's numbers are out of range or do not
	// belong together.
	ErrInvalidKey = errors.New("libotr file: invalid DSA key")
	// ErrInvalidField means a value cannot be written in the file format
	// (for example a tab or newline inside a name).
	ErrInvalidField = errors.New("libotr file: value cannot be written")
)

// Limits on what the parsers accept.
const (
	MaxFileSize = 16 << 20 // either file
	maxDepth    = 16       // S-expression nesting
	maxNodes    = 1 << 16  // S-expression atoms and lists
	maxNumber   = 1024     // bytes of one DSA number (8192 bits)
)
