/* core/wa/signal_keys.c - registration keys (identity, registration id, signed and
 * one-time pre-keys with their counters) kept in the account's store, raw key pairs in
 * and out of libsignal's pre-key records, and pre-key bundles to and from WhatsApp's
 * node form. */
#include "wa/signal_keys.h"

#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <signal/curve.h>
#include <signal/key_helper.h>
#include <signal/session_pre_key.h>

#include "miaw/status.h"

static uint32_t next_id(uint32_t id)
{
    return id >= MIAW_SIG_PREKEY_ID_MAX || id == 0 ? 1 : id + 1;
}

static void be(uint8_t *out, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8) out[i] = (uint8_t)v;
}

static int savepoint(miaw_sig_store *s, const char *sql)
{
    return sqlite3_exec(miaw_sig_db_handle(miaw_sig_store_db(s)), sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : MIAW_E_IO;
}

/* ------------------------------------------------------------------ raw keys in and out of the store (declared in signal_store.h) */
static int raw_key_pair(miaw_sig_store *s, const miaw_keypair *kp, ec_key_pair **out)
{
    uint8_t pub[33] = {0x05};
    memcpy(pub + 1, kp->pub, 32);
    ec_public_key *pk = NULL;
    ec_private_key *sk = NULL;
    int rc = MIAW_SIG_E_BAD_KEY;
    if (curve_decode_point(&pk, pub, sizeof pub, miaw_sig_store_ctx(s)) == 0 &&
        curve_decode_private_point(&sk, kp->priv, 32, miaw_sig_store_ctx(s)) == 0)
        rc = ec_key_pair_create(out, pk, sk) == 0 ? 0 : MIAW_E_NOMEM;
    SIGNAL_UNREF(pk);
    SIGNAL_UNREF(sk);
    return rc;
}

int miaw_sig_store_put_prekey(miaw_sig_store *s, uint32_t id, const miaw_keypair *kp)
{
    ec_key_pair *pair = NULL;
    session_pre_key *rec = NULL;
    int rc = raw_key_pair(s, kp, &pair);
    if (rc == 0) rc = session_pre_key_create(&rec, id, pair) == 0 ? 0 : MIAW_E_NOMEM;
    if (rc == 0) rc = signal_protocol_pre_key_store_key(miaw_sig_store_protocol(s), rec) == 0 ? 0 : MIAW_E_IO;
    SIGNAL_UNREF(rec);
    SIGNAL_UNREF(pair);
    return rc;
}

int miaw_sig_store_put_signed_prekey(miaw_sig_store *s, uint32_t id, const miaw_keypair *kp,
                                     const uint8_t sig[64], uint64_t timestamp_ms)
{
    ec_key_pair *pair = NULL;
    session_signed_pre_key *rec = NULL;
    int rc = raw_key_pair(s, kp, &pair);
    if (rc == 0)
        rc = session_signed_pre_key_create(&rec, id, timestamp_ms, pair, sig, 64) == 0 ? 0 : MIAW_E_NOMEM;
    if (rc == 0) rc = signal_protocol_signed_pre_key_store_key(miaw_sig_store_protocol(s), rec) == 0 ? 0 : MIAW_E_IO;
    SIGNAL_UNREF(rec);
    SIGNAL_UNREF(pair);
    return rc;
}

int miaw_sig_store_get_prekey(miaw_sig_store *s, uint32_t id, miaw_keypair *kp)
{
    session_pre_key *rec = NULL;
    int rc = signal_protocol_pre_key_load_key(miaw_sig_store_protocol(s), &rec, id);
    if (rc == SG_ERR_INVALID_KEY_ID) return MIAW_E_NOTFOUND;
    if (rc != 0) return MIAW_E_IO;
    ec_key_pair *pair = session_pre_key_get_key_pair(rec);
    signal_buffer *pb = NULL, *sb = NULL;
    rc = MIAW_E_INTERNAL;
    if (ec_public_key_serialize(&pb, ec_key_pair_get_public(pair)) == 0 &&
        ec_private_key_serialize(&sb, ec_key_pair_get_private(pair)) == 0 &&
        signal_buffer_len(pb) == 33 && signal_buffer_len(sb) == 32) {
        memcpy(kp->pub, signal_buffer_data(pb) + 1, 32);
        memcpy(kp->priv, signal_buffer_data(sb), 32);
        rc = 0;
    }
    signal_buffer_free(pb);
    signal_buffer_bzero_free(sb);
    SIGNAL_UNREF(rec);
    return rc;
}

int miaw_sig_generate_identity(miaw_sig_store *s, int replace)
{
    if (!replace) {
        int rc = miaw_sig_store_get_identity(s, NULL, NULL);
        if (rc != MIAW_SIG_E_NO_IDENTITY) return rc;
    }
    miaw_keypair kp;
    uint32_t reg = 0;
    int rc = miaw_keypair_generate(&kp);
    if (rc == 0 && signal_protocol_key_helper_generate_registration_id(&reg, 0, miaw_sig_store_ctx(s)) != 0)
        rc = MIAW_E_INTERNAL;
    if (rc == 0) rc = miaw_sig_store_set_identity(s, &kp, reg);
    OPENSSL_cleanse(&kp, sizeof kp);
    return rc;
}

int miaw_sig_generate_signed_prekey(miaw_sig_store *s, uint32_t id, uint32_t *id_out)
{
    miaw_keypair ident, kp;
    uint32_t next = 0, cur = 0;
    int rc = miaw_sig_store_get_identity(s, &ident, NULL);
    if (rc == 0) rc = miaw_sig_store_counters(s, &next, &cur);
    if (rc) return rc;
    if (!id) id = next_id(cur);
    if (id > MIAW_SIG_PREKEY_ID_MAX) return MIAW_E_INVAL;
    uint8_t msg[33] = {0x05}, sig[64];
    rc = miaw_keypair_generate(&kp);
    if (rc == 0) {
        memcpy(msg + 1, kp.pub, 32);
        rc = miaw_xeddsa_sign(ident.priv, msg, sizeof msg, sig);
    }
    if (rc == 0) rc = miaw_sig_store_put_signed_prekey(s, id, &kp, sig, (uint64_t)time(NULL) * 1000u);
    if (rc == 0) rc = miaw_sig_store_set_counters(s, next, id);
    OPENSSL_cleanse(&kp, sizeof kp);
    OPENSSL_cleanse(&ident, sizeof ident);
    if (rc == 0 && id_out) *id_out = id;
    return rc;
}

int miaw_sig_generate_prekeys(miaw_sig_store *s, uint32_t n, uint32_t *first_id)
{
    uint32_t next = 0, spk = 0;
    int rc = miaw_sig_store_counters(s, &next, &spk);
    if (rc) return rc;
    if (n == 0 || n > MIAW_SIG_PREKEY_ID_MAX) return MIAW_E_INVAL;
    if (next == 0 || next > MIAW_SIG_PREKEY_ID_MAX) next = 1;
    if (savepoint(s, "SAVEPOINT sig_prekeys")) return MIAW_E_IO;
    uint32_t id = next;
    for (uint32_t i = 0; i < n && rc == 0; i++, id = next_id(id)) {
        miaw_keypair kp;
        rc = miaw_keypair_generate(&kp);
        if (rc == 0) rc = miaw_sig_store_put_prekey(s, id, &kp);
        OPENSSL_cleanse(&kp, sizeof kp);
    }
    if (rc == 0) rc = miaw_sig_store_set_counters(s, id, spk);
    if (rc) {
        savepoint(s, "ROLLBACK TO sig_prekeys");
        savepoint(s, "RELEASE sig_prekeys");
        return rc;
    }
    if (savepoint(s, "RELEASE sig_prekeys")) return MIAW_E_IO;
    if (first_id) *first_id = next;
    return 0;
}

int miaw_sig_signed_prekey_get(miaw_sig_store *s, uint32_t id, uint32_t *id_out, uint8_t pub[32],
                               uint8_t sig[64])
{
    if (!id) {
        int rc = miaw_sig_store_counters(s, NULL, &id);
        if (rc) return rc;
        if (!id) return MIAW_E_NOTFOUND;
    }
    session_signed_pre_key *rec = NULL;
    int rc = signal_protocol_signed_pre_key_load_key(miaw_sig_store_protocol(s), &rec, id);
    if (rc == SG_ERR_INVALID_KEY_ID) return MIAW_E_NOTFOUND;
    if (rc) return MIAW_E_IO;
    signal_buffer *pb = NULL;
    rc = MIAW_E_INTERNAL;
    if (session_signed_pre_key_get_signature_len(rec) == 64 &&
        ec_public_key_serialize(&pb, ec_key_pair_get_public(session_signed_pre_key_get_key_pair(rec))) == 0 &&
        signal_buffer_len(pb) == 33) {
        memcpy(pub, signal_buffer_data(pb) + 1, 32);
        memcpy(sig, session_signed_pre_key_get_signature(rec), 64);
        if (id_out) *id_out = id;
        rc = 0;
    }
    signal_buffer_free(pb);
    SIGNAL_UNREF(rec);
    return rc;
}

int miaw_sig_own_bundle(miaw_sig_store *s, uint32_t prekey_id, miaw_sig_bundle *out)
{
    miaw_keypair ident;
    memset(out, 0, sizeof *out);
    int rc = miaw_sig_store_get_identity(s, &ident, &out->reg_id);
    if (rc) return rc;
    memcpy(out->identity, ident.pub, 32);
    OPENSSL_cleanse(&ident, sizeof ident);
    rc = miaw_sig_signed_prekey_get(s, 0, &out->spk_id, out->spk_pub, out->spk_sig);
    if (rc || !prekey_id) return rc;
    miaw_keypair pk;
    rc = miaw_sig_store_get_prekey(s, prekey_id, &pk);
    if (rc) return rc;
    out->has_prekey = 1;
    out->prekey_id = prekey_id;
    memcpy(out->prekey_pub, pk.pub, 32);
    OPENSSL_cleanse(&pk, sizeof pk);
    return 0;
}

/* ------------------------------------------------------------------ nodes */
static int add_bytes(miaw_node *parent, const char *tag, const void *p, size_t n, miaw_node **out)
{
    miaw_node *c = miaw_node_add(parent, tag);
    if (!c) return MIAW_E_NOMEM;
    if (p && miaw_node_set_bytes(c, p, n)) return MIAW_E_NOMEM;
    if (out) *out = c;
    return 0;
}

static int add_key(miaw_node *parent, const char *tag, uint32_t id, const uint8_t pub[32],
                   const uint8_t *sig)
{
    miaw_node *k = NULL;
    uint8_t idb[3];
    be(idb, id, 3);
    int rc = add_bytes(parent, tag, NULL, 0, &k);
    if (rc == 0) rc = add_bytes(k, "id", idb, 3, NULL);
    if (rc == 0) rc = add_bytes(k, "value", pub, 32, NULL);
    if (rc == 0 && sig) rc = add_bytes(k, "signature", sig, 64, NULL);
    return rc;
}

static int add_head(miaw_node *parent, uint32_t reg_id, const uint8_t identity[32], int with_reg)
{
    uint8_t reg[4], type = 0x05;
    be(reg, reg_id, 4);
    int rc = with_reg ? add_bytes(parent, "registration", reg, 4, NULL) : 0;
    if (rc == 0) rc = add_bytes(parent, "type", &type, 1, NULL);
    if (rc == 0) rc = add_bytes(parent, "identity", identity, 32, NULL);
    return rc;
}

int miaw_sig_bundle_to_node(const miaw_sig_bundle *b, int with_registration, miaw_node *parent)
{
    int rc = add_head(parent, b->reg_id, b->identity, with_registration);
    if (rc == 0) rc = add_key(parent, "skey", b->spk_id, b->spk_pub, b->spk_sig);
    if (rc == 0 && b->has_prekey) rc = add_key(parent, "key", b->prekey_id, b->prekey_pub, NULL);
    return rc;
}

/* content of child tag of n with exactly len bytes, or NULL */
static const uint8_t *child_bytes(const miaw_node *n, const char *tag, size_t len)
{
    miaw_node *c = n ? miaw_node_child(n, tag) : NULL;
    size_t got = 0;
    const uint8_t *p = c ? miaw_node_bytes(c, &got) : NULL;
    return p && got == len ? p : NULL;
}

static uint32_t rd_be(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

int miaw_sig_bundle_from_node(const miaw_node *keys, const miaw_node *reg_holder, miaw_sig_bundle *out)
{
    memset(out, 0, sizeof *out);
    if (!keys) return MIAW_E_INVAL;
    const uint8_t *reg = child_bytes(reg_holder ? reg_holder : keys, "registration", 4);
    const uint8_t *type = child_bytes(keys, "type", 1);
    const uint8_t *ident = child_bytes(keys, "identity", 32);
    miaw_node *skey = miaw_node_child(keys, "skey");
    const uint8_t *sid = child_bytes(skey, "id", 3), *spub = child_bytes(skey, "value", 32),
                  *ssig = child_bytes(skey, "signature", 64);
    if (!reg || !type || type[0] != 0x05 || !ident || !sid || !spub || !ssig) return MIAW_E_INVAL;
    out->reg_id = rd_be(reg, 4);
    memcpy(out->identity, ident, 32);
    out->spk_id = rd_be(sid, 3);
    memcpy(out->spk_pub, spub, 32);
    memcpy(out->spk_sig, ssig, 64);
    miaw_node *key = miaw_node_child(keys, "key");
    if (key) {
        const uint8_t *kid = child_bytes(key, "id", 3), *kpub = child_bytes(key, "value", 32);
        if (!kid || !kpub) return MIAW_E_INVAL;
        out->has_prekey = 1;
        out->prekey_id = rd_be(kid, 3);
        memcpy(out->prekey_pub, kpub, 32);
    }
    return 0;
}

int miaw_sig_upload_to_node(miaw_sig_store *s, uint32_t first, uint32_t n, miaw_node *parent)
{
    miaw_sig_bundle b;
    int rc = miaw_sig_own_bundle(s, 0, &b);
    if (rc == 0) rc = add_head(parent, b.reg_id, b.identity, 1);
    miaw_node *list = NULL;
    if (rc == 0) rc = add_bytes(parent, "list", NULL, 0, &list);
    if (rc == 0) miaw_node_set_empty_list(list);
    uint32_t id = first;
    for (uint32_t i = 0; i < n && rc == 0; i++, id = next_id(id)) {
        miaw_keypair kp;
        rc = miaw_sig_store_get_prekey(s, id, &kp);
        if (rc == 0) rc = add_key(list, "key", id, kp.pub, NULL);
        OPENSSL_cleanse(&kp, sizeof kp);
    }
    if (rc == 0) rc = add_key(parent, "skey", b.spk_id, b.spk_pub, b.spk_sig);
    return rc;
}
