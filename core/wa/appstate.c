/* core/wa/appstate.c - decoding and verification of app-state patches and snapshots,
 * and the encoding of outgoing patches (see appstate.h for the contract and
 * appstate_crypto.h for the constructions). */
#include "wa/appstate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "miaw/status.h"
#include "wa/proto_json.h"
#include "wa_syncd.pb-c.h"

typedef Miaw__Wa__SyncdMutation Mut;
typedef Miaw__Wa__SyncdRecord Rec;

static int fail(miaw_as_ctx *c, int rc, const char *msg)
{
    snprintf(c->err, sizeof c->err, "%s: %s", c->name ? c->name : "?", msg);
    return rc;
}

/* one cached expanded key */
typedef struct keycache {
    uint8_t id[MIAW_AS_KEY_ID_MAX];
    size_t id_len;
    int have;
    miaw_as_keys k;
} keycache;

static int get_keys(miaw_as_ctx *c, keycache *kc, const Miaw__Wa__KeyId *kid, const miaw_as_keys **out)
{
    if (!kid || !kid->has_id || !kid->id.len || kid->id.len > MIAW_AS_KEY_ID_MAX)
        return fail(c, MIAW_E_INVAL, "missing or bad key id");
    if (kc->have && kc->id_len == kid->id.len && !memcmp(kc->id, kid->id.data, kc->id_len)) {
        *out = &kc->k;
        return MIAW_OK;
    }
    uint8_t kd[32];
    int rc = c->key_fn ? c->key_fn(c->key_ud, kid->id.data, kid->id.len, kd) : MIAW_E_NOTFOUND;
    if (rc != MIAW_OK) {
        memcpy(c->missing_key, kid->id.data, kid->id.len);
        c->missing_key_len = kid->id.len;
        return fail(c, MIAW_E_NOTFOUND, "app-state sync key missing");
    }
    rc = miaw_as_keys_expand(kd, 32, &kc->k);
    OPENSSL_cleanse(kd, sizeof kd);
    if (rc != MIAW_OK) return fail(c, rc, "key expansion failed");
    memcpy(kc->id, kid->id.data, kid->id.len);
    kc->id_len = kid->id.len;
    kc->have = 1;
    *out = &kc->k;
    return MIAW_OK;
}

typedef struct decoded {
    miaw_as_mutation *v;
    char **idx;
    size_t n;
} decoded;

static void decoded_free(decoded *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->idx[i]);
        json_decref(d->v[i].index_json);
        json_decref(d->v[i].value);
    }
    free(d->v);
    free(d->idx);
    memset(d, 0, sizeof *d);
}

static const uint8_t *value_mac_of(const Rec *r)
{
    if (!r || !r->value || !r->value->has_blob || r->value->blob.len < 32 + 32) return NULL;
    return r->value->blob.data + r->value->blob.len - 32;
}

/* verify, decrypt and mix one record into st; append it to d */
static int one(miaw_as_ctx *c, keycache *kc, miaw_as_state *st, int op, const Rec *r, decoded *d)
{
    const miaw_as_keys *k;
    int rc;
    if (!r || !r->index || !r->index->has_blob || r->index->blob.len != 32) return fail(c, MIAW_E_INVAL, "bad index MAC");
    const uint8_t *vmac = value_mac_of(r);
    if (!vmac) return fail(c, MIAW_E_INVAL, "bad value blob");
    if ((rc = get_keys(c, kc, r->keyid, &k)) != MIAW_OK) return rc;
    const uint8_t *enc = r->value->blob.data;
    size_t enc_len = r->value->blob.len - 32;
    uint8_t mac[32];
    if ((rc = miaw_as_value_mac(k, op, r->keyid->id.data, r->keyid->id.len, enc, enc_len, mac)) != MIAW_OK)
        return fail(c, rc, "value MAC");
    if (CRYPTO_memcmp(mac, vmac, 32)) return fail(c, MIAW_E_AUTH, "value MAC mismatch");
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    if ((rc = miaw_as_value_decrypt(k, enc, enc_len, &pt, &pt_len)) != MIAW_OK)
        return fail(c, rc == MIAW_E_NOMEM ? rc : MIAW_E_AUTH, "value does not decrypt");
    Miaw__Wa__SyncActionData *sad =
        (Miaw__Wa__SyncActionData *)miaw_pb_unpack(&miaw__wa__sync_action_data__descriptor, pt, pt_len);
    OPENSSL_cleanse(pt, pt_len);
    free(pt);
    if (!sad) return fail(c, MIAW_E_INVAL, "value is not a SyncActionData");
    rc = MIAW_E_INVAL;
    if (!sad->has_index || !sad->index.len || sad->index.len > MIAW_AS_INDEX_MAX ||
        memchr(sad->index.data, 0, sad->index.len)) {
        fail(c, MIAW_E_INVAL, "bad index");
        goto out;
    }
    if ((rc = miaw_as_index_mac(k, sad->index.data, sad->index.len, mac)) != MIAW_OK) goto out;
    if (CRYPTO_memcmp(mac, r->index->blob.data, 32)) {
        rc = fail(c, MIAW_E_AUTH, "index MAC mismatch");
        goto out;
    }
    miaw_as_mutation *nv = realloc(d->v, (d->n + 1) * sizeof *nv);
    if (nv) d->v = nv;
    char **ni = nv ? realloc(d->idx, (d->n + 1) * sizeof *ni) : NULL;
    if (ni) d->idx = ni;
    char *txt = ni ? malloc(sad->index.len + 1) : NULL;
    json_t *val = txt ? (sad->value ? miaw_pb_to_json(&sad->value->base) : json_object()) : NULL;
    if (!val) {
        free(txt);
        rc = MIAW_E_NOMEM;
        goto out;
    }
    memcpy(txt, sad->index.data, sad->index.len);
    txt[sad->index.len] = 0;
    miaw_as_mutation *m = &d->v[d->n];
    memset(m, 0, sizeof *m);
    d->idx[d->n++] = txt;
    m->op = op;
    m->index = txt;
    m->index_json = json_loads(txt, JSON_DECODE_ANY, NULL);
    if (m->index_json && !json_is_array(m->index_json)) {
        json_decref(m->index_json);
        m->index_json = NULL;
    }
    m->value = val;
    m->timestamp = sad->value && sad->value->has_timestamp ? sad->value->timestamp : 0;
    m->action_version = sad->has_version ? sad->version : 0;
    memcpy(m->index_mac, r->index->blob.data, 32);
    memcpy(m->value_mac, vmac, 32);
    rc = miaw_as_state_mix(st, op, m->index_mac, m->value_mac);
out:
    protobuf_c_message_free_unpacked(&sad->base, NULL);
    return rc;
}

