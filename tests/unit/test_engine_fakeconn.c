/* tests/unit/test_engine_fakeconn.c - the engine (core/engine) unit-tested against a fake
 * connection. Link seam: this file defines the functions of core/wa/conn.h itself
 * (miaw_wa_conn_start / _send / _iq / _free / _is_open and miaw_wa_end_name, which the
 * engine also calls), so the linker never takes conn.o out of the static library. The
 * fake records every node sent and every IQ with its callback (all through the binary
 * wire form, as the real connection encodes them) and lets a test open the connection,
 * inject server nodes, answer a recorded IQ (result, error, timeout, gone) and end it.
 *
 * Each test builds a world - sqlite storage in a temp dir, a bus recording every event,
 * a router, an instance registry with one instance holding paired credentials, the
 * engine and its services table - on a uv loop run step by step, and tears it down with
 * the loop closed cleanly. Covered: login (payload, <success>, state, ready/connection
 * events, passive + pre-key count + upload IQs); msg_send (usync, pre-key fetch, pkmsg
 * for the peer and a DeviceSentMessage for the own phone, decrypted by fixture peers,
 * ack -> MIAW_OK + t; timeout; connection end -> MIAW_E_STATE, then reconnect); services
 * iq (result, error, timeout, end, unknown instance, not connected) and stanza_send; the
 * tap after the engine's acks; receiving a pkmsg (event, chat storage, msg_get, receipt
 * after the event, redelivery); freeing with work in flight. Owns the fake's records. */
#include <ftw.h>
#include <miaw/plugin.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/config.h"
#include "base/log.h"
#include "base/storage.h"
#include "base/util.h"
#include "bus/events.h"
#include "engine/engine.h"
#include "engine/engine_int.h"
#include "harness.h"
#include "http/router.h"
#include "instances/instances.h"
#include "plugins/services.h"
#include "wa/conn.h"
#include "wa/pairing.h"
#include "wa_client_payload.pb-c.h"
#include "wa_message.pb-c.h"
#include "wa_signal_fixture.h"

#define INST "bot1"
#define OWN_JID "15551234567:4@s.whatsapp.net"
#define OWN_USER "15551234567@s.whatsapp.net"
#define OWN_LID "123456789012345@lid"
#define OWN_LID_DEV "123456789012345:4@lid"
#define PEER_USER "15550003333@s.whatsapp.net"
#define GROUP_JID "120363000000000001@g.us"

/* ================================================================ the fake connection */
struct miaw_wa_conn {
    miaw_wa_conn_callbacks cb;
    void *udata;
    unsigned n; /* 1-based start number */
    int open, ended, freed;
    struct miaw_wa_conn *next_dead;
};

typedef struct fk_sent {
    miaw_node *n;  /* as decoded from its wire form (owned) */
    unsigned seq;  /* FK.seq when recorded */
    unsigned conn; /* start number of the connection */
    int is_iq;
} fk_sent;

typedef struct fk_iq {
    miaw_wa_conn *c; /* the connection while pending; NULL once answered or failed */
    char id[32];
    const miaw_node *n; /* the IQ as sent (borrowed from FK.sent) */
    unsigned timeout_ms;
    miaw_wa_iq_cb cb;
    void *udata;
} fk_iq;

static struct {
    unsigned seq;             /* orders sends, IQs, tap calls and bus events */
    unsigned starts, frees;
    unsigned next_id;
    unsigned misuse;          /* calls on a freed connection */
    miaw_wa_conn *cur;        /* the last started connection, until freed */
    miaw_wa_conn *dead;       /* freed ones (memory kept until fk_reset) */
    uint8_t *payload;         /* ClientPayload of the last start */
    size_t payload_len;
    char url[256];
    fk_sent *sent;
    size_t nsent, capsent;
    fk_iq **iqs;
    size_t niqs, capiqs;
} FK;

static void fk_reset(void)
{
    for (size_t i = 0; i < FK.nsent; i++) miaw_node_free(FK.sent[i].n);
    free(FK.sent);
    for (size_t i = 0; i < FK.niqs; i++) free(FK.iqs[i]);
    free(FK.iqs);
    while (FK.dead) {
        miaw_wa_conn *c = FK.dead;
        FK.dead = c->next_dead;
        free(c);
    }
    free(FK.payload);
    memset(&FK, 0, sizeof FK);
}

/* the node through the wire form; 0 and *out, or the encoder's / decoder's error */
static int roundtrip(const miaw_node *n, miaw_node **out)
{
    uint8_t *wire = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = miaw_node_encode(n, &wire, &len);
    if (rc == 0) rc = miaw_node_decode(wire, len, out);
    free(wire);
    return rc;
}

static int fk_record(miaw_wa_conn *c, const miaw_node *n, int is_iq, const miaw_node **copy)
{
    miaw_node *back;
    int rc = roundtrip(n, &back);
    if (rc) return rc;
    if (FK.nsent == FK.capsent) {
        size_t cap = FK.capsent ? 2 * FK.capsent : 64;
        fk_sent *v = realloc(FK.sent, cap * sizeof *v);
        if (!v) {
            miaw_node_free(back);
            return MIAW_E_NOMEM;
        }
        FK.sent = v;
        FK.capsent = cap;
    }
    FK.sent[FK.nsent++] = (fk_sent){.n = back, .seq = ++FK.seq, .conn = c->n, .is_iq = is_iq};
    if (copy) *copy = back;
    return 0;
}

int miaw_wa_conn_start(uv_loop_t *loop, const miaw_wa_conn_opts *opt, const miaw_wa_conn_callbacks *cb,
                       void *udata, miaw_wa_conn **out)
{
    (void)loop;
    if (!opt || !opt->url || !opt->noise || !opt->payload || !cb) return MIAW_E_INVAL;
    miaw_wa_conn *c = calloc(1, sizeof *c);
    uint8_t *p = malloc(opt->payload_len ? opt->payload_len : 1);
    if (!c || !p) {
        free(c);
        free(p);
        return MIAW_E_NOMEM;
    }
    memcpy(p, opt->payload, opt->payload_len);
    free(FK.payload);
    FK.payload = p;
    FK.payload_len = opt->payload_len;
    snprintf(FK.url, sizeof FK.url, "%s", opt->url);
    c->cb = *cb;
    c->udata = udata;
    c->n = ++FK.starts;
    FK.cur = c;
    *out = c;
    return 0;
}

int miaw_wa_conn_is_open(const miaw_wa_conn *c) { return c && c->open && !c->ended && !c->freed; }

int miaw_wa_conn_send(miaw_wa_conn *c, const miaw_node *n)
{
    if (c && c->freed) FK.misuse++;
    if (!miaw_wa_conn_is_open(c)) return MIAW_E_STATE;
    return fk_record(c, n, 0, NULL);
}

