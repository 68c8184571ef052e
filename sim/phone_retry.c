/* sim/phone_retry.c - retry receipts for the simulated phones (protocol facts 8.4): the
 * receipt a phone sends for what it cannot decrypt, and its answer to a retry receipt for
 * a 1:1 text it sent (session rebuilt, text re-encrypted for the one requesting device,
 * sent with device_fanout="false"). Owns nothing beyond a call. */
#include "phone_retry.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "phone.h"
#include "route.h"
#include "state.h"
#include "base/util.h"
#include "wa/signal_keys.h"
#include "wa/signal_session.h"
#include "wa/stanza.h"
#include "wa_message.pb-c.h"

/* ------------------------------------------------------------------ asking */

/* <keys>: the phone's bundle with a fresh one-time pre-key (not published to the
 * directory: only the requesting sender gets it) */
static miaw_node *own_keys(miaw_sim_account *a)
{
    uint32_t first = 0;
    miaw_sig_bundle b;
    miaw_node *keys = miaw_node_new("keys");
    if (!keys || miaw_sig_generate_prekeys(a->sig, 1, &first) || miaw_sig_own_bundle(a->sig, first, &b) ||
        miaw_sig_bundle_to_node(&b, 0, keys)) {
        miaw_node_free(keys);
        return NULL;
    }
    return keys;
}

/* failed decryptions of id recorded in a's inbox */
static unsigned failures(miaw_sim_account *a, const char *id)
{
    size_t i;
    json_t *e;
    unsigned n = 0;
    if (!a->inbox || !id) return 0;
    json_array_foreach((json_t *)a->inbox, i, e) {
        const char *eid = json_string_value(json_object_get(e, "id"));
        if (eid && !strcmp(eid, id) && json_object_get(e, "error")) n++;
    }
    return n;
}

miaw_node *miaw_sim_phone_retry_receipt(miaw_sim *sim, miaw_sim_account *a, const miaw_node *msg)
{
    (void)sim;
    unsigned count = failures(a, miaw_node_attr(msg, "id"));
    if (!a->sig || count < 1 || count > MIAW_SIM_PHONE_MAX_RETRY_RECEIPTS) return NULL;
    miaw_keypair ident;
    uint32_t reg = 0;
    int rc = miaw_sig_store_get_identity(a->sig, &ident, &reg);
    memset(&ident, 0, sizeof ident);
    if (rc) return NULL;
    /* from the second attempt on the sender gets a bundle to start a new session with */
    miaw_node *keys = count > 1 ? own_keys(a) : NULL;
    miaw_node *r = miaw_wa_retry_receipt(msg, count, reg, keys);
    miaw_node_free(keys);
    return r;
}

/* ------------------------------------------------------------------ answering */

/* the outbox record of a 1:1 message with this id; NULL if none */
static json_t *sent_record(miaw_sim_account *a, const char *id)
{
    size_t i;
    json_t *e;
    if (!a->outbox) return NULL;
    json_array_foreach((json_t *)a->outbox, i, e) {
        const char *eid = json_string_value(json_object_get(e, "id"));
        const char *to = json_string_value(json_object_get(e, "to"));
        if (eid && !strcmp(eid, id) && to && !strstr(to, "@g.us")) return e;
    }
    return NULL;
}

/* a new Signal session with device (b, dev): from the receipt's <keys> when it carries
 * them, else from a bundle popped from the directory (the old session produced what the
 * device could not read; re-encrypting on it would not help) */
static int rebuild_session(miaw_sim *sim, miaw_sim_account *a, const miaw_sim_addr *to, const miaw_node *receipt,
                           const miaw_sig_addr *addr)
{
    miaw_sig_bundle b;
    const miaw_node *keys = miaw_node_child(receipt, "keys");
    if (keys && !miaw_sig_bundle_from_node(keys, receipt, &b)) return miaw_sig_session_from_bundle(a->sig, addr, &b);
    miaw_sim_device *d = miaw_sim_addr_device(to);
    if (!d) return MIAW_E_NOTFOUND;
    if (!to->device && miaw_sim_phone_open(sim, to->account)) return MIAW_E_STATE;
    return miaw_sim_phone_session_from_dir(sim, a, to->account, d, addr);
}

