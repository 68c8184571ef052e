/* tests/unit/test_wa_signal.c - 1:1 Signal sessions: bundles in node form, addresses,
 * pkmsg then msg between A and B's two devices, out-of-order and duplicate messages,
 * missing sessions and pre-keys, garbage and tampering (no state change), identity
 * change, pre-key ids and upload node, persistence across reopening, purge. */
#include <openssl/rand.h>
#include <signal/curve.h>
#include <signal/signal_protocol.h>
#include <stdio.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "wa_signal_fixture.h"

static sqlite3 *db;
static miaw_sig_db *sdb;
static party A, B1, B2;

static void setup(void)
{
    CU_ASSERT_FATAL(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CU_ASSERT_FATAL(miaw_sig_db_open(db, &sdb) == 0);
    party_new(&A, sdb, "15550001111:3@s.whatsapp.net");
    party_new(&B1, sdb, "15550002222@s.whatsapp.net");
    party_new(&B2, sdb, "15550002222:7@s.whatsapp.net");
}

static void teardown(void)
{
    party_close(&A);
    party_close(&B1);
    party_close(&B2);
    miaw_sig_db_close(sdb);
    sqlite3_close(db);
}

static void test_addresses(void)
{
    miaw_sig_addr a;
    char buf[160];
    CU_ASSERT(miaw_sig_addr_parse("15551234567:4@s.whatsapp.net", &a) == 0);
    CU_ASSERT_STRING_EQUAL(a.name, "15551234567");
    CU_ASSERT_EQUAL(a.device, 4);
    CU_ASSERT(miaw_sig_addr_format(&a, buf, sizeof buf) > 0);
    CU_ASSERT_STRING_EQUAL(buf, "15551234567.4");
    CU_ASSERT(miaw_sig_addr_parse("15551234567@s.whatsapp.net", &a) == 0);
    CU_ASSERT_EQUAL(a.device, 0);
    CU_ASSERT(miaw_sig_addr_parse("98765432101234:12@lid", &a) == 0);
    CU_ASSERT_STRING_EQUAL(a.name, "98765432101234_1");
    CU_ASSERT_EQUAL(a.device, 12);
    CU_ASSERT(miaw_sig_addr_parse("555:99@hosted", &a) == 0);
    CU_ASSERT_STRING_EQUAL(a.name, "555_128");
    CU_ASSERT(miaw_sig_addr_parse("555:99@hosted.lid", &a) == 0);
    CU_ASSERT_STRING_EQUAL(a.name, "555_129");
    CU_ASSERT(miaw_sig_addr_parse("@s.whatsapp.net", &a) == MIAW_E_INVAL);
    CU_ASSERT(miaw_sig_addr_parse("garbage", &a) == MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_sig_type_parse("pkmsg"), MIAW_SIG_PKMSG);
    CU_ASSERT_EQUAL(miaw_sig_type_parse("msg"), MIAW_SIG_MSG);
    CU_ASSERT_EQUAL(miaw_sig_type_parse("skmsg"), MIAW_SIG_SKMSG);
    CU_ASSERT_EQUAL(miaw_sig_type_parse("frank"), 0);
    CU_ASSERT_STRING_EQUAL(miaw_sig_type_name(MIAW_SIG_PKMSG), "pkmsg");
}

static void test_bundle_wire_form(void)
{
    setup();
    miaw_sig_bundle b;
    CU_ASSERT_FATAL(miaw_sig_own_bundle(B1.s, 2, &b) == 0);
    miaw_keypair ident;
    uint32_t reg = 0;
    CU_ASSERT(miaw_sig_store_get_identity(B1.s, &ident, &reg) == 0);
    CU_ASSERT(reg >= 1 && reg <= 16380);
    CU_ASSERT_EQUAL(b.reg_id, reg);
    CU_ASSERT(!memcmp(b.identity, ident.pub, 32));
    CU_ASSERT_EQUAL(b.spk_id, 1);
    CU_ASSERT(b.has_prekey && b.prekey_id == 2);
    uint8_t msg[33] = {0x05};
    memcpy(msg + 1, b.spk_pub, 32);
    CU_ASSERT(miaw_xeddsa_verify(b.identity, msg, 33, b.spk_sig, 64) == 0);

    miaw_node *user = miaw_node_newv("user", "jid", B1.jid, NULL);
    CU_ASSERT_FATAL(miaw_sig_bundle_to_node(&b, 1, user) == 0);
    size_t n = 0;
    const uint8_t *p = miaw_node_bytes(miaw_node_child(user, "registration"), &n);
    CU_ASSERT(n == 4 && p[0] == (reg >> 24 & 0xff) && p[3] == (reg & 0xff));
    p = miaw_node_bytes(miaw_node_child(user, "type"), &n);
    CU_ASSERT(n == 1 && p[0] == 0x05);
    miaw_node_bytes(miaw_node_child(user, "identity"), &n);
    CU_ASSERT_EQUAL(n, 32);
    p = miaw_node_bytes(miaw_node_path(user, "skey", "id", NULL), &n);
    CU_ASSERT(n == 3 && p[0] == 0 && p[1] == 0 && p[2] == 1);
    miaw_node_bytes(miaw_node_path(user, "skey", "value", NULL), &n);
    CU_ASSERT_EQUAL(n, 32);
    miaw_node_bytes(miaw_node_path(user, "skey", "signature", NULL), &n);
    CU_ASSERT_EQUAL(n, 64);
    p = miaw_node_bytes(miaw_node_path(user, "key", "id", NULL), &n);
    CU_ASSERT(n == 3 && p[2] == 2);
    /* a retry receipt: registration outside <keys> */
    miaw_node *receipt = miaw_node_new("receipt"), *keys = miaw_node_add(receipt, "keys");
    miaw_sig_bundle got;
    CU_ASSERT(miaw_sig_bundle_to_node(&b, 0, keys) == 0);
    CU_ASSERT(miaw_sig_bundle_from_node(keys, NULL, &got) == MIAW_E_INVAL);
    uint8_t regb[4] = {(uint8_t)(reg >> 24), (uint8_t)(reg >> 16), (uint8_t)(reg >> 8), (uint8_t)reg};
    miaw_node_set_bytes(miaw_node_add(receipt, "registration"), regb, 4);
    CU_ASSERT(miaw_sig_bundle_from_node(keys, receipt, &got) == 0);
    CU_ASSERT(!memcmp(&got, &b, sizeof b));
    /* bad type / truncated identity are refused */
    miaw_node_set_bytes(miaw_node_child(keys, "type"), "\x06", 1);
    CU_ASSERT(miaw_sig_bundle_from_node(keys, receipt, &got) == MIAW_E_INVAL);
    miaw_node_set_bytes(miaw_node_child(keys, "type"), "\x05", 1);
    miaw_node_set_bytes(miaw_node_child(keys, "identity"), b.identity, 31);
    CU_ASSERT(miaw_sig_bundle_from_node(keys, receipt, &got) == MIAW_E_INVAL);
    miaw_node_free(receipt);
    miaw_node_free(user);
    /* a forged signed pre-key signature is refused when building the session */
    b.spk_sig[5] ^= 1;
    CU_ASSERT_EQUAL(miaw_sig_session_from_bundle(A.s, &B1.addr, &b), MIAW_SIG_E_BAD_KEY);
    CU_ASSERT_EQUAL(miaw_sig_store_has_session(A.s, B1.addr.name, B1.addr.device), 0);
    teardown();
}

static void test_pkmsg_then_msg(void)
{
    setup();
    CU_ASSERT_FATAL(connect_with(&A, &B1, 1) == 0);
    CU_ASSERT_FATAL(connect_with(&A, &B2, 1) == 0);
    int t1 = 0, t2 = 0, t = 0;
    uint8_t *c1 = NULL, *c2 = NULL, *c = NULL;
    size_t n1 = 0, n2 = 0, n = 0;
    CU_ASSERT_FATAL(send_text(&A, &B1, "hello device 0", &t1, &c1, &n1) == 0);
    CU_ASSERT_FATAL(send_text(&A, &B2, "hello device 7", &t2, &c2, &n2) == 0);
    CU_ASSERT_EQUAL(t1, MIAW_SIG_PKMSG);
    CU_ASSERT_EQUAL(t2, MIAW_SIG_PKMSG);
    CU_ASSERT(c1[0] == 0x33);
    CU_ASSERT_EQUAL(miaw_sig_store_count_prekeys(B1.s), 5);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t1, c1, n1, "hello device 0"), 0);
    CU_ASSERT_EQUAL(recv_text(&B2, &A, t2, c2, n2, "hello device 7"), 0);
    /* the one-time pre-key is used up; the sender's identity is remembered */
    miaw_keypair kp, ident;
    CU_ASSERT_EQUAL(miaw_sig_store_get_prekey(B1.s, 1, &kp), MIAW_E_NOTFOUND);
    CU_ASSERT_EQUAL(miaw_sig_store_count_prekeys(B1.s), 4);
    uint8_t rid[32];
    CU_ASSERT(miaw_sig_store_remote_identity(B1.s, A.addr.name, A.addr.device, rid) == 0);
    CU_ASSERT(miaw_sig_store_get_identity(A.s, &ident, NULL) == 0);
    CU_ASSERT(!memcmp(rid, ident.pub, 32));
    free(c1);
    /* no answer yet: still pkmsg */
    CU_ASSERT(send_text(&A, &B1, "second", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(t, MIAW_SIG_PKMSG);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t, c, n, "second"), 0);
    free(c);
    /* B1 answers with msg; then A sends msg */
    CU_ASSERT(send_text(&B1, &A, "reply", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(t, MIAW_SIG_MSG);
    CU_ASSERT_EQUAL(recv_text(&A, &B1, t, c, n, "reply"), 0);
    free(c);
    CU_ASSERT(send_text(&A, &B1, "third", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(t, MIAW_SIG_MSG);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t, c, n, "third"), 0);
    /* a device must not decrypt what was meant for the other */
    CU_ASSERT(recv_text(&B2, &A, t, c, n, "third") != 0);
    free(c);
    free(c2);
    teardown();
}

static void test_out_of_order_and_duplicates(void)
{
    setup();
    CU_ASSERT_FATAL(connect_with(&A, &B1, 3) == 0);
    int t[4];
    uint8_t *c[4];
    size_t n[4];
    const char *txt[4] = {"m0", "m1", "m2", "m3"};
    CU_ASSERT_FATAL(send_text(&A, &B1, txt[0], &t[0], &c[0], &n[0]) == 0);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t[0], c[0], n[0], txt[0]), 0);
    /* a replayed pkmsg is a duplicate, which needs no retry receipt */
    int rc = recv_text(&B1, &A, t[0], c[0], n[0], txt[0]);
    CU_ASSERT_EQUAL(rc, MIAW_SIG_E_DUPLICATE);
    CU_ASSERT_EQUAL(miaw_sig_error_wants_retry(rc), 0);
    int rt;
    uint8_t *rc_ct;
    size_t rn;
    CU_ASSERT_FATAL(send_text(&B1, &A, "ack", &rt, &rc_ct, &rn) == 0);
    CU_ASSERT_EQUAL(recv_text(&A, &B1, rt, rc_ct, rn, "ack"), 0);
    free(rc_ct);
    for (int i = 1; i < 4; i++) {
        CU_ASSERT_FATAL(send_text(&A, &B1, txt[i], &t[i], &c[i], &n[i]) == 0);
        CU_ASSERT_EQUAL(t[i], MIAW_SIG_MSG);
    }
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t[3], c[3], n[3], txt[3]), 0);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t[1], c[1], n[1], txt[1]), 0);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t[1], c[1], n[1], txt[1]), MIAW_SIG_E_DUPLICATE);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t[2], c[2], n[2], txt[2]), 0);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t[3], c[3], n[3], txt[3]), MIAW_SIG_E_DUPLICATE);
    for (int i = 0; i < 4; i++) free(c[i]);
    teardown();
}

