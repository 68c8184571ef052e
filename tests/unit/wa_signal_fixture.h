/* tests/unit/wa_signal_fixture.h - shared setup of the Signal unit tests: accounts
 * ("parties") on one sqlite database, registered with identity, signed pre-key and a
 * few one-time pre-keys, and sessions built from bundles that went through the node
 * wire form (encode + decode), as a fetched bundle does. */
#ifndef MIAW_TEST_WA_SIGNAL_FIXTURE_H
#define MIAW_TEST_WA_SIGNAL_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "miaw/plugin.h"
#include "wa/node.h"
#include "wa/signal_group.h"
#include "wa/signal_keys.h"
#include "wa/signal_session.h"
#include "wa/signal_store.h"
#include "wa/wamsg.h"

typedef struct party {
    miaw_sig_store *s;
    miaw_sig_addr addr; /* how others address this device */
    char jid[64];
} party;

static inline void party_open(party *p, miaw_sig_db *sdb, const char *jid)
{
    memset(p, 0, sizeof *p);
    snprintf(p->jid, sizeof p->jid, "%s", jid);
    CU_ASSERT_FATAL(miaw_sig_store_open(sdb, jid, &p->s) == 0);
    CU_ASSERT_FATAL(miaw_sig_addr_parse(jid, &p->addr) == 0);
}

/* open + fresh registration keys (identity, signed pre-key 1, pre-keys 1..5) */
static inline void party_new(party *p, miaw_sig_db *sdb, const char *jid)
{
    party_open(p, sdb, jid);
    uint32_t first = 0, spk = 0;
    CU_ASSERT_FATAL(miaw_sig_generate_identity(p->s, 0) == 0);
    CU_ASSERT_FATAL(miaw_sig_generate_signed_prekey(p->s, 0, &spk) == 0);
    CU_ASSERT_FATAL(miaw_sig_generate_prekeys(p->s, 5, &first) == 0);
}

static inline void party_close(party *p)
{
    miaw_sig_store_close(p->s);
    p->s = NULL;
}

/* bundle of `to` (with one-time pre-key prekey_id, 0 = none) through the node wire
 * form, then a session at `from` */
static inline int connect_with(party *from, party *to, uint32_t prekey_id)
{
    miaw_sig_bundle b, got;
    if (miaw_sig_own_bundle(to->s, prekey_id, &b)) return -1;
    miaw_node *user = miaw_node_newv("user", "jid", to->jid, NULL);
    uint8_t *wire = NULL;
    size_t wire_len = 0;
    miaw_node *back = NULL;
    int rc = miaw_sig_bundle_to_node(&b, 1, user);
    if (rc == 0) rc = miaw_node_encode(user, &wire, &wire_len);
    if (rc == 0) rc = miaw_node_decode(wire, wire_len, &back);
    if (rc == 0) rc = miaw_sig_bundle_from_node(back, NULL, &got);
    if (rc == 0) rc = memcmp(&b, &got, sizeof b) ? -1 : 0;
    if (rc == 0) rc = miaw_sig_session_from_bundle(from->s, &to->addr, &got);
    free(wire);
    miaw_node_free(back);
    miaw_node_free(user);
    return rc;
}

/* encrypt text (padded) from -> to; returns type, ciphertext malloc'd */
static inline int send_text(party *from, party *to, const char *text, int *type, uint8_t **ct, size_t *ct_len)
{
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    int rc = miaw_wamsg_pad((const uint8_t *)text, strlen(text), &pt, &pt_len);
    if (rc == 0) rc = miaw_sig_encrypt(from->s, &to->addr, pt, pt_len, type, ct, ct_len);
    free(pt);
    return rc;
}

/* decrypt at `to` from `from`, unpad, compare with text: 0 when equal, else rc or -1 */
static inline int recv_text(party *to, party *from, int type, const uint8_t *ct, size_t ct_len,
                            const char *text)
{
    uint8_t *pt = NULL;
    size_t pt_len = 0, n = 0;
    int rc = miaw_sig_decrypt(to->s, &from->addr, type, ct, ct_len, &pt, &pt_len);
    if (rc == 0) rc = miaw_wamsg_unpad(pt, pt_len, &n);
    if (rc == 0) rc = (n == strlen(text) && !memcmp(pt, text, n)) ? 0 : -1;
    free(pt);
    return rc;
}
#endif
