/* tests/unit/test_wa_noise.c - Noise XX (WhatsApp variant) in both roles: the fact sheet's
 * fixed handshake vector, a full in-memory client<->server handshake with a verified
 * certificate chain, refused chains (wrong root, wrong leaf key, expired, bad serials),
 * tampered handshake and transport frames, transport counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "miaw/plugin.h"
#include "wa/certchain.h"
#include "wa/frame.h"
#include "wa/noise.h"
#include "wa/sigcrypto.h"
#include "wa_handshake.pb-c.h"

/* protoc-c only emits pack/unpack helpers for top-level messages */
#define DETAILS_UNPACK(len, data)                                                          \
    ((Miaw__Wa__CertChain__NoiseCertificate__Details *)protobuf_c_message_unpack(            \
        &miaw__wa__cert_chain__noise_certificate__details__descriptor, NULL, (len), (data)))

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static int eq_hex(const uint8_t *b, size_t len, const char *hex)
{
    uint8_t want[512];
    size_t n = unhex(hex, want);
    return n == len && memcmp(b, want, n) == 0;
}

static void fill(uint8_t k[32], uint8_t v)
{
    memset(k, v, 32);
}

/* ------------------------------------------------------------ Appendix C vector */
static void test_vector(void)
{
    uint8_t k1[32], k2[32], k3[32], k4[32];
    fill(k1, 1), fill(k2, 2), fill(k3, 3), fill(k4, 4);
    miaw_keypair cs, ss, ce, se;
    CU_ASSERT_FATAL(miaw_keypair_from_private(&ce, k1) == 0);
    CU_ASSERT_FATAL(miaw_keypair_from_private(&cs, k2) == 0);
    CU_ASSERT_FATAL(miaw_keypair_from_private(&se, k3) == 0);
    CU_ASSERT_FATAL(miaw_keypair_from_private(&ss, k4) == 0);
    CU_ASSERT(eq_hex(ce.pub, 32, "a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209"));
    CU_ASSERT(eq_hex(cs.pub, 32, "ce8d3ad1ccb633ec7b70c17814a5c76ecd029685050d344745ba05870e587d59"));
    CU_ASSERT(eq_hex(se.pub, 32, "5dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22"));
    CU_ASSERT(eq_hex(ss.pub, 32, "ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b"));

    const uint8_t cert[] = {0x0a, 0x02, 0x08, 0x01};
    const uint8_t payload[] = {0x08, 0x01};
    miaw_noise_client_opts co = {.skip_cert_verify = 1, .ephemeral_priv = k1};
    miaw_noise_hs *c = miaw_noise_client_new(&cs, &co);
    miaw_noise_hs *s = miaw_noise_server_new(&ss, cert, sizeof cert, k3);
    CU_ASSERT_FATAL(c && s);

    uint8_t *m = NULL, *f = NULL;
    size_t ml = 0, fl = 0;
    CU_ASSERT_FATAL(miaw_noise_client_hello(c, &m, &ml) == 0);
    CU_ASSERT_FATAL(miaw_frame_encode(m, ml, 1, &f, &fl) == 0);
    CU_ASSERT(eq_hex(f, fl, "5741060300002412220a20a4e09292b651c278b9772c569f5fa9bb13d906b46ab68c9df9dc2b4409f8a209"));
    CU_ASSERT(miaw_noise_server_read_client_hello(s, m, ml) == 0);
    free(m), free(f);

    CU_ASSERT_FATAL(miaw_noise_server_hello(s, &m, &ml) == 0);
    CU_ASSERT(eq_hex(m, ml, "1a6a0a205dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef221230fad351e77ceb11c0a3c7a310c84044831d305ad1677bb5b736eff6f6392eee8cdc9e71ab200c437245ad235dd9ed16941a140f32a7daee69c174b6aa583fd8a3633d7953d764"));
    CU_ASSERT(miaw_noise_client_read_server_hello(c, m, ml) == 0);
    free(m);

    CU_ASSERT_FATAL(miaw_noise_client_finish(c, payload, sizeof payload, &m, &ml) == 0);
    CU_ASSERT(eq_hex(m, ml, "22460a306f7715b54f3863d7c6b58baab8f65a070327545ff9ce8db3e46a1e6447aaea6f12e16577c4c8d58a96c2e94d8cde367c121231da82192ef72a445a432704021f624eacd0"));
    uint8_t *pl = NULL;
    size_t pll = 0;
    CU_ASSERT_FATAL(miaw_noise_server_read_client_finish(s, m, ml, &pl, &pll) == 0);
    CU_ASSERT(pll == 2 && memcmp(pl, payload, 2) == 0);
    CU_ASSERT(memcmp(miaw_noise_remote_static(s), cs.pub, 32) == 0);
    CU_ASSERT(memcmp(miaw_noise_remote_static(c), ss.pub, 32) == 0);
    free(m), free(pl);

    miaw_noise_transport ct, st;
    CU_ASSERT_FATAL(miaw_noise_split(c, &ct) == 0);
    CU_ASSERT_FATAL(miaw_noise_split(s, &st) == 0);
    CU_ASSERT(eq_hex(ct.write_key, 32, "f10d8344bf33545050601629f58c5b0fe21b913641d2eeb1f5b49d07a5a6cffe"));
    CU_ASSERT(eq_hex(ct.read_key, 32, "d18c191f5a5bbf1a8f8b5d4713aebc66fb7335f082e1131687d8354d196d8b85"));
    CU_ASSERT(memcmp(st.read_key, ct.write_key, 32) == 0);
    CU_ASSERT(memcmp(st.write_key, ct.read_key, 32) == 0);

    const uint8_t ack[] = {0x00, 0xf8, 0x01, 0x1b};
    uint8_t enc[4 + 16], dec[4];
    size_t dl = 0;
    CU_ASSERT(miaw_noise_encrypt(&ct, ack, 4, enc) == 0);
    CU_ASSERT(eq_hex(enc, 20, "d03d08286d69ae45936caa5c2b2142f43db2f39c"));
    CU_ASSERT(miaw_noise_decrypt(&st, enc, 20, dec, &dl) == 0);
    CU_ASSERT(dl == 4 && memcmp(dec, ack, 4) == 0);
    miaw_noise_hs_free(c);
    miaw_noise_hs_free(s);
}

