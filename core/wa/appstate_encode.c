/* core/wa/appstate_encode.c - the encoding of outgoing app-state patches: index JSON and
 * SyncActionValue JSON -> SyncActionData, encrypted, value/index MAC'd, mixed into a copy
 * of the collection's LTHash, then the snapshot and patch MACs (see appstate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "miaw/status.h"
#include "wa/appstate.h"
#include "wa/proto_json.h"
#include "wa_syncd.pb-c.h"

typedef struct built {
    Miaw__Wa__SyncdMutation m;
    Miaw__Wa__SyncdRecord r;
    Miaw__Wa__SyncdIndex i;
    Miaw__Wa__SyncdValue v;
    Miaw__Wa__KeyId k;
    uint8_t index_mac[32];
    uint8_t *blob; /* iv || ciphertext || value MAC */
} built;

static int efail(miaw_as_ctx *c, size_t i, const char *msg)
{
    snprintf(c->err, sizeof c->err, "mutation %zu: %s", i, msg);
    return MIAW_E_INVAL;
}

/* the compact JSON text of an index: a non-empty array of strings */
static char *index_text(miaw_as_ctx *c, size_t i, const json_t *idx)
{
    if (!json_is_array(idx) || !json_array_size(idx)) {
        efail(c, i, "index must be a non-empty array of strings");
        return NULL;
    }
    for (size_t j = 0; j < json_array_size(idx); j++)
        if (!json_is_string(json_array_get(idx, j))) {
            efail(c, i, "index must be a non-empty array of strings");
            return NULL;
        }
    char *s = json_dumps(idx, JSON_COMPACT);
    if (s && strlen(s) > MIAW_AS_INDEX_MAX) {
        free(s);
        efail(c, i, "index too long");
        return NULL;
    }
    return s;
}

static int build_one(miaw_as_ctx *c, size_t i, const miaw_as_keys *k, const uint8_t *key_id, size_t key_id_len,
                     const miaw_as_out *o, const uint8_t *iv, miaw_as_state *st, built *b)
{
    char perr[160] = "";
    int rc;
    if (o->op != MIAW_AS_OP_SET && o->op != MIAW_AS_OP_REMOVE) return efail(c, i, "operation must be set or remove");
    if (!json_is_object(o->value)) return efail(c, i, "value must be a SyncActionValue object");
    char *idx = index_text(c, i, o->index);
    if (!idx) return c->err[0] ? MIAW_E_INVAL : MIAW_E_NOMEM;
    ProtobufCMessage *val = NULL;
    rc = miaw_pb_from_json(&miaw__wa__sync_action_value__descriptor, o->value, &val, perr, sizeof perr);
    if (rc != MIAW_OK) {
        free(idx);
        if (rc == MIAW_E_INVAL) {
            snprintf(c->err, sizeof c->err, "mutation %zu: value: %s", i, perr);
            return MIAW_E_INVAL;
        }
        return rc;
    }
    Miaw__Wa__SyncActionData sad = MIAW__WA__SYNC_ACTION_DATA__INIT;
    sad.has_index = 1;
    sad.index.data = (uint8_t *)idx;
    sad.index.len = strlen(idx);
    sad.value = (Miaw__Wa__SyncActionValue *)val;
    sad.has_padding = 1;
    sad.padding.data = NULL;
    sad.padding.len = 0;
    sad.has_version = 1;
    sad.version = o->action_version;
    size_t plen = protobuf_c_message_get_packed_size(&sad.base);
    uint8_t *pt = malloc(plen ? plen : 1);
    uint8_t *enc = NULL;
    size_t enc_len = 0;
    rc = MIAW_E_NOMEM;
    if (!pt) goto out;
    protobuf_c_message_pack(&sad.base, pt);
    if ((rc = miaw_as_value_encrypt(k, iv, pt, plen, &enc, &enc_len)) != MIAW_OK) goto out;
    b->blob = malloc(enc_len + 32);
    if (!b->blob) {
        rc = MIAW_E_NOMEM;
        goto out;
    }
    memcpy(b->blob, enc, enc_len);
    if ((rc = miaw_as_value_mac(k, o->op, key_id, key_id_len, enc, enc_len, b->blob + enc_len)) != MIAW_OK ||
        (rc = miaw_as_index_mac(k, sad.index.data, sad.index.len, b->index_mac)) != MIAW_OK ||
        (rc = miaw_as_state_mix(st, o->op, b->index_mac, b->blob + enc_len)) != MIAW_OK)
        goto out;
    miaw__wa__syncd_mutation__init(&b->m);
    miaw__wa__syncd_record__init(&b->r);
    miaw__wa__syncd_index__init(&b->i);
    miaw__wa__syncd_value__init(&b->v);
    miaw__wa__key_id__init(&b->k);
    b->m.has_operation = 1;
    b->m.operation = o->op == MIAW_AS_OP_REMOVE ? MIAW__WA__SYNCD_MUTATION__SYNCD_OPERATION__REMOVE
                                                : MIAW__WA__SYNCD_MUTATION__SYNCD_OPERATION__SET;
    b->m.record = &b->r;
    b->r.index = &b->i;
    b->r.value = &b->v;
    b->r.keyid = &b->k;
    b->i.has_blob = 1;
    b->i.blob.data = b->index_mac;
    b->i.blob.len = 32;
    b->v.has_blob = 1;
    b->v.blob.data = b->blob;
    b->v.blob.len = enc_len + 32;
    b->k.has_id = 1;
    b->k.id.data = (uint8_t *)key_id;
    b->k.id.len = key_id_len;
out:
    if (pt) {
        OPENSSL_cleanse(pt, plen);
        free(pt);
    }
    free(enc);
    free(idx);
    protobuf_c_message_free_unpacked(val, NULL);
    return rc;
}

