/* core/wa/pairing.c - companion credentials, ClientPayload, QR strings, pair-success and
 * the pre-key upload IQ (see pairing.h; facts sections 3, 5 and 6). */
#include "wa/pairing.h"

#include <miaw/status.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa_adv.pb-c.h"
#include "wa_client_payload.pb-c.h"
#include "wa_device_props.pb-c.h"

static int rand_bytes(void *p, size_t n) { return RAND_bytes(p, (int)n) == 1 ? 0 : MIAW_E_INTERNAL; }

int miaw_wa_creds_generate(miaw_wa_creds *c)
{
    memset(c, 0, sizeof *c);
    int rc;
    if ((rc = miaw_keypair_generate(&c->noise)) || (rc = miaw_keypair_generate(&c->identity)) ||
        (rc = miaw_keypair_generate(&c->spk)))
        return rc;
    c->spk_id = 1;
    uint8_t msg[33] = {0x05};
    memcpy(msg + 1, c->spk.pub, 32);
    if ((rc = miaw_xeddsa_sign(c->identity.priv, msg, sizeof msg, c->spk_sig))) return rc;
    uint16_t r;
    if ((rc = rand_bytes(&r, sizeof r)) || (rc = rand_bytes(c->adv_secret, 32))) return rc;
    c->reg_id = 1 + (r % 16380u);
    c->next_prekey_id = 1;
    return 0;
}

void miaw_wa_creds_clear(miaw_wa_creds *c)
{
    if (!c) return;
    free(c->adv);
    OPENSSL_cleanse(c, sizeof *c);
}

char *miaw_wa_b64(const uint8_t *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out) EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* ------------------------------------------------------------ ClientPayload */
static void be(uint8_t *out, uint32_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8) out[i] = (uint8_t)v;
}

static int parse_own_jid(const char *s, uint64_t *user, uint32_t *device)
{
    miaw_jid j;
    if (miaw_jid_parse(&j, s) != 0 || !j.user[0]) return MIAW_E_INVAL;
    char *end;
    unsigned long long u = strtoull(j.user, &end, 10);
    if (*end || !u) return MIAW_E_INVAL;
    *user = u;
    *device = j.device;
    return 0;
}