int miaw_wa_conn_iq(miaw_wa_conn *c, miaw_node *iq, unsigned timeout_ms, miaw_wa_iq_cb cb, void *udata)
{
    int rc = MIAW_E_STATE;
    fk_iq *q = NULL;
    if (c && c->freed) FK.misuse++;
    if (!miaw_wa_conn_is_open(c)) goto out;
    rc = MIAW_E_NOMEM;
    if (FK.niqs == FK.capiqs) {
        size_t cap = FK.capiqs ? 2 * FK.capiqs : 32;
        fk_iq **v = realloc(FK.iqs, cap * sizeof *v);
        if (!v) goto out;
        FK.iqs = v;
        FK.capiqs = cap;
    }
    if (!(q = calloc(1, sizeof *q))) goto out;
    snprintf(q->id, sizeof q->id, "fake.%u", ++FK.next_id); /* a fresh id, replacing any */
    if ((rc = miaw_node_set_attr(iq, "id", q->id)) != 0 || (rc = fk_record(c, iq, 1, &q->n)) != 0) goto out;
    q->c = c;
    q->timeout_ms = timeout_ms;
    q->cb = cb;
    q->udata = udata;
    FK.iqs[FK.niqs++] = q;
    q = NULL;
    rc = 0;
out:
    free(q);
    miaw_node_free(iq);
    return rc;
}

/* pending IQs of c get err (GONE at the end or free, as the real connection does) */
static void fk_fail_pending(miaw_wa_conn *c, int err)
{
    for (size_t i = 0; i < FK.niqs; i++) {
        fk_iq *q = FK.iqs[i];
        if (q->c != c) continue;
        q->c = NULL;
        q->cb(c, NULL, err, q->udata);
    }
}

void miaw_wa_conn_free(miaw_wa_conn *c)
{
    if (!c) return;
    if (c->freed) {
        FK.misuse++;
        return;
    }
    c->open = 0;
    c->freed = 1;
    fk_fail_pending(c, MIAW_E_GONE);
    if (FK.cur == c) FK.cur = NULL;
    FK.frees++;
    c->next_dead = FK.dead; /* kept: later calls on it are counted as misuse */
    FK.dead = c;
}

const char *miaw_wa_end_name(int why)
{
    switch (why) {
    case MIAW_WA_END_CLOSED: return "closed";
    case MIAW_WA_END_HANDSHAKE: return "handshake";
    case MIAW_WA_END_TIMEOUT: return "timeout";
    case MIAW_WA_END_DEAD: return "dead";
    case MIAW_WA_END_PROTOCOL: return "protocol";
    }
    return "unknown";
}

/* ---- test side */
static void fk_open(void)
{
    miaw_wa_conn *c = FK.cur;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    c->open = 1;
    if (c->cb.on_open) c->cb.on_open(c, c->udata);
}

/* a server node (taken) to on_node of the current connection, through the wire form */
static void fk_inject(miaw_node *n)
{
    miaw_node *back = NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(n);
    CU_ASSERT_EQUAL(roundtrip(n, &back), 0);
    miaw_node_free(n);
    miaw_wa_conn *c = FK.cur;
    CU_ASSERT(miaw_wa_conn_is_open(c));
    if (back && miaw_wa_conn_is_open(c)) c->cb.on_node(c, back, c->udata);
    miaw_node_free(back);
}

/* the connection is over: pending IQs get GONE, then on_end */
static void fk_end(int why, const char *detail)
{
    miaw_wa_conn *c = FK.cur;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    if (c->ended || c->freed) return;
    c->ended = 1;
    c->open = 0;
    fk_fail_pending(c, MIAW_E_GONE);
    if (!c->freed && c->cb.on_end) c->cb.on_end(c, why, detail, c->udata);
}

/* the first pending IQ with that xmlns (NULL = any) and a child of that tag (NULL = any) */
static fk_iq *fk_iq_find(const char *xmlns, const char *child)
{
    for (size_t i = 0; i < FK.niqs; i++) {
        fk_iq *q = FK.iqs[i];
        if (!q->c || (xmlns && !miaw_node_attr_is(q->n, "xmlns", xmlns))) continue;
        if (child && !miaw_node_child(q->n, child)) continue;
        return q;
    }
    return NULL;
}

static size_t fk_iq_pending(void)
{
    size_t k = 0;
    for (size_t i = 0; i < FK.niqs; i++) k += FK.iqs[i]->c != NULL;
    return k;
}

static miaw_node *fk_reply(const char *type)
{
    return miaw_node_newv("iq", "type", type, "from", "JID:@s.whatsapp.net", NULL);
}

/* answers q with reply (taken; its id is set to q's), through the wire form */
static void fk_iq_answer(fk_iq *q, miaw_node *reply)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q->c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(reply);
    miaw_node *back = NULL;
    miaw_node_set_attr(reply, "id", q->id);
    CU_ASSERT_EQUAL(roundtrip(reply, &back), 0);
    miaw_node_free(reply);
    miaw_wa_conn *c = q->c;
    q->c = NULL;
    q->cb(c, back, 0, q->udata);
    miaw_node_free(back);
}

static void fk_iq_fail(fk_iq *q, int err)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q->c);
    miaw_wa_conn *c = q->c;
    q->c = NULL;
    q->cb(c, NULL, err, q->udata);
}

/* index of the first node sent at or after `from` with that tag (and attribute value
 * when attr is given), or -1 */
static long fk_sent_find(size_t from, const char *tag, const char *attr, const char *val)
{
    for (size_t i = from; i < FK.nsent; i++) {
        const miaw_node *n = FK.sent[i].n;
        if (strcmp(n->tag, tag) != 0) continue;
        if (attr && !miaw_node_attr_is(n, attr, val)) continue;
        return (long)i;
    }
    return -1;
}

static size_t fk_sent_count(const char *tag, const char *attr, const char *val)
{
    size_t k = 0;
    for (long i = fk_sent_find(0, tag, attr, val); i >= 0; i = fk_sent_find((size_t)i + 1, tag, attr, val)) k++;
    return k;
}

/* ================================================================ the world */
typedef struct evrec {
    char type[32];
    char inst[65];
    json_t *data;
    unsigned seq;
} evrec;

#define MAX_EV 128
static struct {
    char dir[64];
    uv_loop_t loop;
    miaw_config cfg;
    int cfg_loaded;
    miaw_storage db;
    miaw_bus *bus;
    miaw_router rt;
    miaw_instances *inst;
    miaw_engine *e;
    miaw_engine_services svc;
    miaw_instance *in;
    evrec ev[MAX_EV];
    size_t nev;
    const miaw_node *upload; /* the pre-key upload IQ of the login (borrowed from FK) */
} W;

static void on_event(const miaw_event *ev, void *ud)
{
    (void)ud;
    if (W.nev >= MAX_EV) return;
    evrec *r = &W.ev[W.nev++];
    snprintf(r->type, sizeof r->type, "%s", ev->type);
    snprintf(r->inst, sizeof r->inst, "%s", ev->instance_id ? ev->instance_id : "");
    r->data = json_incref((json_t *)ev->data);
    r->seq = ++FK.seq;
}

/* index of the first event of that type at or after `from`, or -1 */
static long ev_find(size_t from, const char *type)
{
    for (size_t i = from; i < W.nev; i++)
        if (!strcmp(W.ev[i].type, type)) return (long)i;
    return -1;
}

static size_t ev_count(const char *type)
{
    size_t k = 0;
    for (size_t i = 0; i < W.nev; i++) k += !strcmp(W.ev[i].type, type);
    return k;
}