/* ------------------------------------------------------------ full handshake */
typedef struct {
    miaw_keypair root, inter, server_static, client_static;
    uint8_t *chain;
    size_t chain_len;
} pki;

static void pki_make(pki *p, uint64_t nb, uint64_t na, const uint8_t *leaf_override)
{
    memset(p, 0, sizeof *p);
    CU_ASSERT_FATAL(miaw_keypair_generate(&p->root) == 0);
    CU_ASSERT_FATAL(miaw_keypair_generate(&p->inter) == 0);
    CU_ASSERT_FATAL(miaw_keypair_generate(&p->server_static) == 0);
    CU_ASSERT_FATAL(miaw_keypair_generate(&p->client_static) == 0);
    miaw_certchain_spec spec = {
        .root_priv = p->root.priv,
        .intermediate_priv = p->inter.priv,
        .leaf_pub = leaf_override ? leaf_override : p->server_static.pub,
        .intermediate_serial = 1,
        .leaf_serial = 2,
        .not_before = nb,
        .not_after = na,
    };
    CU_ASSERT_FATAL(miaw_certchain_create(&spec, &p->chain, &p->chain_len) == 0);
}

/* Runs the whole handshake over the frame codec. Returns the client's result of reading
 * the server hello (0 = accepted); on success fills the transports. */