int miaw_wa_client_payload(const miaw_wa_creds *c, const miaw_wa_client_info *info, uint8_t **out,
                           size_t *out_len)
{
    Miaw__Wa__ClientPayload p = MIAW__WA__CLIENT_PAYLOAD__INIT;
    Miaw__Wa__ClientPayload__UserAgent ua = MIAW__WA__CLIENT_PAYLOAD__USER_AGENT__INIT;
    Miaw__Wa__ClientPayload__UserAgent__AppVersion av = MIAW__WA__CLIENT_PAYLOAD__USER_AGENT__APP_VERSION__INIT;
    Miaw__Wa__ClientPayload__WebInfo wi = MIAW__WA__CLIENT_PAYLOAD__WEB_INFO__INIT;
    Miaw__Wa__ClientPayload__DevicePairingRegistrationData reg =
        MIAW__WA__CLIENT_PAYLOAD__DEVICE_PAIRING_REGISTRATION_DATA__INIT;
    Miaw__Wa__DeviceProps props = MIAW__WA__DEVICE_PROPS__INIT;
    Miaw__Wa__DeviceProps__AppVersion pv = MIAW__WA__DEVICE_PROPS__APP_VERSION__INIT;
    char *s000 = "000", *s01 = "0.1", *desktop = "Desktop", *en = "en", *us = "US", *empty = "";

    av.has_primary = av.has_secondary = av.has_tertiary = 1;
    av.primary = info->version[0];
    av.secondary = info->version[1];
    av.tertiary = info->version[2];
    ua.has_platform = 1;
    ua.platform = MIAW__WA__CLIENT_PAYLOAD__USER_AGENT__PLATFORM__WEB;
    ua.appversion = &av;
    ua.mcc = ua.mnc = s000;
    ua.osversion = ua.osbuildnumber = s01;
    ua.device = desktop;
    ua.manufacturer = empty;
    ua.has_releasechannel = 1;
    ua.releasechannel = MIAW__WA__CLIENT_PAYLOAD__USER_AGENT__RELEASE_CHANNEL__RELEASE;
    ua.localelanguageiso6391 = en;
    ua.localecountryiso31661alpha2 = us;
    wi.has_websubplatform = 1;
    wi.websubplatform = MIAW__WA__CLIENT_PAYLOAD__WEB_INFO__WEB_SUB_PLATFORM__WEB_BROWSER;
    p.useragent = &ua;
    p.webinfo = &wi;
    p.has_connecttype = p.has_connectreason = 1;
    p.connecttype = MIAW__WA__CLIENT_PAYLOAD__CONNECT_TYPE__WIFI_UNKNOWN;
    p.connectreason = info->reconnect ? MIAW__WA__CLIENT_PAYLOAD__CONNECT_REASON__ERROR_RECONNECT
                                      : MIAW__WA__CLIENT_PAYLOAD__CONNECT_REASON__USER_ACTIVATED;
    if (info->push_name && *info->push_name) p.pushname = (char *)info->push_name;
    p.has_passive = p.has_pull = 1;

    uint8_t regid[4], keytype[1] = {0x05}, skid[3], hash[16], *propbuf = NULL;
    if (c->paired) {
        uint64_t user;
        uint32_t dev;
        if (parse_own_jid(c->jid, &user, &dev) != 0) return MIAW_E_INVAL;
        p.has_username = p.has_device = 1;
        p.username = user;
        p.device = dev;
        p.passive = p.pull = 1;
        p.has_liddbmigrated = 1;
        p.liddbmigrated = 0;
    } else {
        p.passive = p.pull = 0;
        be(regid, c->reg_id, 4);
        be(skid, c->spk_id, 3);
        char ver[48];
        int vl = snprintf(ver, sizeof ver, "%u.%u.%u", info->version[0], info->version[1], info->version[2]);
        unsigned hl = 0;
        if (!EVP_Digest(ver, (size_t)vl, hash, &hl, EVP_md5(), NULL)) return MIAW_E_INTERNAL;
        pv.has_primary = pv.has_secondary = pv.has_tertiary = 1;
        pv.primary = 0;
        pv.secondary = 1;
        pv.tertiary = 0;
        props.os = (char *)(info->device_name && *info->device_name ? info->device_name : "miaw");
        props.version = &pv;
        props.has_platformtype = props.has_requirefullsync = 1;
        props.platformtype = MIAW__WA__DEVICE_PROPS__PLATFORM_TYPE__CHROME;
        props.requirefullsync = 0;
        size_t plen = miaw__wa__device_props__get_packed_size(&props);
        propbuf = malloc(plen ? plen : 1);
        if (!propbuf) return MIAW_E_NOMEM;
        miaw__wa__device_props__pack(&props, propbuf);
#define SETB(f, ptr, n) (reg.has_##f = 1, reg.f.data = (uint8_t *)(ptr), reg.f.len = (n))
        SETB(eregid, regid, 4);
        SETB(ekeytype, keytype, 1);
        SETB(eident, c->identity.pub, 32);
        SETB(eskeyid, skid, 3);
        SETB(eskeyval, c->spk.pub, 32);
        SETB(eskeysig, c->spk_sig, 64);
        SETB(buildhash, hash, 16);
        SETB(deviceprops, propbuf, plen);
#undef SETB
        p.devicepairingdata = &reg;
    }
    size_t n = miaw__wa__client_payload__get_packed_size(&p);
    *out = malloc(n ? n : 1);
    if (!*out) {
        free(propbuf);
        return MIAW_E_NOMEM;
    }
    *out_len = miaw__wa__client_payload__pack(&p, *out);
    free(propbuf);
    return 0;
}

