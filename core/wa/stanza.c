/* core/wa/stanza.c - usync, pre-key fetch, message stanza, acks and receipts (see
 * stanza.h). */
#include "wa/stanza.h"

#include <miaw/status.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int user_of(const miaw_jid *in, miaw_jid *out)
{
    return miaw_jid_init(out, in->user, in->server, 0, 0);
}

miaw_node *miaw_wa_usync_devices_iq(const miaw_jid *users, size_t n, const char *sid)
{
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "usync", "type", "get", "to", "JID:@s.whatsapp.net", NULL);
    miaw_node *u = iq ? miaw_node_addv(iq, "usync", "sid", sid ? sid : "1", "mode", "query", "context", "message",
                                        "last", "true", "index", "0", NULL)
                      : NULL;
    miaw_node *q = u ? miaw_node_add(u, "query") : NULL;
    miaw_node *list = q && miaw_node_addv(q, "devices", "version", "2", NULL) && miaw_node_add(q, "lid")
                          ? miaw_node_add(u, "list")
                          : NULL;
    if (!list) goto fail;
    for (size_t i = 0; i < n; i++) {
        miaw_jid j;
        miaw_node *user = miaw_node_add(list, "user");
        if (!user || user_of(&users[i], &j) != 0 || miaw_node_set_jid(user, "jid", &j) != 0) goto fail;
    }
    return iq;
fail:
    miaw_node_free(iq);
    return NULL;
}

int miaw_wa_usync_devices_parse(const miaw_node *reply, miaw_wa_usync_user *out, size_t max)
{
    if (!reply || !miaw_node_attr_is(reply, "type", "result")) return MIAW_E_INVAL;
    const miaw_node *list = miaw_node_path(reply, "usync", "list", NULL);
    if (!list) return MIAW_E_INVAL;
    size_t k = 0;
    for (const miaw_node *u = miaw_node_child(list, "user"); u && k < max; u = miaw_node_next(list, u, "user")) {
        miaw_wa_usync_user *r = &out[k];
        memset(r, 0, sizeof *r);
        miaw_jid j;
        if (miaw_node_attr_jid(u, "jid", &j) != 0 || !j.user[0] || user_of(&j, &r->user) != 0) continue;
        const miaw_node *dl = miaw_node_path(u, "devices", "device-list", NULL);
        for (const miaw_node *d = dl ? miaw_node_child(dl, "device") : NULL; d && r->ndevices < MIAW_WA_MAX_DEVICES;
             d = miaw_node_next(dl, d, "device")) {
            uint64_t id;
            if (miaw_node_attr_u64(d, "id", &id) != 0 || id > 255) continue;
            int dup = 0;
            for (size_t i = 0; i < r->ndevices; i++) dup |= r->devices[i] == id;
            if (!dup) r->devices[r->ndevices++] = (uint16_t)id;
        }
        const miaw_node *lid = miaw_node_child(u, "lid");
        miaw_jid lj;
        if (lid && miaw_node_attr_jid(lid, "val", &lj) == 0 && !strcmp(lj.server, MIAW_SERVER_LID) && lj.user[0]) {
            miaw_jid l0;
            if (miaw_jid_init(&l0, lj.user, lj.server, 0, 0) == 0) miaw_jid_format(&l0, r->lid, sizeof r->lid);
        }
        k++;
    }
    return (int)k;
}

miaw_node *miaw_wa_prekey_fetch_iq(const miaw_jid *devices, size_t n)
{
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "encrypt", "type", "get", "to", "JID:@s.whatsapp.net", NULL);
    miaw_node *key = iq ? miaw_node_add(iq, "key") : NULL;
    if (!key) goto fail;
    for (size_t i = 0; i < n; i++) {
        miaw_node *u = miaw_node_add(key, "user");
        if (!u || miaw_node_set_jid(u, "jid", &devices[i]) != 0 || miaw_node_set_attr(u, "reason", "identity") != 0)
            goto fail;
    }
    return iq;
fail:
    miaw_node_free(iq);
    return NULL;
}

