/* core/wa/pairing.h - a companion device's credentials and the pure protocol steps of
 * linking it: key generation, the ClientPayload (registration or login), the QR string,
 * pair-success verification (ADV HMAC + account signature) with the pair-device-sign
 * reply, and the pre-key upload IQ. No I/O, no loop: the engine drives these.
 *
 * Ownership: a miaw_wa_creds is a plain struct owned by its holder; `adv` is malloc'd
 * and released (with every secret wiped) by miaw_wa_creds_clear. Nodes and buffers
 * returned through out-parameters belong to the caller (miaw_node_free / free). */
#ifndef MIAW_WA_PAIRING_H
#define MIAW_WA_PAIRING_H
#include <stddef.h>
#include <stdint.h>

#include "wa/jid.h"
#include "wa/node.h"
#include "wa/sigcrypto.h"

typedef struct miaw_wa_creds {
    miaw_keypair noise;       /* Noise static key (ClientFinish, QR) */
    miaw_keypair identity;    /* Signal identity */
    miaw_keypair spk;         /* signed pre-key */
    uint32_t spk_id;          /* 24-bit */
    uint8_t spk_sig[64];      /* XEdDSA(identity, 05 || spk.pub) */
    uint32_t reg_id;          /* Signal registration id (14-bit) */
    uint8_t adv_secret[32];   /* authenticates pair-success */
    uint32_t next_prekey_id;  /* first one-time pre-key id not generated yet (>= 1) */
    /* set by pairing */
    int paired;
    char jid[MIAW_JID_STR_MAX]; /* own PN device JID, e.g. 15551234567:3@s.whatsapp.net */
    char lid[MIAW_JID_STR_MAX]; /* own LID device JID, "" if the server gave none */
    char platform[32];          /* the primary's platform name */
    char biz_name[128];
    uint8_t account_key[32];    /* primary's identity key (trusted for device 0) */
    uint32_t key_index;
    uint8_t *adv;               /* ADVSignedDeviceIdentity with both signatures */
    size_t adv_len;
} miaw_wa_creds;

/* What the client says about itself. */
typedef struct miaw_wa_client_info {
    const char *device_name;  /* DeviceProps.os, shown on the phone */
    uint32_t version[3];      /* WhatsApp Web version, e.g. {2, 3000, 1035194821} */
    const char *push_name;    /* optional */
    int reconnect;            /* connectReason: 0 user activated, 1 error reconnect */
} miaw_wa_client_info;

/* Fresh keys for a new registration (spk id 1, 14-bit registration id, random adv
 * secret, next_prekey_id 1, not paired). 0 or MIAW_E_*. */
int miaw_wa_creds_generate(miaw_wa_creds *c);
/* Frees adv and wipes the struct. */
void miaw_wa_creds_clear(miaw_wa_creds *c);

/* Serialized ClientPayload: login (username + device from c->jid) when c->paired,
 * registration (devicePairingData) otherwise. *out malloc'd. 0 or MIAW_E_*. */
int miaw_wa_client_payload(const miaw_wa_creds *c, const miaw_wa_client_info *info, uint8_t **out,
                           size_t *out_len);

/* The platform id character put at the end of QR strings (DeviceProps CHROME). */
#define MIAW_WA_QR_PLATFORM "1"
#define MIAW_WA_QR_PREFIX "https://wa.me/settings/linked_devices#"
/* PREFIX + ref,b64(noise pub),b64(identity pub),b64(adv secret),platform. *out malloc'd.
 * MIAW_E_INVAL if the ref is empty, too long (> 512) or contains a comma or a control
 * character. */
int miaw_wa_qr_string(const miaw_wa_creds *c, const uint8_t *ref, size_t ref_len, char **out);

/* Refs of a <iq type="set"><pair-device><ref>..</ref>...</pair-device></iq>: returns the
 * count (0 when n is no such IQ) and points refs[i]/lens[i] into n (borrowed). */
size_t miaw_wa_pair_device_refs(const miaw_node *n, const uint8_t **refs, size_t *lens, size_t max);

/* Handles <iq><pair-success>..</pair-success></iq>: verifies the HMAC with the adv
 * secret and the primary's account signature, signs the device identity, fills the
 * pairing fields of c (paired = 1) and builds the pair-device-sign result in *reply.
 * On a verification failure returns MIAW_E_AUTH (or MIAW_E_INVAL for a malformed
 * stanza), leaves c unchanged, sets *why and puts the iq error reply in *reply. */
int miaw_wa_pair_success(miaw_wa_creds *c, const miaw_node *iq, miaw_node **reply, const char **why);

/* <iq xmlns="encrypt" type="set" to=s.whatsapp.net> with registration id, identity,
 * the signed pre-key and n one-time pre-keys (ids[i], keys[i].pub). No id attribute
 * (the connection assigns one). NULL on allocation failure. */
miaw_node *miaw_wa_prekey_upload_iq(const miaw_wa_creds *c, const uint32_t *ids, const miaw_keypair *keys,
                                    size_t n);

/* <iq type="result" id=<req id> to=<req from>/>: the empty answer to a server IQ. */
miaw_node *miaw_wa_iq_result(const miaw_node *req);

/* Standard base64 with padding into a malloc'd string. NULL on allocation failure. */
char *miaw_wa_b64(const uint8_t *data, size_t len);
#endif
