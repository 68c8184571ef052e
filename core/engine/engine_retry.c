/* core/engine/engine_retry.c - answers to retry receipts for messages we sent (protocol facts
 * 8.4): find the message among the recent ones, rebuild the Signal session with the
 * device from the bundle the receipt carries (or from a freshly fetched one), encrypt it
 * for that one device and send it alone with device_fanout="false" and the retry count on
 * the <enc>; for a group message to the group with participant=<that device>, our
 * sender-key distribution added to the pairwise Message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "base/log.h"
#include "wa/signal_group.h"
#include "wa/signal_keys.h"
#include "wa/signal_session.h"
#include "wa/wamsg.h"

#define MAX_RETRIES 10

static eng_sent *find_sent(eng_inst *ei, const char *id)
{
    for (size_t i = 0; i < ENG_SENT_RING; i++)
        if (ei->sent[i] && !strcmp(ei->sent[i]->id, id)) return ei->sent[i];
    return NULL;
}

static int is_own(eng_inst *ei, const miaw_jid *dev)
{
    miaw_jid me, lid;
    if (miaw_jid_parse(&me, ei->creds.jid) == 0 && miaw_jid_same_user(&me, dev)) return 1;
    return ei->creds.lid[0] && miaw_jid_parse(&lid, ei->creds.lid) == 0 && miaw_jid_same_user(&lid, dev);
}

/* the plaintext for dev: the Message (a DSM copy for our own devices), padded; for a
 * group with our sender-key distribution inside, so the device reads what follows */
static int resend_plaintext(eng_inst *ei, const eng_sent *r, int own, int group, uint8_t **pt, size_t *pl)
{
    const uint8_t *m = own ? r->dsm : r->msg;
    size_t ml = own ? r->dsm_len : r->msg_len;
    if (!group) return miaw_wamsg_pad(m, ml, pt, pl);
    char g[MIAW_JID_STR_MAX];
    miaw_sig_addr self;
    uint8_t *skdm = NULL;
    size_t skl = 0;
    int rc = miaw_jid_format(&r->chat, g, sizeof g) < 0 ? MIAW_E_INVAL : eng_group_self_addr(ei, &self);
    if (rc == 0) rc = miaw_sig_group_skdm(ei->sig, g, &self, &skdm, &skl);
    if (rc == 0) rc = eng_group_msg_with_skdm(m, ml, g, skdm, skl, pt, pl);
    free(skdm);
    return rc;
}

int eng_send_to_device(eng_inst *ei, const eng_sent *r, const miaw_jid *dev, unsigned count)
{
    if (eng_sig_open(ei) != 0) return MIAW_E_STATE;
    int own = is_own(ei, dev), group = !strcmp(r->chat.server, MIAW_SERVER_GROUP);
    uint8_t *pt = NULL, *ct = NULL;
    size_t pl = 0, cl = 0;
    int type = 0, rc = resend_plaintext(ei, r, own, group, &pt, &pl);
    miaw_sig_addr a;
    if (rc == 0) rc = miaw_sig_addr_from_jid(dev, &a);
    if (rc == 0) rc = miaw_sig_encrypt(ei->sig, &a, pt, pl, &type, &ct, &cl);
    free(pt);
    if (rc) return rc;
    /* 1:1: to the device alone; group: to the group, for that participant only */
    miaw_node *m = group ? miaw_node_newv("message", "id", r->id, "type", "text", NULL)
                         : miaw_node_newv("message", "id", r->id, "type", "text", "device_fanout", "false", NULL);
    miaw_node *enc = m ? miaw_node_addv(m, "enc", "v", "2", "type", miaw_sig_type_name(type), NULL) : NULL;
    rc = enc && miaw_node_set_jid(m, "to", group ? &r->chat : dev) == 0 &&
                 (!group || miaw_node_set_jid(m, "participant", dev) == 0) &&
                 miaw_node_set_attrf(enc, "count", "%u", count) == 0 && miaw_node_set_bytes(enc, ct, cl) == 0
             ? 0
             : MIAW_E_NOMEM;
    if (rc == 0 && own && !group) rc = miaw_node_set_jid(m, "recipient", &r->chat);
    if (rc == 0 && type == MIAW_SIG_PKMSG && ei->creds.adv) {
        miaw_node *di = miaw_node_add(m, "device-identity");
        rc = di && miaw_node_set_bytes(di, ei->creds.adv, ei->creds.adv_len) == 0 ? 0 : MIAW_E_NOMEM;
    }
    free(ct);
    if (rc == 0) rc = eng_send_node(ei, m);
    miaw_node_free(m);
    return rc;
}