static int run_handshake(pki *p, const uint8_t *root_pub, uint64_t now, miaw_noise_transport *ct,
                         miaw_noise_transport *st)
{
    miaw_noise_client_opts co = {.root_pub = root_pub, .now = now};
    miaw_noise_hs *c = miaw_noise_client_new(&p->client_static, &co);
    miaw_noise_hs *s = miaw_noise_server_new(&p->server_static, p->chain, p->chain_len, NULL);
    miaw_frame_reader *sr = miaw_frame_reader_new(MIAW_FRAME_READ_SERVER, 0);
    miaw_frame_reader *cr = miaw_frame_reader_new(MIAW_FRAME_READ_CLIENT, 0);
    CU_ASSERT_FATAL(c && s && sr && cr);
    uint8_t *m = NULL, *f = NULL, *pl = NULL;
    size_t ml, fl, pll;
    const uint8_t *fr;
    size_t frl;
    int rc;

    CU_ASSERT_FATAL(miaw_noise_client_hello(c, &m, &ml) == 0);
    CU_ASSERT_FATAL(miaw_frame_encode(m, ml, 1, &f, &fl) == 0);
    CU_ASSERT(miaw_frame_reader_feed(sr, f, fl) == 0);
    CU_ASSERT_FATAL(miaw_frame_reader_next(sr, &fr, &frl) == 1);
    CU_ASSERT(miaw_noise_server_read_client_hello(s, fr, frl) == 0);
    free(m), free(f);

    CU_ASSERT_FATAL(miaw_noise_server_hello(s, &m, &ml) == 0);
    CU_ASSERT_FATAL(miaw_frame_encode(m, ml, 0, &f, &fl) == 0);
    CU_ASSERT(miaw_frame_reader_feed(cr, f, fl) == 0);
    CU_ASSERT_FATAL(miaw_frame_reader_next(cr, &fr, &frl) == 1);
    rc = miaw_noise_client_read_server_hello(c, fr, frl);
    free(m), free(f);
    if (rc == 0) {
        const uint8_t payload[] = "client payload bytes";
        CU_ASSERT_FATAL(miaw_noise_client_finish(c, payload, sizeof payload, &m, &ml) == 0);
        CU_ASSERT_FATAL(miaw_frame_encode(m, ml, 0, &f, &fl) == 0);
        CU_ASSERT(miaw_frame_reader_feed(sr, f, fl) == 0);
        CU_ASSERT_FATAL(miaw_frame_reader_next(sr, &fr, &frl) == 1);
        CU_ASSERT(miaw_noise_server_read_client_finish(s, fr, frl, &pl, &pll) == 0);
        CU_ASSERT(pll == sizeof payload && memcmp(pl, payload, pll) == 0);
        CU_ASSERT(memcmp(miaw_noise_remote_static(s), p->client_static.pub, 32) == 0);
        CU_ASSERT(memcmp(miaw_noise_handshake_hash(s), miaw_noise_handshake_hash(c), 32) == 0);
        free(m), free(f), free(pl);
        CU_ASSERT(miaw_noise_split(c, ct) == 0);
        CU_ASSERT(miaw_noise_split(s, st) == 0);
    } else {
        /* a dead handshake refuses to continue */
        CU_ASSERT(miaw_noise_client_finish(c, (const uint8_t *)"x", 1, &m, &ml) == MIAW_E_STATE);
        CU_ASSERT(miaw_noise_split(c, ct) == MIAW_E_STATE);
    }
    miaw_frame_reader_free(sr);
    miaw_frame_reader_free(cr);
    miaw_noise_hs_free(c);
    miaw_noise_hs_free(s);
    return rc;
}

#define NOW 1700000000ULL

