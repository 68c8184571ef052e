/* sim/pair.c - QR pairing: the server's pair-device refs, the simulated phone's scan
 * (ADV device identity signed by the account's identity key and authenticated with the
 * companion's adv secret), pair-success, the companion's pair-device-sign, the new
 * device's record and the 515 restart. Owns the pending scan requests (in their h2o
 * request pools) and the pairing fields of each registering connection. */
#include "pair.h"

#include <inttypes.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "directory.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "session.h"
#include "state.h"
#include "base/util.h"
#include "wa_adv.pb-c.h"

#define PAIR_TIMEOUT_MS 30000

/* a control request waiting for the companion's answer; lives in the request's pool */
typedef struct miaw_sim_scan {
    h2o_req_t *req;
    miaw_sim_conn *conn; /* NULL once answered or the connection is gone */
} miaw_sim_scan;

static const uint8_t ADV_ACCOUNT_PREFIX[2] = {6, 0};
static const uint8_t ADV_DEVICE_PREFIX[2] = {6, 1};

static int send_and_free(miaw_sim_conn *c, miaw_node *n)
{
    int rc = n ? miaw_sim_conn_send(c, n) : MIAW_E_NOMEM;
    miaw_node_free(n);
    return rc;
}

/* ------------------------------------------------------------------ refs */

int miaw_sim_pair_start(miaw_sim_conn *c, const Miaw__Wa__ClientPayload__DevicePairingRegistrationData *d)
{
    miaw_sim_reg *r = &c->reg;
    int64_t v;
    if (!d->has_eregid || !d->has_eident || !d->has_eskeyid || !d->has_eskeyval || !d->has_eskeysig ||
        d->eident.len != 32 || d->eskeyval.len != 32 || d->eskeysig.len != 64 ||
        (v = miaw_sim_be_uint(d->eregid.data, d->eregid.len)) < 0)
        return MIAW_E_INVAL;
    r->reg_id = (uint32_t)v;
    if ((v = miaw_sim_be_uint(d->eskeyid.data, d->eskeyid.len)) < 0) return MIAW_E_INVAL;
    r->skey_id = (uint32_t)v;
    memcpy(r->identity_pub, d->eident.data, 32);
    memcpy(r->skey_pub, d->eskeyval.data, 32);
    memcpy(r->skey_sig, d->eskeysig.data, 64);
    uint8_t signed_pub[33] = {5};
    memcpy(signed_pub + 1, r->skey_pub, 32);
    if (miaw_xeddsa_verify(r->identity_pub, signed_pub, 33, r->skey_sig, 64)) {
        MIAW_WARN("sim", "conn %llu: signed pre-key signature does not verify", (unsigned long long)c->id);
        return MIAW_E_INVAL;
    }
    miaw_sim_next_id(c->sim, r->pair_device_id, sizeof r->pair_device_id);
    miaw_node *iq = miaw_node_newv("iq", "from", "JID:@s.whatsapp.net", "type", "set", "id", r->pair_device_id,
                                   "xmlns", "md", NULL);
    miaw_node *pd = iq ? miaw_node_add(iq, "pair-device") : NULL;
    for (int i = 0; pd && i < MIAW_SIM_REFS; i++) {
        char hex[33];
        if (miaw_random_hex(hex, 16)) break;
        snprintf(r->refs[i], sizeof r->refs[i], "2@sim%s", hex);
        miaw_node_set_bytes(miaw_node_add(pd, "ref"), r->refs[i], strlen(r->refs[i]));
    }
    int rc = send_and_free(c, pd ? iq : (miaw_node_free(iq), NULL));
    MIAW_INFO("sim", "conn %llu: registration, %d refs sent", (unsigned long long)c->id, MIAW_SIM_REFS);
    return rc;
}

/* ------------------------------------------------------------------ scan */

static void scan_dispose(void *p)
{
    miaw_sim_scan *s = p;
    if (s->conn) s->conn->reg.scan = NULL; /* the HTTP client left first */
}

/* answer the waiting control request (if any) and forget it */
static void scan_answer(miaw_sim_conn *c, int status, json_t *body)
{
    miaw_sim_scan *s = c->reg.scan;
    c->reg.scan = NULL;
    if (!s) {
        json_decref(body);
        return;
    }
    s->conn = NULL;
    miaw_sim_http_json(s->req, status, body);
}

