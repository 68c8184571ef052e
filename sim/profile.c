/* sim/profile.c - profile pictures, about text and block lists of the simulated accounts:
 * the w:profile:picture, status and blocklist IQs, the usync picture answer, the picture
 * URLs served on the control port and the /sim/profile/{phone} control endpoint. Owns
 * the profile records (module state) and <state-dir>/profiles.json. */
#include "profile.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "codec.h"
#include "control.h"
#include "directory.h"
#include "group.h"
#include "miaw/plugin.h"
#include "queue.h"
#include "session.h"
#include "state.h"

#define PROFILES_FILE "profiles.json"
#define PF_STATUS_MAX 139 /* bytes of about text (the account record holds 140) */
#define PF_SKIP 1000      /* an IQ this module leaves to others (group pictures) */

typedef struct pf_rec {
    char phone[MIAW_SIM_PHONE_MAX + 1];
    uint8_t *image, *preview; /* JPEG bytes (malloc'd) or NULL */
    size_t image_len, preview_len;
    uint32_t pic_id;          /* 0 = no picture */
    uint64_t pic_t;
    int hidden;               /* picture privacy "nobody": only the owner sees it */
    json_t *blocked;          /* array of phone numbers (digits) */
    struct pf_rec *next;
} pf_rec;

static struct {
    pf_rec *recs;
    int loaded;
    uint32_t next_id;
    char base[128];
} PF = {.next_id = 1, .base = "http://127.0.0.1"};

void miaw_sim_profile_set_base(const char *base) { snprintf(PF.base, sizeof PF.base, "%s", base); }

static void pf_free(pf_rec *r)
{
    free(r->image);
    free(r->preview);
    json_decref(r->blocked);
    free(r);
}

void miaw_sim_profile_close(void)
{
    while (PF.recs) {
        pf_rec *r = PF.recs;
        PF.recs = r->next;
        pf_free(r);
    }
    PF.loaded = 0;
}

/* ------------------------------------------------------------------ persistence */

static json_t *pf_b64(const uint8_t *b, size_t n)
{
    if (!b) return json_null();
    size_t cap = 4 * ((n + 2) / 3) + 1;
    char *s = malloc(cap);
    json_t *o = s && miaw_sim_b64_encode(b, n, s, cap) >= 0 ? json_string(s) : json_null();
    free(s);
    return o;
}

static uint8_t *pf_unb64(const char *s, size_t *len)
{
    size_t n = s ? strlen(s) : 0;
    uint8_t *b = n ? malloc(n) : NULL;
    int got = b ? miaw_sim_b64_decode(s, n, b, n) : -1;
    if (got <= 0) {
        free(b);
        return NULL;
    }
    *len = (size_t)got;
    return b;
}

static void pf_save(miaw_sim *sim)
{
    if (!sim->state_dir) return;
    json_t *o = json_object();
    for (pf_rec *r = PF.recs; r; r = r->next)
        json_object_set_new(o, r->phone,
                            json_pack("{s:o,s:o,s:I,s:I,s:b,s:O}", "image", pf_b64(r->image, r->image_len), "preview",
                                      pf_b64(r->preview, r->preview_len), "id", (json_int_t)r->pic_id, "t",
                                      (json_int_t)r->pic_t, "hidden", r->hidden, "blocked", r->blocked));
    json_object_set_new(o, "_nextId", json_integer(PF.next_id));
    char *s = json_dumps(o, JSON_COMPACT);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", sim->state_dir, PROFILES_FILE);
    if (!s || miaw_write_file_atomic(path, s, strlen(s), 0600)) MIAW_WARN("sim", "cannot write %s", path);
    free(s);
    json_decref(o);
}