static void test_full_handshake_and_transport(void)
{
    pki p;
    pki_make(&p, NOW - 3600, NOW + 3600, NULL);
    miaw_noise_transport ct, st;
    CU_ASSERT_FATAL(run_handshake(&p, p.root.pub, NOW, &ct, &st) == 0);
    /* both directions, many frames, counters advance in lockstep */
    for (int i = 0; i < 50; i++) {
        uint8_t msg[64], enc[64 + 16], dec[64];
        size_t dl = 0, len = (size_t)i + 1;
        memset(msg, i, sizeof msg);
        miaw_noise_transport *w = (i % 2) ? &ct : &st, *r = (i % 2) ? &st : &ct;
        CU_ASSERT(miaw_noise_encrypt(w, msg, len, enc) == 0);
        CU_ASSERT(miaw_noise_decrypt(r, enc, len + 16, dec, &dl) == 0);
        CU_ASSERT(dl == len && memcmp(dec, msg, len) == 0);
    }
    CU_ASSERT(ct.write_n == 25 && st.read_n == 25 && st.write_n == 25 && ct.read_n == 25);
    /* an empty plaintext is a valid frame too */
    uint8_t enc[16], dec[1];
    size_t dl = 99;
    CU_ASSERT(miaw_noise_encrypt(&ct, NULL, 0, enc) == 0);
    CU_ASSERT(miaw_noise_decrypt(&st, enc, 16, dec, &dl) == 0 && dl == 0);
    miaw_noise_transport_wipe(&ct);
    miaw_noise_transport_wipe(&st);
    free(p.chain);
}

static void test_transport_tamper_and_order(void)
{
    pki p;
    pki_make(&p, NOW - 10, NOW + 10, NULL);
    miaw_noise_transport ct, st;
    CU_ASSERT_FATAL(run_handshake(&p, p.root.pub, NOW, &ct, &st) == 0);
    uint8_t a[] = "first", b[] = "second", ea[sizeof a + 16], eb[sizeof b + 16], out[16];
    size_t ol;
    CU_ASSERT(miaw_noise_encrypt(&ct, a, sizeof a, ea) == 0);
    CU_ASSERT(miaw_noise_encrypt(&ct, b, sizeof b, eb) == 0);
    /* flip one bit in ciphertext, then in the tag: refused */
    miaw_noise_transport st2 = st;
    ea[0] ^= 1;
    CU_ASSERT(miaw_noise_decrypt(&st2, ea, sizeof ea, out, &ol) == MIAW_E_AUTH);
    ea[0] ^= 1;
    st2 = st;
    ea[sizeof ea - 1] ^= 0x80;
    CU_ASSERT(miaw_noise_decrypt(&st2, ea, sizeof ea, out, &ol) == MIAW_E_AUTH);
    ea[sizeof ea - 1] ^= 0x80;
    /* out of order: frame 1 under counter 0 fails */
    st2 = st;
    CU_ASSERT(miaw_noise_decrypt(&st2, eb, sizeof eb, out, &ol) == MIAW_E_AUTH);
    CU_ASSERT(st2.read_n == 1); /* the counter moved on, as the reference clients do */
    /* truncated below the tag */
    st2 = st;
    CU_ASSERT(miaw_noise_decrypt(&st2, ea, 15, out, &ol) == MIAW_E_AUTH);
    /* correct order works, replay of the first frame afterwards fails */
    CU_ASSERT(miaw_noise_decrypt(&st, ea, sizeof ea, out, &ol) == 0 && !strcmp((char *)out, "first"));
    CU_ASSERT(miaw_noise_decrypt(&st, eb, sizeof eb, out, &ol) == 0 && !strcmp((char *)out, "second"));
    CU_ASSERT(miaw_noise_decrypt(&st, ea, sizeof ea, out, &ol) == MIAW_E_AUTH);
    /* the server cannot read its own direction's keys */
    uint8_t es[sizeof a + 16];
    miaw_noise_transport st3 = st;
    CU_ASSERT(miaw_noise_encrypt(&st3, a, sizeof a, es) == 0);
    miaw_noise_transport ct3 = ct;
    ct3.read_n = 3; /* wrong counter */
    CU_ASSERT(miaw_noise_decrypt(&ct3, es, sizeof es, out, &ol) == MIAW_E_AUTH);
    /* counter exhaustion refuses instead of reusing an IV */
    ct3.write_n = (uint64_t)1 << 32;
    CU_ASSERT(miaw_noise_encrypt(&ct3, a, sizeof a, es) == MIAW_E_LIMIT);
    ct3.write_n = ((uint64_t)1 << 32) - 1;
    CU_ASSERT(miaw_noise_encrypt(&ct3, a, sizeof a, es) == 0);
    CU_ASSERT(miaw_noise_encrypt(&ct3, a, sizeof a, es) == MIAW_E_LIMIT);
    free(p.chain);
}