static void scan_fail(miaw_sim_conn *c, int status, const char *code, const char *msg)
{
    MIAW_WARN("sim", "conn %llu: pairing failed: %s", (unsigned long long)c->id, msg);
    scan_answer(c, status, miaw_sim_error_json(code, NULL, msg));
    c->reg.account = NULL;
    c->reg.pair_success_id[0] = 0;
    free(c->reg.adv_details);
    c->reg.adv_details = NULL;
    miaw_sim_conn_timer(c, 0, 0);
}

static miaw_sim_conn *conn_by_ref(miaw_sim *sim, const char *ref, size_t len)
{
    for (miaw_sim_conn *c = sim->conns; c; c = c->next) {
        if (c->state != MIAW_SIM_CONN_REGISTERING) continue;
        for (int i = 0; i < MIAW_SIM_REFS; i++)
            if (strlen(c->reg.refs[i]) == len && !memcmp(c->reg.refs[i], ref, len)) return c;
    }
    return NULL;
}

/* ADVSignedDeviceIdentityHMAC for the companion (malloc'd into *out); keeps the details */
static int build_adv(miaw_sim_conn *c, const miaw_sim_account *a, const uint8_t adv_secret[32], uint8_t **out,
                     size_t *out_len)
{
    Miaw__Wa__ADVDeviceIdentity di = MIAW__WA__ADVDEVICE_IDENTITY__INIT;
    di.has_rawid = di.has_timestamp = di.has_keyindex = di.has_accounttype = di.has_devicetype = 1;
    di.rawid = a->raw_id;
    di.timestamp = miaw_sim_now();
    di.keyindex = c->reg.key_index;
    di.accounttype = di.devicetype = MIAW__WA__ADVENCRYPTION_TYPE__E2EE;
    size_t dl = miaw__wa__advdevice_identity__get_packed_size(&di);
    uint8_t *details = malloc(dl ? dl : 1);
    uint8_t *msg = malloc(2 + dl + 32);
    if (!details || !msg) goto nomem;
    miaw__wa__advdevice_identity__pack(&di, details);
    memcpy(msg, ADV_ACCOUNT_PREFIX, 2);
    memcpy(msg + 2, details, dl);
    memcpy(msg + 2 + dl, c->reg.identity_pub, 32);
    uint8_t sig[64];
    if (miaw_xeddsa_sign(a->identity.priv, msg, 2 + dl + 32, sig)) goto nomem;
    free(msg);
    msg = NULL;

    Miaw__Wa__ADVSignedDeviceIdentity sd = MIAW__WA__ADVSIGNED_DEVICE_IDENTITY__INIT;
    sd.has_details = sd.has_accountsignaturekey = sd.has_accountsignature = 1;
    sd.details = (ProtobufCBinaryData){dl, details};
    sd.accountsignaturekey = (ProtobufCBinaryData){32, (uint8_t *)a->identity.pub};
    sd.accountsignature = (ProtobufCBinaryData){64, sig};
    size_t sl = miaw__wa__advsigned_device_identity__get_packed_size(&sd);
    uint8_t *sbuf = malloc(sl);
    if (!sbuf) goto nomem;
    miaw__wa__advsigned_device_identity__pack(&sd, sbuf);
    uint8_t mac[32];
    unsigned mac_len = 0;
    if (!HMAC(EVP_sha256(), adv_secret, 32, sbuf, sl, mac, &mac_len) || mac_len != 32) {
        free(sbuf);
        goto nomem;
    }
    Miaw__Wa__ADVSignedDeviceIdentityHMAC h = MIAW__WA__ADVSIGNED_DEVICE_IDENTITY_HMAC__INIT;
    h.has_details = h.has_hmac = 1;
    h.details = (ProtobufCBinaryData){sl, sbuf};
    h.hmac = (ProtobufCBinaryData){32, mac};
    *out_len = miaw__wa__advsigned_device_identity_hmac__get_packed_size(&h);
    if (!(*out = malloc(*out_len))) {
        free(sbuf);
        goto nomem;
    }
    miaw__wa__advsigned_device_identity_hmac__pack(&h, *out);
    free(sbuf);
    c->reg.adv_details = details;
    c->reg.adv_details_len = dl;
    return 0;
nomem:
    free(details);
    free(msg);
    return MIAW_E_NOMEM;
}

int miaw_sim_pair_scan(miaw_sim *sim, miaw_sim_account *a, const miaw_sim_qr *qr, h2o_req_t *req, const char **why)
{
    miaw_sim_conn *c = conn_by_ref(sim, qr->ref, qr->ref_len);
    if (!c) {
        *why = "no connected companion shows this QR ref (expired, or the connection closed)";
        return 404;
    }
    if (memcmp(qr->noise_pub, c->client_static, 32) || memcmp(qr->identity_pub, c->reg.identity_pub, 32)) {
        *why = "the QR keys do not match the connection that received this ref";
        return 400;
    }
    return miaw_sim_pair_offer(c, a, qr->adv_secret, qr->platform, req, why);
}

