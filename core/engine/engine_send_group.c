/* core/engine/engine_send_group.c - messages to groups with Signal sender keys (protocol
 * facts 9.4, 9.5): the group's participants (w:g2 query, cached in the instance's kv for
 * META_TTL_S and dropped on the group's w:gp2 notifications), their devices (usync, the
 * shared device-list cache), sessions with the devices that still need our sender key
 * (pre-key fetch), our SKDM pairwise to those devices only ("who has our SKDM" kept per
 * group and key id in kv, written once the server acked), the Message once as skmsg.
 * The send object and its ack are engine_send.c's; the kv records, the sender-key
 * rotation when someone leaves and the pure helpers are engine_group.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "wa/msgcontent.h"
#include "base/log.h"
#include "base/util.h"
#include "wa/signal_group.h"
#include "wa/wamsg.h"

#define META_TTL_S 600

struct eng_gsend {
    int lid;                /* LID-addressed group */
    miaw_jid *users;        /* participants' users as the group names them (own included) */
    size_t nusers;
    miaw_jid self;          /* our device, in the group's namespace */
    miaw_jid *devs;         /* every member device but ours */
    size_t ndevs;
    json_t *given;          /* device JIDs our SKDM went to in this send (array) */
    uint32_t key_id;        /* of our sender key at the time */
    char phash[16];
};

void eng_send_group_free(eng_gsend *g)
{
    if (!g) return;
    free(g->users);
    free(g->devs);
    json_decref(g->given);
    free(g);
}

/* ------------------------------------------------------------ steps */
static void step_keys(eng_send *s);

/* the participants of meta into g: users, and our own device in the group's namespace */
static int take_meta(eng_send *s, const json_t *meta)
{
    eng_gsend *g = s->g;
    eng_inst *ei = s->ei;
    json_t *parts = json_object_get(meta, "participants");
    size_t n = json_array_size(parts), i;
    g->lid = json_is_true(json_object_get(meta, "lid"));
    free(g->users);
    g->users = calloc(n + 1, sizeof *g->users);
    g->nusers = 0;
    if (!g->users) return MIAW_E_NOMEM;
    miaw_jid me, mylid;
    miaw_jid_parse(&me, ei->creds.jid);
    int have_lid = ei->creds.lid[0] && miaw_jid_parse(&mylid, ei->creds.lid) == 0;
    int found = 0;
    json_t *p;
    json_array_foreach(parts, i, p) {
        miaw_jid u, pn;
        if (miaw_jid_parse(&u, json_string_value(json_object_get(p, "jid"))) != 0) continue;
        int mine = miaw_jid_same_user(&u, &me) || (have_lid && miaw_jid_same_user(&u, &mylid)) ||
                   (miaw_jid_parse(&pn, json_string_value(json_object_get(p, "pn"))) == 0 && miaw_jid_same_user(&pn, &me));
        if (mine && !found) {
            found = 1;
            miaw_jid_init(&g->self, u.user, u.server, 0, me.device);
        }
        g->users[g->nusers++] = u;
    }
    if (!found) return MIAW_E_AUTH;
    return 0;
}

static void fail_meta(eng_send *s, int code)
{
    if (code == 404) eng_send_finish(s, MIAW_E_NOTFOUND, 0, "no such group");
    else if (code == 403 || code == MIAW_E_AUTH) eng_send_finish(s, MIAW_E_NOTFOUND, 0, "not a member of this group");
    else eng_send_finish(s, MIAW_E_IO, 0, "the server answered the group query with an error");
}

static void on_usync(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_send *s = ud;
    if (!eng_send_iq_back(s, err, reply)) return;
    eng_gsend *g = s->g;
    miaw_wa_usync_user *users = calloc(g->nusers, sizeof *users);
    int n = users ? miaw_wa_usync_devices_parse(reply, users, g->nusers) : MIAW_E_NOMEM;
    if (n < 0) {
        free(users);
        eng_send_finish(s, MIAW_E_IO, 0, "unreadable device list from the server");
        return;
    }
    for (int i = 0; i < n; i++) eng_devlist_put(s->ei, &users[i]);
    free(users);
    /* a member the server left out has no devices: remember that too */
    for (size_t i = 0; i < g->nusers; i++) {
        char u[MIAW_JID_STR_MAX];
        miaw_jid_format(&g->users[i], u, sizeof u);
        if (!eng_devlist_get(s->ei, u)) {
            miaw_wa_usync_user empty = {.user = g->users[i]};
            eng_devlist_put(s->ei, &empty);
        }
    }
    step_keys(s);
}

