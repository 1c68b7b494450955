#!/usr/bin/python3
"""A python-potr (OTR v2 only, as in weechat-otr and older Gajim) test peer.

It speaks the line protocol of testpeers/libotr/otrpeer.c on stdin/stdout so
the same Go harness (testpeers/otrtest, StartPotr) drives it. Supported
commands: RECV, SEND, INIT, END, SMP, SMPQ, SMPANSWER, SMPABORT, INFO, QUIT.
Output: READY, WIRE, MSG enc|plain, EVENT (gone_secure, state, smp, msg),
INFO, then OK or ERR after each command.

Test code of otrbridge; run with Debian's /usr/bin/python3 (python3-potr).
"""

import argparse
import random
import re
import sys

import potr
import potr.crypt
from potr.compatcrypto import DSAKey, pycrypto
from potr.utils import bytes_to_long, long_to_bytes
from Cryptodome.Cipher import AES


def _aesctr(key, counter=0):
    """AES-CTR as potr means it: 8-byte prefix, 8-byte block counter.

    Debian's python3-potr 1.0.2 hands its own Counter object to
    pycryptodomex, which rejects it ("'Counter' object is not iterable"),
    so without this no AKE or data message works at all.
    """
    if not isinstance(counter, pycrypto.Counter):
        counter = pycrypto.Counter(counter)
    iv = counter.byteprefix() + long_to_bytes(counter.val, 8)
    return AES.new(key, AES.MODE_CTR, nonce=b"", initial_value=iv)


def _dsa_sign(self, data):
    """OTR's DSA: the 32-byte value itself as the number (no hashing).

    pycryptodomex refuses raw DSA sign/verify ("Use module
    Cryptodome.Signature.DSS instead"), which potr 1.0.2 relies on.
    """
    p, q, g, x = (int(self.priv.p), int(self.priv.q), int(self.priv.g), int(self.priv.x))
    h = bytes_to_long(data)
    while True:
        k = _rng.randrange(2, q)
        r = pow(g, k, p) % q
        s = pow(k, -1, q) * (h + x * r) % q
        if r and s:
            return long_to_bytes(r, 20) + long_to_bytes(s, 20)


def _dsa_verify(self, data, sig):
    p, q, g, y = (int(self.pub.p), int(self.pub.q), int(self.pub.g), int(self.pub.y))
    r, s = bytes_to_long(sig[:20]), bytes_to_long(sig[20:])
    if not (0 < r < q and 0 < s < q):
        return False
    w = pow(s, -1, q)
    v = pow(g, bytes_to_long(data) * w % q, p) * pow(y, r * w % q, p) % p % q
    return v == r


_rng = random.SystemRandom()
potr.crypt.AESCTR = _aesctr
DSAKey.sign = _dsa_sign
DSAKey.verify = _dsa_verify

PROTOCOL = "irc"

