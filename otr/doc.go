// Package otr is a sans-IO implementation of Off-the-Record Messaging
// versions 3 and 2, interoperable with libotr 4.1.1.
package otr