/* runs the loop without blocking until cond holds or ms passed */
#define PUMP_UNTIL(cond, ms)                                                                  \
    do {                                                                                      \
        uint64_t t0_ = miaw_mono_ms();                                                        \
        for (;;) {                                                                            \
            uv_run(&W.loop, UV_RUN_NOWAIT);                                                   \
            if ((cond) || miaw_mono_ms() - t0_ > (ms)) break;                                 \
            usleep(500);                                                                      \
        }                                                                                     \
    } while (0)

static void pump(int turns)
{
    for (int i = 0; i < turns; i++) uv_run(&W.loop, UV_RUN_NOWAIT);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static const char *const EVENTS[] = {"qr", "ready", "message", "message_edit", "message_delete", "message_reaction",
                                     "presence", "connection", "disconnected", "reconnecting", "error",
                                     "instance.created", "instance.deleted"};

/* everything up to a connection started for the paired instance (not yet open) */
static void world_up(void)
{
    char err[256] = "";
    fk_reset();
    memset(&W, 0, sizeof W);
    snprintf(W.dir, sizeof W.dir, "/tmp/miaw-fakeconn-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(W.dir));
    CU_ASSERT_EQUAL_FATAL(uv_loop_init(&W.loop), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_config_load(&W.cfg, NULL, err, sizeof err), 0);
    W.cfg_loaded = 1;
    free(W.cfg.data_dir);
    W.cfg.data_dir = strdup(W.dir);
    W.cfg.chat_storage = 1;
    CU_ASSERT_EQUAL_FATAL(miaw_storage_open(&W.db, W.dir, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_storage_exec(&W.db, "INSERT INTO instances(id, created_at) VALUES('" INST
                                                   "', 1700000000000)"),
                          0);
    W.bus = miaw_bus_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(W.bus);
    for (size_t i = 0; i < sizeof EVENTS / sizeof EVENTS[0]; i++)
        CU_ASSERT_EQUAL_FATAL(miaw_bus_declare(W.bus, NULL, EVENTS[i], 0, "", err, sizeof err), 0);
    miaw_id sub;
    CU_ASSERT_EQUAL_FATAL(miaw_bus_subscribe(W.bus, NULL, "*", on_event, NULL, &sub), 0);
    W.inst = miaw_instances_open(&W.cfg, &W.db, W.bus, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(W.inst);
    W.in = miaw_instances_find(W.inst, INST);
    CU_ASSERT_PTR_NOT_NULL_FATAL(W.in);

    miaw_engine_opts o;
    CU_ASSERT_EQUAL_FATAL(miaw_engine_opts_from_config(&o, &W.cfg, err, sizeof err), 0);
    o.backoff_min_ms = o.backoff_max_ms = 20; /* reconnects within the test */
    o.handshakes_per_sec = 1000;
    o.prekeys_initial = 3;
    o.prekeys_refill = 2;
    o.prekeys_min = 2;
    W.e = miaw_engine_new(&W.loop, &W.cfg, &W.db, W.bus, W.inst, &W.rt, &o, err, sizeof err);
    if (!W.e) fprintf(stderr, "miaw_engine_new: %s\n", err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(W.e);
    miaw_engine_services_fill(W.e, &W.svc);

    /* paired credentials, as pairing leaves them */
    miaw_wa_creds c;
    CU_ASSERT_EQUAL_FATAL(miaw_wa_creds_generate(&c), 0);
    c.paired = 1;
    snprintf(c.jid, sizeof c.jid, "%s", OWN_JID);
    c.lid[0] = 0; /* the LID comes with <success lid> (engine.c on_success adds our device) */
    snprintf(c.platform, sizeof c.platform, "android");
    int rc = eng_store_save(&W.db, INST, &c, 0);
    miaw_wa_creds_clear(&c);
    CU_ASSERT_EQUAL_FATAL(rc, 0);

    CU_ASSERT_EQUAL_FATAL(miaw_engine_connect(W.e, W.in), 0);
    CU_ASSERT_EQUAL(W.in->state, MIAW_ST_CONNECTING);
    CU_ASSERT_EQUAL(FK.starts, 0); /* scheduled, not started inside the call */
    PUMP_UNTIL(FK.starts == 1, 2000);
    CU_ASSERT_EQUAL_FATAL(FK.starts, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(FK.cur);
}

/* open + <success> + the post-login IQs answered (pre-key count 0 -> upload) */
static void login(void)
{
    size_t iq0 = FK.niqs;
    fk_open();
    CU_ASSERT_EQUAL(FK.nsent, 0); /* a login sends nothing before <success> */
    fk_inject(miaw_node_newv("success", "t", "1700000000", "props", "3", "lid", "JID:" OWN_LID, NULL));
    CU_ASSERT_EQUAL_FATAL(W.in->state, MIAW_ST_CONNECTED);
    fk_iq *p = fk_iq_find("passive", "active");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(p->n, "type"), "set");
    fk_iq_answer(p, fk_reply("result"));
    fk_iq *q = fk_iq_find("encrypt", "count");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(q->n, "type"), "get");
    miaw_node *r = fk_reply("result");
    miaw_node_addv(r, "count", "value", "0", NULL);
    fk_iq_answer(q, r);
    fk_iq *u = fk_iq_find("encrypt", "list"); /* the upload, right away */
    CU_ASSERT_PTR_NOT_NULL_FATAL(u);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(u->n, "type"), "set");
    CU_ASSERT_EQUAL(miaw_node_count(miaw_node_child(u->n, "list")), 3);
    CU_ASSERT_PTR_NOT_NULL(miaw_node_child(u->n, "skey"));
    W.upload = u->n;
    fk_iq_answer(u, fk_reply("result"));
    CU_ASSERT_EQUAL(FK.niqs - iq0, 3);
    CU_ASSERT_EQUAL(fk_iq_pending(), 0);
}

static void world_down(void)
{
    miaw_engine_free(W.e);
    W.e = NULL;
    for (int i = 0; i < 100 && uv_loop_alive(&W.loop); i++) uv_run(&W.loop, UV_RUN_NOWAIT);
    CU_ASSERT_EQUAL(uv_loop_close(&W.loop), 0); /* every handle closed */
    CU_ASSERT_PTR_NULL(FK.cur);                 /* the connection was freed */
    CU_ASSERT_EQUAL(FK.frees, FK.starts);
    CU_ASSERT_EQUAL(FK.misuse, 0);
    CU_ASSERT_EQUAL(fk_iq_pending(), 0);
    miaw_instances_free(W.inst);
    miaw_router_free(&W.rt);
    miaw_bus_free(W.bus);
    miaw_storage_close(&W.db);
    if (W.cfg_loaded) miaw_config_free(&W.cfg);
    for (size_t i = 0; i < W.nev; i++) json_decref(W.ev[i].data);
    nftw(W.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    fk_reset();
    memset(&W, 0, sizeof W);
}

static const char *jstr(const json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* a Message{conversation = text}, serialized; *len set, malloc'd */
static uint8_t *text_msg(const char *text, size_t *len)
{
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    m.conversation = (char *)text;
    *len = miaw__wa__message__get_packed_size(&m);
    uint8_t *b = malloc(*len ? *len : 1);
    if (b) miaw__wa__message__pack(&m, b);
    return b;
}

/* ================================================================ 1. login */
static void t_login(void)
{
    world_up();
    /* the connection got a login ClientPayload for the stored device */
    CU_ASSERT_STRING_EQUAL(FK.url, W.cfg.wa_ws_url);
    Miaw__Wa__ClientPayload *p = miaw__wa__client_payload__unpack(NULL, FK.payload_len, FK.payload);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p->has_username && p->username == 15551234567ULL);
    CU_ASSERT(p->has_device && p->device == 4);
    CU_ASSERT_PTR_NULL(p->devicepairingdata);
    miaw__wa__client_payload__free_unpacked(p, NULL);
    /* nothing happens on the handshake alone; a node before <success> is ignored */
    fk_open();
    CU_ASSERT_EQUAL(W.in->state, MIAW_ST_CONNECTING);
    fk_inject(miaw_node_newv("receipt", "id", "X1", "from", "JID:" PEER_USER, NULL));
    CU_ASSERT_EQUAL(FK.nsent, 0);
    size_t ev0 = W.nev;
    fk_inject(miaw_node_newv("success", "t", "1700000000", "props", "3", "lid", "JID:" OWN_LID, NULL));
    CU_ASSERT_EQUAL(W.in->state, MIAW_ST_CONNECTED);
    long c = ev_find(ev0, "connection"), r = ev_find(ev0, "ready");
    CU_ASSERT_FATAL(c >= 0 && r >= 0);
    CU_ASSERT_STRING_EQUAL(jstr(W.ev[c].data, "state"), "connected");
    CU_ASSERT_STRING_EQUAL(W.ev[c].inst, INST);
    CU_ASSERT_STRING_EQUAL(W.ev[r].inst, INST);
    CU_ASSERT_STRING_EQUAL(jstr(W.ev[r].data, "jid"), OWN_JID);
    CU_ASSERT_STRING_EQUAL(jstr(W.ev[r].data, "lid"), OWN_LID_DEV);
    CU_ASSERT_PTR_NOT_NULL(jstr(W.ev[r].data, "connectedAt"));
    json_t *st = miaw_engine_status(W.e, W.in);
    CU_ASSERT_STRING_EQUAL(jstr(st, "status"), "connected");
    CU_ASSERT(json_is_true(json_object_get(st, "paired")));
    CU_ASSERT_STRING_EQUAL(jstr(st, "lid"), OWN_LID_DEV);
    json_decref(st);
    /* post-login IQs: passive active, pre-key count; a count under the minimum uploads */
    CU_ASSERT_EQUAL(fk_iq_pending(), 2);
    fk_iq *pa = fk_iq_find("passive", "active"), *cnt = fk_iq_find("encrypt", "count");
    CU_ASSERT_FATAL(pa && cnt);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(cnt->n, "to"), "@s.whatsapp.net");
    fk_iq_answer(pa, fk_reply("result"));
    miaw_node *rep = fk_reply("result");
    miaw_node_addv(rep, "count", "value", "1", NULL);
    fk_iq_answer(cnt, rep);
    fk_iq *up = fk_iq_find("encrypt", "list");
    CU_ASSERT_PTR_NOT_NULL_FATAL(up);
    CU_ASSERT_EQUAL(miaw_node_count(miaw_node_child(up->n, "list")), 3);
    fk_iq_answer(up, fk_reply("result"));
    CU_ASSERT_EQUAL(fk_iq_pending(), 0);
    /* the server's pre-key count notifications: acked; at the minimum nothing, under it a refill */
    size_t n0 = FK.niqs;
    miaw_node *nt = miaw_node_newv("notification", "id", "N1", "type", "encrypt", "from", "JID:@s.whatsapp.net", NULL);
    miaw_node_addv(nt, "count", "value", "2", NULL);
    fk_inject(nt);
    CU_ASSERT_EQUAL(fk_sent_count("ack", "id", "N1"), 1);
    CU_ASSERT_EQUAL(FK.niqs, n0);
    nt = miaw_node_newv("notification", "id", "N2", "type", "encrypt", "from", "JID:@s.whatsapp.net", NULL);
    miaw_node_addv(nt, "count", "value", "1", NULL);
    fk_inject(nt);
    CU_ASSERT_EQUAL(fk_sent_count("ack", "class", "notification"), 2);
    up = fk_iq_find("encrypt", "list");
    CU_ASSERT_PTR_NOT_NULL_FATAL(up);
    CU_ASSERT_EQUAL(miaw_node_count(miaw_node_child(up->n, "list")), 2);
    fk_iq_answer(up, fk_reply("result"));
    world_down();
}

/* ================================================================ 2. sends */
typedef struct sent_res {
    int calls, status;
    int64_t ts;
    char id[64], detail[160];
} sent_res;

static void on_sent(int status, const char *id, int64_t ts, const char *detail, void *ud)
{
    sent_res *r = ud;
    r->calls++;
    r->status = status;
    r->ts = ts;
    snprintf(r->id, sizeof r->id, "%s", id ? id : "");
    snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "");
}

static int msg_send(const char *to, const uint8_t *msg, size_t len, unsigned timeout_ms, sent_res *res)
{
    miaw_msg_opts o = {.struct_size = sizeof o, .timeout_ms = timeout_ms};
    const char *field = NULL;
    char err[256] = "";
    uint64_t h = 0;
    int rc = W.svc.msg_send(W.svc.ctx, INST, to, msg, len, &o, NULL, 0, on_sent, res, &h, &field, err, sizeof err);
    if (rc) fprintf(stderr, "msg_send: %d %s (%s)\n", rc, err, field ? field : "");
    else CU_ASSERT(h != 0);
    return rc;
}

/* the <enc> for device jid in a sent <message>, or NULL */
static const miaw_node *enc_for(const miaw_node *m, const char *jid)
{
    const miaw_node *parts = miaw_node_child(m, "participants");
    for (const miaw_node *t = parts ? miaw_node_child(parts, "to") : NULL; t; t = miaw_node_next(parts, t, "to"))
        if (miaw_node_attr_is(t, "jid", jid)) return miaw_node_child(t, "enc");
    return NULL;
}

/* decrypts enc at p (from the instance's device) and unpads: malloc'd Message bytes */
static uint8_t *open_enc(party *p, const miaw_node *enc, int want_type, size_t *len)
{
    miaw_sig_addr me;
    size_t ctl = 0, pl = 0, ml = 0;
    uint8_t *pt = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_sig_addr_parse(OWN_JID, &me), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(enc);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(enc, "v"), "2");
    CU_ASSERT_EQUAL(miaw_sig_type_parse(miaw_node_attr(enc, "type")), want_type);
    const uint8_t *ct = miaw_node_bytes(enc, &ctl);
    CU_ASSERT_FATAL(ct && ctl);
    CU_ASSERT_EQUAL_FATAL(miaw_sig_decrypt(p->s, &me, want_type, ct, ctl, &pt, &pl), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_wamsg_unpad(pt, pl, &ml), 0);
    *len = ml;
    return pt;
}

static void add_bundle(miaw_node *list, party *p, const char *jid)
{
    miaw_sig_bundle b;
    CU_ASSERT_EQUAL_FATAL(miaw_sig_own_bundle(p->s, 1, &b), 0);
    miaw_node *u = miaw_node_addv(list, "user", "jid", jid, NULL);
    CU_ASSERT_EQUAL_FATAL(miaw_sig_bundle_to_node(&b, 1, u), 0);
}

typedef struct peers {
    sqlite3 *db;
    miaw_sig_db *sdb;
    party peer, phone; /* the recipient's device 0; the account's own phone */
} peers;

static void peers_open(peers *ps)
{
    memset(ps, 0, sizeof *ps);
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(":memory:", &ps->db), SQLITE_OK);
    CU_ASSERT_EQUAL_FATAL(miaw_sig_db_open(ps->db, &ps->sdb), 0);
    party_new(&ps->peer, ps->sdb, PEER_USER);
    party_new(&ps->phone, ps->sdb, OWN_USER);
}

