/* core/engine/engine_appstate.c - app-state sync (syncd) of an instance: the keys the
 * phone shares (appStateSyncKeyShare, stored; a missing key is asked for with an
 * appStateSyncKeyRequest peer message), fetches of the five collections with the
 * w:sync:app:state IQ (from the stored version; pages while has_more_patches), every
 * patch verified and applied (core/wa/appstate.h) and the state persisted
 * (engine_appstate_store.c), a full resync of a collection whose MACs or LTHash do not
 * match (twice per connection at most), server_sync notifications followed by a fetch,
 * and the queue that runs fetches and outgoing patches (engine_appstate_out.c) one IQ
 * at a time per instance. Verified incoming mutations go to the engine's app-state
 * tap (the plugin host). The answers of fetches are applied by engine_appstate_in.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "base/util.h"
#include "engine/engine_appstate.h"
#include "engine/engine_int.h"
#include "wa/wamsg.h"
#include "wa_message.pb-c.h"

static const char *const CS_NAME[] = {"synced", "blocked", "error"};

eng_as *eas_get(eng_inst *ei)
{
    if (!ei->as && (ei->as = calloc(1, sizeof *ei->as))) {
        ei->as->ei = ei;
        for (int i = 0; i < NCOLL; i++) miaw_as_state_init(&ei->as->st[i]);
        miaw_as_state_init(&ei->as->next);
    }
    return ei->as;
}

void eas_push_free(as_push *p)
{
    json_decref(p->patch);
    free(p);
}

static void fail_pushes(eng_as *as, int status, const char *why)
{
    as_push *all = as->inflight;
    if (all) all->next = as->q;
    else all = as->q;
    as->inflight = NULL;
    as->q = NULL;
    while (all) {
        as_push *p = all;
        all = p->next;
        p->cb(status, NULL, why, p->ud);
        eas_push_free(p);
    }
}

static void on_timer_closed(uv_handle_t *h) { free(h); }

void eng_as_free(eng_inst *ei)
{
    eng_as *as = ei->as;
    if (!as) return;
    eas_job_cancel(as);
    fail_pushes(as, MIAW_E_GONE, "the instance went away");
    for (int i = 0; i < NCOLL; i++) miaw_as_state_free(&as->st[i]);
    miaw_as_state_free(&as->next);
    if (as->kick_timer) uv_close((uv_handle_t *)as->kick_timer, on_timer_closed);
    free(as);
    ei->as = NULL;
}

/* the collection's state, loaded from the database on first use */
miaw_as_state *eas_coll(eng_as *as, int ci)
{
    if (!as->loaded[ci]) {
        int rc = eas_state_load(as->ei->e->db, as->ei->id, miaw_as_collections[ci], &as->st[ci]);
        if (rc == 1) as->fetch_mask |= 1u << ci; /* corrupt: synced again from scratch */
        as->loaded[ci] = rc >= 0;
    }
    return &as->st[ci];
}

int eas_coll_index(const char *name)
{
    for (int i = 0; name && i < NCOLL; i++)
        if (!strcmp(name, miaw_as_collections[i])) return i;
    return -1;
}

int eas_key_fn(void *ud, const uint8_t *id, size_t len, uint8_t kd[32])
{
    eng_inst *ei = ud;
    return eas_key_get(ei->e->db, ei->id, id, len, kd) == 0 ? MIAW_OK : MIAW_E_NOTFOUND;
}


/* ------------------------------------------------------------ key request */

/* asks the phone for a key it has not shared (a peer message to device 0; needs the
 * Signal session its key share opened) */