static void pf_load(miaw_sim *sim)
{
    if (PF.loaded) return;
    PF.loaded = 1;
    if (!sim->state_dir) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", sim->state_dir, PROFILES_FILE);
    json_t *o = json_load_file(path, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (!strcmp(k, "_nextId")) {
            PF.next_id = (uint32_t)json_integer_value(v);
            continue;
        }
        if (!miaw_sim_phone_valid(k)) continue;
        pf_rec *r = calloc(1, sizeof *r);
        if (!r) break;
        snprintf(r->phone, sizeof r->phone, "%s", k);
        r->image = pf_unb64(json_string_value(json_object_get(v, "image")), &r->image_len);
        r->preview = pf_unb64(json_string_value(json_object_get(v, "preview")), &r->preview_len);
        r->pic_id = r->image ? (uint32_t)json_integer_value(json_object_get(v, "id")) : 0;
        r->pic_t = (uint64_t)json_integer_value(json_object_get(v, "t"));
        r->hidden = json_is_true(json_object_get(v, "hidden"));
        json_t *bl = json_object_get(v, "blocked");
        r->blocked = json_is_array(bl) ? json_incref(bl) : json_array();
        r->next = PF.recs;
        PF.recs = r;
    }
    json_decref(o);
    if (!PF.next_id) PF.next_id = 1;
}

static pf_rec *pf_find(miaw_sim *sim, const char *phone, int create)
{
    pf_load(sim);
    for (pf_rec *r = PF.recs; r; r = r->next)
        if (!strcmp(r->phone, phone)) return r;
    if (!create) return NULL;
    pf_rec *r = calloc(1, sizeof *r);
    if (!r || !(r->blocked = json_array())) {
        free(r);
        return NULL;
    }
    snprintf(r->phone, sizeof r->phone, "%s", phone);
    r->next = PF.recs;
    PF.recs = r;
    return r;
}

/* ------------------------------------------------------------------ queries */

int miaw_sim_profile_blocked(miaw_sim *sim, const miaw_sim_account *owner, const miaw_sim_account *other)
{
    pf_rec *r = owner && other ? pf_find(sim, owner->phone, 0) : NULL;
    size_t i;
    json_t *v;
    if (r) json_array_foreach(r->blocked, i, v) if (!strcmp(json_string_value(v), other->phone)) return 1;
    return 0;
}

int miaw_sim_profile_picture_id(miaw_sim *sim, const miaw_sim_account *target, const miaw_sim_account *viewer,
                                uint32_t *id)
{
    pf_rec *r = target ? pf_find(sim, target->phone, 0) : NULL;
    if (!r || !r->pic_id) return 0;
    if (viewer != target && (r->hidden || miaw_sim_profile_blocked(sim, target, viewer))) return 0;
    *id = r->pic_id;
    return 1;
}

/* ------------------------------------------------------------------ changes */

static int pf_set_picture(miaw_sim *sim, pf_rec *r, const uint8_t *img, size_t ilen, const uint8_t *pre, size_t plen)
{
    if (!img || !ilen) { /* removal */
        free(r->image);
        free(r->preview);
        r->image = r->preview = NULL;
        r->image_len = r->preview_len = 0;
        r->pic_id = 0;
    } else {
        if (!pre || !plen) pre = img, plen = ilen; /* no preview given: the image serves both */
        uint8_t *a = malloc(ilen), *b = malloc(plen);
        if (!a || !b) {
            free(a);
            free(b);
            return MIAW_E_NOMEM;
        }
        memcpy(a, img, ilen);
        memcpy(b, pre, plen);
        free(r->image);
        free(r->preview);
        r->image = a, r->image_len = ilen;
        r->preview = b, r->preview_len = plen;
        r->pic_id = PF.next_id++;
    }
    r->pic_t = miaw_sim_now();
    pf_save(sim);
    return 0;
}

static int is_jpeg(const uint8_t *b, size_t n) { return n >= 4 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff; }

static int pf_send(miaw_sim_conn *c, miaw_node *n)
{
    int rc = n ? miaw_sim_conn_send(c, n) : MIAW_E_NOMEM;
    miaw_node_free(n);
    return rc;
}

