package otr

import (
	"errors"
	"io"
	"time"
)

// Config configures a Conversation.
type Config struct {
	// PrivateKey is our long-term identity key. Required.
	PrivateKey *PrivateKey
	// InstanceTag is our v3 instance tag for this account (>= 0x100).
	// Persist it; a new tag per start makes peers see a new client.
	InstanceTag InstanceTag
	// Policy selects versions and behaviour; see the Policy constants.
	Policy Policy
	// FragmentSize is the maximum length in bytes of an encoded OTR line
	// (for IRC, what fits in one PRIVMSG). 0 means never fragment.
	FragmentSize int
	// Rand is the source of all randomness, read in a fixed order so a
	// conversation is reproducible. nil means crypto/rand.
	Rand io.Reader
	// HoldTimeout is how long a message held under RequireEncryption
	// waits for a private session before it is reported as expired.
	// 0 means 60 seconds.
	HoldTimeout time.Duration
	// Trusted, if set, reports whether a peer fingerprint is trusted; it
	// only influences which peer instance is preferred, as in libotr.
	Trusted func(Fingerprint) bool
	// HeldMayGoTo, if set, reports whether messages held under
	// RequireEncryption may go to a new private session with the peer key
	// fp. They were written before anyone knew who would answer, so when
	// it says no they are dropped unsent (HeldRefused), and Send refuses
	// every message (ErrKeyRefused) while that session is the private
	// one, until AcceptKey (the user accepted the key) or End. Nil: held
	// messages go to any key.
	HeldMayGoTo func(fp Fingerprint) bool
	// FragmentBudget, if set, caps the memory that incoming fragments
	// hold over every Conversation given the same budget (all peers of
	// one login). Each Conversation holds at most 256 KiB of fragments,
	// in at most 4 incomplete messages, each dropped 5 minutes after its
	// first piece, with or without a budget.
	FragmentBudget *FragmentBudget
}

// Output is what one call produced. Wire lines must be sent to the peer in
// order; Messages are for the local user; Events describe state changes.
type Output struct {
	Wire     []string
	Messages []Received
	Events   []Event
}

// Received is a message for the local user.
type Received struct {
	Text string
	// Encrypted is false for plaintext, which the user must be told about.
	Encrypted bool
	// Instance is the peer instance that sent it (0 for v2 or plaintext).
	Instance InstanceTag
}

// MsgState is the state of a session with one peer instance.
type MsgState int

const (
	Plaintext MsgState = iota
	Encrypted
	// Finished means the peer ended the private session; sending fails
	// until the local user ends or restarts it.
	Finished
)

func (s MsgState) String() string {
	switch s {
	case Plaintext:
		return "plaintext"
	case Encrypted:
		return "encrypted"
	case Finished:
		return "finished"
	}
	return "unknown"
}

// SMPState is where the Socialist Millionaires' Protocol stands.
type SMPState int

const (
	SMPIdle SMPState = iota
	// SMPWaitingForSecret: the peer asked; call AnswerSMP or AbortSMP.
	SMPWaitingForSecret
	// SMPInProgress: messages are being exchanged.
	SMPInProgress
)

func (s SMPState) String() string {
	switch s {
	case SMPIdle:
		return "idle"
	case SMPWaitingForSecret:
		return "waiting for secret"
	case SMPInProgress:
		return "in progress"
	}
	return "unknown"
}

// Info describes the session with one peer instance.
type Info struct {
	State           MsgState
	Version         int // 2 or 3 once a session was established, else 0
	OurInstance     InstanceTag
	TheirInstance   InstanceTag
	Fingerprint     Fingerprint // of the peer's key; valid if HasFingerprint
	HasFingerprint  bool
	SSID            [8]byte
	SSIDHighHalf    bool // show the second SSID half in bold (we were the AKE responder), as libotr
	SMP             SMPState
	ExpectedVersion int // version of an AKE in progress, 0 if none
}

// HeldID identifies a message held under RequireEncryption.
type HeldID uint64

// Event reports something that happened in a conversation. The concrete
// types are listed below; switch on them.
type Event interface{ isEvent() }