/* ------------------------------------------------------------------ QR */
int miaw_wa_qr_string(const miaw_wa_creds *c, const uint8_t *ref, size_t ref_len, char **out)
{
    if (!ref_len || ref_len > 512) return MIAW_E_INVAL;
    for (size_t i = 0; i < ref_len; i++)
        if (ref[i] == ',' || ref[i] < 0x20 || ref[i] > 0x7e) return MIAW_E_INVAL;
    char *n = miaw_wa_b64(c->noise.pub, 32), *id = miaw_wa_b64(c->identity.pub, 32),
         *adv = miaw_wa_b64(c->adv_secret, 32);
    size_t cap = sizeof MIAW_WA_QR_PREFIX + ref_len + 3 * 45 + 8;
    *out = malloc(cap);
    int rc = 0;
    if (!n || !id || !adv || !*out) rc = MIAW_E_NOMEM;
    else
        snprintf(*out, cap, "%s%.*s,%s,%s,%s,%s", MIAW_WA_QR_PREFIX, (int)ref_len, (const char *)ref, n, id, adv,
                 MIAW_WA_QR_PLATFORM);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    free(n);
    free(id);
    OPENSSL_cleanse(adv, adv ? strlen(adv) : 0);
    free(adv);
    return rc;
}

size_t miaw_wa_pair_device_refs(const miaw_node *n, const uint8_t **refs, size_t *lens, size_t max)
{
    if (!n || strcmp(n->tag, "iq") || !miaw_node_attr_is(n, "type", "set")) return 0;
    const miaw_node *pd = miaw_node_child(n, "pair-device");
    if (!pd) return 0;
    size_t k = 0;
    for (const miaw_node *r = miaw_node_child(pd, "ref"); r && k < max; r = miaw_node_next(pd, r, "ref")) {
        size_t len;
        const uint8_t *b = miaw_node_bytes(r, &len);
        if (b && len) {
            refs[k] = b;
            lens[k++] = len;
        }
    }
    return k;
}

/* ------------------------------------------------------------ pair-success */
miaw_node *miaw_wa_iq_result(const miaw_node *req)
{
    miaw_node *r = miaw_node_newv("iq", "type", "result", NULL);
    if (!r) return NULL;
    const char *id = miaw_node_attr(req, "id");
    miaw_jid from;
    if (id) miaw_node_set_attr(r, "id", id);
    if (miaw_node_attr_jid(req, "from", &from) == 0) miaw_node_set_jid(r, "to", &from);
    else miaw_node_set_jid_str(r, "to", "@" MIAW_SERVER_USER);
    return r;
}

static miaw_node *iq_error(const miaw_node *req, const char *code, const char *text)
{
    miaw_node *r = miaw_wa_iq_result(req);
    if (!r) return NULL;
    miaw_node_set_attr(r, "type", "error");
    miaw_node_addv(r, "error", "code", code, "text", text, NULL);
    return r;
}

static int hmac256(const uint8_t *key, size_t klen, const uint8_t *pre, size_t plen, const uint8_t *d, size_t dlen,
                   uint8_t out[32])
{
    uint8_t *buf = malloc(plen + dlen + 1);
    if (!buf) return MIAW_E_NOMEM;
    memcpy(buf, pre, plen);
    if (dlen) memcpy(buf + plen, d, dlen);
    unsigned ol = 0;
    int ok = HMAC(EVP_sha256(), key, (int)klen, buf, plen + dlen, out, &ol) != NULL && ol == 32;
    free(buf);
    return ok ? 0 : MIAW_E_INTERNAL;
}

/* prefix(2) || a || b [|| c(32)] into a malloc'd buffer */
static uint8_t *cat(const uint8_t pre[2], const ProtobufCBinaryData *a, const uint8_t *b, const uint8_t *c,
                    size_t *len)
{
    *len = 2 + a->len + 32 + (c ? 32 : 0);
    uint8_t *m = malloc(*len);
    if (!m) return NULL;
    memcpy(m, pre, 2);
    memcpy(m + 2, a->data, a->len);
    memcpy(m + 2 + a->len, b, 32);
    if (c) memcpy(m + 2 + a->len + 32, c, 32);
    return m;
}

