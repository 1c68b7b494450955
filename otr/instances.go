package otr

// session returns the session with the peer instance tag, or nil.
func (c *Conversation) session(tag InstanceTag) *session {
	for _, s := range c.sessions {
		if s.tag == tag {
			return s
		}
	}
	return nil
}

// maxInstances bounds the peer instances kept, so a peer inventing
// instance tags cannot make us hold unbounded state.
const maxInstances = 16

// sessionOrNew returns the session with tag, creating it if needed. At
// the cap it replaces the least recently heard instance that is not
// encrypted; if all are encrypted it returns nil.
func (c *Conversation) sessionOrNew(tag InstanceTag) *session {
	if s := c.session(tag); s != nil {
		return s
	}
	s := &session{tag: tag}
	if len(c.sessions) < maxInstances {
		c.sessions = append(c.sessions, s)
		return s
	}
	victim := -1
	for i, old := range c.sessions {
		if old.state != Encrypted && (victim < 0 || old.recvSeq < c.sessions[victim].recvSeq) {
			victim = i
		}
	}
	if victim < 0 {
		return nil
	}
	if c.selected == c.sessions[victim].tag {
		c.selected = 0
	}
	c.sessions = append(append(c.sessions[:victim:victim], c.sessions[victim+1:]...), s)
	return s
}

// best picks the peer instance to send to like libotr's
// OTRL_INSTAG_BEST: encrypted beats finished beats plaintext, then a
// trusted fingerprint, then the most recent message received.
func (c *Conversation) best() *session {
	if c.selected != 0 {
		if s := c.session(c.selected); s != nil {
			return s
		}
	}
	var best *session
	for _, s := range c.sessions {
		if best == nil || c.better(s, best) {
			best = s
		}
	}
	return best
}

func rank(s MsgState) int {
	switch s {
	case Encrypted:
		return 2
	case Finished:
		return 1
	}
	return 0
}

func (c *Conversation) better(a, b *session) bool {
	if ra, rb := rank(a.state), rank(b.state); ra != rb {
		return ra > rb
	}
	if c.cfg.Trusted != nil {
		ta := a.theirKey != nil && c.cfg.Trusted(a.lastFP)
		tb := b.theirKey != nil && c.cfg.Trusted(b.lastFP)
		if ta != tb {
			return ta
		}
	}
	return a.recvSeq > b.recvSeq
}

// SelectInstance pins sending to one peer instance; 0 restores the
// automatic choice.
func (c *Conversation) SelectInstance(tag InstanceTag) error {
	if tag != 0 && c.session(tag) == nil {
		return ErrUnknownInstance
	}
	c.selected = tag
	return nil
}

func (c *Conversation) info(s *session) Info {
	inf := Info{OurInstance: c.cfg.InstanceTag}
	if s == nil {
		if c.master.state != akeNone {
			inf.ExpectedVersion = c.master.version
		}
		return inf
	}
	inf.State = s.state
	inf.TheirInstance = s.tag
	if s.everSecure {
		inf.Version = s.version
		inf.Fingerprint = s.lastFP
		inf.HasFingerprint = true
		inf.SSID = s.ssid
		inf.SSIDHighHalf = !s.initiator
	}
	if s.ake.state != akeNone {
		inf.ExpectedVersion = s.ake.version
	}
	inf.SMP = s.smp.info()
	return inf
}

// Info describes the session with the peer instance Send would use.
func (c *Conversation) Info() Info { return c.info(c.best()) }

// Instances describes every peer instance seen, in order of first contact.
func (c *Conversation) Instances() []Info {
	infos := make([]Info, 0, len(c.sessions))
	for _, s := range c.sessions {
		infos = append(infos, c.info(s))
	}
	return infos
}