/* device lists of the members: from the cache, the rest in one usync */
static void step_devices(eng_send *s)
{
    eng_gsend *g = s->g;
    eng_inst *ei = s->ei;
    miaw_jid *want = calloc(g->nusers ? g->nusers : 1, sizeof *want);
    size_t k = 0;
    if (!want) {
        eng_send_finish(s, MIAW_E_NOMEM, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < g->nusers; i++) {
        char u[MIAW_JID_STR_MAX];
        miaw_jid_format(&g->users[i], u, sizeof u);
        if (!eng_devlist_get(ei, u)) want[k++] = g->users[i];
    }
    if (!k) {
        free(want);
        step_keys(s);
        return;
    }
    char sid[MIAW_WA_MSGID_MAX];
    miaw_wa_message_id(s->own.user, (uint64_t)(miaw_now_ms() / 1000), sid);
    miaw_node *iq = miaw_wa_usync_devices_iq(want, k, sid);
    free(want);
    s->step = ENG_SEND_USYNC;
    if (!iq || !ei->conn || miaw_wa_conn_iq(ei->conn, iq, 0, on_usync, s) != 0) {
        eng_send_finish(s, MIAW_E_STATE, 0, "the connection closed");
        return;
    }
    s->inflight = 1;
}

static void on_meta(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_send *s = ud;
    s->inflight = 0;
    if (!s->done && !err && reply && miaw_node_attr_is(reply, "type", "error")) {
        const miaw_node *e = miaw_node_child(reply, "error");
        uint64_t code = 0;
        if (e) miaw_node_attr_u64(e, "code", &code);
        fail_meta(s, (int)code);
        return;
    }
    if (!eng_send_iq_back(s, err, reply)) return;
    json_t *meta = eng_group_meta_parse(reply);
    if (!meta) {
        eng_send_finish(s, MIAW_E_IO, 0, "unreadable group metadata from the server");
        return;
    }
    int rc = take_meta(s, meta);
    if (rc == 0) {
        miaw_jid me;
        miaw_jid_parse(&me, s->ei->creds.jid);
        json_object_set_new(meta, "at", json_integer(miaw_now_ms() / 1000));
        json_object_set_new(meta, "me", json_string(me.user));
        eng_group_kv_put(s->ei, "meta", s->chat_s, meta);
    }
    json_decref(meta);
    if (rc) {
        fail_meta(s, rc);
        return;
    }
    step_devices(s);
}

void eng_send_group_start(eng_send *s)
{
    eng_inst *ei = s->ei;
    if (!ei->conn || !ei->logged_in || eng_sig_open(ei) != 0) {
        eng_send_finish(s, MIAW_E_STATE, 0, "the instance is not connected");
        return;
    }
    json_t *meta = eng_group_kv_get(ei, "meta", s->chat_s);
    miaw_jid me;
    miaw_jid_parse(&me, ei->creds.jid);
    int64_t at = json_integer_value(json_object_get(meta, "at"));
    const char *who = json_string_value(json_object_get(meta, "me"));
    int fresh = meta && who && !strcmp(who, me.user) && at <= miaw_now_ms() / 1000 &&
                miaw_now_ms() / 1000 - at < META_TTL_S && take_meta(s, meta) == 0;
    json_decref(meta);
    if (fresh) {
        step_devices(s);
        return;
    }
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "w:g2", "type", "get", NULL);
    if (!iq || miaw_node_set_jid(iq, "to", &s->chat) != 0 || !miaw_node_addv(iq, "query", "request", "interactive", NULL)) {
        miaw_node_free(iq);
        eng_send_finish(s, MIAW_E_NOMEM, 0, "out of memory");
        return;
    }
    s->step = ENG_SEND_USYNC;
    if (miaw_wa_conn_iq(ei->conn, iq, 0, on_meta, s) != 0) {
        eng_send_finish(s, MIAW_E_STATE, 0, "the connection closed");
        return;
    }
    s->inflight = 1;
}