int miaw_as_encode_patch(miaw_as_ctx *c, miaw_as_state *st, const uint8_t *key_id, size_t key_id_len,
                         const uint8_t key_data[32], const miaw_as_out *muts, size_t n, const uint8_t *ivs,
                         uint8_t **out, size_t *out_len)
{
    if (!c || !c->name || !st || !key_id || !key_id_len || key_id_len > MIAW_AS_KEY_ID_MAX || !key_data ||
        (!muts && n) || !out || !out_len)
        return MIAW_E_INVAL;
    c->err[0] = 0;
    if (!n || n > MIAW_AS_MAX_MUTATIONS) return efail(c, 0, "a patch holds 1 to 50000 mutations");
    miaw_as_keys k;
    miaw_as_state ns;
    miaw_as_state_init(&ns);
    built *b = calloc(n, sizeof *b);
    Miaw__Wa__SyncdMutation **mp = calloc(n, sizeof *mp);
    const uint8_t **macs = (const uint8_t **)calloc(n, sizeof *macs);
    uint8_t smac[32], pmac[32];
    int rc = MIAW_E_NOMEM;
    if (!b || !mp || !macs) goto done;
    if ((rc = miaw_as_keys_expand(key_data, 32, &k)) != MIAW_OK) goto done;
    if ((rc = miaw_as_state_copy(&ns, st)) != MIAW_OK) goto done;
    for (size_t i = 0; i < n; i++) {
        if ((rc = build_one(c, i, &k, key_id, key_id_len, &muts[i], ivs ? ivs + 16 * i : NULL, &ns, &b[i])) !=
            MIAW_OK)
            goto done;
        mp[i] = &b[i].m;
        macs[i] = b[i].blob + b[i].v.blob.len - 32;
    }
    ns.version = st->version + 1;
    if ((rc = miaw_as_snapshot_mac(&k, ns.hash, ns.version, c->name, smac)) != MIAW_OK ||
        (rc = miaw_as_patch_mac(&k, smac, macs, n, ns.version, c->name, pmac)) != MIAW_OK)
        goto done;
    Miaw__Wa__SyncdPatch p = MIAW__WA__SYNCD_PATCH__INIT;
    Miaw__Wa__SyncdVersion v = MIAW__WA__SYNCD_VERSION__INIT;
    Miaw__Wa__KeyId kid = MIAW__WA__KEY_ID__INIT;
    v.has_version = 1;
    v.version = ns.version;
    kid.has_id = 1;
    kid.id.data = (uint8_t *)key_id;
    kid.id.len = key_id_len;
    p.version = &v;
    p.n_mutations = n;
    p.mutations = mp;
    p.has_snapshotmac = p.has_patchmac = 1;
    p.snapshotmac.data = smac;
    p.snapshotmac.len = 32;
    p.patchmac.data = pmac;
    p.patchmac.len = 32;
    p.keyid = &kid;
    size_t len = protobuf_c_message_get_packed_size(&p.base);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) {
        rc = MIAW_E_NOMEM;
        goto done;
    }
    protobuf_c_message_pack(&p.base, buf);
    *out = buf;
    *out_len = len;
    miaw_as_state_free(st);
    *st = ns;
    miaw_as_state_init(&ns);
    rc = MIAW_OK;
done:
    miaw_as_keys_wipe(&k);
    miaw_as_state_free(&ns);
    if (b)
        for (size_t i = 0; i < n; i++) free(b[i].blob);
    free(b);
    free(mp);
    free(macs);
    return rc;
}