static void deliver(miaw_as_ctx *c, decoded *d)
{
    if (c->mut_fn)
        for (size_t i = 0; i < d->n; i++) c->mut_fn(c->mut_ud, c->name, &d->v[i]);
}

static int op_of(const Mut *m)
{
    if (!m->has_operation) return MIAW_AS_OP_SET;
    return m->operation == MIAW__WA__SYNCD_MUTATION__SYNCD_OPERATION__REMOVE ? MIAW_AS_OP_REMOVE
           : m->operation == MIAW__WA__SYNCD_MUTATION__SYNCD_OPERATION__SET  ? MIAW_AS_OP_SET
                                                                             : -1;
}

int miaw_as_patch_peek(const uint8_t *buf, size_t len, uint64_t *version, json_t **ext)
{
    Miaw__Wa__SyncdPatch *p = (Miaw__Wa__SyncdPatch *)miaw_pb_unpack(&miaw__wa__syncd_patch__descriptor, buf, len);
    if (!p) return MIAW_E_INVAL;
    if (version) *version = p->version && p->version->has_version ? p->version->version : 0;
    if (ext) *ext = p->externalmutations ? miaw_pb_to_json(&p->externalmutations->base) : NULL;
    protobuf_c_message_free_unpacked(&p->base, NULL);
    return MIAW_OK;
}

static int check_snapshot_mac(miaw_as_ctx *c, keycache *kc, const miaw_as_state *st, const Miaw__Wa__KeyId *kid,
                              const ProtobufCBinaryData *want)
{
    const miaw_as_keys *k;
    uint8_t mac[32];
    int rc = get_keys(c, kc, kid, &k);
    if (rc != MIAW_OK) return rc;
    if ((rc = miaw_as_snapshot_mac(k, st->hash, st->version, c->name, mac)) != MIAW_OK) return rc;
    if (want->len != 32 || CRYPTO_memcmp(mac, want->data, 32)) return fail(c, MIAW_E_AUTH, "LTHash (snapshot MAC) mismatch");
    return MIAW_OK;
}