static void peers_close(peers *ps)
{
    party_close(&ps->peer);
    party_close(&ps->phone);
    miaw_sig_db_close(ps->sdb);
    sqlite3_close(ps->db);
}

static void t_send(void)
{
    world_up();
    login();
    peers p;
    peers_open(&p);
    const char *text = "hello from the engine";
    size_t mlen;
    uint8_t *msg = text_msg(text, &mlen);

    /* 1: usync -> pre-key fetch -> <message> -> ack */
    sent_res r1 = {0};
    CU_ASSERT_EQUAL_FATAL(msg_send("+1 555 000-3333", msg, mlen, 0, &r1), 0);
    CU_ASSERT_EQUAL(r1.calls, 0);
    CU_ASSERT_EQUAL(FK.nsent, 3); /* nothing sent inside the call */
    PUMP_UNTIL(fk_iq_find("usync", NULL), 2000);
    fk_iq *us = fk_iq_find("usync", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(us);
    const miaw_node *list = miaw_node_path(us->n, "usync", "list", NULL);
    CU_ASSERT_EQUAL(miaw_node_count(list), 2);
    int saw_peer = 0, saw_own = 0;
    for (const miaw_node *u = miaw_node_child(list, "user"); u; u = miaw_node_next(list, u, "user")) {
        saw_peer |= miaw_node_attr_is(u, "jid", PEER_USER);
        saw_own |= miaw_node_attr_is(u, "jid", OWN_USER);
    }
    CU_ASSERT(saw_peer && saw_own);
    miaw_node *rep = fk_reply("result");
    miaw_node *l = miaw_node_add(miaw_node_add(rep, "usync"), "list");
    miaw_node *u = miaw_node_addv(l, "user", "jid", "JID:" PEER_USER, NULL);
    miaw_node_addv(miaw_node_add(miaw_node_add(u, "devices"), "device-list"), "device", "id", "0", NULL);
    u = miaw_node_addv(l, "user", "jid", "JID:" OWN_USER, NULL);
    miaw_node *dl = miaw_node_add(miaw_node_add(u, "devices"), "device-list");
    miaw_node_addv(dl, "device", "id", "0", NULL);
    miaw_node_addv(dl, "device", "id", "4", NULL); /* this device: not sent to */
    fk_iq_answer(us, rep);

    fk_iq *keys = fk_iq_find("encrypt", "key");
    CU_ASSERT_PTR_NOT_NULL_FATAL(keys);
    const miaw_node *key = miaw_node_child(keys->n, "key");
    CU_ASSERT_EQUAL(miaw_node_count(key), 2);
    int need_peer = 0, need_phone = 0;
    for (const miaw_node *k = miaw_node_child(key, "user"); k; k = miaw_node_next(key, k, "user")) {
        need_peer |= miaw_node_attr_is(k, "jid", PEER_USER);
        need_phone |= miaw_node_attr_is(k, "jid", OWN_USER);
        CU_ASSERT(!miaw_node_attr_is(k, "jid", OWN_JID));
    }
    CU_ASSERT(need_peer && need_phone);
    rep = fk_reply("result");
    l = miaw_node_add(rep, "list");
    add_bundle(l, &p.peer, "JID:" PEER_USER);
    add_bundle(l, &p.phone, "JID:" OWN_USER);
    size_t s0 = FK.nsent;
    fk_iq_answer(keys, rep);

    long mi = fk_sent_find(s0, "message", NULL, NULL);
    CU_ASSERT_FATAL(mi >= 0);
    const miaw_node *m = FK.sent[mi].n;
    const char *id = miaw_node_attr(m, "id");
    CU_ASSERT_PTR_NOT_NULL_FATAL(id);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(m, "to"), PEER_USER);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(m, "type"), "text");
    CU_ASSERT_EQUAL(miaw_node_count(miaw_node_child(m, "participants")), 2);
    size_t pl = 0;
    uint8_t *pt = open_enc(&p.peer, enc_for(m, PEER_USER), MIAW_SIG_PKMSG, &pl);
    CU_ASSERT(pl == mlen && !memcmp(pt, msg, mlen)); /* the exact Message bytes */
    free(pt);
    pt = open_enc(&p.phone, enc_for(m, OWN_USER), MIAW_SIG_PKMSG, &pl);
    Miaw__Wa__Message *dsm = miaw__wa__message__unpack(NULL, pl, pt);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dsm);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dsm->devicesentmessage);
    CU_ASSERT_STRING_EQUAL(dsm->devicesentmessage->destinationjid, PEER_USER);
    CU_ASSERT_STRING_EQUAL(dsm->devicesentmessage->message->conversation, text);
    miaw__wa__message__free_unpacked(dsm, NULL);
    free(pt);
    json_t *row = W.svc.msg_get(W.svc.ctx, INST, id);
    CU_ASSERT_STRING_EQUAL(jstr(row, "status"), "pending");
    json_decref(row);
    pump(3);
    CU_ASSERT_EQUAL(r1.calls, 0);
    fk_inject(miaw_node_newv("ack", "class", "message", "id", id, "t", "1700000123", "from", "JID:" PEER_USER, NULL));
    PUMP_UNTIL(r1.calls, 500);
    CU_ASSERT_EQUAL(r1.calls, 1);
    CU_ASSERT_EQUAL(r1.status, MIAW_OK);
    CU_ASSERT_EQUAL(r1.ts, 1700000123);
    CU_ASSERT_STRING_EQUAL(r1.id, id);
    row = W.svc.msg_get(W.svc.ctx, INST, id);
    CU_ASSERT_PTR_NOT_NULL(row);
    CU_ASSERT_STRING_EQUAL(jstr(row, "status"), "sent");
    CU_ASSERT(json_is_true(json_object_get(row, "fromMe")));
    json_decref(row);
    fk_inject(miaw_node_newv("ack", "class", "message", "id", id, "t", "1700000124", "from", "JID:" PEER_USER, NULL));
    pump(3);
    CU_ASSERT_EQUAL(r1.calls, 1); /* once */

    /* 2: devices cached, sessions there: straight to <message>; no ack -> timeout */
    sent_res r2 = {0};
    size_t iqs0 = FK.niqs;
    s0 = FK.nsent;
    uint64_t t0 = miaw_mono_ms();
    CU_ASSERT_EQUAL_FATAL(msg_send(PEER_USER, msg, mlen, 50, &r2), 0);
    PUMP_UNTIL(fk_sent_find(s0, "message", NULL, NULL) >= 0, 1000);
    mi = fk_sent_find(s0, "message", NULL, NULL);
    CU_ASSERT_FATAL(mi >= 0);
    CU_ASSERT_EQUAL(FK.niqs, iqs0);
    char id2[64];
    snprintf(id2, sizeof id2, "%s", miaw_node_attr(FK.sent[mi].n, "id"));
    CU_ASSERT(strcmp(id2, id) != 0);
    pt = open_enc(&p.peer, enc_for(FK.sent[mi].n, PEER_USER), MIAW_SIG_PKMSG, &pl); /* the peer never answered */
    CU_ASSERT(pl == mlen && !memcmp(pt, msg, mlen));
    free(pt);
    while (miaw_mono_ms() - t0 < 60) usleep(1000);
    /* 3: started on the next loop turns (the instance is on the engine's kick list), not at
     * the deadline walk, which runs at most once a second and finds 2 overdue */
    sent_res r3 = {0};
    s0 = FK.nsent;
    CU_ASSERT_EQUAL_FATAL(msg_send(PEER_USER, msg, mlen, 0, &r3), 0);
    pump(3);
    CU_ASSERT(fk_sent_find(s0, "message", NULL, NULL) >= 0);
    PUMP_UNTIL(r2.calls && fk_sent_find(s0, "message", NULL, NULL) >= 0, 2500);
    CU_ASSERT_EQUAL(r2.calls, 1);
    CU_ASSERT_EQUAL(r2.status, MIAW_E_TIMEOUT);
    CU_ASSERT_STRING_EQUAL(r2.id, id2);
    fk_inject(miaw_node_newv("ack", "class", "message", "id", id2, "t", "1700000125", "from", "JID:" PEER_USER, NULL));
    pump(2);
    CU_ASSERT_EQUAL(r2.calls, 1); /* a late ack changes nothing */
    CU_ASSERT(fk_sent_find(s0, "message", NULL, NULL) >= 0);
    CU_ASSERT_EQUAL(r3.calls, 0);
    /* 4: a new recipient, its usync in flight */
    sent_res r4 = {0};
    CU_ASSERT_EQUAL_FATAL(msg_send("15550004444", msg, mlen, 0, &r4), 0);
    PUMP_UNTIL(fk_iq_find("usync", NULL), 1000);
    CU_ASSERT_PTR_NOT_NULL(fk_iq_find("usync", NULL));

    /* the connection ends: 3 (waiting for its ack) and 4 (waiting for an IQ) fail */
    size_t ev0 = W.nev;
    fk_end(MIAW_WA_END_CLOSED, "socket closed");
    pump(2);
    CU_ASSERT_EQUAL(r3.calls, 1);
    CU_ASSERT_EQUAL(r3.status, MIAW_E_STATE);
    CU_ASSERT_EQUAL(r4.calls, 1);
    CU_ASSERT_EQUAL(r4.status, MIAW_E_STATE);
    CU_ASSERT_EQUAL(FK.frees, 1);
    CU_ASSERT_PTR_NULL(FK.cur);
    long d = ev_find(ev0, "disconnected");
    CU_ASSERT_FATAL(d >= 0);
    CU_ASSERT(json_is_true(json_object_get(W.ev[d].data, "willReconnect")));
    CU_ASSERT(ev_find(ev0, "reconnecting") >= 0);
    CU_ASSERT_EQUAL(W.in->state, MIAW_ST_CONNECTING);
    /* not connected: a send is refused at once */
    sent_res r5 = {0};
    miaw_msg_opts o = {.struct_size = sizeof o};
    const char *field = NULL;
    char err[200];
    uint64_t h;
    CU_ASSERT_EQUAL(W.svc.msg_send(W.svc.ctx, INST, PEER_USER, msg, mlen, &o, NULL, 0, on_sent, &r5, &h, &field, err,
                                   sizeof err),
                    MIAW_E_STATE);
    CU_ASSERT_EQUAL(W.svc.msg_send(W.svc.ctx, "nope", PEER_USER, msg, mlen, &o, NULL, 0, on_sent, &r5, &h, &field,
                                   err, sizeof err),
                    MIAW_E_NOTFOUND);
    /* the engine reconnects after its backoff */
    PUMP_UNTIL(FK.starts == 2, 2000);
    CU_ASSERT_EQUAL(FK.starts, 2);
    pump(3);
    CU_ASSERT_EQUAL(r5.calls, 0);
    CU_ASSERT_EQUAL(r1.calls + r2.calls + r3.calls + r4.calls, 4);
    free(msg);
    peers_close(&p);
    world_down();
}