/* every member device but ours, from the device-list cache */
static int collect(eng_send *s)
{
    eng_gsend *g = s->g;
    size_t cap = 0;
    for (size_t i = 0; i < g->nusers; i++) {
        char u[MIAW_JID_STR_MAX];
        miaw_jid_format(&g->users[i], u, sizeof u);
        eng_devlist *l = eng_devlist_get(s->ei, u);
        cap += l ? l->n : 0;
    }
    free(g->devs);
    g->ndevs = 0;
    if (!(g->devs = calloc(cap ? cap : 1, sizeof *g->devs))) return MIAW_E_NOMEM;
    for (size_t i = 0; i < g->nusers; i++) {
        char u[MIAW_JID_STR_MAX];
        miaw_jid_format(&g->users[i], u, sizeof u);
        eng_devlist *l = eng_devlist_get(s->ei, u);
        for (size_t k = 0; l && k < l->n && g->ndevs < cap; k++) {
            miaw_jid d;
            if (miaw_jid_init(&d, g->users[i].user, g->users[i].server, 0, l->devices[k]) != 0) continue;
            if (miaw_jid_same_user(&d, &g->self) && d.device == g->self.device) continue; /* not to ourselves */
            g->devs[g->ndevs++] = d;
        }
    }
    return 0;
}

/* 1 when dev got our current sender key (mem: the kv record) */
static int has_skdm(const json_t *mem, uint32_t key_id, const miaw_jid *dev)
{
    if ((uint32_t)json_integer_value(json_object_get(mem, "key")) != key_id) return 0;
    char j[MIAW_JID_STR_MAX];
    miaw_jid_format(dev, j, sizeof j);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(mem, "devs"), i, v) {
        const char *d = json_string_value(v);
        if (d && !strcmp(d, j)) return 1;
    }
    return 0;
}

static void step_encrypt(eng_send *s);

static void on_keys(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_send *s = ud;
    if (!eng_send_iq_back(s, err, reply)) return;
    eng_send_build_sessions(s->ei, reply);
    step_encrypt(s);
}

/* our SKDM, its key id, and the devices that need it (mask) */
static int need_skdm(eng_send *s, uint8_t **skdm, size_t *skdm_len, uint8_t **need)
{
    eng_gsend *g = s->g;
    miaw_sig_addr self;
    int rc = eng_group_self_addr(s->ei, &self);
    if (!rc) rc = miaw_sig_group_skdm(s->ei->sig, s->chat_s, &self, skdm, skdm_len);
    if (!rc) rc = eng_skdm_key_id(*skdm, *skdm_len, &g->key_id);
    if (rc) return rc;
    *need = calloc(g->ndevs ? g->ndevs : 1, 1);
    if (!*need) return MIAW_E_NOMEM;
    json_t *mem = eng_group_kv_get(s->ei, "skdm", s->chat_s);
    for (size_t i = 0; i < g->ndevs; i++) (*need)[i] = !has_skdm(mem, g->key_id, &g->devs[i]);
    json_decref(mem);
    return 0;
}

static void step_keys(eng_send *s)
{
    eng_gsend *g = s->g;
    eng_inst *ei = s->ei;
    uint8_t *skdm = NULL, *need = NULL;
    size_t skl = 0;
    int rc = collect(s);
    if (!rc) rc = need_skdm(s, &skdm, &skl, &need);
    free(skdm);
    if (rc) {
        free(need);
        eng_send_finish(s, rc == MIAW_E_NOMEM ? rc : MIAW_E_INTERNAL, 0, "cannot prepare our sender key");
        return;
    }
    miaw_jid *fetch = calloc(g->ndevs ? g->ndevs : 1, sizeof *fetch);
    size_t k = 0;
    for (size_t i = 0; fetch && i < g->ndevs; i++) {
        miaw_sig_addr a;
        if (need[i] && miaw_sig_addr_from_jid(&g->devs[i], &a) == 0 &&
            miaw_sig_store_has_session(ei->sig, a.name, a.device) != 1)
            fetch[k++] = g->devs[i];
    }
    free(need);
    if (!fetch || !k) {
        free(fetch);
        step_encrypt(s);
        return;
    }
    miaw_node *iq = miaw_wa_prekey_fetch_iq(fetch, k);
    free(fetch);
    s->step = ENG_SEND_KEYS;
    if (!iq || !ei->conn || miaw_wa_conn_iq(ei->conn, iq, 0, on_keys, s) != 0) {
        eng_send_finish(s, MIAW_E_STATE, 0, "the connection closed");
        return;
    }
    s->inflight = 1;
}