/* the message as first sent: conversation, wrapped in a deviceSentMessage for the
 * phone's own companions; padded as WhatsApp pads (1..15 bytes) */
static uint8_t *plaintext(const char *text, const char *dest, int own, size_t *len)
{
    Miaw__Wa__Message msg = MIAW__WA__MESSAGE__INIT, dsm = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__DeviceSentMessage ds = MIAW__WA__MESSAGE__DEVICE_SENT_MESSAGE__INIT;
    msg.conversation = (char *)text;
    ds.destinationjid = (char *)dest;
    ds.message = &msg;
    dsm.devicesentmessage = &ds;
    return miaw_sim_phone_padded(own ? &dsm : &msg, len);
}

int miaw_sim_phone_on_retry(miaw_sim *sim, miaw_sim_account *a, const miaw_node *receipt)
{
    const char *id = miaw_node_attr(receipt, "id"), *from_s = miaw_node_attr(receipt, "from");
    miaw_sim_addr to;
    json_t *rec = id ? sent_record(a, id) : NULL;
    if (!rec || !from_s || miaw_sim_resolve_str(sim, from_s, &to) || !to.account) return MIAW_E_NOTFOUND;
    if (to.account == a && to.device == 0) return MIAW_E_INVAL; /* the phone asking itself */
    const miaw_node *retry = miaw_node_child(receipt, "retry");
    uint64_t count = 1;
    if (retry) miaw_node_attr_u64(retry, "count", &count);
    json_int_t done = json_integer_value(json_object_get(rec, "resends")) + 1;
    json_object_set_new(rec, "resends", json_integer(done));
    if (done > MIAW_SIM_PHONE_MAX_RESENDS || count > MIAW_SIM_PHONE_MAX_RESENDS) return MIAW_E_LIMIT;
    if ((uint64_t)done > count) count = (uint64_t)done; /* the device may not count its retries */

    miaw_sig_addr addr;
    miaw_sim_phone_addr(to.account, to.device, &addr);
    int rc = miaw_sim_phone_open(sim, a);
    if (!rc) rc = rebuild_session(sim, a, &to, receipt, &addr);
    const char *dest = json_string_value(json_object_get(rec, "to"));
    const char *text = json_string_value(json_object_get(rec, "text"));
    int own = to.account == a;
    size_t pl = 0, cl = 0;
    uint8_t *pt = !rc && dest && text ? plaintext(text, dest, own, &pl) : NULL, *ct = NULL;
    int type = 0;
    if (!rc && !pt) rc = MIAW_E_NOMEM;
    if (!rc) rc = miaw_sig_encrypt(a->sig, &addr, pt, pl, &type, &ct, &cl);
    free(pt);
    if (rc) {
        MIAW_WARN("sim", "phone %s: cannot answer the retry of %s from %s: %s", a->phone, id, from_s,
                  miaw_sig_strerror(rc));
        return rc;
    }
    /* <message id to=<that device> type="text" device_fanout="false" [recipient]><enc count/> */
    char tojid[96];
    miaw_sim_jid_attr(to.account, to.device, to.lid, tojid, sizeof tojid);
    miaw_node *m = miaw_node_newv("message", "id", id, "to", tojid, "type", "text", "device_fanout", "false", NULL);
    miaw_node *enc = m ? miaw_node_addv(m, "enc", "v", "2", "type", miaw_sig_type_name(type), NULL) : NULL;
    rc = enc && !miaw_node_set_attrf(enc, "count", "%" PRIu64, count) && !miaw_node_set_bytes(enc, ct, cl)
             ? 0
             : MIAW_E_NOMEM;
    free(ct);
    if (!rc && own) rc = miaw_node_set_jid_str(m, "recipient", dest);
    if (!rc) {
        int n = miaw_sim_route_message(sim, a, 0, m);
        MIAW_INFO("sim", "phone %s: resent %s to %s (retry %" PRIu64 ", %s)", a->phone, id, from_s, count,
                  n > 0 ? "delivered" : "not routed");
    }
    miaw_node_free(m);
    miaw_sim_state_save(sim);
    return rc;
}