static void test_missing_session_and_prekey(void)
{
    setup();
    int t;
    uint8_t *c = NULL;
    size_t n;
    CU_ASSERT_EQUAL(send_text(&A, &B1, "x", &t, &c, &n), MIAW_SIG_E_NO_SESSION);
    /* A -> B1 session; B2 receives a msg for which it has no session */
    CU_ASSERT_FATAL(connect_with(&A, &B1, 2) == 0);
    CU_ASSERT_FATAL(send_text(&A, &B1, "one", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t, c, n, "one"), 0);
    free(c);
    uint8_t *r;
    size_t rn;
    CU_ASSERT_FATAL(send_text(&B1, &A, "two", &t, &r, &rn) == 0);
    int rc = recv_text(&B2, &B1, MIAW_SIG_MSG, r, rn, "two");
    CU_ASSERT_EQUAL(rc, MIAW_SIG_E_NO_SESSION);
    CU_ASSERT_EQUAL(miaw_sig_error_wants_retry(rc), 1);
    free(r);
    /* the pre-key named by a pkmsg is gone (handed out twice by the server) */
    CU_ASSERT_FATAL(connect_with(&A, &B2, 4) == 0);
    CU_ASSERT_FATAL(send_text(&A, &B2, "three", &t, &c, &n) == 0);
    CU_ASSERT(signal_protocol_pre_key_remove_key(miaw_sig_store_protocol(B2.s), 4) == 0);
    rc = recv_text(&B2, &A, t, c, n, "three");
    CU_ASSERT_EQUAL(rc, MIAW_SIG_E_NO_PREKEY);
    CU_ASSERT_EQUAL(miaw_sig_error_wants_retry(rc), 1);
    CU_ASSERT_EQUAL(miaw_sig_store_has_session(B2.s, A.addr.name, A.addr.device), 0);
    free(c);
    /* the retry: B2 answers with a fresh bundle, A rebuilds and resends */
    CU_ASSERT_FATAL(connect_with(&A, &B2, 5) == 0);
    CU_ASSERT_FATAL(send_text(&A, &B2, "three again", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(recv_text(&B2, &A, t, c, n, "three again"), 0);
    free(c);
    /* a bundle without a one-time pre-key works too */
    party C;
    party_new(&C, sdb, "15550003333@s.whatsapp.net");
    CU_ASSERT_FATAL(connect_with(&A, &C, 0) == 0);
    CU_ASSERT_FATAL(send_text(&A, &C, "no otk", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(t, MIAW_SIG_PKMSG);
    CU_ASSERT_EQUAL(recv_text(&C, &A, t, c, n, "no otk"), 0);
    CU_ASSERT_EQUAL(miaw_sig_store_count_prekeys(C.s), 5);
    free(c);
    party_close(&C);
    teardown();
}

static void test_garbage_and_tampering(void)
{
    setup();
    CU_ASSERT_FATAL(connect_with(&A, &B1, 1) == 0);
    int t;
    uint8_t *c, *pt = NULL;
    size_t n, ptn;
    CU_ASSERT_FATAL(send_text(&A, &B1, "genuine", &t, &c, &n) == 0);
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (uint8_t)(i * 37 + 11);
    CU_ASSERT(miaw_sig_decrypt(B1.s, &A.addr, MIAW_SIG_PKMSG, junk, sizeof junk, &pt, &ptn) < 0);
    CU_ASSERT(miaw_sig_decrypt(B1.s, &A.addr, MIAW_SIG_MSG, junk, sizeof junk, &pt, &ptn) < 0);
    CU_ASSERT_EQUAL(miaw_sig_decrypt(B1.s, &A.addr, MIAW_SIG_MSG, junk, 0, &pt, &ptn), MIAW_SIG_E_INVALID);
    CU_ASSERT_EQUAL(miaw_sig_decrypt(B1.s, &A.addr, 9, junk, 8, &pt, &ptn), MIAW_E_INVAL);
    /* a flipped ciphertext byte fails the MAC and changes nothing */
    c[n - 12] ^= 0x40;
    int rc = miaw_sig_decrypt(B1.s, &A.addr, t, c, n, &pt, &ptn);
    CU_ASSERT_EQUAL(rc, MIAW_SIG_E_INVALID);
    CU_ASSERT_EQUAL(miaw_sig_store_has_session(B1.s, A.addr.name, A.addr.device), 0);
    CU_ASSERT_EQUAL(miaw_sig_store_count_prekeys(B1.s), 5);
    c[n - 12] ^= 0x40;
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t, c, n, "genuine"), 0);
    free(c);
    CU_ASSERT(pt == NULL);
    teardown();
}

static void test_identity_change(void)
{
    setup();
    CU_ASSERT_FATAL(connect_with(&A, &B1, 1) == 0);
    int t;
    uint8_t *c;
    size_t n;
    CU_ASSERT_FATAL(send_text(&A, &B1, "before", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t, c, n, "before"), 0);
    free(c);
    /* A re-registers (new identity, keys) and writes again: B1 accepts it */
    CU_ASSERT_FATAL(miaw_sig_db_purge(sdb, A.jid) == 0);
    party_close(&A);
    party_new(&A, sdb, "15550001111:3@s.whatsapp.net");
    CU_ASSERT_FATAL(connect_with(&A, &B1, 2) == 0);
    CU_ASSERT_FATAL(send_text(&A, &B1, "after", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(t, MIAW_SIG_PKMSG);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t, c, n, "after"), 0);
    free(c);
    uint8_t rid[32];
    miaw_keypair ident;
    CU_ASSERT(miaw_sig_store_remote_identity(B1.s, A.addr.name, A.addr.device, rid) == 0);
    CU_ASSERT(miaw_sig_store_get_identity(A.s, &ident, NULL) == 0);
    CU_ASSERT(!memcmp(rid, ident.pub, 32));
    CU_ASSERT_FATAL(send_text(&B1, &A, "welcome back", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(recv_text(&A, &B1, t, c, n, "welcome back"), 0);
    free(c);
    teardown();
}

static void test_prekey_ids_and_upload(void)
{
    setup();
    uint32_t first = 0, next = 0, spk = 0;
    CU_ASSERT(miaw_sig_store_counters(A.s, &next, &spk) == 0);
    CU_ASSERT_EQUAL(next, 6);
    CU_ASSERT_EQUAL(spk, 1);
    CU_ASSERT(miaw_sig_generate_prekeys(A.s, 3, &first) == 0);
    CU_ASSERT_EQUAL(first, 6);
    CU_ASSERT_EQUAL(miaw_sig_store_count_prekeys(A.s), 8);
    CU_ASSERT(miaw_sig_store_set_counters(A.s, 0xFFFFFE, spk) == 0);
    CU_ASSERT(miaw_sig_generate_prekeys(A.s, 3, &first) == 0);
    CU_ASSERT_EQUAL(first, 0xFFFFFE);
    miaw_keypair kp;
    CU_ASSERT(miaw_sig_store_get_prekey(A.s, 0xFFFFFF, &kp) == 0);
    CU_ASSERT(miaw_sig_store_counters(A.s, &next, NULL) == 0);
    CU_ASSERT_EQUAL(next, 2);
    CU_ASSERT(miaw_sig_generate_prekeys(A.s, 0, &first) == MIAW_E_INVAL);
    /* upload node of 6.1 */
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "encrypt", "type", "set", NULL);
    CU_ASSERT_FATAL(miaw_sig_upload_to_node(A.s, 0xFFFFFE, 3, iq) == 0);
    CU_ASSERT_STRING_EQUAL(miaw_node_child_at(iq, 0)->tag, "registration");
    CU_ASSERT_STRING_EQUAL(miaw_node_child_at(iq, 3)->tag, "list");
    CU_ASSERT_STRING_EQUAL(miaw_node_child_at(iq, 4)->tag, "skey");
    miaw_node *list = miaw_node_child(iq, "list");
    CU_ASSERT_EQUAL(miaw_node_count(list), 3);
    size_t n;
    const uint8_t *id = miaw_node_bytes(miaw_node_child(miaw_node_child_at(list, 2), "id"), &n);
    CU_ASSERT(n == 3 && id[0] == 0 && id[1] == 0 && id[2] == 1);
    const uint8_t *val = miaw_node_bytes(miaw_node_child(miaw_node_child_at(list, 1), "value"), &n);
    CU_ASSERT(n == 32 && !memcmp(val, kp.pub, 32));
    miaw_node_free(iq);
    /* a second signed pre-key becomes current; the old one still decrypts */
    uint32_t spk2 = 0;
    CU_ASSERT(miaw_sig_generate_signed_prekey(A.s, 0, &spk2) == 0);
    CU_ASSERT_EQUAL(spk2, 2);
    miaw_sig_bundle b;
    CU_ASSERT(miaw_sig_own_bundle(A.s, 0, &b) == 0);
    CU_ASSERT_EQUAL(b.spk_id, 2);
    uint8_t pub[32], sig[64];
    CU_ASSERT(miaw_sig_signed_prekey_get(A.s, 1, NULL, pub, sig) == 0);
    CU_ASSERT(miaw_sig_generate_identity(A.s, 0) == 0); /* kept */
    miaw_keypair before, after;
    CU_ASSERT(miaw_sig_store_get_identity(A.s, &before, NULL) == 0);
    CU_ASSERT(miaw_sig_generate_identity(A.s, 0) == 0);
    CU_ASSERT(miaw_sig_store_get_identity(A.s, &after, NULL) == 0);
    CU_ASSERT(!memcmp(&before, &after, sizeof before));
    teardown();
}

static void test_persistence_and_purge(void)
{
    char path[] = "/tmp/miaw_sig_test_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    CU_ASSERT_FATAL(sqlite3_open(path, &db) == SQLITE_OK);
    CU_ASSERT_FATAL(miaw_sig_db_open(db, &sdb) == 0);
    party_new(&A, sdb, "15550001111:3@s.whatsapp.net");
    party_new(&B1, sdb, "15550002222@s.whatsapp.net");
    CU_ASSERT_FATAL(connect_with(&A, &B1, 1) == 0);
    int t;
    uint8_t *c, *late;
    size_t n, late_n;
    CU_ASSERT_FATAL(send_text(&A, &B1, "p1", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t, c, n, "p1"), 0);
    free(c);
    CU_ASSERT_FATAL(send_text(&B1, &A, "p2", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(recv_text(&A, &B1, t, c, n, "p2"), 0);
    free(c);
    CU_ASSERT_FATAL(send_text(&A, &B1, "late", &t, &late, &late_n) == 0);
    CU_ASSERT_FATAL(send_text(&A, &B1, "p3", &t, &c, &n) == 0);
    party_close(&A);
    party_close(&B1);
    miaw_sig_db_close(sdb);
    sqlite3_close(db);

    CU_ASSERT_FATAL(sqlite3_open(path, &db) == SQLITE_OK);
    CU_ASSERT_FATAL(miaw_sig_db_open(db, &sdb) == 0);
    party_open(&A, sdb, "15550001111:3@s.whatsapp.net");
    party_open(&B1, sdb, "15550002222@s.whatsapp.net");
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t, c, n, "p3"), 0);
    CU_ASSERT_EQUAL(recv_text(&B1, &A, t, late, late_n, "late"), 0); /* skipped key kept */
    free(c);
    free(late);
    CU_ASSERT_FATAL(send_text(&B1, &A, "p4", &t, &c, &n) == 0);
    CU_ASSERT_EQUAL(t, MIAW_SIG_MSG);
    CU_ASSERT_EQUAL(recv_text(&A, &B1, t, c, n, "p4"), 0);
    free(c);
    uint32_t next = 0;
    CU_ASSERT(miaw_sig_store_counters(B1.s, &next, NULL) == 0);
    CU_ASSERT_EQUAL(next, 6);
    CU_ASSERT_EQUAL(miaw_sig_store_count_prekeys(B1.s), 4);

    /* purge A: its rows go, B1's stay */
    CU_ASSERT(miaw_sig_db_purge(sdb, A.jid) == 0);
    party_close(&A);
    party_open(&A, sdb, "15550001111:3@s.whatsapp.net");
    CU_ASSERT_EQUAL(miaw_sig_store_get_identity(A.s, NULL, NULL), MIAW_SIG_E_NO_IDENTITY);
    CU_ASSERT_EQUAL(miaw_sig_store_has_session(A.s, B1.addr.name, B1.addr.device), 0);
    CU_ASSERT_EQUAL(miaw_sig_store_count_prekeys(A.s), 0);
    CU_ASSERT_EQUAL(send_text(&A, &B1, "x", &t, &c, &n), MIAW_SIG_E_NO_SESSION);
    CU_ASSERT_EQUAL(miaw_sig_store_has_session(B1.s, A.addr.name, A.addr.device), 1);
    CU_ASSERT_EQUAL(miaw_sig_store_count_prekeys(B1.s), 4);
    sqlite3_stmt *st;
    CU_ASSERT(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM sig_sessions WHERE owner=?1)"
                                     "+(SELECT count(*) FROM sig_identities WHERE owner=?1)"
                                     "+(SELECT count(*) FROM sig_signed_prekeys WHERE owner=?1)",
                                 -1, &st, NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, A.jid, -1, SQLITE_STATIC);
    CU_ASSERT(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 0);
    sqlite3_finalize(st);
    party_close(&A);
    party_close(&B1);
    miaw_sig_db_close(sdb);
    sqlite3_close(db);
    unlink(path);
}

/* key pairs (computed with OpenSSL's X25519) against RFC 7748's test vector and against
 * libsignal's own curve code for random private keys, unclamped ones included */
static void test_keypair_matches_libsignal(void)
{
    static const char *alice_priv = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    static const char *alice_pub = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    uint8_t k[32], want[32];
    for (int i = 0; i < 32; i++) {
        CU_ASSERT_FATAL(sscanf(alice_priv + 2 * i, "%2hhx", &k[i]) == 1);
        CU_ASSERT_FATAL(sscanf(alice_pub + 2 * i, "%2hhx", &want[i]) == 1);
    }
    miaw_keypair kp;
    CU_ASSERT_FATAL(miaw_keypair_from_private(&kp, k) == 0);
    CU_ASSERT(memcmp(kp.pub, want, 32) == 0);
    signal_context *ctx = miaw_signal_ctx_shared();
    CU_ASSERT_FATAL(ctx != NULL);
    for (int n = 0; n < 64; n++) {
        CU_ASSERT_FATAL(RAND_bytes(k, sizeof k) == 1);
        if (n & 1) k[31] |= 0x80; /* the high bit is cleared by the clamp */
        CU_ASSERT_FATAL(miaw_keypair_from_private(&kp, k) == 0);
        uint8_t c[32];
        memcpy(c, k, 32);
        miaw_curve25519_clamp(c);
        CU_ASSERT(memcmp(kp.priv, c, 32) == 0);
        ec_private_key *sk = NULL;
        ec_public_key *pk = NULL;
        signal_buffer *pb = NULL;
        CU_ASSERT_FATAL(curve_decode_private_point(&sk, c, 32, ctx) == 0);
        CU_ASSERT_FATAL(curve_generate_public_key(&pk, sk) == 0);
        CU_ASSERT_FATAL(ec_public_key_serialize(&pb, pk) == 0);
        CU_ASSERT(signal_buffer_len(pb) == 33 && memcmp(signal_buffer_data(pb) + 1, kp.pub, 32) == 0);
        signal_buffer_free(pb);
        SIGNAL_UNREF(pk);
        SIGNAL_UNREF(sk);
    }
    miaw_keypair g;
    CU_ASSERT_FATAL(miaw_keypair_generate(&g) == 0);
    CU_ASSERT_FATAL(miaw_keypair_from_private(&kp, g.priv) == 0);
    CU_ASSERT(memcmp(kp.pub, g.pub, 32) == 0);
}

MIAW_TESTS("wa_signal", MIAW_T(test_keypair_matches_libsignal), MIAW_T(test_addresses), MIAW_T(test_bundle_wire_form), MIAW_T(test_pkmsg_then_msg),
           MIAW_T(test_out_of_order_and_duplicates), MIAW_T(test_missing_session_and_prekey),
           MIAW_T(test_garbage_and_tampering), MIAW_T(test_identity_change),
           MIAW_T(test_prekey_ids_and_upload), MIAW_T(test_persistence_and_purge))