static void pf_url(const pf_rec *r, const char *type, char *out, size_t cap, int path_only)
{
    snprintf(out, cap, "%s/sim/pps/%s/%" PRIu32 "/%s.jpg?oe=%" PRIu64, path_only ? "" : PF.base, r->phone, r->pic_id,
             type, r->pic_t);
}

/* <iq xmlns="w:profile:picture" type="get" target=JID><picture type query="url" [id]/></iq> */
static int pic_get(miaw_sim_conn *c, const miaw_node *iq)
{
    miaw_sim_addr ad;
    miaw_jid j;
    const miaw_node *p = miaw_node_child(iq, "picture");
    const char *type = p ? miaw_node_attr(p, "type") : NULL;
    if (!type) type = "image";
    if (strcmp(type, "image") && strcmp(type, "preview")) return miaw_sim_iq_error(c, iq, 400, "bad-request");
    if (miaw_node_attr_jid(iq, "target", &j) && miaw_node_attr_jid(iq, "to", &j))
        return miaw_sim_iq_error(c, iq, 400, "bad-request");
    uint32_t id;
    pf_rec *r;
    if (!strcmp(j.server, "g.us")) { /* a group's picture: its record is keyed by the group id */
        if (!miaw_sim_group_find(c->sim, j.user)) return miaw_sim_iq_error(c, iq, 404, "item-not-found");
        r = pf_find(c->sim, j.user, 0);
        if (!r || !r->pic_id) return miaw_sim_iq_error(c, iq, 404, "item-not-found");
        id = r->pic_id;
    } else {
        miaw_sim_resolve(c->sim, &j, &ad);
        if (!ad.account) return miaw_sim_iq_error(c, iq, 404, "item-not-found");
        r = pf_find(c->sim, ad.account->phone, 0);
        if (!r || !r->pic_id) return miaw_sim_iq_error(c, iq, 404, "item-not-found");
        if (!miaw_sim_profile_picture_id(c->sim, ad.account, c->account, &id))
            return miaw_sim_iq_error(c, iq, 401, "not-authorized");
    }
    miaw_node *res = miaw_sim_iq_result(iq);
    const char *known = p ? miaw_node_attr(p, "id") : NULL;
    char sid[16], url[320], dp[256];
    snprintf(sid, sizeof sid, "%" PRIu32, id);
    if (known && !strcmp(known, sid)) { /* the client has it already */
        if (res) miaw_node_addv(res, "picture", "status", "304", NULL);
        return pf_send(c, res);
    }
    pf_url(r, type, url, sizeof url, 0);
    pf_url(r, type, dp, sizeof dp, 1);
    if (res) miaw_node_addv(res, "picture", "id", sid, "url", url, "type", type, "direct_path", dp, NULL);
    return pf_send(c, res);
}

/* <iq xmlns="w:profile:picture" type="set" [target=own user]><picture type="image">jpeg</picture>
 * [<picture type="preview">jpeg</picture>]</iq>; no content removes the picture */
