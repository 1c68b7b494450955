/*
 * otrbench: libotr 4.1.x timings for the scenarios our Go benchmarks
 * measure, so one command can print both and the ratios
 * (otr/interop_bench_test.go, TestCompareWithLibotr).
 *
 * Two accounts live in one process; injected messages are queued in memory
 * and delivered by hand, without fragmentation (max message size 0).
 * Output: one line per scenario, "<name> <ns per op> <iterations>".
 *
 * usage: otrbench <alice key file> <bob key file> [min seconds per scenario
 *        [scenario]]
 */

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/privkey.h>
#include <libotr/message.h>
#include <libotr/instag.h>

#define PROTOCOL "irc"
#define QMAX 16

struct party {
    const char *name, *peer;
    OtrlUserState us;
    char *inbox[QMAX]; /* messages injected *to* this party */
    int n;
    int secure;
    int smp_done;
};

static OtrlMessageAppOps ops;

static struct party A = { .name = "alice", .peer = "bob" },
    B = { .name = "bob", .peer = "alice" };

static struct party *by_name(const char *name)
{
    return strcmp(name, A.name) == 0 ? &A : &B;
}

static OtrlPolicy op_policy(void *o, ConnContext *c) { (void)o; (void)c; return OTRL_POLICY_MANUAL; }
static int op_logged_in(void *o, const char *a, const char *p, const char *r)
{ (void)o; (void)a; (void)p; (void)r; return 1; }

static void op_inject(void *o, const char *a, const char *p, const char *r,
	const char *msg)
{
    struct party *to = by_name(r);
    (void)o; (void)a; (void)p;
    if (to->n == QMAX) {
	fprintf(stderr, "otrbench: queue overflow\n");
	exit(1);
    }
    to->inbox[to->n++] = strdup(msg);
}

static void op_gone_secure(void *o, ConnContext *c)
{
    (void)o;
    by_name(c->accountname)->secure = 1;
}

static void op_smp(void *o, OtrlSMPEvent ev, ConnContext *c, unsigned short pr,
	char *q)
{
    struct party *me = by_name(c->accountname);
    (void)o; (void)pr; (void)q;
    if (ev == OTRL_SMPEVENT_ASK_FOR_SECRET)
	otrl_message_respond_smp(me->us, &ops, NULL, c,
		(const unsigned char *)"secret", 6);
    if (ev == OTRL_SMPEVENT_SUCCESS)
	me->smp_done = 1;
    if (ev == OTRL_SMPEVENT_FAILURE || ev == OTRL_SMPEVENT_CHEATED ||
	    ev == OTRL_SMPEVENT_ERROR || ev == OTRL_SMPEVENT_ABORT) {
	fprintf(stderr, "otrbench: SMP failed (%d)\n", ev);
	exit(1);
    }
}

static int op_mms(void *o, ConnContext *c) { (void)o; (void)c; return 0; }

static void deliver_all(void)
{
    int moved;
    do {
	int i;
	struct party *parties[2] = { &A, &B };
	moved = 0;
	for (i = 0; i < 2; i++) {
	    struct party *p = parties[i];
	    while (p->n > 0) {
		char *msg = p->inbox[0], *newmsg = NULL;
		memmove(p->inbox, p->inbox + 1, (size_t)(p->n - 1) * sizeof(char *));
		p->n--;
		otrl_message_receiving(p->us, &ops, NULL, p->name, PROTOCOL,
			p->peer, msg, &newmsg, NULL, NULL, NULL, NULL);
		otrl_message_free(newmsg);
		free(msg);
		moved = 1;
	    }
	}
    } while (moved);
}

static void send_from(struct party *p, const char *text)
{
    char *newmsg = NULL;
    gcry_error_t err = otrl_message_sending(p->us, &ops, NULL, p->name,
	    PROTOCOL, p->peer, OTRL_INSTAG_BEST, text, NULL, &newmsg,
	    OTRL_FRAGMENT_SEND_ALL, NULL, NULL, NULL);
    if (err) {
	fprintf(stderr, "otrbench: send failed\n");
	exit(1);
    }
    otrl_message_free(newmsg);
}

