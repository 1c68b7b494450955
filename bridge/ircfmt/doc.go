// Package ircfmt converts message formatting between Matrix HTML and IRC
// control codes, strips IRC formatting, and splits long text into IRC lines.
//
// IRC formatting is a small state machine: each control code toggles or sets
// part of the state (bold, italic, underline, strikethrough, monospace,
// reverse, foreground/background colour) and \x0f resets it. The package
// parses codes into that state and writes text back out from it, which is how
// Split can carry formatting from one line to the next: every line starts from
// an empty state on the receiving client.
package ircfmt
