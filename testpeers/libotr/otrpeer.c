/*
 * otrpeer: a libotr 4.1.x peer driven by a line protocol on stdin/stdout.
 *
 * It is test code of otrbridge: Go tests (testpeers/otrtest) start it,
 * write commands to its stdin and read what libotr did from its stdout, so
 * our OTR engine can be checked against the library every IRC OTR client
 * wraps. It talks to exactly one remote user (-peer) from one account.
 *
 * Commands (one per line; <hex> is hex of raw bytes; <line> is escaped with
 * \\ \n \r):
 *   RECV <line>              hand a received wire line to libotr
 *   SEND <hex>               send UTF-8 text (encrypted if the session is)
 *   INIT                     send libotr's default query ("?OTR?" path)
 *   INITBARE                 send a bare query (?OTRv23? etc.) on one line
 *   END                      otrl_message_disconnect_all_instances
 *   SMP <hex secret>         start SMP without a question
 *   SMPQ <hex question> <hex secret>
 *   SMPANSWER <hex secret>   answer a received SMP request
 *   SMPABORT
 *   POLICY <bits>            libotr policy bits (decimal or 0x hex)
 *   MMS <n>                  max message size (0 = no fragmentation)
 *   SYMKEY <use> <hex usedata>
 *   ADVANCE <seconds>        move libotr's clock forward (time() is ours)
 *   POLL                     otrl_message_poll
 *   INFO                     state of the best instance
 *   QUIT
 * Every command is answered by the lines it caused, then "OK" (or
 * "ERR <reason>"), so a driver knows when a command is complete.
 *
 * Output lines:
 *   READY account=.. instag=%08x fp=<40 hex> human=<5 groups joined by _>
 *   WIRE <line>              every message libotr (or we, for plain text)
 *                            put on the wire, one fragment per line
 *   MSG enc|plain <hex>      a message libotr would show to the user
 *   EVENT <name> [k=v ...]   callbacks: msg/smp events, gone_secure, ...
 *   INFO state=.. ...
 */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/privkey.h>
#include <libotr/message.h>
#include <libotr/instag.h>
#include <libotr/tlv.h>

#define PROTOCOL "irc"

static OtrlUserState us;
static const char *account = "libotr";
static const char *peer = "peer";
static const char *fpfile = NULL;
static OtrlPolicy policy = OTRL_POLICY_DEFAULT;
static int mms = 400;
static long clock_offset;
static ConnContext *smp_context;
static OtrlMessageAppOps ops;
static const char *cmd_err; /* set by a failing command */

static void fail(const char *why)
{
    cmd_err = why;
}

/*
 * libotr reads the clock only through time(); defining it here interposes
 * on libc's (the executable is linked with -rdynamic) so tests can move
 * libotr's clock, e.g. for the 60 s heartbeat rule, without faketime.
 */
time_t time(time_t *t)
{
    struct timespec ts;
    time_t now;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = ts.tv_sec + clock_offset;
    if (t)
	*t = now;
    return now;
}

static void out_escaped(const char *s)
{
    for (; *s; s++) {
	switch (*s) {
	case '\\': fputs("\\\\", stdout); break;
	case '\n': fputs("\\n", stdout); break;
	case '\r': fputs("\\r", stdout); break;
	default: putchar(*s);
	}
    }
}

static void out_hex(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
	printf("%02x", p[i]);
}