/* receive only the pending messages of p (one direction) */
static void receive_at(struct party *p)
{
    while (p->n > 0) {
	char *msg = p->inbox[--p->n], *newmsg = NULL;
	otrl_message_receiving(p->us, &ops, NULL, p->name, PROTOCOL, p->peer,
		msg, &newmsg, NULL, NULL, NULL, NULL);
	if (!newmsg) {
	    fprintf(stderr, "otrbench: message not decrypted\n");
	    exit(1);
	}
	otrl_message_free(newmsg);
	free(msg);
    }
}

static void setup(struct party *p, const char *keyfile, unsigned int tag)
{
    char buf[128];
    FILE *f;
    OtrlPrivKey *k;

    p->us = otrl_userstate_create();
    if (otrl_privkey_read(p->us, keyfile) || !p->us->privkey_root) {
	fprintf(stderr, "otrbench: cannot read %s\n", keyfile);
	exit(1);
    }
    k = p->us->privkey_root; /* use the first key whatever its account */
    free(k->accountname);
    free(k->protocol);
    k->accountname = strdup(p->name);
    k->protocol = strdup(PROTOCOL);
    snprintf(buf, sizeof buf, "%s\t%s\t%08x\n", p->name, PROTOCOL, tag);
    f = fmemopen(buf, strlen(buf), "r");
    otrl_instag_read_FILEp(p->us, f);
    fclose(f);
}

static void reset(void)
{
    otrl_context_forget_all(A.us);
    otrl_context_forget_all(B.us);
    A.secure = B.secure = 0;
}

static void ake(void)
{
    reset();
    send_from(&A, "?OTRv3?");
    deliver_all();
    if (!A.secure || !B.secure) {
	fprintf(stderr, "otrbench: AKE failed\n");
	exit(1);
    }
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double min_seconds = 1.0;

/* run op until min_seconds passed; print ns/op */
static void bench(const char *name, void (*op)(void))
{
    long n = 1, total = 0;
    double start, elapsed = 0;
    op(); /* warm up */
    while (elapsed < min_seconds * 1e9) {
	long i;
	start = now_ns();
	for (i = 0; i < n; i++)
	    op();
	elapsed += now_ns() - start;
	total += n;
	if (n < 1000000)
	    n *= 2;
    }
    printf("%s %.0f %ld\n", name, elapsed / total, total);
    fflush(stdout);
}

static char msg100[101], msg1k[1025];
static const char *only; /* run just this scenario, if set */

static void run(const char *name, void (*op)(void))
{
    if (!only || !strcmp(only, name))
	bench(name, op);
}

static void oneway100(void) { send_from(&A, msg100); receive_at(&B); }
static void oneway1k(void) { send_from(&A, msg1k); receive_at(&B); }

static int turn;
static void speaker_change(void)
{
    /* each message answers the previous one: a DH rekey every time */
    if (turn++ & 1) {
	send_from(&B, msg100);
	receive_at(&A);
    } else {
	send_from(&A, msg100);
	receive_at(&B);
    }
}

static void smp(void)
{
    ConnContext *c = otrl_context_find(A.us, A.peer, A.name, PROTOCOL,
	    OTRL_INSTAG_BEST, 0, NULL, NULL, NULL);
    A.smp_done = B.smp_done = 0;
    otrl_message_initiate_smp(A.us, &ops, NULL, c,
	    (const unsigned char *)"secret", 6);
    deliver_all();
    if (!A.smp_done || !B.smp_done) {
	fprintf(stderr, "otrbench: SMP did not finish\n");
	exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
	fprintf(stderr, "usage: otrbench alice.key bob.key [seconds [scenario]]\n");
	return 2;
    }
    if (argc > 3)
	min_seconds = atof(argv[3]);
    OTRL_INIT;
    memset(&ops, 0, sizeof ops);
    ops.policy = op_policy;
    ops.is_logged_in = op_logged_in;
    ops.inject_message = op_inject;
    ops.gone_secure = op_gone_secure;
    ops.max_message_size = op_mms;
    ops.handle_smp_event = op_smp;
    setup(&A, argv[1], 0x1000a11c);
    setup(&B, argv[2], 0x10000b0b);
    memset(msg100, 'a', 100);
    memset(msg1k, 'b', 1024);

    only = argc > 4 && argv[4][0] ? argv[4] : NULL;
    run("FullAKE", ake);
    ake();
    send_from(&A, msg100);
    deliver_all();
    send_from(&B, msg100);
    deliver_all();
    run("OneWay100B", oneway100);
    run("OneWay1KiB", oneway1k);
    run("SpeakerChange", speaker_change);
    run("SMP", smp);
    return 0;
}