static void test_wrong_root_refused(void)
{
    pki p;
    pki_make(&p, NOW - 10, NOW + 10, NULL);
    miaw_keypair other;
    CU_ASSERT_FATAL(miaw_keypair_generate(&other) == 0);
    miaw_noise_transport ct, st;
    CU_ASSERT(run_handshake(&p, other.pub, NOW, &ct, &st) == MIAW_E_AUTH);
    /* WhatsApp's real root (the default) refuses a self-made chain as well */
    CU_ASSERT(run_handshake(&p, NULL, NOW, &ct, &st) == MIAW_E_AUTH);
    free(p.chain);
}

static void test_leaf_key_mismatch_refused(void)
{
    miaw_keypair unrelated;
    CU_ASSERT_FATAL(miaw_keypair_generate(&unrelated) == 0);
    pki p;
    pki_make(&p, NOW - 10, NOW + 10, unrelated.pub);
    miaw_noise_transport ct, st;
    CU_ASSERT(run_handshake(&p, p.root.pub, NOW, &ct, &st) == MIAW_E_AUTH);
    free(p.chain);
}

static void test_expired_refused(void)
{
    pki p;
    pki_make(&p, NOW - 100, NOW - 1, NULL);
    miaw_noise_transport ct, st;
    CU_ASSERT(run_handshake(&p, p.root.pub, NOW, &ct, &st) == MIAW_E_AUTH);
    CU_ASSERT(run_handshake(&p, p.root.pub, NOW - 50, &ct, &st) == 0);
    CU_ASSERT(run_handshake(&p, p.root.pub, NOW - 101, &ct, &st) == MIAW_E_AUTH);
    free(p.chain);
}