static int pic_set(miaw_sim_conn *c, const miaw_node *iq)
{
    miaw_jid j;
    miaw_sim_addr ad;
    const char *key = c->account->phone; /* whose record: the account's, or the group's (its id) */
    if (!miaw_node_attr_jid(iq, "target", &j)) {
        if (!strcmp(j.server, "g.us")) {
            /* a group's picture: members may set it, only admins when the group is locked */
            miaw_sim_group *g = miaw_sim_group_find(c->sim, j.user);
            if (!g) return miaw_sim_iq_error(c, iq, 404, "item-not-found");
            miaw_sim_member *m = miaw_sim_group_member(g, c->account);
            if (!m) return miaw_sim_iq_error(c, iq, 403, "forbidden");
            if (g->locked && m->rank < MIAW_SIM_ADMIN) return miaw_sim_iq_error(c, iq, 401, "not-authorized");
            key = g->id;
        } else if (miaw_sim_resolve(c->sim, &j, &ad) == MIAW_E_INVAL || ad.account != c->account) {
            return miaw_sim_iq_error(c, iq, 401, "not-authorized");
        }
    }
    const uint8_t *img = NULL, *pre = NULL;
    size_t ilen = 0, plen = 0;
    for (miaw_node *p = miaw_node_child(iq, "picture"); p; p = miaw_node_next(iq, p, "picture")) {
        const char *t = miaw_node_attr(p, "type");
        size_t n;
        const uint8_t *b = miaw_node_bytes(p, &n);
        if (!b || !n) continue;
        if (!is_jpeg(b, n) || n > MIAW_SIM_PICTURE_MAX) return miaw_sim_iq_error(c, iq, 400, "bad-request");
        if (t && !strcmp(t, "preview")) pre = b, plen = n;
        else img = b, ilen = n;
    }
    if (!img && pre) return miaw_sim_iq_error(c, iq, 400, "bad-request"); /* a preview alone */
    pf_rec *r = pf_find(c->sim, key, 1);
    if (!r || pf_set_picture(c->sim, r, img, ilen, pre, plen)) return miaw_sim_iq_error(c, iq, 500, "internal-error");
    miaw_node *res = miaw_sim_iq_result(iq);
    if (res && r->pic_id) {
        miaw_node *pn = miaw_node_add(res, "picture");
        if (pn) miaw_node_set_attrf(pn, "id", "%" PRIu32, r->pic_id);
    }
    MIAW_INFO("sim", "%s %s: picture %s", key == c->account->phone ? "account" : "group", key,
              r->pic_id ? "set" : "removed");
    return pf_send(c, res);
}

/* <iq xmlns="status" type="set"><status>text</status></iq> */
static int status_set(miaw_sim_conn *c, const miaw_node *iq)
{
    const miaw_node *st = miaw_node_child(iq, "status");
    size_t n = 0;
    const uint8_t *b = st ? miaw_node_bytes(st, &n) : NULL;
    if (!st) return miaw_sim_iq_error(c, iq, 400, "bad-request");
    if (n > PF_STATUS_MAX || (b && memchr(b, 0, n))) return miaw_sim_iq_error(c, iq, 406, "not-acceptable");
    snprintf(c->account->status, sizeof c->account->status, "%.*s", (int)n, b ? (const char *)b : "");
    miaw_sim_state_save(c->sim);
    return pf_send(c, miaw_sim_iq_result(iq));
}

static void bl_list(miaw_sim *sim, const pf_rec *r, miaw_node *parent)
{
    miaw_node *l = miaw_node_add(parent, "list");
    size_t i;
    json_t *v;
    if (!l) return;
    if (r) json_array_foreach(r->blocked, i, v) {
        char jid[64];
        snprintf(jid, sizeof jid, "%s@s.whatsapp.net", json_string_value(v));
        miaw_node *it = miaw_node_add(l, "item");
        if (it) miaw_node_set_jid_str(it, "jid", jid);
    }
    (void)sim;
    if (!miaw_node_count(l)) miaw_node_set_empty_list(l);
}

/* the account's other companions learn of a block list change (facts 11.7) */
static void bl_notify(miaw_sim_conn *c, const char *pn, const char *action)
{
    char id[32], from[64], jid[64];
    miaw_sim_account *a = c->account;
    miaw_sim_next_id(c->sim, id, sizeof id);
    snprintf(from, sizeof from, "%s@s.whatsapp.net", a->phone);
    snprintf(jid, sizeof jid, "%s@s.whatsapp.net", pn);
    miaw_node *n = miaw_node_newv("notification", "type", "account_sync", "id", id, NULL);
    miaw_node *bl = n ? miaw_node_addv(n, "blocklist", "action", action, NULL) : NULL;
    miaw_node *it = bl ? miaw_node_addv(bl, "item", "action", action, NULL) : NULL;
    if (it && !miaw_node_set_jid_str(n, "from", from) && !miaw_node_set_jid_str(it, "jid", jid)) {
        miaw_node_set_attrf(n, "t", "%" PRIu64, miaw_sim_now());
        for (size_t i = 0; i < a->ndevices; i++)
            if (a->devices[i].id != c->device_id) miaw_sim_deliver(c->sim, a, a->devices[i].id, n, "notification");
    }
    miaw_node_free(n);
}

