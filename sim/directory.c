/* sim/directory.c - JID resolution, usync (devices, lid, contact, status, picture; the other
 * protocols answered with empty elements), pre-key bundle fetch with one-time pre-key
 * consumption and low-count notifications, device-list notifications and unlinking. */
#include "directory.h"
#include "index.h"

#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "phone.h"
#include "profile.h"
#include "queue.h"
#include "session.h"
#include "state.h"

#define LOW_PREKEYS 5 /* clients upload more below this (protocol facts 6.1) */

/* ------------------------------------------------------------------ resolution */

int miaw_sim_resolve(miaw_sim *sim, const miaw_jid *j, miaw_sim_addr *out)
{
    memset(out, 0, sizeof *out);
    if (!j->user[0] || j->agent) return MIAW_E_INVAL;
    if (!strcmp(j->server, MIAW_SERVER_USER) || !strcmp(j->server, MIAW_SERVER_LEGACY)) {
        out->account = miaw_sim_account_find(sim, j->user);
    } else if (!strcmp(j->server, MIAW_SERVER_LID)) {
        out->lid = 1;
        out->account = miaw_sim_account_find_lid(sim, j->user);
    } else {
        return MIAW_E_INVAL;
    }
    out->device = j->device;
    out->has_device = j->kind == MIAW_JID_AD;
    if (!out->account) return MIAW_E_NOTFOUND;
    return miaw_sim_addr_device(out) ? 0 : MIAW_E_NOTFOUND;
}

int miaw_sim_resolve_str(miaw_sim *sim, const char *jid, miaw_sim_addr *out)
{
    miaw_jid j;
    memset(out, 0, sizeof *out);
    if (!jid || miaw_jid_parse(&j, jid)) return MIAW_E_INVAL;
    return miaw_sim_resolve(sim, &j, out);
}

miaw_sim_device *miaw_sim_addr_device(const miaw_sim_addr *ad)
{
    if (!ad->account) return NULL;
    if (ad->device == 0) return &ad->account->primary;
    return miaw_sim_device_find(ad->account, ad->device);
}

void miaw_sim_jid_attr(const miaw_sim_account *a, uint32_t dev, int lid, char *buf, size_t cap)
{
    char j[80];
    miaw_sim_device_jid(a, dev, lid, j, sizeof j);
    snprintf(buf, cap, "JID:%s", j);
}

static int send_and_free(miaw_sim_conn *c, miaw_node *n)
{
    int rc = n ? miaw_sim_conn_send(c, n) : MIAW_E_NOMEM;
    miaw_node_free(n);
    return rc;
}

/* ------------------------------------------------------------------ usync */

/* the account a <user> names: by jid attribute, else by its <contact> phone number */
static miaw_sim_account *usync_user(miaw_sim *sim, const miaw_node *u, int *by_lid, char *digits, size_t cap)
{
    miaw_jid j;
    miaw_sim_addr ad;
    digits[0] = 0;
    *by_lid = 0;
    if (miaw_node_attr_jid(u, "jid", &j) == 0) {
        int rc = miaw_sim_resolve(sim, &j, &ad);
        *by_lid = ad.lid;
        snprintf(digits, cap, "%s", j.user);
        return rc == MIAW_E_INVAL ? NULL : ad.account;
    }
    size_t len;
    const uint8_t *b = miaw_node_bytes(miaw_node_child(u, "contact"), &len);
    size_t o = 0;
    for (size_t i = 0; b && i < len && b[i] != '@'; i++) /* "+1 555-…" or "+1555…@c.us" */
        if (b[i] >= '0' && b[i] <= '9' && o + 1 < cap) digits[o++] = (char)b[i];
    digits[o] = 0;
    return miaw_sim_phone_valid(digits) ? miaw_sim_account_find(sim, digits) : NULL;
}

static void usync_devices(const miaw_sim_account *a, miaw_node *u)
{
    miaw_node *dl = miaw_node_add(miaw_node_add(u, "devices"), "device-list");
    if (!dl) return;
    if (!a) {
        miaw_node_set_empty_list(dl);
        return;
    }
    miaw_node_addv(dl, "device", "id", "0", NULL);
    for (size_t i = 0; i < a->ndevices; i++) {
        miaw_node *d = miaw_node_add(dl, "device");
        if (!d) return;
        miaw_node_set_attrf(d, "id", "%u", a->devices[i].id);
        miaw_node_set_attrf(d, "key-index", "%u", a->devices[i].key_index);
    }
}