/* unescape in place; returns the new length */
static size_t unescape(char *s)
{
    char *r = s, *w = s;
    while (*r) {
	if (*r == '\\' && r[1]) {
	    r++;
	    *w++ = *r == 'n' ? '\n' : *r == 'r' ? '\r' : *r;
	    r++;
	} else {
	    *w++ = *r++;
	}
    }
    *w = '\0';
    return (size_t)(w - s);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* decode hex into a new NUL-terminated buffer; NULL on bad input */
static unsigned char *unhex(const char *s, size_t *lenp)
{
    size_t n = strlen(s), i;
    unsigned char *b;

    if (n % 2)
	return NULL;
    b = malloc(n / 2 + 1);
    if (!b)
	return NULL;
    for (i = 0; i < n / 2; i++) {
	int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
	if (hi < 0 || lo < 0) {
	    free(b);
	    return NULL;
	}
	b[i] = (unsigned char)(hi << 4 | lo);
    }
    b[n / 2] = '\0';
    *lenp = n / 2;
    return b;
}

static const char *state_name(OtrlMessageState s)
{
    switch (s) {
    case OTRL_MSGSTATE_PLAINTEXT: return "plaintext";
    case OTRL_MSGSTATE_ENCRYPTED: return "encrypted";
    case OTRL_MSGSTATE_FINISHED: return "finished";
    }
    return "unknown";
}

static const char *msg_event_name(OtrlMessageEvent e)
{
    switch (e) {
    case OTRL_MSGEVENT_NONE: return "NONE";
    case OTRL_MSGEVENT_ENCRYPTION_REQUIRED: return "ENCRYPTION_REQUIRED";
    case OTRL_MSGEVENT_ENCRYPTION_ERROR: return "ENCRYPTION_ERROR";
    case OTRL_MSGEVENT_CONNECTION_ENDED: return "CONNECTION_ENDED";
    case OTRL_MSGEVENT_SETUP_ERROR: return "SETUP_ERROR";
    case OTRL_MSGEVENT_MSG_REFLECTED: return "MSG_REFLECTED";
    case OTRL_MSGEVENT_MSG_RESENT: return "MSG_RESENT";
    case OTRL_MSGEVENT_RCVDMSG_NOT_IN_PRIVATE: return "RCVDMSG_NOT_IN_PRIVATE";
    case OTRL_MSGEVENT_RCVDMSG_UNREADABLE: return "RCVDMSG_UNREADABLE";
    case OTRL_MSGEVENT_RCVDMSG_MALFORMED: return "RCVDMSG_MALFORMED";
    case OTRL_MSGEVENT_LOG_HEARTBEAT_RCVD: return "LOG_HEARTBEAT_RCVD";
    case OTRL_MSGEVENT_LOG_HEARTBEAT_SENT: return "LOG_HEARTBEAT_SENT";
    case OTRL_MSGEVENT_RCVDMSG_GENERAL_ERR: return "RCVDMSG_GENERAL_ERR";
    case OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED: return "RCVDMSG_UNENCRYPTED";
    case OTRL_MSGEVENT_RCVDMSG_UNRECOGNIZED: return "RCVDMSG_UNRECOGNIZED";
    case OTRL_MSGEVENT_RCVDMSG_FOR_OTHER_INSTANCE:
	return "RCVDMSG_FOR_OTHER_INSTANCE";
    }
    return "UNKNOWN";
}

static const char *smp_event_name(OtrlSMPEvent e)
{
    switch (e) {
    case OTRL_SMPEVENT_NONE: return "NONE";
    case OTRL_SMPEVENT_ERROR: return "ERROR";
    case OTRL_SMPEVENT_ABORT: return "ABORT";
    case OTRL_SMPEVENT_CHEATED: return "CHEATED";
    case OTRL_SMPEVENT_ASK_FOR_ANSWER: return "ASK_FOR_ANSWER";
    case OTRL_SMPEVENT_ASK_FOR_SECRET: return "ASK_FOR_SECRET";
    case OTRL_SMPEVENT_IN_PROGRESS: return "IN_PROGRESS";
    case OTRL_SMPEVENT_SUCCESS: return "SUCCESS";
    case OTRL_SMPEVENT_FAILURE: return "FAILURE";
    }
    return "UNKNOWN";
}

/* the instance libotr would send to: the most secure, else the master */
static ConnContext *best_context(int create)
{
    return otrl_context_find(us, peer, account, PROTOCOL, OTRL_INSTAG_BEST,
	    create, NULL, NULL, NULL);
}

static void print_context(const char *prefix, ConnContext *ctx)
{
    Fingerprint *fp = ctx->active_fingerprint;
    printf("%s state=%s version=%u our_instag=%08x their_instag=%08x",
	    prefix, state_name(ctx->msgstate), ctx->protocol_version,
	    ctx->our_instance, ctx->their_instance);
    if (fp && fp->fingerprint) {
	printf(" their_fp=");
	out_hex(fp->fingerprint, 20);
	printf(" trust=%s", fp->trust && fp->trust[0] ? fp->trust : "-");
    }
    if (ctx->msgstate == OTRL_MSGSTATE_ENCRYPTED) {
	printf(" ssid=");
	out_hex(ctx->sessionid, ctx->sessionid_len);
	printf(" ssid_half=%s", ctx->sessionid_half == OTRL_SESSIONID_FIRST_HALF_BOLD ?
		"first" : "second");
    }
    putchar('\n');
}

/* --- libotr callbacks --- */

static OtrlPolicy op_policy(void *opdata, ConnContext *context)
{
    (void)opdata; (void)context;
    return policy;
}

static int op_is_logged_in(void *opdata, const char *a, const char *p,
	const char *r)
{
    (void)opdata; (void)a; (void)p; (void)r;
    return 1;
}

static void op_inject(void *opdata, const char *a, const char *p,
	const char *r, const char *message)
{
    (void)opdata; (void)a; (void)p; (void)r;
    /* libotr "sends" an empty string in FINISHED; a client sends nothing */
    if (!message[0])
	return;
    fputs("WIRE ", stdout);
    out_escaped(message);
    putchar('\n');
}

static void op_update_context_list(void *opdata) { (void)opdata; }

static void op_new_fingerprint(void *opdata, OtrlUserState u,
	const char *a, const char *p, const char *username,
	unsigned char fingerprint[20])
{
    (void)opdata; (void)u; (void)a; (void)p; (void)username;
    printf("EVENT new_fingerprint fp=");
    out_hex(fingerprint, 20);
    putchar('\n');
}

static void op_write_fingerprints(void *opdata)
{
    (void)opdata;
    if (fpfile)
	otrl_privkey_write_fingerprints(us, fpfile);
}

static void op_gone_secure(void *opdata, ConnContext *ctx)
{
    (void)opdata;
    print_context("EVENT gone_secure", ctx);
}

static void op_gone_insecure(void *opdata, ConnContext *ctx)
{
    (void)opdata;
    print_context("EVENT gone_insecure", ctx);
}

static void op_still_secure(void *opdata, ConnContext *ctx, int is_reply)
{
    (void)opdata;
    printf("EVENT still_secure is_reply=%d\n", is_reply);
    print_context("EVENT still_secure_context", ctx);
}

static int op_max_message_size(void *opdata, ConnContext *ctx)
{
    (void)opdata; (void)ctx;
    return mms;
}

static void op_received_symkey(void *opdata, ConnContext *ctx,
	unsigned int use, const unsigned char *usedata, size_t usedatalen,
	const unsigned char *symkey)
{
    (void)opdata; (void)ctx;
    printf("EVENT symkey_received use=%u usedata=", use);
    out_hex(usedata, usedatalen);
    printf(" key=");
    out_hex(symkey, OTRL_EXTRAKEY_BYTES);
    putchar('\n');
}

static const char *op_otr_error_message(void *opdata, ConnContext *ctx,
	OtrlErrorCode code)
{
    (void)opdata; (void)ctx;
    switch (code) {
    case OTRL_ERRCODE_ENCRYPTION_ERROR: return "Error occurred encrypting message.";
    case OTRL_ERRCODE_MSG_NOT_IN_PRIVATE: return "You sent encrypted data to a peer who wasn't expecting it.";
    case OTRL_ERRCODE_MSG_UNREADABLE: return "You transmitted an unreadable encrypted message.";
    case OTRL_ERRCODE_MSG_MALFORMED: return "You transmitted a malformed data message.";
    default: return "Unknown error.";
    }
}

static void op_otr_error_message_free(void *opdata, const char *m)
{
    (void)opdata; (void)m;
}

static void op_handle_smp_event(void *opdata, OtrlSMPEvent ev,
	ConnContext *ctx, unsigned short progress, char *question)
{
    (void)opdata;
    smp_context = ctx;
    printf("EVENT smp %s progress=%u", smp_event_name(ev), progress);
    if (question) {
	printf(" question=");
	out_hex((const unsigned char *)question, strlen(question));
    }
    if (ctx->active_fingerprint && ctx->active_fingerprint->trust)
	printf(" trust=%s", ctx->active_fingerprint->trust[0] ?
		ctx->active_fingerprint->trust : "-");
    putchar('\n');
    /* what pidgin-otr and irssi-otr do: reset after cheating/errors */
    if (ev == OTRL_SMPEVENT_CHEATED || ev == OTRL_SMPEVENT_ERROR)
	otrl_message_abort_smp(us, &ops, NULL, ctx);
}

static void op_handle_msg_event(void *opdata, OtrlMessageEvent ev,
	ConnContext *ctx, const char *message, gcry_error_t err)
{
    (void)opdata; (void)ctx;
    printf("EVENT msg %s", msg_event_name(ev));
    if (message) {
	printf(" text=");
	out_hex((const unsigned char *)message, strlen(message));
    }
    if (err)
	printf(" err=%s", gcry_strerror(err));
    putchar('\n');
}

static void op_create_instag(void *opdata, const char *a, const char *p)
{
    (void)opdata;
    /* no -instag: a fresh tag for this process only, as a restarted
       client without an instance tags file would have */
    FILE *f = tmpfile();
    if (f) {
	otrl_instag_generate_FILEp(us, f, a, p);
	fclose(f);
    }
}

static void op_timer_control(void *opdata, unsigned int interval)
{
    (void)opdata; (void)interval;
    /* the driver calls POLL when it wants expiry to happen */
}

static void init_ops(void)
{
    memset(&ops, 0, sizeof ops);
    ops.policy = op_policy;
    ops.is_logged_in = op_is_logged_in;
    ops.inject_message = op_inject;
    ops.update_context_list = op_update_context_list;
    ops.new_fingerprint = op_new_fingerprint;
    ops.write_fingerprints = op_write_fingerprints;
    ops.gone_secure = op_gone_secure;
    ops.gone_insecure = op_gone_insecure;
    ops.still_secure = op_still_secure;
    ops.max_message_size = op_max_message_size;
    ops.received_symkey = op_received_symkey;
    ops.otr_error_message = op_otr_error_message;
    ops.otr_error_message_free = op_otr_error_message_free;
    ops.handle_smp_event = op_handle_smp_event;
    ops.handle_msg_event = op_handle_msg_event;
    ops.create_instag = op_create_instag;
    ops.timer_control = op_timer_control;
}

/* --- state reporting --- */

/* Report msgstate changes of every instance after each command: libotr
 * has no callback when a peer's disconnect TLV moves us to FINISHED. */
#define MAX_SEEN 64
static struct { otrl_instag_t tag; OtrlMessageState st; } seen[MAX_SEEN];
static int nseen;

static void report_states(void)
{
    ConnContext *c;
    for (c = us->context_root; c; c = c->next) {
	int i;
	if (c->m_context == c)
	    continue; /* the master only mirrors its children in v3 */
	for (i = 0; i < nseen; i++)
	    if (seen[i].tag == c->their_instance)
		break;
	if (i == nseen) {
	    if (nseen == MAX_SEEN)
		continue;
	    nseen++;
	    seen[i].tag = c->their_instance;
	    seen[i].st = OTRL_MSGSTATE_PLAINTEXT;
	}
	if (seen[i].st != c->msgstate) {
	    seen[i].st = c->msgstate;
	    printf("EVENT state %s their_instag=%08x\n",
		    state_name(c->msgstate), c->their_instance);
	}
    }
    /* v2 sessions live in the master context only */
    c = otrl_context_find(us, peer, account, PROTOCOL, OTRL_INSTAG_MASTER,
	    0, NULL, NULL, NULL);
    if (c && c->protocol_version == 2) {
	static OtrlMessageState master_seen = OTRL_MSGSTATE_PLAINTEXT;
	if (master_seen != c->msgstate) {
	    master_seen = c->msgstate;
	    printf("EVENT state %s their_instag=%08x\n",
		    state_name(c->msgstate), 0u);
	}
    }
}

/* --- commands --- */

static int is_otr_encoded(const char *line)
{
    return !strncmp(line, "?OTR:", 5) || !strncmp(line, "?OTR|", 5) ||
	!strncmp(line, "?OTR,", 5);
}

static void cmd_recv(char *arg)
{
    char *newmsg = NULL;
    OtrlTLV *tlvs = NULL;
    int internal;
    int encoded;

    unescape(arg);
    encoded = is_otr_encoded(arg);
    internal = otrl_message_receiving(us, &ops, NULL, account, PROTOCOL,
	    peer, arg, &newmsg, &tlvs, NULL, NULL, NULL);
    if (tlvs) {
	OtrlTLV *t;
	for (t = tlvs; t; t = t->next)
	    printf("EVENT tlv type=%u len=%u\n", t->type, t->len);
	otrl_tlv_free(tlvs);
    }
    if (!internal) {
	const char *shown = newmsg ? newmsg : arg;
	/* a stripped whitespace tag also yields newmsg: only OTR-encoded
	 * input can have been decrypted */
	printf("MSG %s ", encoded && newmsg ? "enc" : "plain");
	out_hex((const unsigned char *)shown, strlen(shown));
	putchar('\n');
    }
    otrl_message_free(newmsg);
}

static int send_text(const char *text)
{
    char *newmsg = NULL;
    gcry_error_t err;

    err = otrl_message_sending(us, &ops, NULL, account, PROTOCOL, peer,
	    OTRL_INSTAG_BEST, text, NULL, &newmsg, OTRL_FRAGMENT_SEND_ALL,
	    NULL, NULL, NULL);
    if (err) {
	/* never fall back to plaintext */
	printf("EVENT send_error err=%s\n", gcry_strerror(err));
	otrl_message_free(newmsg);
	return -1;
    }
    if (!newmsg) {
	/* libotr left the text alone: the application sends it */
	op_inject(NULL, account, PROTOCOL, peer, text);
    }
    otrl_message_free(newmsg);
    return 0;
}

static void cmd_send(const char *arg)
{
    size_t n;
    unsigned char *text = unhex(arg, &n);
    if (!text || strlen((char *)text) != n) {
	free(text);
	fail("bad hex");
	return;
    }
    send_text((char *)text);
    free(text);
}

static ConnContext *smp_target(void)
{
    ConnContext *c = best_context(0);
    if (!c || c->msgstate != OTRL_MSGSTATE_ENCRYPTED)
	return NULL;
    return c;
}

static void cmd_smp(char *arg, int with_question)
{
    char *question_hex = NULL, *secret_hex = arg;
    unsigned char *secret, *question = NULL;
    size_t slen, qlen;
    ConnContext *c = smp_target();

    if (!c) {
	fail("not encrypted");
	return;
    }
    if (with_question) {
	char *sp = strchr(arg, ' ');
	if (!sp) {
	    fail("usage: SMPQ <hex question> <hex secret>");
	    return;
	}
	*sp = '\0';
	question_hex = arg;
	secret_hex = sp + 1;
	question = unhex(question_hex, &qlen);
	if (!question) {
	    fail("bad hex");
	    return;
	}
    }
    secret = unhex(secret_hex, &slen);
    if (!secret) {
	free(question);
	fail("bad hex");
	return;
    }
    smp_context = c;
    if (with_question)
	otrl_message_initiate_smp_q(us, &ops, NULL, c, (char *)question,
		secret, slen);
    else
	otrl_message_initiate_smp(us, &ops, NULL, c, secret, slen);
    free(secret);
    free(question);
}

static void cmd_smp_answer(const char *arg)
{
    size_t slen;
    unsigned char *secret = unhex(arg, &slen);
    if (!secret) {
	fail("bad hex");
	return;
    }
    if (!smp_context) {
	free(secret);
	fail("no smp request");
	return;
    }
    otrl_message_respond_smp(us, &ops, NULL, smp_context, secret, slen);
    free(secret);
}

static void cmd_symkey(char *arg)
{
    unsigned int use;
    char *sp = strchr(arg, ' ');
    unsigned char *usedata;
    size_t ulen;
    unsigned char key[OTRL_EXTRAKEY_BYTES];
    ConnContext *c = smp_target();
    gcry_error_t err;

    if (!c) {
	fail("not encrypted");
	return;
    }
    use = (unsigned int)strtoul(arg, NULL, 0);
    usedata = unhex(sp ? sp + 1 : "", &ulen);
    if (!usedata) {
	fail("bad hex");
	return;
    }
    err = otrl_message_symkey(us, &ops, NULL, c, use, usedata, ulen, key);
    free(usedata);
    if (err) {
	fail(gcry_strerror(err));
	return;
    }
    printf("EVENT symkey_sent use=%u key=", use);
    out_hex(key, sizeof key);
    putchar('\n');
}

static void cmd_init_bare(void)
{
    char q[16];
    strcpy(q, "?OTRv");
    if (policy & OTRL_POLICY_ALLOW_V2)
	strcat(q, "2");
    if (policy & OTRL_POLICY_ALLOW_V3)
	strcat(q, "3");
    strcat(q, "?");
    /* libotr marks the offer as sent when it builds the query itself */
    best_context(1)->otr_offer = OFFER_SENT;
    op_inject(NULL, account, PROTOCOL, peer, q);
}

static void cmd_info(void)
{
    ConnContext *c = best_context(0);
    if (!c) {
	printf("INFO state=none\n");
	return;
    }
    print_context("INFO", c);
}

static int dispatch(char *line)
{
    char *arg = strchr(line, ' ');
    if (arg)
	*arg++ = '\0';
    else
	arg = line + strlen(line);

    if (!strcmp(line, "RECV")) {
	cmd_recv(arg);
    } else if (!strcmp(line, "SEND")) {
	cmd_send(arg);
    } else if (!strcmp(line, "INIT")) {
	send_text("?OTR?");
    } else if (!strcmp(line, "INITBARE")) {
	cmd_init_bare();
    } else if (!strcmp(line, "END")) {
	otrl_message_disconnect_all_instances(us, &ops, NULL, account,
		PROTOCOL, peer);
    } else if (!strcmp(line, "SMP")) {
	cmd_smp(arg, 0);
    } else if (!strcmp(line, "SMPQ")) {
	cmd_smp(arg, 1);
    } else if (!strcmp(line, "SMPANSWER")) {
	cmd_smp_answer(arg);
    } else if (!strcmp(line, "SMPABORT")) {
	ConnContext *c = smp_context ? smp_context : smp_target();
	if (c)
	    otrl_message_abort_smp(us, &ops, NULL, c);
	if (!c)
	    fail("no context");
    } else if (!strcmp(line, "POLICY")) {
	policy = (OtrlPolicy)strtoul(arg, NULL, 0);
    } else if (!strcmp(line, "MMS")) {
	mms = atoi(arg);
    } else if (!strcmp(line, "SYMKEY")) {
	cmd_symkey(arg);
    } else if (!strcmp(line, "ADVANCE")) {
	clock_offset += atol(arg);
    } else if (!strcmp(line, "POLL")) {
	otrl_message_poll(us, &ops, NULL);
    } else if (!strcmp(line, "INFO")) {
	cmd_info();
    } else if (!strcmp(line, "QUIT")) {
	return 1;
    } else {
	fail("unknown command");
    }
    return 0;
}

/* Use the first key of the file for our account whatever account it was
 * written for, so one stored key serves every test. */
static void adopt_key(void)
{
    OtrlPrivKey *k = us->privkey_root;
    if (!k || otrl_privkey_find(us, account, PROTOCOL))
	return;
    free(k->accountname);
    free(k->protocol);
    k->accountname = strdup(account);
    k->protocol = strdup(PROTOCOL);
}

static void usage(void)
{
    fprintf(stderr, "usage: otrpeer [-account name] [-peer name] -key file "
	    "[-instag hex] [-fingerprints file] "
	    "[-mms n] [-policy bits]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *keyfile = NULL, *instag = NULL;
    char *line = NULL;
    size_t cap = 0;
    int i;
    unsigned char fp[20];
    char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
    OtrlInsTag *tag;

    for (i = 1; i < argc; i++) {
	const char *a = argv[i];
	if (i + 1 >= argc)
	    usage();
	if (!strcmp(a, "-account")) account = argv[++i];
	else if (!strcmp(a, "-peer")) peer = argv[++i];
	else if (!strcmp(a, "-key")) keyfile = argv[++i];
	else if (!strcmp(a, "-instag")) instag = argv[++i];
	else if (!strcmp(a, "-fingerprints")) fpfile = argv[++i];
	else if (!strcmp(a, "-mms")) mms = atoi(argv[++i]);
	else if (!strcmp(a, "-policy")) policy = (OtrlPolicy)strtoul(argv[++i], NULL, 0);
	else usage();
    }
    if (!keyfile)
	usage();

    setvbuf(stdout, NULL, _IOLBF, 0);
    OTRL_INIT;
    us = otrl_userstate_create();
    init_ops();

    if (access(keyfile, R_OK) == 0) {
	if (otrl_privkey_read(us, keyfile)) {
	    fprintf(stderr, "otrpeer: cannot read key file %s\n", keyfile);
	    return 1;
	}
	adopt_key();
    }
    if (!otrl_privkey_find(us, account, PROTOCOL)) {
	if (otrl_privkey_generate(us, keyfile, account, PROTOCOL)) {
	    fprintf(stderr, "otrpeer: cannot generate key %s\n", keyfile);
	    return 1;
	}
    }
    if (fpfile && access(fpfile, R_OK) == 0)
	otrl_privkey_read_fingerprints(us, fpfile, NULL, NULL);

    if (instag) {
	char buf[512];
	FILE *f;
	snprintf(buf, sizeof buf, "%s\t%s\t%s\n", account, PROTOCOL, instag);
	f = fmemopen(buf, strlen(buf), "r");
	if (!f || otrl_instag_read_FILEp(us, f)) {
	    fprintf(stderr, "otrpeer: bad -instag\n");
	    return 1;
	}
	fclose(f);
    } else {
	op_create_instag(NULL, account, PROTOCOL);
    }
    tag = otrl_instag_find(us, account, PROTOCOL);

    otrl_privkey_fingerprint_raw(us, fp, account, PROTOCOL);
    otrl_privkey_fingerprint(us, human, account, PROTOCOL);
    for (i = 0; human[i]; i++)
	if (human[i] == ' ')
	    human[i] = '_';
    printf("READY account=%s instag=%08x fp=", account, tag ? tag->instag : 0);
    out_hex(fp, sizeof fp);
    printf(" human=%s\n", human);

    while (getline(&line, &cap, stdin) > 0) {
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
	    line[--n] = '\0';
	int quit;
	cmd_err = NULL;
	quit = dispatch(line);
	report_states();
	if (cmd_err)
	    printf("ERR %s\n", cmd_err);
	else
	    printf("OK\n");
	fflush(stdout);
	if (quit)
	    break;
    }
    free(line);
    otrl_userstate_free(us);
    return 0;
}