/* <iq xmlns="blocklist" type="set"><item action="block|unblock" jid=LID|PN [pn_jid]/></iq> */
static int bl_set(miaw_sim_conn *c, const miaw_node *iq)
{
    const miaw_node *it = miaw_node_child(iq, "item");
    const char *action = it ? miaw_node_attr(it, "action") : NULL;
    miaw_jid j;
    miaw_sim_addr ad;
    if (!action || (strcmp(action, "block") && strcmp(action, "unblock")) ||
        (miaw_node_attr_jid(it, "pn_jid", &j) && miaw_node_attr_jid(it, "jid", &j)))
        return miaw_sim_iq_error(c, iq, 400, "bad-request");
    int rc = miaw_sim_resolve(c->sim, &j, &ad);
    char pn[MIAW_SIM_PHONE_MAX + 1];
    if (ad.account) snprintf(pn, sizeof pn, "%s", ad.account->phone);
    else if (rc != MIAW_E_INVAL && strcmp(j.server, "lid") && miaw_sim_phone_valid(j.user))
        snprintf(pn, sizeof pn, "%.20s", j.user); /* a number not on the network can be blocked too */
    else return miaw_sim_iq_error(c, iq, 404, "item-not-found");
    if (!strcmp(pn, c->account->phone)) return miaw_sim_iq_error(c, iq, 406, "not-acceptable");
    pf_rec *r = pf_find(c->sim, c->account->phone, 1);
    if (!r) return miaw_sim_iq_error(c, iq, 500, "internal-error");
    size_t i, at = (size_t)-1;
    json_t *v;
    json_array_foreach(r->blocked, i, v) if (!strcmp(json_string_value(v), pn)) at = i;
    int block = !strcmp(action, "block");
    if (block && at == (size_t)-1) {
        if (json_array_size(r->blocked) >= MIAW_SIM_BLOCKLIST_MAX) return miaw_sim_iq_error(c, iq, 406, "not-acceptable");
        json_array_append_new(r->blocked, json_string(pn));
    } else if (!block && at != (size_t)-1) {
        json_array_remove(r->blocked, at);
    }
    pf_save(c->sim);
    miaw_node *res = miaw_sim_iq_result(iq);
    if (res) bl_list(c->sim, r, res);
    pf_send(c, res);
    bl_notify(c, pn, action);
    MIAW_INFO("sim", "account %s: %s %s", c->account->phone, action, pn);
    return 0;
}

int miaw_sim_profile_on_iq(miaw_sim_conn *c, const miaw_node *iq, const char *xmlns, const char *type)
{
    int get = !strcmp(type, "get"), set = !strcmp(type, "set");
    if (!c->account) return 0;
    if (!strcmp(xmlns, "w:profile:picture")) {
        if (get) return pic_get(c, iq) != PF_SKIP;
        if (set) return pic_set(c, iq) != PF_SKIP;
        return 0;
    }
    if (!strcmp(xmlns, "status") && set) return status_set(c, iq), 1;
    if (!strcmp(xmlns, "blocklist") && get) {
        miaw_node *res = miaw_sim_iq_result(iq);
        if (res) bl_list(c->sim, pf_find(c->sim, c->account->phone, 0), res);
        pf_send(c, res);
        return 1;
    }
    if (!strcmp(xmlns, "blocklist") && set) return bl_set(c, iq), 1;
    return 0;
}