static void usync_one(miaw_sim *sim, miaw_sim_account *viewer, const miaw_node *query, const miaw_node *u,
                      miaw_node *list)
{
    int by_lid;
    char digits[MIAW_JID_USER_MAX + 1], jid[MIAW_JID_USER_MAX + 40];
    miaw_sim_account *a = usync_user(sim, u, &by_lid, digits, sizeof digits);
    const miaw_node *cq = miaw_node_child(query, "contact");
    int lid_contact = cq && miaw_node_attr_is(cq, "addressing_mode", "lid");
    miaw_node *out = miaw_node_add(list, "user");
    if (!out) return;
    const miaw_attr *ja = miaw_node_attr_get(u, "jid");
    if (ja) {
        if (ja->jid) miaw_node_set_jid(out, "jid", ja->jid);
        else miaw_node_set_attrn(out, "jid", ja->str, ja->len);
    } else if (a && lid_contact) {
        miaw_sim_jid_attr(a, 0, 1, jid, sizeof jid);
        miaw_node_set_jid_str(out, "jid", jid + 4);
        miaw_sim_jid_attr(a, 0, 0, jid, sizeof jid);
        miaw_node_set_jid_str(out, "pn_jid", jid + 4);
    } else if (digits[0]) {
        snprintf(jid, sizeof jid, "%s@s.whatsapp.net", digits);
        if (miaw_node_set_jid_str(out, "jid", jid)) miaw_node_set_attr(out, "jid", jid);
    }
    for (uint32_t i = 0; i < miaw_node_count(query); i++) {
        const miaw_node *p = miaw_node_child_at(query, i);
        if (!strcmp(p->tag, "devices")) {
            usync_devices(a, out);
            /* the viewer may cache the list now: it hears of changes to it */
            if (a && viewer && viewer != a) miaw_sim_watch(a, viewer);
        } else if (!strcmp(p->tag, "lid")) {
            if (a && !by_lid) {
                miaw_sim_jid_attr(a, 0, 1, jid, sizeof jid);
                miaw_node_addv(out, "lid", "val", jid, NULL);
            }
        } else if (!strcmp(p->tag, "contact")) {
            miaw_node *ct = miaw_node_addv(out, "contact", "type", a ? "in" : "out", NULL);
            size_t len;
            const uint8_t *echo = miaw_node_bytes(miaw_node_child(u, "contact"), &len);
            if (ct && echo) miaw_node_set_bytes(ct, echo, len);
        } else if (!strcmp(p->tag, "status")) {
            miaw_node *st = miaw_node_add(out, "status");
            if (st && a && miaw_sim_profile_blocked(sim, a, viewer)) {
                miaw_node_set_attr(st, "code", "401"); /* hidden from whom the account blocked */
            } else if (st && a) {
                miaw_node_set_attrf(st, "t", "%" PRIu64, a->created_at);
                miaw_node_set_bytes(st, a->status, strlen(a->status));
            }
        } else if (!strcmp(p->tag, "picture")) {
            uint32_t pid;
            miaw_node *pic = miaw_node_add(out, "picture");
            if (pic && miaw_sim_profile_picture_id(sim, a, viewer, &pid)) miaw_node_set_attrf(pic, "id", "%u", pid);
        } else if (!strcmp(p->tag, "disappearing_mode")) {
            miaw_node_addv(out, "disappearing_mode", "duration", "0", "t", "0", NULL);
        } else {
            miaw_node_add(out, p->tag); /* picture, business, username, …: nothing to say */
        }
    }
}

void miaw_sim_dir_usync(miaw_sim_conn *c, const miaw_node *iq)
{
    const miaw_node *us = miaw_node_child(iq, "usync");
    const miaw_node *query = us ? miaw_node_child(us, "query") : NULL;
    const miaw_node *list = us ? miaw_node_child(us, "list") : NULL;
    if (!query || !list) {
        miaw_sim_iq_error(c, iq, 400, "bad-request");
        return;
    }
    miaw_node *r = miaw_sim_iq_result(iq);
    miaw_node *ro = r ? miaw_node_add(r, "usync") : NULL;
    if (!ro) {
        miaw_node_free(r);
        return;
    }
    static const char *echo[] = {"sid", "mode", "context"};
    for (size_t i = 0; i < 3; i++)
        if (miaw_node_attr(us, echo[i])) miaw_node_set_attr(ro, echo[i], miaw_node_attr(us, echo[i]));
    miaw_node_set_attr(ro, "index", "0");
    miaw_node_set_attr(ro, "last", "true");
    miaw_node *rl = miaw_node_add(ro, "list");
    uint32_t n = 0;
    for (miaw_node *u = miaw_node_child(list, "user"); u && rl && n < 10000; u = miaw_node_next(list, u, "user"), n++)
        usync_one(c->sim, c->account, query, u, rl);
    if (rl && !miaw_node_count(rl)) miaw_node_set_empty_list(rl);
    send_and_free(c, r);
}

/* ------------------------------------------------------------------ pre-keys */

static void be(uint32_t v, uint8_t *out, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8) out[i] = (uint8_t)v;
}