POLICY_BITS = {  # libotr's bits, for the same -policy flag as otrpeer
    "ALLOW_V1": 0x01,
    "ALLOW_V2": 0x02,
    "REQUIRE_ENCRYPTION": 0x08,
    "SEND_TAG": 0x10,
    "WHITESPACE_START_AKE": 0x20,
    "ERROR_START_AKE": 0x40,
}


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def escape(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def unescape(s):
    res, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            i += 1
            c = {"n": "\n", "r": "\r"}.get(s[i], s[i])
        res.append(c)
        i += 1
    return "".join(res)


def load_key(path):
    """First DSA key of a libotr private key file."""
    text = open(path).read()
    vals = {}
    for name, hexval in re.findall(r"\((p|q|g|y|x) #([0-9A-Fa-f]+)#\)", text):
        vals.setdefault(name, int(hexval, 16))
    return DSAKey((vals["y"], vals["g"], vals["p"], vals["q"], vals["x"]), private=True)


class Context(potr.context.Context):
    policy_bits = 0

    def getPolicy(self, key):
        return bool(self.policy_bits & POLICY_BITS.get(key, 0))

    def inject(self, msg, appdata=None):
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        if msg:
            out("WIRE " + escape(msg))


class Account(potr.context.Account):
    contextclass = Context

    def __init__(self, name, key, mms):
        super().__init__(name, PROTOCOL, mms)
        self.key = key

    def loadPrivkey(self):
        return self.key

    def savePrivkey(self):
        pass

    def saveTrusts(self):
        pass


STATES = {potr.context.STATE_PLAINTEXT: "plaintext",
          potr.context.STATE_ENCRYPTED: "encrypted",
          potr.context.STATE_FINISHED: "finished"}


class Peer:
    def __init__(self, args):
        self.account = Account(args.account, load_key(args.key), args.mms)
        self.ctx = self.account.getContext(args.peer)
        self.ctx.policy_bits = args.policy
        self.state = self.ctx.state
        self.ssid = None
        self.smp = (None, None)

    def their_fp(self):
        k = self.ctx.getCurrentKey()
        return k.cfingerprint() if k else ""

    def context_fields(self):
        fields = "state=%s version=2 our_instag=00000000 their_instag=00000000" % STATES[self.ctx.state]
        if self.their_fp():
            trust = self.ctx.getCurrentTrust()
            fields += " their_fp=%s trust=%s" % (self.their_fp(), trust or "-")
        if self.ctx.state == potr.context.STATE_ENCRYPTED:
            # potr's sessionIdHalf is True on the side that received the
            # Reveal Signature, which libotr shows with the second half bold
            fields += " ssid=%s ssid_half=%s" % (
                self.ctx.crypto.sessionId.hex(),
                "second" if self.ctx.crypto.sessionIdHalf else "first")
        return fields

    def report(self):
        """Events for state and SMP changes (potr has no callbacks)."""
        ssid = self.ctx.crypto.sessionId if self.ctx.state == potr.context.STATE_ENCRYPTED else None
        if self.ctx.state != self.state:
            self.state = self.ctx.state
            if self.state == potr.context.STATE_ENCRYPTED:
                out("EVENT gone_secure " + self.context_fields())
            out("EVENT state %s their_instag=00000000" % STATES[self.state])
        elif ssid is not None and ssid != self.ssid:
            # a new AKE over a running session (libotr says still_secure)
            out("EVENT still_secure is_reply=0")
            out("EVENT still_secure_context " + self.context_fields())
        self.ssid = ssid
        smp = self.ctx.crypto.smp
        now = (smp.state, smp.prog) if smp else (None, None)
        if now != self.smp:
            if smp:
                if smp.state == 0:
                    out("EVENT smp %s" % ("ASK_FOR_ANSWER" if smp.questionReceived else "ASK_FOR_SECRET"))
                elif smp.prog == potr.crypt.SMPPROG_SUCCEEDED:
                    out("EVENT smp SUCCESS trust=%s" % (self.ctx.getCurrentTrust() or "-"))
                elif smp.prog == potr.crypt.SMPPROG_FAILED:
                    out("EVENT smp FAILURE")
                elif smp.prog == potr.crypt.SMPPROG_CHEATED and smp.state == 1:
                    out("EVENT smp ABORT")
            self.smp = now

    def recv(self, arg):
        line = unescape(arg)
        encoded = line.startswith(("?OTR:", "?OTR,", "?OTR|"))
        try:
            text, _ = self.ctx.receiveMessage(line.encode("utf-8"))
            if text:
                kind = "enc" if encoded else "plain"
                out("MSG %s %s" % (kind, text.hex()))
        except potr.context.NotOTRMessage as e:
            msg = e.args[0]
            if isinstance(msg, str):
                msg = msg.encode("utf-8")
            out("MSG plain " + msg.hex())
        except potr.context.UnencryptedMessage as e:
            msg = e.args[0]
            if isinstance(msg, str):
                msg = msg.encode("utf-8")
            out("EVENT msg RCVDMSG_UNENCRYPTED text=" + msg.hex())
        except potr.context.ErrorReceived as e:
            out("EVENT msg RCVDMSG_GENERAL_ERR text=" + bytes(e.args[0]).hex())
        except potr.context.NotEncryptedError:
            out("EVENT msg RCVDMSG_UNREADABLE")

    def send(self, text):
        try:
            msg = self.ctx.sendMessage(potr.context.FRAGMENT_SEND_ALL, text)
        except potr.context.NotEncryptedError:
            out("EVENT msg CONNECTION_ENDED")
            return
        if msg:
            self.ctx.inject(msg)

    def dispatch(self, line):
        cmd, _, arg = line.partition(" ")
        if cmd == "RECV":
            self.recv(arg)
        elif cmd == "SEND":
            self.send(bytes.fromhex(arg))
        elif cmd in ("INIT", "INITBARE"):
            self.send(b"?OTRv2?")
        elif cmd == "END":
            self.ctx.disconnect()
        elif cmd == "SMP":
            self.ctx.smpInit(bytes.fromhex(arg))
        elif cmd == "SMPQ":
            q, _, s = arg.partition(" ")
            self.ctx.smpInit(bytes.fromhex(s), question=bytes.fromhex(q))
        elif cmd == "SMPANSWER":
            self.ctx.smpGotSecret(bytes.fromhex(arg))
        elif cmd == "SMPABORT":
            self.ctx.smpAbort()
        elif cmd == "POLICY":
            self.ctx.policy_bits = int(arg, 0)
        elif cmd == "INFO":
            out("INFO " + self.context_fields())
        elif cmd == "QUIT":
            return True
        else:
            raise ValueError("unknown command")
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-account", default="potr")
    ap.add_argument("-peer", default="otrbridge")
    ap.add_argument("-key", required=True)
    ap.add_argument("-mms", type=int, default=400)
    ap.add_argument("-policy", type=lambda s: int(s, 0), default=0x72)
    args = ap.parse_args()
    peer = Peer(args)
    out("READY account=%s instag=00000000 fp=%s human=%s" % (
        args.account, peer.account.getPrivkey().cfingerprint(),
        "_".join(peer.account.getPrivkey().cfingerprint().upper()[i:i + 8] for i in range(0, 40, 8))))
    for raw in sys.stdin:
        line = raw.rstrip("\r\n")
        try:
            quit_ = peer.dispatch(line)
        except Exception as e:  # report, keep the peer alive
            peer.report()
            out("ERR %s: %s" % (type(e).__name__, str(e).replace("\n", " ")))
            continue
        peer.report()
        out("OK")
        if quit_:
            break


if __name__ == "__main__":
    main()
