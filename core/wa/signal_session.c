/* core/wa/signal_session.c - 1:1 sessions over libsignal-protocol-c: addresses from
 * JIDs, session building from bundles, pkmsg/msg encryption and decryption (each
 * decryption inside a savepoint, so a failure leaves the stores untouched), and the
 * mapping of libsignal errors to miaw codes. */
#include "wa/signal_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal/curve.h>
#include <signal/protocol.h>
#include <signal/session_builder.h>
#include <signal/session_cipher.h>
#include <signal/session_pre_key.h>

#include "miaw/status.h"

const char *miaw_sig_type_name(int type)
{
    switch (type) {
    case MIAW_SIG_PKMSG: return "pkmsg";
    case MIAW_SIG_MSG: return "msg";
    case MIAW_SIG_SKMSG: return "skmsg";
    default: return NULL;
    }
}

int miaw_sig_type_parse(const char *s)
{
    if (!s) return 0;
    if (!strcmp(s, "pkmsg")) return MIAW_SIG_PKMSG;
    if (!strcmp(s, "msg")) return MIAW_SIG_MSG;
    if (!strcmp(s, "skmsg")) return MIAW_SIG_SKMSG;
    return 0;
}

int miaw_sig_addr_set(miaw_sig_addr *a, const char *name, int32_t device)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n >= sizeof a->name || device < 0) return MIAW_E_INVAL;
    memcpy(a->name, name, n + 1);
    a->device = device;
    return 0;
}

int miaw_sig_addr_from_jid(const miaw_jid *j, miaw_sig_addr *out)
{
    if (!j->user[0]) return MIAW_E_INVAL;
    unsigned dom = miaw_jid_domain(j);
    char name[sizeof out->name];
    int n = dom ? snprintf(name, sizeof name, "%s_%u", j->user, dom) : snprintf(name, sizeof name, "%s", j->user);
    if (n < 0 || (size_t)n >= sizeof name) return MIAW_E_INVAL;
    return miaw_sig_addr_set(out, name, j->device);
}

int miaw_sig_addr_parse(const char *jid, miaw_sig_addr *out)
{
    miaw_jid j;
    if (!jid || miaw_jid_parse(&j, jid) != 0) return MIAW_E_INVAL;
    return miaw_sig_addr_from_jid(&j, out);
}

int miaw_sig_addr_format(const miaw_sig_addr *a, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s.%d", a->name, (int)a->device);
    return n < 0 || (size_t)n >= cap ? MIAW_E_LIMIT : n;
}

int miaw_sig_map_error(int rc)
{
    switch (rc) {
    case 0: return 0;
    case SG_ERR_DUPLICATE_MESSAGE: return MIAW_SIG_E_DUPLICATE;
    case SG_ERR_NO_SESSION: return MIAW_SIG_E_NO_SESSION;
    case SG_ERR_INVALID_KEY_ID: return MIAW_SIG_E_NO_PREKEY;
    case SG_ERR_INVALID_KEY: return MIAW_SIG_E_BAD_KEY;
    case SG_ERR_UNTRUSTED_IDENTITY: return MIAW_SIG_E_UNTRUSTED;
    case SG_ERR_NOMEM: return MIAW_E_NOMEM;
    case SG_ERR_INVAL:
    case SG_ERR_INVALID_MAC:
    case SG_ERR_INVALID_MESSAGE:
    case SG_ERR_INVALID_VERSION:
    case SG_ERR_LEGACY_MESSAGE:
    case SG_ERR_STALE_KEY_EXCHANGE:
    case SG_ERR_INVALID_PROTO_BUF:
    case SG_ERR_VRF_SIG_VERIF_FAILED: return MIAW_SIG_E_INVALID;
    default: return rc < 0 && rc > -100 ? rc : MIAW_E_INTERNAL; /* already a MIAW_E_* */
    }
}

static signal_protocol_address sg_addr(const miaw_sig_addr *a)
{
    signal_protocol_address r = {.name = a->name, .name_len = strlen(a->name), .device_id = a->device};
    return r;
}

static int raw_pub(miaw_sig_store *s, const uint8_t raw[32], ec_public_key **out)
{
    uint8_t k[33] = {0x05};
    memcpy(k + 1, raw, 32);
    return curve_decode_point(out, k, sizeof k, miaw_sig_store_ctx(s)) == 0 ? 0 : MIAW_SIG_E_BAD_KEY;
}

int miaw_sig_session_from_bundle(miaw_sig_store *s, const miaw_sig_addr *addr, const miaw_sig_bundle *b)
{
    int rc = miaw_sig_store_get_identity(s, NULL, NULL);
    if (rc) return rc;
    ec_public_key *ik = NULL, *spk = NULL, *pk = NULL;
    session_pre_key_bundle *bundle = NULL;
    session_builder *builder = NULL;
    signal_protocol_address a = sg_addr(addr);
    rc = raw_pub(s, b->identity, &ik);
    if (rc == 0) rc = raw_pub(s, b->spk_pub, &spk);
    if (rc == 0 && b->has_prekey) rc = raw_pub(s, b->prekey_pub, &pk);
    if (rc == 0)
        rc = miaw_sig_map_error(session_pre_key_bundle_create(&bundle, b->reg_id, addr->device,
                                                              b->has_prekey ? b->prekey_id : 0, pk,
                                                              b->spk_id, spk, b->spk_sig, 64, ik));
    if (rc == 0)
        rc = miaw_sig_map_error(session_builder_create(&builder, miaw_sig_store_protocol(s), &a,
                                                       miaw_sig_store_ctx(s)));
    if (rc == 0) {
        rc = miaw_sig_map_error(session_builder_process_pre_key_bundle(builder, bundle));
        /* a bad signed pre-key signature is a bad key, not a bad message */
        if (rc == MIAW_SIG_E_INVALID) rc = MIAW_SIG_E_BAD_KEY;
    }
    if (builder) session_builder_free(builder);
    SIGNAL_UNREF(bundle);
    SIGNAL_UNREF(ik);
    SIGNAL_UNREF(spk);
    SIGNAL_UNREF(pk);
    return rc;
}