int miaw_sim_pair_offer(miaw_sim_conn *c, miaw_sim_account *a, const uint8_t adv_secret[32], const char *platform,
                        h2o_req_t *req, const char **why)
{
    miaw_sim *sim = c->sim;
    if (c->reg.account) {
        *why = "this companion is already being paired";
        return 409;
    }
    if (a->ndevices >= MIAW_SIM_MAX_DEVICES) {
        *why = "the account has the maximum number of linked devices";
        return 409;
    }
    c->reg.account = a;
    c->reg.device_id = a->next_device;
    c->reg.key_index = a->next_key_index + 1;
    snprintf(c->reg.platform, sizeof c->reg.platform, "%s", platform);
    uint8_t *adv;
    size_t adv_len;
    if (build_adv(c, a, adv_secret, &adv, &adv_len)) {
        c->reg.account = NULL;
        *why = "out of memory";
        return 500;
    }
    char jid[80], lid[80];
    miaw_sim_next_id(sim, c->reg.pair_success_id, sizeof c->reg.pair_success_id);
    snprintf(jid, sizeof jid, "JID:%s:%u@s.whatsapp.net", a->phone, c->reg.device_id);
    snprintf(lid, sizeof lid, "JID:%s:%u@lid", a->lid, c->reg.device_id);
    miaw_node *iq = miaw_node_newv("iq", "from", "JID:@s.whatsapp.net", "type", "set", "id", c->reg.pair_success_id,
                                   "xmlns", "md", NULL);
    miaw_node *ps = iq ? miaw_node_add(iq, "pair-success") : NULL;
    int rc = MIAW_E_NOMEM;
    if (ps) {
        miaw_node_set_attrf(iq, "t", "%" PRIu64, miaw_sim_now());
        miaw_node_set_bytes(miaw_node_add(ps, "device-identity"), adv, adv_len);
        miaw_node_addv(ps, "platform", "name", "android", NULL);
        miaw_node_addv(ps, "device", "jid", jid, "lid", lid, NULL);
        rc = miaw_sim_conn_send(c, iq);
    }
    miaw_node_free(iq);
    free(adv);
    if (rc) {
        scan_fail(c, 500, "INTERNAL_ERROR", "cannot send pair-success");
        *why = "cannot send pair-success";
        return 500;
    }
    miaw_sim_scan *s = h2o_mem_alloc_shared(&req->pool, sizeof *s, scan_dispose);
    s->req = req;
    s->conn = c;
    c->reg.scan = s;
    miaw_sim_conn_timer(c, PAIR_TIMEOUT_MS, MIAW_SIM_TIMER_PAIR);
    MIAW_INFO("sim", "conn %llu: phone %s linked it, pair-success sent (device %u)", (unsigned long long)c->id,
              a->phone, c->reg.device_id);
    miaw_sim_conn_flush(c);
    return 0;
}

/* ------------------------------------------------------------------ the companion's reply */