void miaw_sim_profile_on_presence(miaw_sim_conn *c, const miaw_node *presence)
{
    size_t n;
    const char *name = miaw_node_attrn(presence, "name", &n);
    if (c->state != MIAW_SIM_CONN_READY || !c->account || !name || !n || n > MIAW_SIM_NAME_MAX || memchr(name, 0, n)) return;
    miaw_sim_account *a = c->account;
    if (strlen(a->name) == n && !memcmp(a->name, name, n)) return;
    snprintf(a->name, sizeof a->name, "%.*s", (int)n, name);
    miaw_sim_state_save(c->sim);
    MIAW_INFO("sim", "account %s: push name now %s", a->phone, a->name);
}

int miaw_sim_profile_drop_blocked(miaw_sim_conn *c, const miaw_node *n)
{
    miaw_jid j;
    miaw_sim_addr ad;
    const miaw_attr *to = miaw_node_attr_get(n, "to");
    if (c->state != MIAW_SIM_CONN_READY || !c->account || !miaw_node_attr(n, "id") || miaw_node_attr_jid(n, "to", &j) ||
        miaw_sim_resolve(c->sim, &j, &ad) == MIAW_E_INVAL || !ad.account || ad.account == c->account ||
        !miaw_sim_profile_blocked(c->sim, ad.account, c->account))
        return 0;
    miaw_node *ack = miaw_node_newv("ack", "class", "message", "id", miaw_node_attr(n, "id"), NULL);
    if (ack && to && to->jid) miaw_node_set_jid(ack, "from", to->jid);
    else if (ack && to) miaw_node_set_attrn(ack, "from", to->str, to->len);
    if (ack) miaw_node_set_attrf(ack, "t", "%" PRIu64, miaw_sim_now());
    pf_send(c, ack);
    MIAW_INFO("sim", "message %s from %s to %s dropped: blocked", miaw_node_attr(n, "id"), c->account->phone,
              ad.account->phone);
    return 1;
}

/* ------------------------------------------------------------------ control */

static json_t *pf_json(miaw_sim_account *a, pf_rec *r)
{
    json_t *pic = json_null();
    if (r && r->pic_id) {
        char url[320];
        pf_url(r, "image", url, sizeof url, 0);
        pic = json_pack("{s:I,s:I,s:I,s:s,s:I}", "id", (json_int_t)r->pic_id, "imageLength", (json_int_t)r->image_len,
                        "previewLength", (json_int_t)r->preview_len, "url", url, "t", (json_int_t)r->pic_t);
    }
    return json_pack("{s:s,s:s,s:o,s:b,s:o}", "phone", a->phone, "status", a->status, "picture", pic, "pictureHidden",
                     r && r->hidden, "blocklist", r ? json_incref(r->blocked) : json_array());
}

static void ctl_bad(h2o_req_t *req, int st, const char *code, const char *field, const char *msg)
{
    miaw_sim_http_json(req, st, miaw_sim_error_json(code, field, msg));
}

static uint8_t *ctl_b64(json_t *b, const char *key, size_t *len, int *bad)
{
    json_t *v = json_object_get(b, key);
    if (!v) return NULL;
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    uint8_t *out = n ? malloc(n) : NULL;
    int got = out ? miaw_sim_b64_decode(s, n, out, n) : -1;
    if (got <= 0 || !is_jpeg(out, (size_t)got) || (size_t)got > MIAW_SIM_PICTURE_MAX) {
        free(out);
        *bad = 1;
        return NULL;
    }
    *len = (size_t)got;
    return out;
}