/* ================================================================ 3. services iq */
typedef struct iq_res {
    int calls, err;
    miaw_node *reply;
} iq_res;

static void on_iq(int err, const miaw_node *reply, void *ud)
{
    iq_res *r = ud;
    r->calls++;
    r->err = err;
    miaw_node_free(r->reply);
    r->reply = reply ? miaw_node_clone(reply) : NULL;
}

static miaw_node *plugin_iq(const char *xmlns)
{
    miaw_node *iq = miaw_node_newv("iq", "xmlns", xmlns, "type", "get", "to", "JID:@s.whatsapp.net", "id", "plugin-id",
                                   NULL);
    miaw_node_addv(iq, "picture", "type", "preview", NULL);
    return iq;
}

static void t_services_iq(void)
{
    world_up();
    login();
    /* result */
    iq_res r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0}, r5 = {0};
    CU_ASSERT_EQUAL_FATAL(W.svc.iq(W.svc.ctx, INST, plugin_iq("w:profile:picture"), 0, on_iq, &r1), 0);
    CU_ASSERT_EQUAL(r1.calls, 0);
    fk_iq *q = fk_iq_find("w:profile:picture", "picture");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_STRING_NOT_EQUAL(miaw_node_attr(q->n, "id"), "plugin-id"); /* the connection numbers IQs */
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(q->n, "to"), "@s.whatsapp.net");
    miaw_node *rep = fk_reply("result");
    miaw_node_addv(rep, "picture", "id", "42", "url", "https://example.invalid/p.jpg", NULL);
    fk_iq_answer(q, rep);
    CU_ASSERT_EQUAL(r1.calls, 1);
    CU_ASSERT_EQUAL(r1.err, MIAW_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r1.reply);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(miaw_node_child(r1.reply, "picture"), "id"), "42");
    /* type=error: MIAW_E_IO with the node */
    CU_ASSERT_EQUAL_FATAL(W.svc.iq(W.svc.ctx, INST, plugin_iq("w:profile:picture"), 0, on_iq, &r2), 0);
    q = fk_iq_find("w:profile:picture", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    rep = fk_reply("error");
    miaw_node_addv(rep, "error", "code", "404", "text", "item-not-found", NULL);
    fk_iq_answer(q, rep);
    CU_ASSERT_EQUAL(r2.calls, 1);
    CU_ASSERT_EQUAL(r2.err, MIAW_E_IO);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r2.reply);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(miaw_node_child(r2.reply, "error"), "code"), "404");
    /* the connection's timeout: MIAW_E_TIMEOUT, no node; the timeout asked is passed on */
    CU_ASSERT_EQUAL_FATAL(W.svc.iq(W.svc.ctx, INST, plugin_iq("w:profile:picture"), 1234, on_iq, &r3), 0);
    q = fk_iq_find("w:profile:picture", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(q->timeout_ms, 1234);
    fk_iq_fail(q, MIAW_E_TIMEOUT);
    CU_ASSERT_EQUAL(r3.calls, 1);
    CU_ASSERT_EQUAL(r3.err, MIAW_E_TIMEOUT);
    CU_ASSERT_PTR_NULL(r3.reply);
    /* an unknown instance: synchronous MIAW_E_NOTFOUND (the node is taken), no callback */
    iq_res rx = {0};
    size_t n0 = FK.nsent;
    CU_ASSERT_EQUAL(W.svc.iq(W.svc.ctx, "nope", plugin_iq("w:profile:picture"), 0, on_iq, &rx), MIAW_E_NOTFOUND);
    /* stanza_send */
    CU_ASSERT_EQUAL(W.svc.stanza_send(W.svc.ctx, "nope", miaw_node_newv("presence", "type", "available", NULL)),
                    MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(FK.nsent, n0);
    CU_ASSERT_EQUAL(W.svc.stanza_send(W.svc.ctx, INST, miaw_node_newv("presence", "type", "available", NULL)), 0);
    CU_ASSERT_EQUAL(fk_sent_count("presence", "type", "available"), 1);
    /* the connection ends with one in flight: MIAW_E_STATE, no node */
    CU_ASSERT_EQUAL_FATAL(W.svc.iq(W.svc.ctx, INST, plugin_iq("w:profile:picture"), 0, on_iq, &r4), 0);
    CU_ASSERT_PTR_NOT_NULL(fk_iq_find("w:profile:picture", NULL));
    fk_end(MIAW_WA_END_DEAD, "nothing received");
    CU_ASSERT_EQUAL(r4.calls, 1);
    CU_ASSERT_EQUAL(r4.err, MIAW_E_STATE);
    CU_ASSERT_PTR_NULL(r4.reply);
    /* not connected: synchronous MIAW_E_STATE */
    CU_ASSERT_EQUAL(W.svc.iq(W.svc.ctx, INST, plugin_iq("w:profile:picture"), 0, on_iq, &r5), MIAW_E_STATE);
    CU_ASSERT_EQUAL(W.svc.stanza_send(W.svc.ctx, INST, miaw_node_newv("presence", NULL)), MIAW_E_STATE);
    pump(3);
    CU_ASSERT_EQUAL(rx.calls, 0);
    CU_ASSERT_EQUAL(r5.calls, 0);
    CU_ASSERT_EQUAL(r1.calls + r2.calls + r3.calls + r4.calls, 4);
    iq_res *all[] = {&r1, &r2, &r3, &r4, &r5, &rx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) miaw_node_free(all[i]->reply);
    world_down();
}

/* ================================================================ 4. the tap */
typedef struct tap_rec {
    unsigned seq;
    char inst[65];
    miaw_node *n;
} tap_rec;

static struct {
    tap_rec r[16];
    size_t n;
} TAP;

static void on_tap(void *ud, const char *instance_id, const miaw_node *n)
{
    CU_ASSERT_PTR_EQUAL(ud, &TAP);
    if (TAP.n >= 16) return;
    tap_rec *t = &TAP.r[TAP.n++];
    t->seq = ++FK.seq;
    snprintf(t->inst, sizeof t->inst, "%s", instance_id);
    t->n = miaw_node_clone(n);
}

static void t_tap(void)
{
    world_up();
    memset(&TAP, 0, sizeof TAP);
    W.svc.set_tap(W.svc.ctx, on_tap, &TAP);
    login();
    size_t t0 = TAP.n; /* <success> itself reaches the tap once logged in */
    CU_ASSERT_EQUAL(t0, 1);
    CU_ASSERT_STRING_EQUAL(TAP.r[0].n->tag, "success");
    size_t s0 = FK.nsent;
    /* a chat state: no answer, tapped */
    miaw_node *cs = miaw_node_newv("chatstate", "from", "JID:" PEER_USER, NULL);
    miaw_node_add(cs, "composing");
    fk_inject(cs);
    CU_ASSERT_EQUAL(TAP.n, t0 + 1);
    CU_ASSERT_EQUAL(FK.nsent, s0);
    /* a group notification: acknowledged first, then tapped */
    miaw_node *nt = miaw_node_newv("notification", "from", "JID:" GROUP_JID, "id", "N-77", "type", "w:gp2",
                                   "participant", "JID:" PEER_USER, "t", "1700000300", NULL);
    miaw_node_addv(nt, "subject", "subject", "renamed", NULL);
    fk_inject(nt);
    CU_ASSERT_EQUAL_FATAL(TAP.n, t0 + 2);
    long a = fk_sent_find(s0, "ack", "id", "N-77");
    CU_ASSERT_FATAL(a >= 0);
    const miaw_node *ack = FK.sent[a].n;
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(ack, "class"), "notification");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(ack, "type"), "w:gp2");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(ack, "to"), GROUP_JID);
    CU_ASSERT(FK.sent[a].seq < TAP.r[t0 + 1].seq); /* the ack went out before the tap ran */
    /* a receipt: acked, then tapped */
    fk_inject(miaw_node_newv("receipt", "from", "JID:" PEER_USER, "id", "3EB0RCPT", "type", "read", NULL));
    CU_ASSERT_EQUAL_FATAL(TAP.n, t0 + 3);
    long ra = fk_sent_find(s0, "ack", "id", "3EB0RCPT");
    CU_ASSERT_FATAL(ra >= 0);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(FK.sent[ra].n, "class"), "receipt");
    CU_ASSERT(FK.sent[ra].seq < TAP.r[t0 + 2].seq);
    /* what the tap saw, in order, for this instance */
    CU_ASSERT_STRING_EQUAL(TAP.r[t0].n->tag, "chatstate");
    CU_ASSERT_PTR_NOT_NULL(miaw_node_child(TAP.r[t0].n, "composing"));
    CU_ASSERT_STRING_EQUAL(TAP.r[t0 + 1].n->tag, "notification");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(TAP.r[t0 + 1].n, "type"), "w:gp2");
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(TAP.r[t0 + 1].n, "from"), GROUP_JID);
    CU_ASSERT_STRING_EQUAL(TAP.r[t0 + 2].n->tag, "receipt");
    for (size_t i = 0; i < TAP.n; i++) CU_ASSERT_STRING_EQUAL(TAP.r[i].inst, INST);
    /* after the end, nothing more is tapped; unset */
    fk_end(MIAW_WA_END_CLOSED, "bye");
    W.svc.set_tap(W.svc.ctx, NULL, NULL);
    for (size_t i = 0; i < TAP.n; i++) miaw_node_free(TAP.r[i].n);
    memset(&TAP, 0, sizeof TAP);
    world_down();
}

