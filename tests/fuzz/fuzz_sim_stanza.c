/* tests/fuzz/fuzz_sim_stanza.c - libFuzzer target for the stanzas miaw-sim reads from a
 * logged-in companion: any decoded binary node goes through the session dispatcher, so
 * usync queries, pre-key fetches and uploads, messages (fan-out to the other device and
 * to both simulated phones, which try to decrypt), receipts, acks, presence, chat state,
 * logout IQs, groups (w:g2 IQs, group messages with SKDM and skmsg decrypted by the
 * phones, group receipts and chat states), media_conn and app-state IQs (patch uploads
 * the phone then decodes, fetches) all see arbitrary input (what
 * a phone does with a decrypted media message is fuzz_sim_media.c's). The network is
 * fixed: accounts A and B, each with a phone (Signal store in memory) and one
 * companion; the companion of A is the fuzzed connection, B's companion another live
 * connection; group 120363000000000001 (A creator, B member) is made afresh for every
 * input. The simulator is an executable, so its modules are compiled in here and the
 * socket layer (conn.c) is replaced by stubs that encode what would be sent. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define send_and_free send_and_free_state
#include "sim/state.c"
#undef send_and_free
#include "sim/index.c"
#include "sim/codec.c"
#include "sim/queue.c"
#define send_and_free send_and_free_dir
#include "sim/directory.c"
#undef send_and_free
#define send_and_free send_and_free_route
#include "sim/route.c"
#undef send_and_free
#include "sim/phone.c"
#define send_and_free send_and_free_session
#include "sim/session.c"
#undef send_and_free
#define send_and_free send_and_free_pair
#include "sim/pair.c"
#undef send_and_free
#define send_and_free send_and_free_lc
#include "sim/linkcode.c"
#undef send_and_free
#include "sim/group.c"
#include "sim/group_ops.c"
#include "sim/group_iq.c"
#include "sim/group_route.c"
#include "sim/phone_group.c"
#include "sim/phone_retry.c"
#include "sim/media.c"
#include "sim/phone_media.c"
#include "sim/phone_kinds.c"
#include "sim/presence.c"
#include "sim/profile.c"
#include "sim/appstate.c"
#include "sim/appstate_phone.c"

/* ------------------------------------------------------------------ conn.c stubs */
int miaw_sim_conn_send(miaw_sim_conn *c, const miaw_node *n)
{
    uint8_t *b;
    size_t len;
    if (c->state != MIAW_SIM_CONN_READY && c->state != MIAW_SIM_CONN_REGISTERING) return MIAW_E_STATE;
    if (miaw_node_encode(n, &b, &len)) __builtin_trap(); /* what the server sends must encode */
    free(b);
    c->frames_out++;
    return 0;
}
void miaw_sim_conn_close(miaw_sim_conn *c, const char *why) { (void)why; c->state = MIAW_SIM_CONN_CLOSING; }
void miaw_sim_conn_close_after(miaw_sim_conn *c, uint64_t ms, const char *why) { (void)ms; miaw_sim_conn_close(c, why); }
void miaw_sim_conn_flush(miaw_sim_conn *c) { (void)c; }
void miaw_sim_conn_timer(miaw_sim_conn *c, uint64_t ms, int kind) { (void)c, (void)ms, (void)kind; }
void miaw_sim_http_json(h2o_req_t *req, int status, json_t *body) { (void)req, (void)status; json_decref(body); }
json_t *miaw_sim_error_json(const char *code, const char *field, const char *message)
{
    (void)code, (void)field, (void)message;
    return json_object();
}

/* ------------------------------------------------------------------ the network */
static miaw_sim g_sim;
static miaw_sim_conn g_a, g_b;
static miaw_sim_account *g_acc_a, *g_acc_b;

static void companion(miaw_sim_account *acc, miaw_sim_conn *c)
{
    if (!miaw_sim_device_find(acc, 1)) {
        miaw_sim_device d;
        memset(&d, 0, sizeof d);
        d.id = 1;
        d.key_index = 1;
        miaw_keypair ik, sk;
        miaw_keypair_generate(&ik);
        miaw_keypair_generate(&sk);
        memcpy(d.identity_pub, ik.pub, 32);
        d.reg_id = 42;
        d.skey_id = 1;
        memcpy(d.skey_pub, sk.pub, 32);
        miaw_sim_prekey k = {7, {0}};
        memcpy(k.pub, sk.pub, 32);
        miaw_sim_device *nd = miaw_sim_device_add(acc, &d);
        miaw_sim_prekeys_put(nd, &k, 1);
    }
    memset(c, 0, sizeof *c);
    c->sim = &g_sim;
    c->state = MIAW_SIM_CONN_READY;
    c->account = acc;
    c->device_id = 1;
    miaw_sim_device_find(acc, 1)->conn = c;
}

static void setup(void)
{
    char err[200];
    static uv_loop_t loop;
    uv_loop_init(&loop);
    miaw_log_set_level_name("error");
    if (miaw_sim_state_open(&g_sim, &loop, NULL, err, sizeof err) || miaw_sim_phones_open(&g_sim, err, sizeof err))
        abort();
    if (miaw_sim_account_add(&g_sim, "15550001111", "A", &g_acc_a) ||
        miaw_sim_account_add(&g_sim, "15550002222", "B", &g_acc_b))
        abort();
    miaw_sim_phone_open(&g_sim, g_acc_a);
    miaw_sim_phone_open(&g_sim, g_acc_b);
    /* media_conn is answered with a host; media messages look blobs up in the store */
    if (miaw_sim_media_open(&g_sim, err, sizeof err)) abort();
    miaw_sim_media_set_host("127.0.0.1:1");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_acc_a) setup();
    /* a logout in the previous input removed a companion: link it again */
    companion(g_acc_a, &g_a);
    companion(g_acc_b, &g_b);
    /* the group every input starts from (inputs may create, leave or change groups) */
    miaw_sim_groups_free(&g_sim);
    miaw_sim_group *grp;
    if (miaw_sim_group_create(&g_sim, g_acc_a, 0, "fuzz", &g_acc_b, 1, NULL, &grp)) abort();
    snprintf(grp->id, sizeof grp->id, "120363000000000001");
    miaw_node *n = NULL;
    if (miaw_node_decode_raw(data, size, &n) == 0) {
        miaw_sim_session_on_node(&g_a, n);
        miaw_node_free(n);
    }
    /* keep memory bounded across runs */
    for (miaw_sim_account *a = g_sim.accounts; a; a = a->next) {
        for (size_t i = 0; i < a->ndevices; i++) miaw_sim_queue_clear(&a->devices[i]);
        if (json_array_size(a->inbox) > 50) json_array_clear(a->inbox);
        if (json_array_size(a->outbox) > 50) json_array_clear(a->outbox);
        if (a->primary.nprekeys < 5) miaw_sim_phone_refill(&g_sim, a);
    }
    return 0;
}