typedef struct retry_job {
    eng_inst *ei;
    char id[23];
    miaw_jid dev;
    unsigned count;
} retry_job;

static void resend(eng_inst *ei, const char *id, const miaw_jid *dev, unsigned count)
{
    eng_sent *r = find_sent(ei, id);
    if (!r) return;
    char j[MIAW_JID_STR_MAX];
    miaw_jid_format(dev, j, sizeof j);
    int rc = eng_send_to_device(ei, r, dev, count);
    if (rc) MIAW_WARN("engine", "%s: cannot resend %s to %s: %s", ei->id, id, j, miaw_sig_strerror(rc));
    else MIAW_INFO("engine", "%s: resent %s to %s (retry %u)", ei->id, id, j, count);
}

static void on_bundle(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    retry_job *job = ud;
    eng_inst *ei = job->ei;
    const miaw_node *list = !err && reply ? miaw_node_child(reply, "list") : NULL;
    const miaw_node *u = list ? miaw_node_child(list, "user") : NULL;
    miaw_sig_bundle b;
    miaw_sig_addr a;
    if (u && eng_sig_open(ei) == 0 && miaw_sig_bundle_from_node(u, u, &b) == 0 &&
        miaw_sig_addr_from_jid(&job->dev, &a) == 0 && miaw_sig_session_from_bundle(ei->sig, &a, &b) == 0)
        resend(ei, job->id, &job->dev, job->count);
    else if (err != MIAW_E_GONE) MIAW_WARN("engine", "%s: no pre-key bundle to answer a retry of %s", ei->id, job->id);
    free(job);
}

void eng_send_on_retry(eng_inst *ei, const miaw_node *rc)
{
    const char *id = miaw_node_attr(rc, "id");
    const miaw_node *retry = miaw_node_child(rc, "retry");
    miaw_jid dev;
    uint64_t count = 1;
    if (!id || eng_sig_open(ei) != 0) return;
    if (miaw_node_attr_jid(rc, "participant", &dev) != 0 && miaw_node_attr_jid(rc, "from", &dev) != 0) return;
    if (retry) miaw_node_attr_u64(retry, "count", &count); /* a bare retry receipt counts as the first */
    eng_sent *r = find_sent(ei, id);
    if (!r) {
        MIAW_INFO("engine", "%s: retry receipt for %s, which is no longer kept", ei->id, id);
        return;
    }
    if (++r->retries > MAX_RETRIES || count > MAX_RETRIES) return;
    if (r->retries > count) count = r->retries; /* the device may not count its retries */
    miaw_sig_addr a;
    if (miaw_sig_addr_from_jid(&dev, &a) != 0) return;
    const miaw_node *keys = miaw_node_child(rc, "keys");
    miaw_sig_bundle b;
    if (keys && miaw_sig_bundle_from_node(keys, rc, &b) == 0) {
        if (miaw_sig_session_from_bundle(ei->sig, &a, &b) == 0) resend(ei, id, &dev, (unsigned)count);
        return;
    }
    /* the device could not read what our session produced: start a new one from a fresh
     * bundle (re-encrypting on the old session would repeat a pre-key it no longer has) */
    retry_job *job = calloc(1, sizeof *job);
    miaw_node *iq = job ? miaw_wa_prekey_fetch_iq(&dev, 1) : NULL;
    if (!iq || !ei->conn) {
        free(job);
        miaw_node_free(iq);
        return;
    }
    job->ei = ei;
    snprintf(job->id, sizeof job->id, "%s", id);
    job->dev = dev;
    job->count = (unsigned)count;
    if (miaw_wa_conn_iq(ei->conn, iq, 0, on_bundle, job) != 0) free(job);
}
