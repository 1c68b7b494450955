package group

import "filippo.io/bigmod"

// bigmodExpG is ExpG without the fixed-base table, for the benchmark that
// compares the two.
func bigmodExpG(exp []byte) *bigmod.Nat { return bigmod.NewNat().Exp(gNat, exp, modP) }
