-- v4 -> v5: keys that messages waiting for a private conversation were refused to
-- Set when a key answered a key exchange in place of the keys the peer was
-- known by; cleared when the user verifies it. Such a key stays refused
-- across restarts, though the key exchange stored it.
ALTER TABLE otr_fingerprint ADD COLUMN refused_at BIGINT;
