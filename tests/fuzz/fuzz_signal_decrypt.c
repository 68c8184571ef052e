/* tests/fuzz/fuzz_signal_decrypt.c - libFuzzer target for the Signal layer's inputs from
 * the network: pkmsg, msg, skmsg and SKDM bytes into decrypt/process (raw, or XORed into
 * a genuine ciphertext so the fuzzer gets past the framing), bundle nodes into session
 * building, and plaintext unpadding. Nothing may crash or leak; failures must leave no
 * output buffer. Owns one in-memory account pair set up on the first run. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "miaw/plugin.h"
#include "wa/node.h"
#include "wa/signal_group.h"
#include "wa/signal_keys.h"
#include "wa/signal_session.h"
#include "wa/wamsg.h"

#define GROUP "120363000000000001@g.us"

static sqlite3 *db;
static miaw_sig_db *sdb;
static miaw_sig_store *A, *B;
static miaw_sig_addr addr_a, addr_b, addr_x;
static uint8_t *genuine[4]; /* pkmsg, msg, skmsg, skdm from A to B */
static size_t genuine_len[4];

static void must(int ok)
{
    if (!ok) abort();
}

static void account(miaw_sig_store **s, const char *owner)
{
    must(miaw_sig_store_open(sdb, owner, s) == 0);
    must(miaw_sig_generate_identity(*s, 0) == 0);
    must(miaw_sig_generate_signed_prekey(*s, 0, NULL) == 0);
    uint32_t first;
    must(miaw_sig_generate_prekeys(*s, 4, &first) == 0);
}

static void setup(void)
{
    must(sqlite3_open(":memory:", &db) == SQLITE_OK);
    must(miaw_sig_db_open(db, &sdb) == 0);
    account(&A, "1111:1@s.whatsapp.net");
    account(&B, "2222@s.whatsapp.net");
    must(miaw_sig_addr_parse("1111:1@s.whatsapp.net", &addr_a) == 0);
    must(miaw_sig_addr_parse("2222@s.whatsapp.net", &addr_b) == 0);
    must(miaw_sig_addr_parse("3333:5@lid", &addr_x) == 0);
    miaw_sig_bundle b;
    must(miaw_sig_own_bundle(B, 1, &b) == 0);
    must(miaw_sig_session_from_bundle(A, &addr_b, &b) == 0);
    const uint8_t pt[] = "fuzz plaintext\x02\x02";
    int type;
    uint8_t *out;
    size_t n;
    /* kept pkmsg, then a msg after B answered; B keeps the state to decrypt more */
    must(miaw_sig_encrypt(A, &addr_b, pt, sizeof pt - 1, &type, &genuine[0], &genuine_len[0]) == 0);
    must(miaw_sig_decrypt(B, &addr_a, MIAW_SIG_PKMSG, genuine[0], genuine_len[0], &out, &n) == 0);
    free(out);
    uint8_t *r;
    must(miaw_sig_encrypt(B, &addr_a, pt, sizeof pt - 1, &type, &r, &n) == 0);
    must(miaw_sig_decrypt(A, &addr_b, type, r, n, &out, &n) == 0);
    free(out);
    free(r);
    must(miaw_sig_encrypt(A, &addr_b, pt, sizeof pt - 1, &type, &genuine[1], &genuine_len[1]) == 0);
    must(miaw_sig_group_skdm(A, GROUP, &addr_a, &genuine[3], &genuine_len[3]) == 0);
    must(miaw_sig_group_process_skdm(B, GROUP, &addr_a, genuine[3], genuine_len[3]) == 0);
    must(miaw_sig_group_encrypt(A, GROUP, &addr_a, pt, sizeof pt - 1, &genuine[2], &genuine_len[2]) == 0);
}

static void check_out(int rc, uint8_t *out, size_t n)
{
    if (rc == 0) {
        size_t m;
        (void)miaw_wamsg_unpad(out, n, &m);
        free(out);
    } else if (out) {
        abort(); /* a failure must not hand out a buffer */
    }
}

static void bundle_input(const uint8_t *data, size_t size)
{
    miaw_node *n = NULL;
    if (miaw_node_decode_raw(data, size, &n) != 0) return;
    miaw_sig_bundle b;
    if (miaw_sig_bundle_from_node(n, miaw_node_child(n, "registration") ? NULL : n, &b) == 0)
        (void)miaw_sig_session_from_bundle(A, &addr_x, &b);
    miaw_node_free(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!db) setup();
    if (size < 1) return 0;
    unsigned mode = data[0] & 0x0F, xor = data[0] & 0x10;
    data++;
    size--;
    uint8_t *buf = NULL, *out = NULL;
    size_t len = size, n = 0;
    if (xor && mode < 4) {
        /* the input XORed into a genuine message (length from the longer of the two) */
        size_t g = genuine_len[mode];
        len = size > g ? size : g;
        buf = calloc(1, len ? len : 1);
        if (!buf) return 0;
        memcpy(buf, genuine[mode], g);
        for (size_t i = 0; i < size; i++) buf[i] ^= data[i];
    } else {
        buf = malloc(size ? size : 1);
        if (!buf) return 0;
        if (size) memcpy(buf, data, size);
    }
    int rc;
    switch (mode) {
    case 0: rc = miaw_sig_decrypt(B, &addr_a, MIAW_SIG_PKMSG, buf, len, &out, &n); check_out(rc, out, n); break;
    case 1: rc = miaw_sig_decrypt(B, &addr_a, MIAW_SIG_MSG, buf, len, &out, &n); check_out(rc, out, n); break;
    case 2: rc = miaw_sig_group_decrypt(B, GROUP, &addr_a, buf, len, &out, &n); check_out(rc, out, n); break;
    case 3: (void)miaw_sig_group_process_skdm(B, "fuzz@g.us", &addr_x, buf, len); break;
    case 4: bundle_input(buf, len); break;
    case 5: rc = miaw_sig_decrypt(B, &addr_x, MIAW_SIG_PKMSG, buf, len, &out, &n); check_out(rc, out, n); break;
    default: {
        Miaw__Wa__Message *m = NULL;
        if (miaw_wamsg_decode(buf, len, &m) == 0) miaw__wa__message__free_unpacked(m, NULL);
        break;
    }
    }
    free(buf);
    return 0;
}