static void test_certchain_checks(void)
{
    pki p;
    pki_make(&p, 0, UINT64_MAX, NULL);
    const char *why = NULL;
    CU_ASSERT(miaw_certchain_verify(p.chain, p.chain_len, p.root.pub, p.server_static.pub, NOW, &why) == 0);
    CU_ASSERT(why == NULL);
    /* server_static NULL skips only the leaf-key binding */
    CU_ASSERT(miaw_certchain_verify(p.chain, p.chain_len, p.root.pub, NULL, NOW, NULL) == 0);
    CU_ASSERT(miaw_certchain_verify(p.chain, p.chain_len, p.root.pub, p.client_static.pub, NOW, &why) == MIAW_E_AUTH);
    CU_ASSERT(why && strstr(why, "leaf key"));
    /* flip every byte in turn: each change must be refused (or the chain unparsable) */
    for (size_t i = 0; i < p.chain_len; i++) {
        uint8_t *t = malloc(p.chain_len);
        memcpy(t, p.chain, p.chain_len);
        t[i] ^= 0x01;
        CU_ASSERT(miaw_certchain_verify(t, p.chain_len, p.root.pub, p.server_static.pub, NOW, NULL) != 0);
        free(t);
    }
    /* garbage and empty */
    CU_ASSERT(miaw_certchain_verify((const uint8_t *)"\xff\xff", 2, p.root.pub, NULL, NOW, NULL) == MIAW_E_INVAL);
    CU_ASSERT(miaw_certchain_verify(NULL, 0, p.root.pub, NULL, NOW, &why) == MIAW_E_AUTH);

    /* wrong serials: leaf issuer != intermediate serial, intermediate issuer != 0 */
    Miaw__Wa__CertChain *c = miaw__wa__cert_chain__unpack(NULL, p.chain_len, p.chain);
    CU_ASSERT_FATAL(c != NULL);
    Miaw__Wa__CertChain__NoiseCertificate__Details *ld =
        DETAILS_UNPACK(c->leaf->details.len, c->leaf->details.data);
    CU_ASSERT_FATAL(ld != NULL);
    CU_ASSERT(ld->serial == 2 && ld->issuerserial == 1 && ld->key.len == 32);
    ld->issuerserial = 7;
    uint8_t det[256], sig[64], out[1024];
    size_t dl = protobuf_c_message_pack((const ProtobufCMessage *)(ld), det);
    CU_ASSERT(miaw_xeddsa_sign(p.inter.priv, det, dl, sig) == 0);
    ProtobufCBinaryData od = c->leaf->details, os = c->leaf->signature;
    c->leaf->details.data = det, c->leaf->details.len = dl;
    c->leaf->signature.data = sig;
    size_t cl = miaw__wa__cert_chain__pack(c, out);
    CU_ASSERT(miaw_certchain_verify(out, cl, p.root.pub, p.server_static.pub, NOW, &why) == MIAW_E_AUTH);
    CU_ASSERT(why && strstr(why, "leaf issuer"));
    c->leaf->details = od, c->leaf->signature = os;
    protobuf_c_message_free_unpacked((ProtobufCMessage *)ld, NULL);

    Miaw__Wa__CertChain__NoiseCertificate__Details *id =
        DETAILS_UNPACK(c->intermediate->details.len, c->intermediate->details.data);
    CU_ASSERT_FATAL(id != NULL);
    CU_ASSERT(id->serial == 1 && id->issuerserial == 0 && memcmp(id->key.data, p.inter.pub, 32) == 0);
    id->issuerserial = 5;
    dl = protobuf_c_message_pack((const ProtobufCMessage *)(id), det);
    CU_ASSERT(miaw_xeddsa_sign(p.root.priv, det, dl, sig) == 0);
    od = c->intermediate->details, os = c->intermediate->signature;
    c->intermediate->details.data = det, c->intermediate->details.len = dl;
    c->intermediate->signature.data = sig;
    cl = miaw__wa__cert_chain__pack(c, out);
    CU_ASSERT(miaw_certchain_verify(out, cl, p.root.pub, p.server_static.pub, NOW, &why) == MIAW_E_AUTH);
    CU_ASSERT(why && strstr(why, "intermediate issuer"));
    /* short signature */
    c->intermediate->details = od;
    c->intermediate->signature = os;
    c->intermediate->signature.len = 63;
    cl = miaw__wa__cert_chain__pack(c, out);
    CU_ASSERT(miaw_certchain_verify(out, cl, p.root.pub, p.server_static.pub, NOW, &why) == MIAW_E_AUTH);
    c->intermediate->signature = os;
    /* leaf missing */
    Miaw__Wa__CertChain__NoiseCertificate *leaf = c->leaf;
    c->leaf = NULL;
    cl = miaw__wa__cert_chain__pack(c, out);
    CU_ASSERT(miaw_certchain_verify(out, cl, p.root.pub, NULL, NOW, &why) == MIAW_E_AUTH);
    CU_ASSERT(why && strstr(why, "leaf certificate missing"));
    c->leaf = leaf;
    protobuf_c_message_free_unpacked((ProtobufCMessage *)id, NULL);
    miaw__wa__cert_chain__free_unpacked(c, NULL);
    free(p.chain);
}

