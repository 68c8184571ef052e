/* tests/unit/test_wa_signal_group.c - sender keys with three members (A, B and C with
 * two devices): SKDMs delivered inside pairwise Messages, skmsg both ways, out-of-order
 * and duplicates, unknown senders, tampering, rotation, persistence; and the plaintext
 * padding (wamsg) edge cases. */
#include <sqlite3.h>

#include "wa_signal_fixture.h"

#define GROUP "120363012345678901@g.us"

static sqlite3 *db;
static miaw_sig_db *sdb;
static party A, B, C1, C2;
static party *all[] = {&A, &B, &C1, &C2};

static void setup(void)
{
    CU_ASSERT_FATAL(sqlite3_open(":memory:", &db) == SQLITE_OK);
    CU_ASSERT_FATAL(miaw_sig_db_open(db, &sdb) == 0);
    party_new(&A, sdb, "111111:1@lid");
    party_new(&B, sdb, "222222@lid");
    party_new(&C1, sdb, "333333@lid");
    party_new(&C2, sdb, "333333:4@lid");
}

static void teardown(void)
{
    for (size_t i = 0; i < 4; i++) party_close(all[i]);
    miaw_sig_db_close(sdb);
    sqlite3_close(db);
}

/* from's SKDM to `to` the way WhatsApp carries it: Message{senderKeyDistributionMessage}
 * padded, pairwise-encrypted, decrypted, parsed, processed */
static int deliver_skdm(party *from, party *to)
{
    uint8_t *skdm = NULL, *pt = NULL, *ct = NULL, *got = NULL;
    size_t skdm_len = 0, pt_len = 0, ct_len = 0, got_len = 0;
    int type = 0;
    Miaw__Wa__Message *m = NULL;
    int rc = miaw_sig_store_has_session(from->s, to->addr.name, to->addr.device);
    if (rc == 0) rc = connect_with(from, to, 0);
    else rc = rc == 1 ? 0 : rc;
    if (rc == 0) rc = miaw_sig_group_skdm(from->s, GROUP, &from->addr, &skdm, &skdm_len);
    if (rc == 0) rc = miaw_wamsg_encode_skdm(GROUP, skdm, skdm_len, &pt, &pt_len);
    if (rc == 0) rc = miaw_sig_encrypt(from->s, &to->addr, pt, pt_len, &type, &ct, &ct_len);
    if (rc == 0) rc = miaw_sig_decrypt(to->s, &from->addr, type, ct, ct_len, &got, &got_len);
    if (rc == 0) rc = miaw_wamsg_decode(got, got_len, &m);
    if (rc == 0 && (!m->senderkeydistributionmessage || !m->senderkeydistributionmessage->groupid ||
                    strcmp(m->senderkeydistributionmessage->groupid, GROUP) ||
                    !m->senderkeydistributionmessage->has_axolotlsenderkeydistributionmessage))
        rc = -1;
    if (rc == 0)
        rc = miaw_sig_group_process_skdm(to->s, m->senderkeydistributionmessage->groupid, &from->addr,
                                         m->senderkeydistributionmessage->axolotlsenderkeydistributionmessage.data,
                                         m->senderkeydistributionmessage->axolotlsenderkeydistributionmessage.len);
    if (m) miaw__wa__message__free_unpacked(m, NULL);
    free(skdm);
    free(pt);
    free(ct);
    free(got);
    return rc;
}

static int gsend(party *from, const char *text, uint8_t **ct, size_t *ct_len)
{
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    m.conversation = (char *)text;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int rc = miaw_wamsg_encode(&m, &pt, &pt_len);
    if (rc == 0) rc = miaw_sig_group_encrypt(from->s, GROUP, &from->addr, pt, pt_len, ct, ct_len);
    free(pt);
    return rc;
}

static int grecv(party *to, party *from, const uint8_t *ct, size_t ct_len, const char *text)
{
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    Miaw__Wa__Message *m = NULL;
    int rc = miaw_sig_group_decrypt(to->s, GROUP, &from->addr, ct, ct_len, &pt, &pt_len);
    if (rc == 0) rc = miaw_wamsg_decode(pt, pt_len, &m);
    if (rc == 0) rc = m->conversation && !strcmp(m->conversation, text) ? 0 : -1;
    if (m) miaw__wa__message__free_unpacked(m, NULL);
    free(pt);
    return rc;
}