static void send_low_count(miaw_sim *sim, miaw_sim_account *a, miaw_sim_device *d)
{
    char id[32];
    miaw_sim_next_id(sim, id, sizeof id);
    miaw_node *n = miaw_node_newv("notification", "from", "JID:@s.whatsapp.net", "type", "encrypt", "id", id, NULL);
    miaw_node *cn = n ? miaw_node_add(n, "count") : NULL;
    if (cn) {
        miaw_node_set_attrf(n, "t", "%" PRIu64, miaw_sim_now());
        miaw_node_set_attrf(cn, "value", "%zu", d->nprekeys);
        miaw_sim_deliver(sim, a, d->id, n, "notification");
    }
    miaw_node_free(n);
}

int miaw_sim_dir_bundle(miaw_sim *sim, miaw_sim_account *a, miaw_sim_device *d, miaw_node *parent)
{
    uint8_t b[4];
    miaw_node *x;
    be(d->reg_id, b, 4);
    if (!(x = miaw_node_add(parent, "registration")) || miaw_node_set_bytes(x, b, 4)) return MIAW_E_NOMEM;
    if (!(x = miaw_node_add(parent, "type")) || miaw_node_set_bytes(x, "\x05", 1)) return MIAW_E_NOMEM;
    if (!(x = miaw_node_add(parent, "identity")) || miaw_node_set_bytes(x, d->identity_pub, 32)) return MIAW_E_NOMEM;
    miaw_node *sk = miaw_node_add(parent, "skey");
    if (!sk) return MIAW_E_NOMEM;
    be(d->skey_id, b, 3);
    miaw_node_set_bytes(miaw_node_add(sk, "id"), b, 3);
    miaw_node_set_bytes(miaw_node_add(sk, "value"), d->skey_pub, 32);
    miaw_node_set_bytes(miaw_node_add(sk, "signature"), d->skey_sig, 64);
    if (d->nprekeys) { /* the oldest unused one-time pre-key, handed out once */
        miaw_sim_prekey k = d->prekeys[0];
        memmove(d->prekeys, d->prekeys + 1, (d->nprekeys - 1) * sizeof *d->prekeys);
        d->nprekeys--;
        miaw_node *key = miaw_node_add(parent, "key");
        if (!key) return MIAW_E_NOMEM;
        be(k.id, b, 3);
        miaw_node_set_bytes(miaw_node_add(key, "id"), b, 3);
        miaw_node_set_bytes(miaw_node_add(key, "value"), k.pub, 32);
        if (d->id == 0) miaw_sim_phone_refill(sim, a);
        else if (d->nprekeys < LOW_PREKEYS) send_low_count(sim, a, d);
    }
    return 0;
}

int miaw_sim_dir_key_fetch(miaw_sim_conn *c, const miaw_node *iq)
{
    const miaw_node *key = miaw_node_child(iq, "key");
    if (!key) return 0;
    miaw_node *r = miaw_sim_iq_result(iq);
    miaw_node *list = r ? miaw_node_add(r, "list") : NULL;
    if (!list) {
        miaw_node_free(r);
        return 1;
    }
    unsigned served = 0, n = 0;
    for (miaw_node *u = miaw_node_child(key, "user"); u && n < 1000; u = miaw_node_next(key, u, "user"), n++) {
        miaw_jid j;
        miaw_sim_addr ad;
        if (miaw_node_attr_jid(u, "jid", &j) || miaw_sim_resolve(c->sim, &j, &ad)) continue; /* omitted */
        miaw_sim_device *d = miaw_sim_addr_device(&ad);
        if (ad.device == 0 && miaw_sim_phone_open(c->sim, ad.account)) continue;
        if (!d->skey_id && !d->reg_id) continue; /* no bundle uploaded yet */
        miaw_node *o = miaw_node_add(list, "user");
        if (!o || miaw_node_set_jid(o, "jid", &j) || miaw_sim_dir_bundle(c->sim, ad.account, d, o)) break;
        served++;
    }
    if (!miaw_node_count(list)) miaw_node_set_empty_list(list);
    send_and_free(c, r);
    miaw_sim_state_save(c->sim);
    MIAW_DEBUG("sim", "conn %llu: %u of %u bundles served", (unsigned long long)c->id, served, n);
    return 1;
}

/* ------------------------------------------------------------------ device lists */