static void test_tampered_handshake_refused(void)
{
    pki p;
    pki_make(&p, NOW - 10, NOW + 10, NULL);
    /* server hello: flip a byte of each field in turn; the client must refuse every one */
    miaw_noise_hs *s0 = miaw_noise_server_new(&p.server_static, p.chain, p.chain_len, NULL);
    miaw_noise_client_opts co = {.root_pub = p.root.pub, .now = NOW};
    miaw_noise_hs *c0 = miaw_noise_client_new(&p.client_static, &co);
    uint8_t *ch, *sh;
    size_t chl, shl;
    CU_ASSERT_FATAL(miaw_noise_client_hello(c0, &ch, &chl) == 0);
    CU_ASSERT_FATAL(miaw_noise_server_read_client_hello(s0, ch, chl) == 0);
    CU_ASSERT_FATAL(miaw_noise_server_hello(s0, &sh, &shl) == 0);
    miaw_noise_hs_free(c0);
    /* positions: inside the ephemeral (4), static (38), and payload (end-1) */
    size_t pos[] = {4, 40, shl - 1, shl / 2};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) {
        co.ephemeral_priv = NULL;
        miaw_noise_hs *c = miaw_noise_client_new(&p.client_static, &co);
        uint8_t *h2;
        size_t h2l;
        CU_ASSERT_FATAL(miaw_noise_client_hello(c, &h2, &h2l) == 0);
        free(h2);
        /* replay the server hello made for another client ephemeral: must fail anyway,
         * and a tampered one even more so */
        sh[pos[i]] ^= 0x10;
        CU_ASSERT(miaw_noise_client_read_server_hello(c, sh, shl) != 0);
        sh[pos[i]] ^= 0x10;
        miaw_noise_hs_free(c);
    }
    free(ch);
    free(sh);
    miaw_noise_hs_free(s0);

    /* client finish tampering against a matching server */
    for (int which = 0; which < 3; which++) {
        miaw_noise_hs *c = miaw_noise_client_new(&p.client_static, &co);
        miaw_noise_hs *s = miaw_noise_server_new(&p.server_static, p.chain, p.chain_len, NULL);
        uint8_t *m, *pl = NULL;
        size_t ml, pll;
        CU_ASSERT_FATAL(miaw_noise_client_hello(c, &m, &ml) == 0);
        CU_ASSERT_FATAL(miaw_noise_server_read_client_hello(s, m, ml) == 0);
        free(m);
        CU_ASSERT_FATAL(miaw_noise_server_hello(s, &m, &ml) == 0);
        CU_ASSERT_FATAL(miaw_noise_client_read_server_hello(c, m, ml) == 0);
        free(m);
        CU_ASSERT_FATAL(miaw_noise_client_finish(c, (const uint8_t *)"hello", 5, &m, &ml) == 0);
        size_t at = which == 0 ? 10 : which == 1 ? ml - 1 : ml - 10;
        m[at] ^= 0x01;
        CU_ASSERT(miaw_noise_server_read_client_finish(s, m, ml, &pl, &pll) != 0);
        CU_ASSERT(pl == NULL);
        /* and the dead server handshake refuses to split */
        miaw_noise_transport t;
        CU_ASSERT(miaw_noise_split(s, &t) == MIAW_E_STATE);
        free(m);
        miaw_noise_hs_free(c);
        miaw_noise_hs_free(s);
    }
    free(p.chain);
}

static void test_malformed_handshake_messages(void)
{
    miaw_keypair k;
    CU_ASSERT_FATAL(miaw_keypair_generate(&k) == 0);
    /* client hello without ephemeral, wrong length, garbage, server hello sent as client hello */
    const char *bad[] = {"", "12020a00", "1203 0a0101", "ffffffff", "1a220a20" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t b[64];
        char clean[64];
        size_t j = 0;
        for (const char *q = bad[i]; *q; q++)
            if (*q != ' ') clean[j++] = *q;
        clean[j] = 0;
        size_t bl = unhex(clean, b);
        miaw_noise_hs *s = miaw_noise_server_new(&k, NULL, 0, NULL);
        CU_ASSERT_FATAL(s != NULL);
        CU_ASSERT(miaw_noise_server_read_client_hello(s, b, bl) == MIAW_E_INVAL);
        uint8_t *o;
        size_t ol;
        CU_ASSERT(miaw_noise_server_hello(s, &o, &ol) == MIAW_E_STATE);
        miaw_noise_hs_free(s);
    }
    /* out-of-order calls */
    miaw_noise_hs *c = miaw_noise_client_new(&k, NULL);
    uint8_t *o;
    size_t ol;
    CU_ASSERT(miaw_noise_client_finish(c, (const uint8_t *)"x", 1, &o, &ol) == MIAW_E_STATE);
    CU_ASSERT(miaw_noise_server_hello(c, &o, &ol) == MIAW_E_STATE);
    CU_ASSERT(miaw_noise_client_read_server_hello(c, (const uint8_t *)"", 0) == MIAW_E_STATE);
    miaw_noise_hs_free(c);
    /* a small-order server ephemeral (all zero) is refused */
    c = miaw_noise_client_new(&k, NULL);
    CU_ASSERT_FATAL(miaw_noise_client_hello(c, &o, &ol) == 0);
    free(o);
    Miaw__Wa__HandshakeMessage m = MIAW__WA__HANDSHAKE_MESSAGE__INIT;
    Miaw__Wa__HandshakeMessage__ServerHello sh = MIAW__WA__HANDSHAKE_MESSAGE__SERVER_HELLO__INIT;
    uint8_t zero[48] = {0}, buf[256];
    sh.has_ephemeral = sh.has_static_ = sh.has_payload = 1;
    sh.ephemeral.data = zero, sh.ephemeral.len = 32;
    sh.static_.data = zero, sh.static_.len = 48;
    sh.payload.data = zero, sh.payload.len = 20;
    m.serverhello = &sh;
    size_t n = miaw__wa__handshake_message__pack(&m, buf);
    CU_ASSERT(miaw_noise_client_read_server_hello(c, buf, n) == MIAW_E_AUTH);
    miaw_noise_hs_free(c);
}

