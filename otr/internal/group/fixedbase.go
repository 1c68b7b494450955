package group

import (
	"crypto/subtle"
	"sync"

	"filippo.io/bigmod"
)

// Fixed-base exponentiation for g^x with a DH private key x. A generic
// 4-bit-window Exp costs 320 squarings and 80 multiplications for a 320-bit
// exponent; with a table of g^(k·16^i) the squarings disappear and only the
// 80 multiplications remain (each bigmod Mul is two Montgomery
// multiplications, so this is about 2.5 times faster). That is a third of
// the work of every speaker change in a conversation.
//
// The exponent's value decides which table entry each window uses, so every
// entry of a window is read and the wanted one kept with a mask: the memory
// access pattern and the work depend only on the exponent's length, which is
// public (libotr and we always use 40 bytes).
const (
	fixedBaseWindow   = 4
	fixedBaseEntries  = 1 << fixedBaseWindow
	fixedBaseExpBytes = 40 // the DH private key size of OTR
	fixedBaseWindows  = fixedBaseExpBytes * 8 / fixedBaseWindow
)

var (
	fixedBaseOnce sync.Once
	// fixedBaseTable holds, for window i and digit k, the limbs of
	// g^(k·16^i) mod p at [(i*fixedBaseEntries+k)*limbs:]. 80·16 entries of
	// 192 bytes: 240 KiB, built on first use (about 1,300 multiplications).
	fixedBaseTable []uint
	fixedBaseLimbs int
)

func buildFixedBaseTable() {
	base := bigmod.NewNat().ExpandFor(modP) // g^(16^i)
	copy(base.Bits(), gNat.Bits())
	fixedBaseLimbs = len(base.Bits())
	table := make([]uint, fixedBaseWindows*fixedBaseEntries*fixedBaseLimbs)
	for i := range fixedBaseWindows {
		entry := bigmod.NewNat().SetUint(1).ExpandFor(modP)
		for k := range fixedBaseEntries {
			copy(table[(i*fixedBaseEntries+k)*fixedBaseLimbs:], entry.Bits())
			entry.Mul(base, modP)
		}
		copy(base.Bits(), entry.Bits()) // base^16 = g^(16^(i+1))
	}
	fixedBaseTable = table
}

// expGFixed returns g^exp for a big-endian exp of fixedBaseExpBytes bytes.
func expGFixed(exp []byte) *bigmod.Nat {
	fixedBaseOnce.Do(buildFixedBaseTable)
	acc := bigmod.NewNat().SetUint(1).ExpandFor(modP)
	digit := bigmod.NewNat().ExpandFor(modP)
	dst := digit.Bits()
	for i := range fixedBaseWindows {
		// Window i is the low (even i) or high (odd i) nibble of the
		// i/2-th byte from the end.
		k := int(exp[len(exp)-1-i/2]>>(fixedBaseWindow*(i%2))) & (fixedBaseEntries - 1)
		row := fixedBaseTable[i*fixedBaseEntries*fixedBaseLimbs:]
		clear(dst)
		for j := range fixedBaseEntries {
			mask := -uint(subtle.ConstantTimeEq(int32(j), int32(k)))
			src := row[j*fixedBaseLimbs : (j+1)*fixedBaseLimbs]
			for l := range dst {
				dst[l] |= src[l] & mask
			}
		}
		acc.Mul(digit, modP)
	}
	return acc
}