int miaw_sig_take(signal_buffer *b, uint8_t **out, size_t *out_len)
{
    size_t n = signal_buffer_len(b);
    uint8_t *p = malloc(n ? n : 1);
    if (!p) return MIAW_E_NOMEM;
    memcpy(p, signal_buffer_data(b), n);
    *out = p;
    *out_len = n;
    return 0;
}

int miaw_sig_decrypt_begin(miaw_sig_store *s)
{
    sqlite3 *db = miaw_sig_db_handle(miaw_sig_store_db(s));
    return sqlite3_exec(db, "SAVEPOINT sig_decrypt", NULL, NULL, NULL) == SQLITE_OK ? 0 : MIAW_E_IO;
}

int miaw_sig_decrypt_end(miaw_sig_store *s, int rc, signal_buffer *pt, uint8_t **out, size_t *out_len)
{
    sqlite3 *db = miaw_sig_db_handle(miaw_sig_store_db(s));
    if (rc == 0) rc = miaw_sig_take(pt, out, out_len);
    if (rc) sqlite3_exec(db, "ROLLBACK TO sig_decrypt", NULL, NULL, NULL);
    if (sqlite3_exec(db, "RELEASE sig_decrypt", NULL, NULL, NULL) != SQLITE_OK && rc == 0) {
        free(*out);
        *out = NULL;
        rc = MIAW_E_IO;
    }
    return rc;
}

int miaw_sig_encrypt(miaw_sig_store *s, const miaw_sig_addr *addr, const uint8_t *pt, size_t len,
                     int *type, uint8_t **out, size_t *out_len)
{
    int rc = miaw_sig_store_has_session(s, addr->name, addr->device);
    if (rc < 0) return rc;
    if (rc == 0) return MIAW_SIG_E_NO_SESSION;
    signal_protocol_address a = sg_addr(addr);
    session_cipher *cipher = NULL;
    ciphertext_message *msg = NULL;
    rc = miaw_sig_map_error(session_cipher_create(&cipher, miaw_sig_store_protocol(s), &a, miaw_sig_store_ctx(s)));
    if (rc == 0) rc = miaw_sig_map_error(session_cipher_encrypt(cipher, pt, len, &msg));
    if (rc == 0) {
        int t = ciphertext_message_get_type(msg);
        if (t == CIPHERTEXT_PREKEY_TYPE) *type = MIAW_SIG_PKMSG;
        else if (t == CIPHERTEXT_SIGNAL_TYPE) *type = MIAW_SIG_MSG;
        else rc = MIAW_E_INTERNAL;
    }
    if (rc == 0) rc = miaw_sig_take(ciphertext_message_get_serialized(msg), out, out_len);
    SIGNAL_UNREF(msg);
    if (cipher) session_cipher_free(cipher);
    return rc;
}

int miaw_sig_decrypt(miaw_sig_store *s, const miaw_sig_addr *addr, int type, const uint8_t *ct,
                     size_t len, uint8_t **out, size_t *out_len)
{
    if (type != MIAW_SIG_PKMSG && type != MIAW_SIG_MSG) return MIAW_E_INVAL;
    if (!ct || len == 0) return MIAW_SIG_E_INVALID;
    int rc = miaw_sig_store_get_identity(s, NULL, NULL);
    if (rc) return rc;
    signal_context *ctx = miaw_sig_store_ctx(s);
    signal_protocol_address a = sg_addr(addr);
    session_cipher *cipher = NULL;
    pre_key_signal_message *pkm = NULL;
    signal_message *m = NULL;
    signal_buffer *pt = NULL;
    if (type == MIAW_SIG_PKMSG)
        rc = miaw_sig_map_error(pre_key_signal_message_deserialize(&pkm, ct, len, ctx));
    else
        rc = miaw_sig_map_error(signal_message_deserialize(&m, ct, len, ctx));
    if (rc == 0)
        rc = miaw_sig_map_error(session_cipher_create(&cipher, miaw_sig_store_protocol(s), &a, ctx));
    if (rc == 0) rc = miaw_sig_decrypt_begin(s);
    if (rc == 0) {
        if (pkm) rc = session_cipher_decrypt_pre_key_signal_message(cipher, pkm, NULL, &pt);
        else rc = session_cipher_decrypt_signal_message(cipher, m, NULL, &pt);
        rc = miaw_sig_decrypt_end(s, miaw_sig_map_error(rc), pt, out, out_len);
    }
    signal_buffer_bzero_free(pt);
    if (cipher) session_cipher_free(cipher);
    SIGNAL_UNREF(pkm);
    SIGNAL_UNREF(m);
    return rc;
}