static void test_primitives(void)
{
    /* RFC 5869 test case 1 (HKDF-SHA256) */
    uint8_t ikm[22], salt[13], info[10], okm[42];
    memset(ikm, 0x0b, sizeof ikm);
    for (int i = 0; i < 13; i++) salt[i] = (uint8_t)i;
    for (int i = 0; i < 10; i++) info[i] = (uint8_t)(0xf0 + i);
    CU_ASSERT(miaw_hkdf_sha256(salt, 13, ikm, 22, info, 10, okm, 42) == 0);
    CU_ASSERT(eq_hex(okm, 42, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"));
    /* RFC 7748 6.1: Alice/Bob X25519 */
    uint8_t a[32], bpub[32], sh[32];
    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a);
    unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", bpub);
    CU_ASSERT(miaw_x25519(sh, a, bpub) == 0);
    CU_ASSERT(eq_hex(sh, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"));
    miaw_keypair kp;
    CU_ASSERT(miaw_keypair_from_private(&kp, a) == 0);
    CU_ASSERT(eq_hex(kp.pub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
    /* XEdDSA sign/verify, and refusal of altered message, key and signature */
    uint8_t sig[64];
    const uint8_t msg[] = "certificate details";
    CU_ASSERT(miaw_xeddsa_sign(kp.priv, msg, sizeof msg, sig) == 0);
    CU_ASSERT(miaw_xeddsa_verify(kp.pub, msg, sizeof msg, sig, 64) == 0);
    CU_ASSERT(miaw_xeddsa_verify(kp.pub, msg, sizeof msg - 1, sig, 64) == MIAW_E_AUTH);
    CU_ASSERT(miaw_xeddsa_verify(bpub, msg, sizeof msg, sig, 64) == MIAW_E_AUTH);
    CU_ASSERT(miaw_xeddsa_verify(kp.pub, msg, sizeof msg, sig, 63) == MIAW_E_AUTH);
    sig[10] ^= 4;
    CU_ASSERT(miaw_xeddsa_verify(kp.pub, msg, sizeof msg, sig, 64) == MIAW_E_AUTH);
    /* a signal_context of our own works with the provider (random, hmac, sha512) */
    signal_context *ctx = NULL;
    CU_ASSERT_FATAL(miaw_signal_ctx_new(&ctx) == 0);
    signal_context_destroy(ctx);
}

MIAW_TESTS("wa_noise", MIAW_T(test_primitives), MIAW_T(test_vector),
           MIAW_T(test_full_handshake_and_transport), MIAW_T(test_transport_tamper_and_order),
           MIAW_T(test_wrong_root_refused), MIAW_T(test_leaf_key_mismatch_refused),
           MIAW_T(test_expired_refused), MIAW_T(test_certchain_checks),
           MIAW_T(test_tampered_handshake_refused), MIAW_T(test_malformed_handshake_messages))
