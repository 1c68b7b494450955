package otr

import (
	"encoding/binary"
	"time"
)

// ExtraSymmetricKey returns the extra symmetric key of the private session
// with the best peer instance, and a message telling the peer that it is
// being used for use/useData (TLV 8), which the peer's client sees as an
// ExtraSymmetricKeyReceived event with the same key.
func (c *Conversation) ExtraSymmetricKey(now time.Time, use uint32, useData []byte) ([32]byte, Output, error) {
	var out Output
	s := c.best()
	if s == nil || s.state != Encrypted {
		return [32]byte{}, out, ErrNotPrivate
	}
	key := s.extraKey()
	v := binary.BigEndian.AppendUint32(nil, use)
	v = append(v, useData...)
	if err := c.sendData(now, &out, s, flagIgnoreUnreadable, "", tlv{typ: tlvSymKey, value: v}); err != nil {
		return [32]byte{}, Output{}, err
	}
	return key, out, nil
}