/* <participants> with our SKDM for every device that needs it; *pk set when one is a pkmsg */
static miaw_node *distribute(eng_send *s, const uint8_t *pt, size_t ptl, const uint8_t *need, int *pk)
{
    eng_gsend *g = s->g;
    miaw_node *parts = miaw_node_new("participants");
    json_decref(g->given);
    g->given = json_array();
    for (size_t i = 0; parts && i < g->ndevs; i++) {
        if (!need[i]) continue;
        int type = 0;
        uint8_t *ct = NULL;
        size_t len = 0;
        char j[MIAW_JID_STR_MAX];
        miaw_jid_format(&g->devs[i], j, sizeof j);
        int rc = eng_send_encrypt_one(s->ei, &g->devs[i], pt, ptl, &type, &ct, &len);
        if (rc) {
            MIAW_DEBUG("engine", "%s: no session with %s (%s); it gets no sender key", s->ei->id, j, miaw_sig_strerror(rc));
            continue;
        }
        miaw_node *to = miaw_node_add(parts, "to");
        miaw_node *enc = to ? miaw_node_addv(to, "enc", "v", "2", "type", miaw_sig_type_name(type), NULL) : NULL;
        if (!enc || miaw_node_set_jid(to, "jid", &g->devs[i]) != 0 || miaw_node_set_bytes(enc, ct, len) != 0) {
            miaw_node_free(parts);
            parts = NULL;
        } else {
            *pk |= type == MIAW_SIG_PKMSG;
            json_array_append_new(g->given, json_string(j));
        }
        free(ct);
    }
    return parts;
}

static miaw_node *build_stanza(eng_send *s, miaw_node *parts, const uint8_t *skct, size_t skl, int pk)
{
    eng_gsend *g = s->g;
    eng_inst *ei = s->ei;
    miaw_node *m = miaw_node_newv("message", "id", s->id, "type", s->stype, NULL);
    int rc = m && miaw_node_set_jid(m, "to", &s->chat) == 0 ? 0 : MIAW_E_NOMEM;
    if (!rc && s->edit) rc = miaw_node_set_attr(m, "edit", s->edit);
    if (!rc && g->lid) rc = miaw_node_set_attr(m, "addressing_mode", "lid");
    if (!rc && g->phash[0]) rc = miaw_node_set_attr(m, "phash", g->phash);
    if (!rc && miaw_node_count(parts) && !miaw_node_add_copy(m, parts)) rc = MIAW_E_NOMEM;
    miaw_node *enc = rc ? NULL : miaw_node_addv(m, "enc", "v", "2", "type", "skmsg", NULL);
    if (!rc) rc = enc && miaw_node_set_bytes(enc, skct, skl) == 0 ? 0 : MIAW_E_NOMEM;
    if (!rc && pk && ei->creds.adv) {
        miaw_node *di = miaw_node_add(m, "device-identity");
        rc = di && miaw_node_set_bytes(di, ei->creds.adv, ei->creds.adv_len) == 0 ? 0 : MIAW_E_NOMEM;
    }
    if (!rc) { /* mediatype / decrypt-fail on the skmsg (facts 7.5); not on the pairwise SKDMs */
        const char *mt = miaw_wa_enc_mediatype(s->msg, s->msg_len);
        if (mt) miaw_node_set_attr(enc, "mediatype", mt);
        if (s->edit || !strcmp(s->stype, "reaction")) miaw_node_set_attr(enc, "decrypt-fail", "hide");
    }
    for (size_t i = 0; !rc && i < s->nextra; i++)
        if (!miaw_node_add_copy(m, s->extra[i])) rc = MIAW_E_NOMEM;
    if (rc) {
        miaw_node_free(m);
        return NULL;
    }
    return m;
}

static void store_row(eng_send *s)
{
    miaw_wa_content c;
    if (s->no_store || miaw_wa_content_parse(s->msg, s->msg_len, &c) != 0) return;
    eng_msg_row row = {.chat = s->chat_s, .id = s->id, .sender = s->own_s, .type = miaw_wa_content_type_name(c.type),
                       .text = c.text, .quoted_id = c.quoted_id, .status = "pending", .from_me = 1,
                       .ts = miaw_now_ms() / 1000, .raw = s->msg, .raw_len = s->msg_len};
    eng_chat_insert(s->ei->e, s->ei->id, &row);
    miaw_wa_content_clear(&c);
}