int miaw_wa_pair_success(miaw_wa_creds *c, const miaw_node *iq, miaw_node **reply, const char **why)
{
    *reply = NULL;
    *why = NULL;
    const miaw_node *ps = miaw_node_child(iq, "pair-success");
    const miaw_node *di = ps ? miaw_node_child(ps, "device-identity") : NULL;
    const miaw_node *dev = ps ? miaw_node_child(ps, "device") : NULL;
    size_t dlen = 0;
    const uint8_t *dbytes = di ? miaw_node_bytes(di, &dlen) : NULL;
    miaw_jid jid;
    if (!dbytes || !dev || miaw_node_attr_jid(dev, "jid", &jid) != 0 || !jid.user[0]) {
        *why = "malformed pair-success";
        *reply = iq_error(iq, "500", "internal-error");
        return MIAW_E_INVAL;
    }
    Miaw__Wa__ADVSignedDeviceIdentityHMAC *box = miaw__wa__advsigned_device_identity_hmac__unpack(NULL, dlen, dbytes);
    Miaw__Wa__ADVSignedDeviceIdentity *sdi = NULL;
    Miaw__Wa__ADVDeviceIdentity *id = NULL;
    uint8_t *msg = NULL, *stored = NULL, *sent = NULL;
    int rc = MIAW_E_AUTH;
    const char *code = "401";
    if (!box || !box->has_details || !box->has_hmac) {
        *why = "malformed device identity container";
        code = "500";
        rc = MIAW_E_INVAL;
        goto out;
    }
    int hosted = box->has_accounttype && box->accounttype == MIAW__WA__ADVENCRYPTION_TYPE__HOSTED;
    static const uint8_t hosted_pre[2] = {6, 5};
    uint8_t mac[32];
    if (hmac256(c->adv_secret, 32, hosted_pre, hosted ? 2 : 0, box->details.data, box->details.len, mac) != 0 ||
        box->hmac.len != 32 || CRYPTO_memcmp(mac, box->hmac.data, 32) != 0) {
        *why = "hmac-mismatch";
        goto out;
    }
    sdi = miaw__wa__advsigned_device_identity__unpack(NULL, box->details.len, box->details.data);
    id = sdi && sdi->has_details ? miaw__wa__advdevice_identity__unpack(NULL, sdi->details.len, sdi->details.data) : NULL;
    if (!id || !sdi->has_accountsignaturekey || sdi->accountsignaturekey.len != 32 || !sdi->has_accountsignature ||
        sdi->accountsignature.len != 64) {
        *why = "signature-mismatch";
        goto out;
    }
    int dhosted = id->has_devicetype && id->devicetype == MIAW__WA__ADVENCRYPTION_TYPE__HOSTED;
    const uint8_t acc_pre[2] = {6, (uint8_t)(dhosted ? 5 : 0)}, dev_pre[2] = {6, (uint8_t)(dhosted ? 6 : 1)};
    size_t mlen;
    if (!(msg = cat(acc_pre, &sdi->details, c->identity.pub, NULL, &mlen))) {
        rc = MIAW_E_NOMEM;
        goto out;
    }
    if (miaw_xeddsa_verify(sdi->accountsignaturekey.data, msg, mlen, sdi->accountsignature.data, 64) != 0) {
        *why = "signature-mismatch";
        goto out;
    }
    free(msg);
    if (!(msg = cat(dev_pre, &sdi->details, c->identity.pub, sdi->accountsignaturekey.data, &mlen))) {
        rc = MIAW_E_NOMEM;
        goto out;
    }
    uint8_t devsig[64];
    if ((rc = miaw_xeddsa_sign(c->identity.priv, msg, mlen, devsig)) != 0) {
        code = "500";
        *why = "internal-error";
        goto out;
    }
    sdi->has_devicesignature = 1;
    sdi->devicesignature.data = devsig;
    sdi->devicesignature.len = 64;
    size_t slen = miaw__wa__advsigned_device_identity__get_packed_size(sdi);
    stored = malloc(slen);
    sent = malloc(slen);
    if (!stored || !sent) {
        rc = MIAW_E_NOMEM;
        goto out;
    }
    miaw__wa__advsigned_device_identity__pack(sdi, stored);
    uint8_t acckey[32];
    memcpy(acckey, sdi->accountsignaturekey.data, 32);
    sdi->has_accountsignaturekey = 0;
    size_t sentlen = miaw__wa__advsigned_device_identity__pack(sdi, sent);
    sdi->has_accountsignaturekey = 1;
    sdi->devicesignature.data = NULL; /* stack memory: not for protobuf-c to free */
    sdi->has_devicesignature = 0;

    miaw_node *r = miaw_wa_iq_result(iq);
    miaw_node *sign = r ? miaw_node_add(r, "pair-device-sign") : NULL;
    miaw_node *d = sign ? miaw_node_add(sign, "device-identity") : NULL;
    if (!d || miaw_node_set_attrf(d, "key-index", "%u", id->has_keyindex ? id->keyindex : 0) != 0 ||
        miaw_node_set_bytes(d, sent, sentlen) != 0) {
        miaw_node_free(r);
        rc = MIAW_E_NOMEM;
        goto out;
    }
    /* commit */
    c->paired = 1;
    miaw_jid_format(&jid, c->jid, sizeof c->jid);
    miaw_jid lid;
    c->lid[0] = 0;
    if (miaw_node_attr_jid(dev, "lid", &lid) == 0) miaw_jid_format(&lid, c->lid, sizeof c->lid);
    const miaw_node *pl = miaw_node_child(ps, "platform"), *biz = miaw_node_child(ps, "biz");
    snprintf(c->platform, sizeof c->platform, "%s", pl && miaw_node_attr(pl, "name") ? miaw_node_attr(pl, "name") : "");
    snprintf(c->biz_name, sizeof c->biz_name, "%s", biz && miaw_node_attr(biz, "name") ? miaw_node_attr(biz, "name") : "");
    memcpy(c->account_key, acckey, 32);
    c->key_index = id->has_keyindex ? id->keyindex : 0;
    free(c->adv);
    c->adv = stored;
    c->adv_len = slen;
    stored = NULL;
    *reply = r;
    rc = 0;
out:
    if (rc != 0 && !*reply) *reply = iq_error(iq, code, *why ? *why : "internal-error");
    free(msg);
    free(stored);
    free(sent);
    if (id) miaw__wa__advdevice_identity__free_unpacked(id, NULL);
    if (sdi) miaw__wa__advsigned_device_identity__free_unpacked(sdi, NULL);
    if (box) miaw__wa__advsigned_device_identity_hmac__free_unpacked(box, NULL);
    return rc;
}

