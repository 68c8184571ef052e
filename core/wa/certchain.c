/* core/wa/certchain.c - builds and checks the two-level Noise certificate chain with
 * protobuf-c (CertChain, NoiseCertificate.Details) and XEdDSA from sigcrypto.c. */
#include "wa/certchain.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "miaw/status.h"
#include "wa/sigcrypto.h"
#include "wa_handshake.pb-c.h"

/* protoc-c only emits pack/unpack helpers for top-level messages */
#define DETAILS_UNPACK(len, data)                                                          \
    ((Miaw__Wa__CertChain__NoiseCertificate__Details *)protobuf_c_message_unpack(            \
        &miaw__wa__cert_chain__noise_certificate__details__descriptor, NULL, (len), (data)))

const uint8_t miaw_wa_root_pub[32] = {
    0x14, 0x23, 0x75, 0x57, 0x4d, 0x0a, 0x58, 0x71, 0x66, 0xaa, 0xe7, 0x1e, 0xbe, 0x51, 0x64, 0x37,
    0xc4, 0xa2, 0x8b, 0x73, 0xe3, 0x69, 0x5c, 0x6c, 0xe1, 0xf7, 0xf9, 0x54, 0x5d, 0xa8, 0xee, 0x6b,
};

/* Serialized Details + its signature by signer_priv. */
static int make_cert(uint32_t serial, uint32_t issuer, const uint8_t key[32], uint64_t nb,
                     uint64_t na, const uint8_t signer_priv[32], uint8_t **det, size_t *det_len,
                     uint8_t sig[64])
{
    Miaw__Wa__CertChain__NoiseCertificate__Details d =
        MIAW__WA__CERT_CHAIN__NOISE_CERTIFICATE__DETAILS__INIT;
    d.has_serial = 1;
    d.serial = serial;
    d.has_issuerserial = 1;
    d.issuerserial = issuer;
    d.has_key = 1;
    d.key.data = (uint8_t *)key;
    d.key.len = 32;
    d.has_notbefore = 1;
    d.notbefore = nb;
    d.has_notafter = 1;
    d.notafter = na;
    size_t n = protobuf_c_message_get_packed_size((const ProtobufCMessage *)(&d));
    uint8_t *b = malloc(n);
    if (!b) return MIAW_E_NOMEM;
    protobuf_c_message_pack((const ProtobufCMessage *)(&d), b);
    int rc = miaw_xeddsa_sign(signer_priv, b, n, sig);
    if (rc) {
        free(b);
        return rc;
    }
    *det = b;
    *det_len = n;
    return 0;
}

int miaw_certchain_create(const miaw_certchain_spec *spec, uint8_t **out, size_t *out_len)
{
    if (!spec || !spec->root_priv || !spec->intermediate_priv || !spec->leaf_pub || !out ||
        !out_len)
        return MIAW_E_INVAL;
    miaw_keypair inter;
    uint8_t *idet = NULL, *ldet = NULL;
    size_t ilen = 0, llen = 0;
    uint8_t isig[64], lsig[64];
    int rc = miaw_keypair_from_private(&inter, spec->intermediate_priv);
    if (rc) return rc;
    if ((rc = make_cert(spec->intermediate_serial, 0, inter.pub, spec->not_before,
                        spec->not_after, spec->root_priv, &idet, &ilen, isig)))
        goto done;
    if ((rc = make_cert(spec->leaf_serial, spec->intermediate_serial, spec->leaf_pub,
                        spec->not_before, spec->not_after, inter.priv, &ldet, &llen, lsig)))
        goto done;
    Miaw__Wa__CertChain chain = MIAW__WA__CERT_CHAIN__INIT;
    Miaw__Wa__CertChain__NoiseCertificate leaf = MIAW__WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
    Miaw__Wa__CertChain__NoiseCertificate mid = MIAW__WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
    leaf.has_details = 1;
    leaf.details.data = ldet;
    leaf.details.len = llen;
    leaf.has_signature = 1;
    leaf.signature.data = lsig;
    leaf.signature.len = 64;
    mid.has_details = 1;
    mid.details.data = idet;
    mid.details.len = ilen;
    mid.has_signature = 1;
    mid.signature.data = isig;
    mid.signature.len = 64;
    chain.leaf = &leaf;
    chain.intermediate = &mid;
    size_t n = miaw__wa__cert_chain__get_packed_size(&chain);
    uint8_t *b = malloc(n);
    if (!b) {
        rc = MIAW_E_NOMEM;
        goto done;
    }
    miaw__wa__cert_chain__pack(&chain, b);
    *out = b;
    *out_len = n;
    rc = 0;
done:
    OPENSSL_cleanse(&inter, sizeof inter);
    free(idet);
    free(ldet);
    return rc;
}