/* ================================================================ 5. receiving */
/* the instance's bundle as the server would hand it out: from its pre-key upload */
static void engine_bundle(miaw_sig_bundle *b)
{
    const miaw_node *up = W.upload;
    CU_ASSERT_PTR_NOT_NULL_FATAL(up);
    miaw_node *u = miaw_node_newv("user", "jid", "JID:" OWN_JID, NULL);
    const char *parts[] = {"registration", "type", "identity", "skey"};
    for (size_t i = 0; i < 4; i++) {
        const miaw_node *c = miaw_node_child(up, parts[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        miaw_node_add_copy(u, c);
    }
    miaw_node_add_copy(u, miaw_node_path(up, "list", "key", NULL));
    CU_ASSERT_EQUAL(miaw_sig_bundle_from_node(u, NULL, b), 0);
    CU_ASSERT(b->has_prekey);
    miaw_node_free(u);
}

static miaw_node *peer_message(const char *id, const uint8_t *ct, size_t ctl)
{
    miaw_node *m = miaw_node_newv("message", "from", "JID:" PEER_USER, "id", id, "t", "1700000200", "type", "text",
                                  "notify", "Peer Name", NULL);
    miaw_node *enc = miaw_node_addv(m, "enc", "v", "2", "type", "pkmsg", NULL);
    miaw_node_set_bytes(enc, ct, ctl);
    return m;
}

static void t_receive(void)
{
    world_up();
    login();
    peers p;
    peers_open(&p);
    miaw_sig_bundle b;
    engine_bundle(&b);
    miaw_sig_addr me;
    CU_ASSERT_EQUAL_FATAL(miaw_sig_addr_parse(OWN_JID, &me), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_sig_session_from_bundle(p.peer.s, &me, &b), 0);
    const char *text = "hi from the peer";
    size_t mlen, ptl, ctl;
    uint8_t *msg = text_msg(text, &mlen), *pt = NULL, *ct = NULL;
    CU_ASSERT_EQUAL_FATAL(miaw_wamsg_pad(msg, mlen, &pt, &ptl), 0);
    int type = 0;
    CU_ASSERT_EQUAL_FATAL(miaw_sig_encrypt(p.peer.s, &me, pt, ptl, &type, &ct, &ctl), 0);
    CU_ASSERT_EQUAL(type, MIAW_SIG_PKMSG);

    size_t ev0 = W.nev, s0 = FK.nsent;
    fk_inject(peer_message("3EB0PEER0001", ct, ctl));
    long e = ev_find(ev0, "message");
    CU_ASSERT_FATAL(e >= 0);
    const json_t *d = W.ev[e].data;
    CU_ASSERT_STRING_EQUAL(W.ev[e].inst, INST);
    CU_ASSERT_STRING_EQUAL(jstr(d, "id"), "3EB0PEER0001");
    CU_ASSERT_STRING_EQUAL(jstr(d, "text"), text);
    CU_ASSERT_STRING_EQUAL(jstr(d, "type"), "text");
    CU_ASSERT_STRING_EQUAL(jstr(d, "from"), PEER_USER);
    CU_ASSERT_STRING_EQUAL(jstr(d, "chat"), PEER_USER);
    CU_ASSERT_STRING_EQUAL(jstr(d, "senderPhone"), "15550003333");
    CU_ASSERT_STRING_EQUAL(jstr(d, "senderName"), "Peer Name");
    CU_ASSERT(json_is_false(json_object_get(d, "fromMe")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(d, "timestamp")), 1700000200);
    CU_ASSERT_STRING_EQUAL(jstr(json_object_get(d, "raw"), "conversation"), text);
    /* the receipt, after the event */
    long rc = fk_sent_find(s0, "receipt", "id", "3EB0PEER0001");
    CU_ASSERT_FATAL(rc >= 0);
    CU_ASSERT_STRING_EQUAL(miaw_node_attr(FK.sent[rc].n, "to"), PEER_USER);
    CU_ASSERT_PTR_NULL(miaw_node_attr(FK.sent[rc].n, "type"));
    CU_ASSERT(W.ev[e].seq < FK.sent[rc].seq);
    /* stored: msg_get gives it with the Message as JSON */
    json_t *row = W.svc.msg_get(W.svc.ctx, INST, "3EB0PEER0001");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    CU_ASSERT_STRING_EQUAL(jstr(row, "chat"), PEER_USER);
    CU_ASSERT_STRING_EQUAL(jstr(row, "text"), text);
    CU_ASSERT_STRING_EQUAL(jstr(row, "status"), "received");
    CU_ASSERT_STRING_EQUAL(jstr(row, "pushName"), "Peer Name");
    CU_ASSERT(json_is_false(json_object_get(row, "fromMe")));
    CU_ASSERT_STRING_EQUAL(jstr(json_object_get(row, "message"), "conversation"), text);
    json_decref(row);
    CU_ASSERT_PTR_NULL(W.svc.msg_get(W.svc.ctx, INST, "3EB0NOSUCH"));
    CU_ASSERT_PTR_NULL(W.svc.msg_get(W.svc.ctx, "nope", "3EB0PEER0001"));
    /* redelivered: no second event, a receipt again */
    fk_inject(peer_message("3EB0PEER0001", ct, ctl));
    pump(2);
    CU_ASSERT_EQUAL(ev_count("message"), 1);
    CU_ASSERT_EQUAL(fk_sent_count("receipt", "id", "3EB0PEER0001"), 2);
    CU_ASSERT_EQUAL(fk_sent_count("ack", "class", "message"), 0); /* nothing nacked */
    free(ct);
    free(pt);
    free(msg);
    peers_close(&p);
    world_down();
}

/* ================================================================ 6. freeing with work in flight */
static void t_free_in_flight(void)
{
    world_up();
    login();
    size_t mlen;
    uint8_t *msg = text_msg("never", &mlen);
    sent_res r1 = {0};
    iq_res q1 = {0};
    CU_ASSERT_EQUAL_FATAL(msg_send(PEER_USER, msg, mlen, 0, &r1), 0);
    PUMP_UNTIL(fk_iq_find("usync", NULL), 1000);
    CU_ASSERT_PTR_NOT_NULL(fk_iq_find("usync", NULL));
    CU_ASSERT_EQUAL_FATAL(W.svc.iq(W.svc.ctx, INST, plugin_iq("w:profile:picture"), 0, on_iq, &q1), 0);
    miaw_engine_free(W.e); /* sends are cancelled at shutdown; IQs end as the connection goes */
    W.e = NULL;
    CU_ASSERT_EQUAL(r1.calls, 0);
    CU_ASSERT_EQUAL(q1.calls, 1);
    CU_ASSERT_EQUAL(q1.err, MIAW_E_STATE);
    CU_ASSERT_PTR_NULL(FK.cur);
    miaw_node_free(q1.reply);
    free(msg);
    world_down();
    CU_ASSERT_EQUAL(r1.calls, 0);
}

int main(void)
{
    const char *lvl = getenv("LOG_LEVEL");
    miaw_log_set_level_name(lvl && *lvl ? lvl : "error");
    static const miaw_test_case cases[] = {MIAW_T(t_login),   MIAW_T(t_send),    MIAW_T(t_services_iq),
                                           MIAW_T(t_tap),     MIAW_T(t_receive), MIAW_T(t_free_in_flight)};
    return miaw_run_tests("engine_fakeconn", cases, sizeof cases / sizeof cases[0]);
}