static void test_group_three_members(void)
{
    setup();
    /* A distributes its sender key to every other device */
    for (size_t i = 1; i < 4; i++) CU_ASSERT_FATAL(deliver_skdm(&A, all[i]) == 0);
    uint8_t *ct;
    size_t n;
    CU_ASSERT_FATAL(gsend(&A, "hello group", &ct, &n) == 0);
    CU_ASSERT(ct[0] == 0x33 && n > 64);
    for (size_t i = 1; i < 4; i++) CU_ASSERT_EQUAL(grecv(all[i], &A, ct, n, "hello group"), 0);
    /* duplicate */
    int rc = grecv(&B, &A, ct, n, "hello group");
    CU_ASSERT_EQUAL(rc, MIAW_SIG_E_DUPLICATE);
    CU_ASSERT_EQUAL(miaw_sig_error_wants_retry(rc), 0);
    free(ct);
    /* B answers: A and C's devices get B's key first */
    CU_ASSERT_FATAL(deliver_skdm(&B, &A) == 0);
    CU_ASSERT_FATAL(deliver_skdm(&B, &C1) == 0);
    CU_ASSERT_FATAL(gsend(&B, "hi from B", &ct, &n) == 0);
    CU_ASSERT_EQUAL(grecv(&A, &B, ct, n, "hi from B"), 0);
    CU_ASSERT_EQUAL(grecv(&C1, &B, ct, n, "hi from B"), 0);
    /* C2 never got B's key: no sender key -> retry */
    rc = grecv(&C2, &B, ct, n, "hi from B");
    CU_ASSERT_EQUAL(rc, MIAW_SIG_E_NO_SESSION);
    CU_ASSERT_EQUAL(miaw_sig_error_wants_retry(rc), 1);
    free(ct);
    /* retry: B sends its (current) key to C2, which then decrypts B's next messages */
    CU_ASSERT_FATAL(deliver_skdm(&B, &C2) == 0);
    CU_ASSERT_FATAL(gsend(&B, "again", &ct, &n) == 0);
    CU_ASSERT_EQUAL(grecv(&C2, &B, ct, n, "again"), 0);
    CU_ASSERT_EQUAL(grecv(&A, &B, ct, n, "again"), 0);
    free(ct);
    /* a sender key is per sender: A's skmsg under B's name fails */
    CU_ASSERT_FATAL(gsend(&A, "mine", &ct, &n) == 0);
    CU_ASSERT(grecv(&C1, &B, ct, n, "mine") < 0);
    CU_ASSERT_EQUAL(grecv(&C1, &A, ct, n, "mine"), 0);
    free(ct);
    teardown();
}

static void test_group_order_tamper_rotate(void)
{
    setup();
    CU_ASSERT_FATAL(deliver_skdm(&A, &B) == 0);
    CU_ASSERT_FATAL(deliver_skdm(&A, &C1) == 0);
    uint8_t *ct[5];
    size_t n[5];
    char txt[5][8];
    for (int i = 0; i < 5; i++) {
        snprintf(txt[i], sizeof txt[i], "g%d", i);
        CU_ASSERT_FATAL(gsend(&A, txt[i], &ct[i], &n[i]) == 0);
    }
    CU_ASSERT_EQUAL(grecv(&B, &A, ct[4], n[4], txt[4]), 0);
    CU_ASSERT_EQUAL(grecv(&B, &A, ct[0], n[0], txt[0]), 0);
    CU_ASSERT_EQUAL(grecv(&B, &A, ct[2], n[2], txt[2]), 0);
    CU_ASSERT_EQUAL(grecv(&B, &A, ct[2], n[2], txt[2]), MIAW_SIG_E_DUPLICATE);
    /* tampered signature / body: invalid, and the good copy still decrypts afterwards */
    ct[1][n[1] - 3] ^= 1;
    CU_ASSERT_EQUAL(grecv(&B, &A, ct[1], n[1], txt[1]), MIAW_SIG_E_INVALID);
    ct[1][n[1] - 3] ^= 1;
    ct[3][5] ^= 0x80;
    CU_ASSERT(grecv(&B, &A, ct[3], n[3], txt[3]) < 0);
    ct[3][5] ^= 0x80;
    CU_ASSERT_EQUAL(grecv(&B, &A, ct[1], n[1], txt[1]), 0);
    CU_ASSERT_EQUAL(grecv(&B, &A, ct[3], n[3], txt[3]), 0);
    uint8_t junk[40] = {0x33, 1, 2, 3};
    uint8_t *pt = NULL;
    size_t ptn;
    CU_ASSERT(miaw_sig_group_decrypt(B.s, GROUP, &A.addr, junk, sizeof junk, &pt, &ptn) < 0);
    CU_ASSERT(miaw_sig_group_process_skdm(B.s, GROUP, &A.addr, junk, sizeof junk) < 0);
    CU_ASSERT(pt == NULL);
    for (int i = 0; i < 5; i++) free(ct[i]);
    /* rotation (a member left): the new key reaches B only; C1 cannot read on */
    CU_ASSERT(miaw_sig_group_rotate(A.s, GROUP, &A.addr) == 0);
    CU_ASSERT_FATAL(deliver_skdm(&A, &B) == 0);
    uint8_t *c;
    size_t cn;
    CU_ASSERT_FATAL(gsend(&A, "after rotation", &c, &cn) == 0);
    CU_ASSERT_EQUAL(grecv(&B, &A, c, cn, "after rotation"), 0);
    CU_ASSERT(grecv(&C1, &A, c, cn, "after rotation") < 0);
    free(c);
    /* encrypting in a group without distributing first creates the key */
    CU_ASSERT_FATAL(gsend(&C2, "lonely", &c, &cn) == 0);
    CU_ASSERT_EQUAL(grecv(&A, &C2, c, cn, "lonely"), MIAW_SIG_E_NO_SESSION);
    CU_ASSERT_FATAL(deliver_skdm(&C2, &A) == 0);
    free(c);
    CU_ASSERT_FATAL(gsend(&C2, "now", &c, &cn) == 0);
    CU_ASSERT_EQUAL(grecv(&A, &C2, c, cn, "now"), 0);
    free(c);
    teardown();
}