static int bad(const char **why, const char *w, int rc)
{
    if (why) *why = w;
    return rc;
}

int miaw_certchain_verify(const uint8_t *chain, size_t len, const uint8_t root_pub[32],
                          const uint8_t *server_static, uint64_t now, const char **why)
{
    if (why) *why = NULL;
    if (!root_pub || (!chain && len)) return bad(why, "no root key", MIAW_E_INVAL);
    Miaw__Wa__CertChain *c = miaw__wa__cert_chain__unpack(NULL, len, chain);
    Miaw__Wa__CertChain__NoiseCertificate__Details *id = NULL, *ld = NULL;
    int rc;
    if (!c) return bad(why, "not a CertChain", MIAW_E_INVAL);
    Miaw__Wa__CertChain__NoiseCertificate *leaf = c->leaf, *mid = c->intermediate;
    if (!leaf || !leaf->has_details || !leaf->has_signature) {
        rc = bad(why, "leaf certificate missing", MIAW_E_AUTH);
        goto out;
    }
    if (!mid || !mid->has_details || !mid->has_signature) {
        rc = bad(why, "intermediate certificate missing", MIAW_E_AUTH);
        goto out;
    }
    if (leaf->signature.len != 64 || mid->signature.len != 64) {
        rc = bad(why, "signature length", MIAW_E_AUTH);
        goto out;
    }
    if (miaw_xeddsa_verify(root_pub, mid->details.data, mid->details.len, mid->signature.data,
                           mid->signature.len) != 0) {
        rc = bad(why, "intermediate not signed by the root", MIAW_E_AUTH);
        goto out;
    }
    id = DETAILS_UNPACK(mid->details.len,
                                                                  mid->details.data);
    if (!id) {
        rc = bad(why, "intermediate details unreadable", MIAW_E_AUTH);
        goto out;
    }
    if (id->issuerserial != 0) {
        rc = bad(why, "intermediate issuer is not the root", MIAW_E_AUTH);
        goto out;
    }
    if (!id->has_key || id->key.len != 32) {
        rc = bad(why, "intermediate key length", MIAW_E_AUTH);
        goto out;
    }
    if (id->notbefore > now || id->notafter < now) {
        rc = bad(why, "intermediate outside its validity window", MIAW_E_AUTH);
        goto out;
    }
    if (miaw_xeddsa_verify(id->key.data, leaf->details.data, leaf->details.len,
                           leaf->signature.data, leaf->signature.len) != 0) {
        rc = bad(why, "leaf not signed by the intermediate", MIAW_E_AUTH);
        goto out;
    }
    ld = DETAILS_UNPACK(leaf->details.len,
                                                                  leaf->details.data);
    if (!ld) {
        rc = bad(why, "leaf details unreadable", MIAW_E_AUTH);
        goto out;
    }
    if (ld->issuerserial != id->serial) {
        rc = bad(why, "leaf issuer is not the intermediate", MIAW_E_AUTH);
        goto out;
    }
    if (ld->notbefore > now || ld->notafter < now) {
        rc = bad(why, "leaf outside its validity window", MIAW_E_AUTH);
        goto out;
    }
    if (server_static &&
        (!ld->has_key || ld->key.len != 32 || CRYPTO_memcmp(ld->key.data, server_static, 32))) {
        rc = bad(why, "leaf key is not the server static key", MIAW_E_AUTH);
        goto out;
    }
    rc = 0;
out:
    if (ld) protobuf_c_message_free_unpacked((ProtobufCMessage *)ld, NULL);
    if (id) protobuf_c_message_free_unpacked((ProtobufCMessage *)id, NULL);
    miaw__wa__cert_chain__free_unpacked(c, NULL);
    return rc;
}