type (
	// GoneSecure: a private session was established (or refreshed).
	GoneSecure struct {
		Version     int
		Instance    InstanceTag
		Fingerprint Fingerprint
		SSID        [8]byte
		Refreshed   bool
	}
	// GoneInsecure: the session with Instance went back to plaintext
	// because the local user ended it.
	GoneInsecure struct{ Instance InstanceTag }
	// PeerEnded: the peer ended the session; state is now Finished.
	PeerEnded struct{ Instance InstanceTag }
	// UnencryptedReceived: a plaintext message arrived while private, or
	// while policy requires encryption.
	UnencryptedReceived struct{ Instance InstanceTag }
	// ErrorReceived: the peer sent an "?OTR Error:" message.
	ErrorReceived struct{ Text string }
	// SMPAsked: the peer started SMP; answer with AnswerSMP.
	SMPAsked struct {
		Instance    InstanceTag
		Question    string
		HasQuestion bool
	}
	// SMPProgress: an SMP message was processed, more are to come.
	SMPProgress struct{ Instance InstanceTag }
	// SMPSucceeded: the secrets matched. SetTrust says whether libotr
	// would now mark the fingerprint trusted (always for the initiator,
	// for the responder only when no question was asked).
	SMPSucceeded struct {
		Instance    InstanceTag
		Fingerprint Fingerprint
		SetTrust    bool
	}
	// SMPFailed: the secrets did not match.
	SMPFailed struct{ Instance InstanceTag }
	// SMPAborted: the peer (or a protocol error) aborted SMP.
	SMPAborted struct{ Instance InstanceTag }
	// SMPCheated: the peer sent invalid SMP values; SMP was aborted.
	SMPCheated struct{ Instance InstanceTag }
	// ExtraSymmetricKeyReceived: the peer announced use of the extra
	// symmetric key (TLV 8).
	ExtraSymmetricKeyReceived struct {
		Instance InstanceTag
		Key      [32]byte
		Use      uint32
		UseData  []byte
	}
	// HeldMessage: Send held the message until a private session exists.
	HeldMessage struct{ ID HeldID }
	// HeldSent: a held message went out encrypted.
	HeldSent struct {
		ID       HeldID
		Instance InstanceTag
	}
	// HeldExpired: a held message was dropped unsent after HoldTimeout
	// (or because the user ended the conversation).
	HeldExpired struct{ ID HeldID }
	// HeldRefused: a private session came up with a key that
	// Config.HeldMayGoTo refused: the held messages IDs were dropped
	// unsent, and Send refuses messages until AcceptKey.
	HeldRefused struct {
		Instance    InstanceTag
		Fingerprint Fingerprint
		IDs         []HeldID
	}
	// Unreadable: an encrypted message could not be read (unknown keys,
	// bad MAC, replayed counter, or not in a private session).
	Unreadable struct {
		Instance InstanceTag
		Reason   string
	}
	// Malformed: a message could not be decoded, or an incoming message
	// was lost on the way: its fragments went over the memory limits
	// (Reason "fragment limit") or never completed ("incomplete message
	// dropped").
	Malformed struct{ Reason string }
	// MessageResent: after the peer reported an error and a new AKE
	// with the same key, our last message (sent within 60 s) was sent
	// again, prefixed "[resent] " like libotr does.
	MessageResent struct{ Instance InstanceTag }
	// HeartbeatSent: an empty data message was sent to keep keys moving.
	HeartbeatSent struct{ Instance InstanceTag }
)

func (GoneSecure) isEvent()                {}
func (GoneInsecure) isEvent()              {}
func (PeerEnded) isEvent()                 {}
func (UnencryptedReceived) isEvent()       {}
func (ErrorReceived) isEvent()             {}
func (SMPAsked) isEvent()                  {}
func (SMPProgress) isEvent()               {}
func (SMPSucceeded) isEvent()              {}
func (SMPFailed) isEvent()                 {}
func (SMPAborted) isEvent()                {}
func (SMPCheated) isEvent()                {}
func (ExtraSymmetricKeyReceived) isEvent() {}
func (HeldMessage) isEvent()               {}
func (HeldSent) isEvent()                  {}
func (HeldExpired) isEvent()               {}
func (HeldRefused) isEvent()               {}
func (Unreadable) isEvent()                {}
func (Malformed) isEvent()                 {}
func (HeartbeatSent) isEvent()             {}
func (MessageResent) isEvent()             {}

// Errors, usable with errors.Is. Errors never contain message text or keys.
var (
	// ErrFinished: the peer ended the private session; nothing was sent.
	ErrFinished = errors.New("otr: peer ended the private conversation; end or restart it before sending")
	// ErrKeyRefused: the private session's key is one Config.HeldMayGoTo
	// refused and the caller has not accepted (AcceptKey); nothing was
	// sent.
	ErrKeyRefused = errors.New("otr: the private session's key was not accepted")
	// ErrNotPrivate: the operation needs an encrypted session.
	ErrNotPrivate = errors.New("otr: no private session")
	// ErrMalformed: a received message could not be decoded.
	ErrMalformed = errors.New("otr: malformed message")
	// ErrUnreadable: a received data message could not be decrypted.
	ErrUnreadable = errors.New("otr: unreadable encrypted message")
	// ErrMessageTooLarge: the message to send needs more than 65535
	// fragments, or a received one exceeded the fragment memory limits.
	ErrMessageTooLarge = errors.New("otr: message too large")
	// ErrNoSMPRequest: AnswerSMP without a pending request from the peer.
	ErrNoSMPRequest = errors.New("otr: no SMP request to answer")
	// ErrUnknownInstance: SelectInstance named an instance we do not know.
	ErrUnknownInstance = errors.New("otr: unknown peer instance")
)