miaw_node *miaw_wa_message_stanza(const char *id, const miaw_jid *chat, const char *type, const miaw_wa_enc *encs,
                                  size_t n, const uint8_t *adv, size_t adv_len)
{
    miaw_node *m = miaw_node_newv("message", "id", id, "type", type ? type : "text", NULL);
    if (!m || miaw_node_set_jid(m, "to", chat) != 0) goto fail;
    miaw_node *parts = miaw_node_add(m, "participants");
    if (!parts) goto fail;
    int pk = 0;
    for (size_t i = 0; i < n; i++) {
        miaw_node *to = miaw_node_add(parts, "to");
        miaw_node *enc = to ? miaw_node_addv(to, "enc", "v", "2", "type", encs[i].type, NULL) : NULL;
        if (!enc || miaw_node_set_jid(to, "jid", &encs[i].to) != 0 ||
            miaw_node_set_bytes(enc, encs[i].ct, encs[i].ct_len) != 0)
            goto fail;
        pk |= !strcmp(encs[i].type, "pkmsg");
    }
    if (pk && adv && adv_len) {
        miaw_node *di = miaw_node_add(m, "device-identity");
        if (!di || miaw_node_set_bytes(di, adv, adv_len) != 0) goto fail;
    }
    return m;
fail:
    miaw_node_free(m);
    return NULL;
}

/* copies id, from -> to, participant, recipient; NULL when id or from is missing */
static miaw_node *reply_base(const char *tag, const miaw_node *src)
{
    const char *id = miaw_node_attr(src, "id");
    const miaw_attr *from = miaw_node_attr_get(src, "from");
    if (!id || !from) return NULL;
    miaw_node *r = miaw_node_newv(tag, "id", id, NULL);
    if (!r) return NULL;
    int rc = from->jid ? miaw_node_set_jid(r, "to", from->jid) : miaw_node_set_attrn(r, "to", from->str, from->len);
    static const char *copy[] = {"participant", "recipient"};
    for (size_t i = 0; rc == 0 && i < 2; i++) {
        const miaw_attr *a = miaw_node_attr_get(src, copy[i]);
        if (a) rc = a->jid ? miaw_node_set_jid(r, copy[i], a->jid) : miaw_node_set_attrn(r, copy[i], a->str, a->len);
    }
    if (rc) {
        miaw_node_free(r);
        return NULL;
    }
    return r;
}

miaw_node *miaw_wa_ack_for(const miaw_node *stanza, const char *cls, const char *error)
{
    miaw_node *a = reply_base("ack", stanza);
    if (!a) return NULL;
    const char *type = miaw_node_attr(stanza, "type");
    int rc = miaw_node_set_attr(a, "class", cls);
    if (!rc && type && strcmp(cls, "message") != 0) rc = miaw_node_set_attr(a, "type", type);
    if (!rc && error) rc = miaw_node_set_attr(a, "error", error);
    if (rc) {
        miaw_node_free(a);
        return NULL;
    }
    return a;
}

miaw_node *miaw_wa_receipt_for(const miaw_node *msg, const char *type)
{
    miaw_node *r = reply_base("receipt", msg);
    if (r && type && miaw_node_set_attr(r, "type", type) != 0) {
        miaw_node_free(r);
        return NULL;
    }
    return r;
}

miaw_node *miaw_wa_retry_receipt(const miaw_node *msg, unsigned count, uint32_t reg_id, const miaw_node *keys)
{
    miaw_node *r = reply_base("receipt", msg);
    if (!r) return NULL;
    const char *t = miaw_node_attr(msg, "t");
    miaw_node *retry = miaw_node_addv(r, "retry", "id", miaw_node_attr(msg, "id"), "v", "1", NULL);
    miaw_node *reg = miaw_node_add(r, "registration");
    uint8_t be[4] = {(uint8_t)(reg_id >> 24), (uint8_t)(reg_id >> 16), (uint8_t)(reg_id >> 8), (uint8_t)reg_id};
    if (!retry || !reg || miaw_node_set_attr(r, "type", "retry") != 0 ||
        miaw_node_set_attrf(retry, "count", "%u", count) != 0 || miaw_node_set_attr(retry, "t", t ? t : "0") != 0 ||
        miaw_node_set_bytes(reg, be, 4) != 0 || (keys && !miaw_node_add_copy(r, keys))) {
        miaw_node_free(r);
        return NULL;
    }
    return r;
}