/* "2:" + base64 without padding of SHA-256(sorted "user.0:dev@s.whatsapp.net")[0:6] */
static void device_hash(const miaw_sim_account *a, char *out, size_t cap)
{
    char items[MIAW_SIM_MAX_DEVICES + 1][96];
    size_t n = 0;
    snprintf(items[n++], sizeof items[0], "%s.0:0@s.whatsapp.net", a->phone);
    for (size_t i = 0; i < a->ndevices; i++)
        snprintf(items[n++], sizeof items[0], "%s.0:%u@s.whatsapp.net", a->phone, a->devices[i].id);
    qsort(items, n, sizeof items[0], (int (*)(const void *, const void *))strcmp);
    char all[sizeof items];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]);
        memcpy(all + len, items[i], l);
        len += l;
    }
    uint8_t md[32];
    SHA256((const uint8_t *)all, len, md);
    char b64[16];
    miaw_sim_b64_encode(md, 6, b64, sizeof b64);
    snprintf(out, cap, "2:%s", b64);
}

struct notify_ctx {
    miaw_sim *sim;
    const miaw_node *n;
};

static void notify_devices(miaw_sim_account *b, void *ud)
{
    struct notify_ctx *x = ud;
    for (size_t i = 0; i < b->ndevices; i++)
        if (b->devices[i].conn) miaw_sim_deliver(x->sim, b, b->devices[i].id, x->n, "notification");
}

/* to the account's own connected companions and to those of every account that fetched
 * its device list (as WhatsApp tells the users who may have cached it, not the network) */
static void notify_watchers(miaw_sim *sim, miaw_sim_account *a, const miaw_node *n)
{
    struct notify_ctx x = {sim, n};
    notify_devices(a, &x);
    miaw_sim_watchers_each(a, notify_devices, &x);
}

void miaw_sim_dir_devices_changed(miaw_sim *sim, miaw_sim_account *a, uint32_t changed_dev)
{
    char hash[32], id[32], jid[96], dj[96];
    device_hash(a, hash, sizeof hash);
    /* "update" to everyone who may have cached the list, in both namespaces */
    for (int lid = 0; lid < 2; lid++) {
        miaw_sim_next_id(sim, id, sizeof id);
        miaw_sim_jid_attr(a, 0, lid, jid, sizeof jid);
        miaw_sim_jid_attr(a, changed_dev, lid, dj, sizeof dj);
        miaw_node *n = miaw_node_newv("notification", "from", jid, "type", "devices", "id", id, NULL);
        miaw_node *up = n ? miaw_node_addv(n, "update", "device_hash", hash, NULL) : NULL;
        if (up && miaw_node_addv(up, "device", "jid", dj, NULL)) {
            miaw_node_set_attrf(n, "t", "%" PRIu64, miaw_sim_now());
            if (!lid) {
                miaw_sim_jid_attr(a, 0, 1, jid, sizeof jid);
                miaw_node_set_jid_str(n, "lid", jid + 4);
            }
            notify_watchers(sim, a, n);
        }
        miaw_node_free(n);
    }
    /* account_sync with the whole list to the account's own companions */
    miaw_sim_next_id(sim, id, sizeof id);
    miaw_sim_jid_attr(a, 0, 0, jid, sizeof jid);
    miaw_node *n = miaw_node_newv("notification", "from", jid, "type", "account_sync", "id", id, NULL);
    miaw_node *devs = n ? miaw_node_addv(n, "devices", "dhash", hash, NULL) : NULL;
    if (devs) {
        miaw_node_set_attrf(n, "t", "%" PRIu64, miaw_sim_now());
        miaw_sim_jid_attr(a, 0, 0, dj, sizeof dj);
        miaw_node_addv(devs, "device", "jid", dj, NULL);
        for (size_t i = 0; i < a->ndevices; i++) {
            miaw_sim_jid_attr(a, a->devices[i].id, 0, dj, sizeof dj);
            miaw_node *d = miaw_node_addv(devs, "device", "jid", dj, NULL);
            if (d) miaw_node_set_attrf(d, "key-index", "%u", a->devices[i].key_index);
        }
        for (size_t i = 0; i < a->ndevices; i++)
            if (a->devices[i].id != changed_dev) miaw_sim_deliver(sim, a, a->devices[i].id, n, "notification");
    }
    miaw_node_free(n);
}

int miaw_sim_dir_unlink(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const char *why)
{
    miaw_sim_device *d = dev ? miaw_sim_device_find(a, dev) : NULL;
    if (!d) return MIAW_E_NOTFOUND;
    miaw_sim_conn *c = d->conn;
    if (c) { /* WhatsApp ends the removed device's stream with 401 device_removed */
        c->account = NULL;
        d->conn = NULL;
        miaw_sim_stream_error(c, "401", "device_removed", why);
        miaw_sim_conn_flush(c);
    }
    miaw_sim_queue_clear(d);
    miaw_sim_device_remove(a, dev);
    miaw_sim_state_save(sim);
    miaw_sim_dir_devices_changed(sim, a, dev);
    MIAW_INFO("sim", "account %s: device %u unlinked (%s)", a->phone, dev, why);
    return 0;
}