void eas_request_key(eng_as *as, const uint8_t *id, size_t len)
{
    eng_inst *ei = as->ei;
    if (as->key_requested || eng_sig_open(ei) != 0) return;
    miaw_jid me, phone;
    miaw_sig_addr addr;
    if (miaw_jid_parse(&me, ei->creds.jid) || miaw_jid_init(&phone, me.user, me.server, 0, 0) ||
        miaw_sig_addr_from_jid(&phone, &addr) || miaw_sig_store_has_session(ei->sig, addr.name, addr.device) != 1) {
        MIAW_WARN("engine", "%s: app-state key missing; no session with the phone to ask for it", ei->id);
        return;
    }
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__ProtocolMessage pm = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__INIT;
    Miaw__Wa__Message__AppStateSyncKeyRequest rq = MIAW__WA__MESSAGE__APP_STATE_SYNC_KEY_REQUEST__INIT;
    Miaw__Wa__Message__AppStateSyncKeyId kid = MIAW__WA__MESSAGE__APP_STATE_SYNC_KEY_ID__INIT, *kp = &kid;
    kid.has_keyid = 1;
    kid.keyid.data = (uint8_t *)id;
    kid.keyid.len = len;
    rq.n_keyids = 1;
    rq.keyids = &kp;
    pm.has_type = 1;
    pm.type = MIAW__WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__APP_STATE_SYNC_KEY_REQUEST;
    pm.appstatesynckeyrequest = &rq;
    m.protocolmessage = &pm;
    uint8_t *pt = NULL, *ct = NULL;
    size_t pl = 0, cl = 0;
    int type = 0;
    char mid[24];
    uint8_t r[8];
    if (miaw_wamsg_encode(&m, &pt, &pl) || miaw_sig_encrypt(ei->sig, &addr, pt, pl, &type, &ct, &cl) ||
        miaw_random(r, sizeof r)) {
        free(pt);
        free(ct);
        return;
    }
    free(pt);
    snprintf(mid, sizeof mid, "3EB0%02X%02X%02X%02X%02X%02X%02X%02X", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    miaw_node *msg = miaw_node_newv("message", "id", mid, "type", "text", "category", "peer", "push_priority",
                                    "high_force", NULL);
    miaw_node *enc = msg ? miaw_node_addv(msg, "enc", "v", "2", "type", miaw_sig_type_name(type), NULL) : NULL;
    if (enc && !miaw_node_set_jid(msg, "to", &phone) && !miaw_node_set_bytes(enc, ct, cl) && !eng_send_node(ei, msg)) {
        as->key_requested = 1;
        MIAW_INFO("engine", "%s: asked the phone for a missing app-state key", ei->id);
    }
    miaw_node_free(msg);
    free(ct);
}

/* ------------------------------------------------------------ incoming */

/* a full resync of ci: forget its state (and rows), fetch from version 0 */
void eas_resync(eng_as *as, int ci, const char *why)
{
    eng_inst *ei = as->ei;
    if (as->resyncs[ci] >= MAX_RESYNC) {
        as->status[ci] = CS_ERROR;
        snprintf(as->err[ci], sizeof as->err[ci], "%s (gave up after %d full resyncs)", why, MAX_RESYNC);
        MIAW_ERR("engine", "%s: app-state %s: %s", ei->id, miaw_as_collections[ci], as->err[ci]);
        return;
    }
    as->resyncs[ci]++;
    MIAW_WARN("engine", "%s: app-state %s: %s; full resync", ei->id, miaw_as_collections[ci], why);
    miaw_as_state empty;
    miaw_as_state_init(&empty);
    eas_state_save(ei->e->db, ei->id, miaw_as_collections[ci], &as->st[ci], &empty);
    miaw_as_state_free(&as->st[ci]);
    as->loaded[ci] = 1;
    as->fetch_mask |= 1u << ci;
}

static void send_fetch(eng_as *as)
{
    eng_inst *ei = as->ei;
    /* Without any key, a fresh companion waits for the phone's key share (it triggers the
     * fetch); a collection synced before is fetched anyway: a patch under a key we lost
     * blocks it and asks the phone for that key. */
    int keys = eas_key_count(ei->e->db, ei->id) > 0;
    miaw_node *iq = miaw_node_newv("iq", "to", "JID:@s.whatsapp.net", "type", "set", "xmlns", "w:sync:app:state", NULL);
    miaw_node *sync = iq ? miaw_node_add(iq, "sync") : NULL;
    int n = 0;
    for (int ci = 0; sync && ci < NCOLL; ci++) {
        if (!(as->fetch_mask & (1u << ci)) || as->status[ci] == CS_BLOCKED) continue;
        miaw_as_state *st = eas_coll(as, ci);
        if (!keys && !st->version) continue; /* stays in the mask until keys arrive */
        miaw_node *col = miaw_node_addv(sync, "collection", "name", miaw_as_collections[ci], NULL);
        if (!col) break;
        miaw_node_set_attrf(col, "version", "%" PRIu64, st->version);
        miaw_node_set_attr(col, "return_snapshot", st->version ? "false" : "true");
        as->fetch_mask &= ~(1u << ci);
        n++;
    }
    if (!n || !sync) {
        miaw_node_free(iq);
        return;
    }
    as->busy = 1;
    if (miaw_wa_conn_iq(ei->conn, iq, 0, eas_on_fetch, as) != 0) as->busy = 0;
}

void eas_kick(eng_as *as)
{
    eng_inst *ei = as->ei;
    /* fetches first; a patch goes when nothing can be fetched (no key yet, or only
     * blocked collections left): a stale base is answered 409 and fetched then */
    while (!as->busy && ei->conn && ei->logged_in) {
        if (as->fetch_mask) send_fetch(as);
        if (as->busy || !as->q) return;
        eas_send_push(as);
    }
}

/* ------------------------------------------------------------ engine hooks */

void eng_as_on_login(eng_inst *ei)
{
    eng_as *as = eas_get(ei);
    if (!as) return;
    as->key_requested = 0;
    for (int i = 0; i < NCOLL; i++) as->resyncs[i] = 0;
    as->fetch_mask = (1u << NCOLL) - 1;
    eas_kick(as);
}

void eng_as_on_conn_lost(eng_inst *ei)
{
    eng_as *as = ei->as;
    if (!as) return;
    eas_job_cancel(as);
    as->busy = 0;
    fail_pushes(as, MIAW_E_STATE, "the connection closed before the server took the patch");
    miaw_as_state_free(&as->next);
}

void eng_as_on_own_message(eng_inst *ei, const uint8_t *msg, size_t len)
{
    Miaw__Wa__Message *m = miaw__wa__message__unpack(NULL, len, msg);
    const Miaw__Wa__Message__AppStateSyncKeyShare *sh =
        m && m->protocolmessage ? m->protocolmessage->appstatesynckeyshare : NULL;
    size_t stored = 0;
    for (size_t i = 0; sh && i < sh->n_keys; i++) {
        const Miaw__Wa__Message__AppStateSyncKey *k = sh->keys[i];
        if (!k || !k->keyid || !k->keyid->has_keyid || !k->keyid->keyid.len || k->keyid->keyid.len > MIAW_AS_KEY_ID_MAX ||
            !k->keydata || !k->keydata->has_keydata || k->keydata->keydata.len != 32) {
            MIAW_WARN("engine", "%s: an app-state key of a key share is malformed: skipped", ei->id);
            continue;
        }
        if (eas_key_put(ei->e->db, ei->id, k->keyid->keyid.data, k->keyid->keyid.len, k->keydata->keydata.data,
                        k->keydata->has_timestamp ? k->keydata->timestamp : 0) == 0)
            stored++;
    }
    if (m) miaw__wa__message__free_unpacked(m, NULL);
    if (!stored) return;
    MIAW_INFO("engine", "%s: %zu app-state key(s) received from the phone", ei->id, stored);
    eng_as *as = eas_get(ei);
    if (!as) return;
    for (int i = 0; i < NCOLL; i++) {
        if (as->status[i] == CS_BLOCKED) as->status[i] = CS_OK;
        as->fetch_mask |= 1u << i;
    }
    as->key_requested = 0;
    eas_kick(as);
}

void eng_as_on_server_sync(eng_inst *ei, const miaw_node *n)
{
    eng_as *as = eas_get(ei);
    if (!as) return;
    for (const miaw_node *c = miaw_node_child(n, "collection"); c; c = miaw_node_next(n, c, "collection")) {
        int ci = eas_coll_index(miaw_node_attr(c, "name"));
        uint64_t v = 0;
        if (ci < 0) continue;
        if (miaw_node_attr_u64(c, "version", &v) == 0 && v && v <= eas_coll(as, ci)->version) continue; /* known */
        as->fetch_mask |= 1u << ci;
    }
    eas_kick(as);
}

/* ------------------------------------------------------------ services */

int eng_as_sync(eng_inst *ei, const char *name, int full)
{
    int ci = name ? eas_coll_index(name) : -1;
    if (name && ci < 0) return MIAW_E_INVAL;
    if (!ei->conn || !ei->logged_in) return MIAW_E_STATE;
    eng_as *as = eas_get(ei);
    if (!as) return MIAW_E_NOMEM;
    for (int i = 0; i < NCOLL; i++) {
        if (name && i != ci) continue;
        if (full) {
            as->resyncs[i] = 0;
            eas_resync(as, i, "a full resync was asked for");
        }
        if (as->status[i] == CS_ERROR) as->status[i] = CS_OK;
        as->fetch_mask |= 1u << i;
    }
    eas_kick(as);
    return MIAW_OK;
}

json_t *eng_as_state_json(miaw_storage *db, const char *inst, eng_inst *ei)
{
    eng_as *as = ei ? ei->as : NULL;
    json_t *cols = json_object();
    for (int i = 0; i < NCOLL; i++) {
        miaw_as_state tmp, *st = &tmp;
        miaw_as_state_init(&tmp);
        if (as && as->loaded[i]) st = &as->st[i];
        else if (eas_state_load(db, inst, miaw_as_collections[i], &tmp) < 0) continue;
        char h[2 * MIAW_AS_HASH_LEN + 1];
        for (size_t j = 0; j < MIAW_AS_HASH_LEN; j++) snprintf(h + 2 * j, 3, "%02x", st->hash[j]);
        int status = as ? as->status[i] : CS_OK;
        json_t *c = json_pack("{s:I,s:s,s:I,s:s}", "version", (json_int_t)st->version, "hash", h, "entries",
                              (json_int_t)st->n, "status", CS_NAME[status]);
        if (as && as->err[i][0]) json_object_set_new(c, "error", json_string(as->err[i]));
        json_object_set_new(cols, miaw_as_collections[i], c);
        miaw_as_state_free(&tmp);
    }
    long keys = eas_key_count(db, inst);
    return json_pack("{s:I,s:o,s:I}", "keys", (json_int_t)(keys < 0 ? 0 : keys), "collections", cols, "pending",
                     (json_int_t)(as ? (as->busy ? 1 : 0) + (as->q ? 1 : 0) : 0));
}
