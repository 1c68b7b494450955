package otrsession

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
	var name string
	named := func(n string) *zerolog.Event {
		name = n
		return p.m.log.Info().Str("otr_event", n)
	}
	var e *zerolog.Event
	refreshed := false
	switch ev := ev.(type) {
	case otr.GoneSecure:
		refreshed = ev.Refreshed
		e = named("secure").Int("version", ev.Version).Uint32("instance", uint32(ev.Instance)).
			Str("fingerprint", ev.Fingerprint.String()).Bool("refreshed", ev.Refreshed)
	case otr.GoneInsecure:
		e = named("ended_by_user").Uint32("instance", uint32(ev.Instance))
	case otr.PeerEnded:
		e = named("ended_by_peer").Uint32("instance", uint32(ev.Instance))
	case otr.ErrorReceived:
		e = named("error_received")
	case otr.SMPAsked:
		e = named("smp_asked").Bool("question", ev.HasQuestion)
	case otr.SMPSucceeded:
		e = named("smp_succeeded")
	case otr.SMPFailed:
		e = named("smp_failed")
	case otr.SMPAborted:
		e = named("smp_aborted")
	case otr.SMPCheated:
		e = named("smp_cheated")
	case otr.HeldExpired:
		e = named("held_expired")
	case otr.Unreadable:
		e = named("unreadable").Str("reason", ev.Reason)
	case otr.Malformed:
		e = named("malformed").Str("reason", ev.Reason)
	case otr.MessageResent:
		e = named("message_resent")
	default:
		return
	}
	e.Str("peer", p.key).Msg("OTR event")
	if p.m.cfg.OnEvent != nil {
		p.m.cfg.OnEvent(name, refreshed)
	}
}