static void step_encrypt(eng_send *s)
{
    eng_gsend *g = s->g;
    eng_inst *ei = s->ei;
    uint8_t *skdm = NULL, *need = NULL, *spt = NULL, *pt = NULL, *skct = NULL;
    size_t skl = 0, sptl = 0, ptl = 0, skctl = 0;
    miaw_sig_addr self;
    int pk = 0, rc = need_skdm(s, &skdm, &skl, &need);
    if (!rc) rc = miaw_wamsg_encode_skdm(s->chat_s, skdm, skl, &spt, &sptl);
    if (!rc) rc = miaw_wamsg_pad(s->msg, s->msg_len, &pt, &ptl);
    if (!rc) rc = eng_group_self_addr(ei, &self);
    if (!rc) rc = miaw_sig_group_encrypt(ei->sig, s->chat_s, &self, pt, ptl, &skct, &skctl);
    free(skdm);
    free(pt);
    miaw_node *parts = rc ? NULL : distribute(s, spt, sptl, need, &pk);
    free(spt);
    free(need);
    if (!rc && !parts) rc = MIAW_E_NOMEM;
    if (!rc) {
        miaw_jid *all = calloc(g->ndevs + 1, sizeof *all); /* phash: every device, ours included */
        if (all) {
            memcpy(all, g->devs, g->ndevs * sizeof *all);
            all[g->ndevs] = g->self;
            eng_group_phash(all, g->ndevs + 1, g->phash, sizeof g->phash);
            free(all);
        }
    }
    miaw_node *st = rc ? NULL : build_stanza(s, parts, skct, skctl, pk);
    miaw_node_free(parts);
    free(skct);
    if (!st) {
        eng_send_finish(s, rc && rc != MIAW_E_NOMEM ? MIAW_E_INTERNAL : MIAW_E_NOMEM, 0,
                        rc && rc != MIAW_E_NOMEM ? "cannot encrypt for the group" : "cannot build the message stanza");
        return;
    }
    store_row(s);
    eng_send_remember(ei, s);
    MIAW_DEBUG("engine", "%s: group message %s to %s: %zu member devices, %zu got our sender key", ei->id, s->id,
               s->chat_s, g->ndevs, json_array_size(g->given));
    rc = eng_send_node(ei, st);
    miaw_node_free(st);
    if (rc) {
        eng_send_finish(s, MIAW_E_STATE, 0, "the connection closed");
        return;
    }
    s->step = ENG_SEND_ACK;
}

void eng_send_group_acked(eng_send *s, const miaw_node *ack)
{
    eng_gsend *g = s->g;
    const char *ph = miaw_node_attr(ack, "phash");
    if (ph && g->phash[0] && strcmp(ph, g->phash) != 0) { /* the server counts other devices: ask again next time */
        MIAW_DEBUG("engine", "%s: participant hash of %s differs (%s, ours %s)", s->ei->id, s->chat_s, ph, g->phash);
        eng_group_kv_del(s->ei, "meta", s->chat_s);
    }
    if (!json_array_size(g->given)) return;
    json_t *mem = eng_group_kv_get(s->ei, "skdm", s->chat_s);
    if (!json_is_object(mem) || (uint32_t)json_integer_value(json_object_get(mem, "key")) != g->key_id ||
        !json_is_array(json_object_get(mem, "devs"))) {
        json_decref(mem);
        mem = json_pack("{s:I,s:[]}", "key", (json_int_t)g->key_id, "devs");
    }
    json_t *devs = json_object_get(mem, "devs");
    size_t i;
    json_t *v;
    json_array_foreach(g->given, i, v) {
        int dup = 0;
        size_t k;
        json_t *w;
        json_array_foreach(devs, k, w) dup |= json_equal(v, w);
        if (!dup) json_array_append(devs, v);
    }
    eng_group_kv_put(s->ei, "skdm", s->chat_s, mem);
    json_decref(mem);
}

int eng_send_group(miaw_engine *e, eng_inst *ei, const miaw_jid *group, const uint8_t *msg, size_t len,
                   const miaw_msg_opts *o, miaw_node **extra, size_t nextra, miaw_engine_send_cb cb, void *udata,
                   uint64_t *handle, char *err, size_t errlen)
{
    eng_send *s = NULL;
    int rc = eng_send_prepare(ei, group, msg, len, o, extra, nextra, &s, err, errlen);
    if (rc) return rc;
    if (!(s->g = calloc(1, sizeof *s->g))) {
        eng_send_finish(s, MIAW_E_NOMEM, 0, NULL); /* not queued: frees it, no callback set yet */
        return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    }
    eng_send_enqueue(e, s, cb, udata, o ? o->timeout_ms : 0, handle);
    return 0;
}