static void test_padding(void)
{
    uint8_t *p = NULL;
    size_t n = 0, m = 0;
    const uint8_t msg[] = {0x0a, 0x02, 'h', 'i'};
    int seen[17] = {0};
    for (int i = 0; i < 2000; i++) {
        CU_ASSERT_FATAL(miaw_wamsg_pad(msg, sizeof msg, &p, &n) == 0);
        size_t pad = n - sizeof msg;
        CU_ASSERT(pad >= 1 && pad <= MIAW_WAMSG_PAD_MAX);
        if (pad <= 16) seen[pad]++;
        CU_ASSERT(miaw_wamsg_unpad(p, n, &m) == 0 && m == sizeof msg);
        CU_ASSERT(!memcmp(p, msg, sizeof msg));
        free(p);
    }
    for (int k = 1; k <= 15; k++) CU_ASSERT(seen[k] > 0);
    CU_ASSERT_EQUAL(seen[16], 0);
    /* Baileys pads up to 16; an empty message padded is valid */
    CU_ASSERT(miaw_wamsg_pad_n(msg, sizeof msg, 16, &p, &n) == 0);
    CU_ASSERT(miaw_wamsg_unpad(p, n, &m) == 0 && m == sizeof msg);
    free(p);
    CU_ASSERT(miaw_wamsg_pad_n(NULL, 0, 3, &p, &n) == 0);
    CU_ASSERT(miaw_wamsg_unpad(p, n, &m) == 0 && m == 0);
    free(p);
    CU_ASSERT(miaw_wamsg_pad_n(msg, sizeof msg, 0, &p, &n) == MIAW_E_INVAL);
    /* invalid paddings */
    const uint8_t zero[] = {1, 2, 0};
    const uint8_t too_long[] = {5, 5, 5, 5};
    const uint8_t mismatch[] = {9, 9, 2, 3, 3};
    const uint8_t ok_whole[] = {3, 3, 3};
    CU_ASSERT_EQUAL(miaw_wamsg_unpad(zero, 0, &m), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wamsg_unpad(zero, sizeof zero, &m), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wamsg_unpad(too_long, sizeof too_long, &m), MIAW_E_INVAL);
    CU_ASSERT_EQUAL(miaw_wamsg_unpad(mismatch, sizeof mismatch, &m), MIAW_E_INVAL);
    CU_ASSERT(miaw_wamsg_unpad(ok_whole, sizeof ok_whole, &m) == 0 && m == 0);
    /* Message round trip, and a bad protobuf under valid padding */
    Miaw__Wa__Message in = MIAW__WA__MESSAGE__INIT, *out = NULL;
    in.conversation = "padded text";
    CU_ASSERT_FATAL(miaw_wamsg_encode(&in, &p, &n) == 0);
    CU_ASSERT(miaw_wamsg_decode(p, n, &out) == 0);
    CU_ASSERT(out && out->conversation && !strcmp(out->conversation, "padded text"));
    if (out) miaw__wa__message__free_unpacked(out, NULL);
    p[n - 1] ^= 1;
    CU_ASSERT_EQUAL(miaw_wamsg_decode(p, n, &out), MIAW_E_INVAL);
    free(p);
    const uint8_t bad_pb[] = {0x0a, 0x7f, 'x', 1};
    CU_ASSERT_EQUAL(miaw_wamsg_decode(bad_pb, sizeof bad_pb, &out), MIAW_E_INVAL);
}

MIAW_TESTS("wa_signal_group", MIAW_T(test_group_three_members), MIAW_T(test_group_order_tamper_rotate),
           MIAW_T(test_padding))