/* ------------------------------------------------------------ pre-keys */
static int add_bytes(miaw_node *parent, const char *tag, const void *b, size_t n)
{
    miaw_node *x = miaw_node_add(parent, tag);
    return x ? miaw_node_set_bytes(x, b, n) : MIAW_E_NOMEM;
}

miaw_node *miaw_wa_prekey_upload_iq(const miaw_wa_creds *c, const uint32_t *ids, const miaw_keypair *keys,
                                    size_t n)
{
    miaw_node *iq = miaw_node_newv("iq", "xmlns", "encrypt", "type", "set", "to", "JID:@" MIAW_SERVER_USER, NULL);
    if (!iq) return NULL;
    uint8_t reg[4], t = 0x05, kid[3];
    be(reg, c->reg_id, 4);
    int bad = add_bytes(iq, "registration", reg, 4) | add_bytes(iq, "type", &t, 1) |
              add_bytes(iq, "identity", c->identity.pub, 32);
    miaw_node *list = miaw_node_add(iq, "list");
    if (!list) bad = 1;
    else if (n == 0) miaw_node_set_empty_list(list);
    for (size_t i = 0; !bad && i < n; i++) {
        miaw_node *k = miaw_node_add(list, "key");
        be(kid, ids[i], 3);
        bad = !k || add_bytes(k, "id", kid, 3) || add_bytes(k, "value", keys[i].pub, 32);
    }
    miaw_node *sk = miaw_node_add(iq, "skey");
    be(kid, c->spk_id, 3);
    if (bad || !sk || add_bytes(sk, "id", kid, 3) || add_bytes(sk, "value", c->spk.pub, 32) ||
        add_bytes(sk, "signature", c->spk_sig, 64)) {
        miaw_node_free(iq);
        return NULL;
    }
    return iq;
}
