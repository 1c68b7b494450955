package otrfilter

import (
	"github.com/rs/zerolog"

	"github.com/otrbridge/otrbridge/otr"
)

// logEvent records an engine event at info level, so that an admin can
// follow a conversation's state (and a failed key exchange can be traced)
// without debug logging. Only the kind of event and public data go into
// the log: never message texts, SMP questions, error texts from the peer
// or keys. Per-message events are not logged.
func (p *peer) logEvent(ev otr.Event) {
	var e *zerolog.Event
	switch ev := ev.(type) {
	case otr.GoneSecure:
		e = p.f.log.Info().Str("otr_event", "secure").Int("version", ev.Version).
			Uint32("instance", uint32(ev.Instance)).Str("fingerprint", ev.Fingerprint.String()).Bool("refreshed", ev.Refreshed)
	case otr.GoneInsecure:
		e = p.f.log.Info().Str("otr_event", "ended_by_user").Uint32("instance", uint32(ev.Instance))
	case otr.PeerEnded:
		e = p.f.log.Info().Str("otr_event", "ended_by_peer").Uint32("instance", uint32(ev.Instance))
	case otr.ErrorReceived:
		e = p.f.log.Info().Str("otr_event", "error_received")
	case otr.SMPAsked:
		e = p.f.log.Info().Str("otr_event", "smp_asked").Bool("question", ev.HasQuestion)
	case otr.SMPSucceeded:
		e = p.f.log.Info().Str("otr_event", "smp_succeeded")
	case otr.SMPFailed:
		e = p.f.log.Info().Str("otr_event", "smp_failed")
	case otr.SMPAborted:
		e = p.f.log.Info().Str("otr_event", "smp_aborted")
	case otr.SMPCheated:
		e = p.f.log.Info().Str("otr_event", "smp_cheated")
	case otr.HeldExpired:
		e = p.f.log.Info().Str("otr_event", "held_expired")
	case otr.Unreadable:
		e = p.f.log.Info().Str("otr_event", "unreadable").Str("reason", ev.Reason)
	case otr.Malformed:
		e = p.f.log.Info().Str("otr_event", "malformed").Str("reason", ev.Reason)
	case otr.MessageResent:
		e = p.f.log.Info().Str("otr_event", "message_resent")
	default:
		return
	}
	e.Str("peer", p.key).Msg("OTR event")
}