/* checks the pair-device-sign reply; on success fills *dev (adv taken over) */
static const char *check_sign(miaw_sim_conn *c, const miaw_node *iq, miaw_sim_device *dev)
{
    miaw_sim_account *a = c->reg.account;
    const miaw_node *di = miaw_node_path(iq, "pair-device-sign", "device-identity", NULL);
    size_t len;
    const uint8_t *b = miaw_node_bytes(di, &len);
    uint64_t ki;
    if (!b) return "pair-device-sign without device-identity bytes";
    if (miaw_node_attr_u64(di, "key-index", &ki) || ki != c->reg.key_index) return "key-index differs from ours";
    Miaw__Wa__ADVSignedDeviceIdentity *sd = miaw__wa__advsigned_device_identity__unpack(NULL, len, b);
    if (!sd) return "device-identity is not an ADVSignedDeviceIdentity";
    const char *err = NULL;
    uint8_t *msg = malloc(2 + sd->details.len + 64);
    if (!sd->has_details || sd->details.len != c->reg.adv_details_len ||
        memcmp(sd->details.data, c->reg.adv_details, sd->details.len))
        err = "the signed details differ from the ones the phone sent";
    else if (!sd->has_devicesignature || sd->devicesignature.len != 64)
        err = "no 64-byte device signature";
    else if (sd->has_accountsignaturekey)
        err = "accountSignatureKey was not removed";
    else if (!msg)
        err = "out of memory";
    if (!err) {
        memcpy(msg, ADV_DEVICE_PREFIX, 2);
        memcpy(msg + 2, sd->details.data, sd->details.len);
        memcpy(msg + 2 + sd->details.len, c->reg.identity_pub, 32);
        memcpy(msg + 2 + sd->details.len + 32, a->identity.pub, 32);
        if (miaw_xeddsa_verify(c->reg.identity_pub, msg, 2 + sd->details.len + 64, sd->devicesignature.data, 64))
            err = "device signature does not verify";
    }
    free(msg);
    miaw__wa__advsigned_device_identity__free_unpacked(sd, NULL);
    if (err) return err;
    memset(dev, 0, sizeof *dev);
    if (!(dev->adv = malloc(len))) return "out of memory";
    memcpy(dev->adv, b, len);
    dev->adv_len = len;
    dev->id = c->reg.device_id;
    memcpy(dev->noise_pub, c->client_static, 32);
    memcpy(dev->identity_pub, c->reg.identity_pub, 32);
    dev->reg_id = c->reg.reg_id;
    dev->skey_id = c->reg.skey_id;
    memcpy(dev->skey_pub, c->reg.skey_pub, 32);
    memcpy(dev->skey_sig, c->reg.skey_sig, 64);
    dev->key_index = c->reg.key_index;
    snprintf(dev->platform, sizeof dev->platform, "%s", c->reg.platform);
    dev->linked_at = miaw_sim_now();
    return NULL;
}

int miaw_sim_pair_on_iq_reply(miaw_sim_conn *c, const miaw_node *iq)
{
    const char *id = miaw_node_attr(iq, "id");
    if (!id || c->state != MIAW_SIM_CONN_REGISTERING) return 0;
    if (!strcmp(id, c->reg.pair_device_id)) {
        MIAW_DEBUG("sim", "conn %llu: pair-device acknowledged", (unsigned long long)c->id);
        return 1;
    }
    if (!c->reg.pair_success_id[0] || strcmp(id, c->reg.pair_success_id)) return 0;
    if (miaw_node_attr_is(iq, "type", "error")) {
        const miaw_node *e = miaw_node_child(iq, "error");
        char m[200];
        snprintf(m, sizeof m, "the companion rejected pair-success: %s %s", e ? miaw_node_attr(e, "code") : "?",
                 e && miaw_node_attr(e, "text") ? miaw_node_attr(e, "text") : "");
        scan_fail(c, 502, "PAIRING_REJECTED", m);
        return 1;
    }
    miaw_sim_device dev;
    const char *err = check_sign(c, iq, &dev);
    miaw_sim_account *a = c->reg.account;
    miaw_sim_device *stored = err ? NULL : miaw_sim_device_add(a, &dev);
    if (!err && !stored) {
        free(dev.adv);
        err = "the account has the maximum number of linked devices";
    }
    if (err) {
        scan_fail(c, 502, "PAIRING_FAILED", err);
        miaw_sim_stream_error(c, "401", NULL, err);
        return 1;
    }
    a->next_device = dev.id + 1;
    a->next_key_index = dev.key_index;
    miaw_sim_state_save(c->sim);
    miaw_sim_conn_timer(c, 0, 0);
    char jid[80], lid[80];
    miaw_sim_device_jid(a, dev.id, 0, jid, sizeof jid);
    miaw_sim_device_jid(a, dev.id, 1, lid, sizeof lid);
    MIAW_INFO("sim", "conn %llu: %s linked (key index %u); asking for a restart", (unsigned long long)c->id, jid,
              dev.key_index);
    scan_answer(c, 200, json_pack("{s:s,s:s,s:I}", "deviceJid", jid, "lid", lid, "keyIndex", (json_int_t)dev.key_index));
    c->reg.account = NULL;
    miaw_sim_dir_devices_changed(c->sim, a, dev.id);
    /* WhatsApp ends the registration connection; the companion logs in again */
    miaw_sim_stream_error(c, "515", NULL, "paired, restart required");
    return 1;
}

void miaw_sim_pair_on_timeout(miaw_sim_conn *c)
{
    if (!c->reg.account) return;
    scan_fail(c, 504, "TIMEOUT", "the companion did not answer pair-success in time");
    miaw_sim_conn_close(c, "pairing timeout");
    miaw_sim_conn_flush(c);
}

void miaw_sim_pair_on_close(miaw_sim_conn *c)
{
    if (c->reg.scan) scan_fail(c, 502, "CONNECTION_CLOSED", "the companion disconnected during pairing");
}