int miaw_as_decode_patch(miaw_as_ctx *c, miaw_as_state *st, const uint8_t *buf, size_t len,
                         uint64_t default_version, const uint8_t *ext, size_t ext_len)
{
    if (!c || !c->name || !st || (!buf && len)) return MIAW_E_INVAL;
    c->err[0] = 0;
    c->missing_key_len = 0;
    Miaw__Wa__SyncdPatch *p = (Miaw__Wa__SyncdPatch *)miaw_pb_unpack(&miaw__wa__syncd_patch__descriptor, buf, len);
    Miaw__Wa__SyncdMutations *em = NULL;
    miaw_as_state ns;
    decoded d = {0};
    keycache kc = {0};
    const Mut **all = NULL;
    int rc;
    miaw_as_state_init(&ns);
    if (!p) return fail(c, MIAW_E_INVAL, "not a SyncdPatch");
    uint64_t ver = p->version && p->version->has_version ? p->version->version : default_version;
    if (ver <= st->version) {
        rc = fail(c, MIAW_E_EXIST, "patch not newer than the state");
        goto done;
    }
    if (!p->has_snapshotmac || p->snapshotmac.len != 32 || !p->has_patchmac || p->patchmac.len != 32) {
        rc = fail(c, MIAW_E_INVAL, "patch without MACs");
        goto done;
    }
    if (p->externalmutations) {
        if (!ext) {
            rc = fail(c, MIAW_E_INVAL, "external mutations not supplied");
            goto done;
        }
        em = (Miaw__Wa__SyncdMutations *)miaw_pb_unpack(&miaw__wa__syncd_mutations__descriptor, ext, ext_len);
        if (!em) {
            rc = fail(c, MIAW_E_INVAL, "external mutations malformed");
            goto done;
        }
    }
    size_t n = p->n_mutations + (em ? em->n_mutations : 0);
    if (n > MIAW_AS_MAX_MUTATIONS) {
        rc = fail(c, MIAW_E_INVAL, "too many mutations");
        goto done;
    }
    all = calloc(n ? n : 1, sizeof *all);
    const uint8_t **macs = (const uint8_t **)calloc(n ? n : 1, sizeof *macs);
    if (!all || !macs) {
        free(macs);
        rc = MIAW_E_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        all[i] = i < p->n_mutations ? p->mutations[i] : em->mutations[i - p->n_mutations];
        macs[i] = value_mac_of(all[i]->record);
        if (!macs[i] || op_of(all[i]) < 0) {
            free(macs);
            rc = fail(c, MIAW_E_INVAL, "bad mutation");
            goto done;
        }
    }
    const miaw_as_keys *k;
    uint8_t pmac[32];
    if ((rc = get_keys(c, &kc, p->keyid, &k)) != MIAW_OK ||
        (rc = miaw_as_patch_mac(k, p->snapshotmac.data, macs, n, ver, c->name, pmac)) != MIAW_OK) {
        free(macs);
        goto done;
    }
    free(macs);
    if (CRYPTO_memcmp(pmac, p->patchmac.data, 32)) {
        rc = fail(c, MIAW_E_AUTH, "patch MAC mismatch");
        goto done;
    }
    if ((rc = miaw_as_state_copy(&ns, st)) != MIAW_OK) goto done;
    for (size_t i = 0; i < n; i++)
        if ((rc = one(c, &kc, &ns, op_of(all[i]), all[i]->record, &d)) != MIAW_OK) goto done;
    ns.version = ver;
    if ((rc = check_snapshot_mac(c, &kc, &ns, p->keyid, &p->snapshotmac)) != MIAW_OK) goto done;
    miaw_as_state_free(st);
    *st = ns;
    miaw_as_state_init(&ns);
    deliver(c, &d);
done:
    miaw_as_state_free(&ns);
    decoded_free(&d);
    miaw_as_keys_wipe(&kc.k);
    free(all);
    if (em) protobuf_c_message_free_unpacked(&em->base, NULL);
    if (p) protobuf_c_message_free_unpacked(&p->base, NULL);
    return rc;
}

int miaw_as_decode_snapshot(miaw_as_ctx *c, miaw_as_state *st, const uint8_t *buf, size_t len)
{
    if (!c || !c->name || !st || (!buf && len)) return MIAW_E_INVAL;
    c->err[0] = 0;
    c->missing_key_len = 0;
    Miaw__Wa__SyncdSnapshot *s =
        (Miaw__Wa__SyncdSnapshot *)miaw_pb_unpack(&miaw__wa__syncd_snapshot__descriptor, buf, len);
    miaw_as_state ns;
    decoded d = {0};
    keycache kc = {0};
    int rc;
    miaw_as_state_init(&ns);
    if (!s) return fail(c, MIAW_E_INVAL, "not a SyncdSnapshot");
    if (!s->version || !s->version->has_version || !s->has_mac || s->mac.len != 32) {
        rc = fail(c, MIAW_E_INVAL, "snapshot without version or MAC");
        goto done;
    }
    if (s->n_records > MIAW_AS_MAX_MUTATIONS) {
        rc = fail(c, MIAW_E_INVAL, "too many records");
        goto done;
    }
    for (size_t i = 0; i < s->n_records; i++)
        if ((rc = one(c, &kc, &ns, MIAW_AS_OP_SET, s->records[i], &d)) != MIAW_OK) goto done;
    ns.version = s->version->version;
    if ((rc = check_snapshot_mac(c, &kc, &ns, s->keyid, &s->mac)) != MIAW_OK) goto done;
    miaw_as_state_free(st);
    *st = ns;
    miaw_as_state_init(&ns);
    deliver(c, &d);
done:
    miaw_as_state_free(&ns);
    decoded_free(&d);
    miaw_as_keys_wipe(&kc.k);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return rc;
}