/* POST /sim/profile/{phone} {status?, picture?, preview?, removePicture?, pictureHidden?} */
static void ctl_post(miaw_sim *sim, h2o_req_t *req, miaw_sim_account *a)
{
    json_error_t je;
    json_t *b = req->entity.len ? json_loadb(req->entity.base, req->entity.len, 0, &je) : NULL;
    if (!json_is_object(b)) {
        json_decref(b);
        return ctl_bad(req, 400, "INVALID_REQUEST", "body", "a JSON object body is required");
    }
    json_t *st = json_object_get(b, "status"), *hid = json_object_get(b, "pictureHidden");
    int bad = 0;
    size_t ilen = 0, plen = 0;
    uint8_t *img = ctl_b64(b, "picture", &ilen, &bad), *pre = bad ? NULL : ctl_b64(b, "preview", &plen, &bad);
    const char *field = bad ? (img ? "preview" : "picture") : NULL;
    if (st && (!json_is_string(st) || json_string_length(st) > PF_STATUS_MAX)) field = "status";
    if (hid && !json_is_boolean(hid)) field = "pictureHidden";
    pf_rec *r = field ? NULL : pf_find(sim, a->phone, 1);
    if (field || !r) {
        free(img);
        free(pre);
        json_decref(b);
        return ctl_bad(req, field ? 400 : 500, field ? "INVALID_REQUEST" : "INTERNAL_ERROR", field,
                       field ? "bad value (pictures: base64 JPEG up to 1 MiB; status: up to 139 bytes)" : "no memory");
    }
    if (st) {
        snprintf(a->status, sizeof a->status, "%s", json_string_value(st));
        miaw_sim_state_save(sim);
    }
    if (hid) r->hidden = json_is_true(hid);
    if (img || json_is_true(json_object_get(b, "removePicture"))) pf_set_picture(sim, r, img, ilen, pre, plen);
    else pf_save(sim);
    free(img);
    free(pre);
    json_decref(b);
    miaw_sim_http_json(req, 200, pf_json(a, r));
}

/* /sim/pps/{phone}/{id}/{image|preview}.jpg */
static void ctl_pps(miaw_sim *sim, h2o_req_t *req, const char *rest, size_t n)
{
    char phone[32] = "", type[16] = "";
    unsigned id = 0;
    char tail[64];
    snprintf(tail, sizeof tail, "%.*s", (int)(n < 63 ? n : 63), rest);
    pf_rec *r = NULL;
    if (sscanf(tail, "%20[0-9]/%u/%15[a-z].jpg", phone, &id, type) == 3 && (r = pf_find(sim, phone, 0)) &&
        r->pic_id == id && (!strcmp(type, "image") || !strcmp(type, "preview"))) {
        const uint8_t *b = !strcmp(type, "image") ? r->image : r->preview;
        size_t len = !strcmp(type, "image") ? r->image_len : r->preview_len;
        req->res.status = 200;
        req->res.reason = "OK";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("image/jpeg"));
        h2o_send_inline(req, (const char *)b, len);
        return;
    }
    ctl_bad(req, 404, "NOT_FOUND", NULL, "no such picture");
}

int miaw_sim_profile_control(miaw_sim *sim, h2o_req_t *req)
{
    const char *p = req->path_normalized.base;
    size_t n = req->path_normalized.len;
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    if (n > 9 && !memcmp(p, "/sim/pps/", 9)) {
        if (!get) ctl_bad(req, 405, "METHOD_NOT_ALLOWED", NULL, "GET only");
        else ctl_pps(sim, req, p + 9, n - 9);
        return 1;
    }
    if (n <= 13 || memcmp(p, "/sim/profile/", 13)) return 0;
    char phone[32];
    snprintf(phone, sizeof phone, "%.*s", (int)(n - 13 < 31 ? n - 13 : 31), p + 13);
    miaw_sim_account *a = miaw_sim_phone_valid(phone) ? miaw_sim_account_find(sim, phone) : NULL;
    if (!a) ctl_bad(req, 404, "NOT_FOUND", NULL, "no such account");
    else if (get) miaw_sim_http_json(req, 200, pf_json(a, pf_find(sim, a->phone, 0)));
    else if (post) ctl_post(sim, req, a);
    else ctl_bad(req, 405, "METHOD_NOT_ALLOWED", NULL, "GET or POST");
    return 1;
}
