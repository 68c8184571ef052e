/* core/wa/wamsg.c - random padding of E2E plaintexts, its validated removal, and
 * Message protobuf encode/decode around it. */
#include "wa/wamsg.h"
#include "wa/proto_json.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "miaw/status.h"

int miaw_wamsg_pad_n(const uint8_t *msg, size_t len, unsigned n, uint8_t **out, size_t *out_len)
{
    if (n < 1 || n > 255 || (!msg && len) || len > SIZE_MAX - 256) return MIAW_E_INVAL;
    uint8_t *p = malloc(len + n);
    if (!p) return MIAW_E_NOMEM;
    if (len) memcpy(p, msg, len);
    memset(p + len, (int)n, n);
    *out = p;
    *out_len = len + n;
    return 0;
}

int miaw_wamsg_pad(const uint8_t *msg, size_t len, uint8_t **out, size_t *out_len)
{
    uint8_t r;
    if (RAND_bytes(&r, 1) != 1) return MIAW_E_INTERNAL;
    unsigned n = r & 0x0F;
    return miaw_wamsg_pad_n(msg, len, n ? n : MIAW_WAMSG_PAD_MAX, out, out_len);
}

int miaw_wamsg_unpad(const uint8_t *buf, size_t len, size_t *msg_len)
{
    if (!buf || len == 0) return MIAW_E_INVAL;
    unsigned n = buf[len - 1];
    if (n == 0 || n > len) return MIAW_E_INVAL;
    for (size_t i = len - n; i < len; i++)
        if (buf[i] != n) return MIAW_E_INVAL;
    *msg_len = len - n;
    return 0;
}

int miaw_wamsg_encode(const Miaw__Wa__Message *m, uint8_t **out, size_t *out_len)
{
    size_t n = miaw__wa__message__get_packed_size(m);
    uint8_t r;
    if (RAND_bytes(&r, 1) != 1) return MIAW_E_INTERNAL;
    unsigned pad = r & 0x0F;
    if (!pad) pad = MIAW_WAMSG_PAD_MAX;
    uint8_t *p = malloc(n + pad);
    if (!p) return MIAW_E_NOMEM;
    if (miaw__wa__message__pack(m, p) != n) {
        free(p);
        return MIAW_E_INTERNAL;
    }
    memset(p + n, (int)pad, pad);
    *out = p;
    *out_len = n + pad;
    return 0;
}

int miaw_wamsg_decode(const uint8_t *pt, size_t len, Miaw__Wa__Message **out)
{
    size_t n = 0;
    if (miaw_wamsg_unpad(pt, len, &n)) return MIAW_E_INVAL;
    Miaw__Wa__Message *m = (Miaw__Wa__Message *)miaw_pb_unpack(&miaw__wa__message__descriptor, pt, n); /* depth-checked */
    if (!m) return MIAW_E_INVAL;
    *out = m;
    return 0;
}

int miaw_wamsg_encode_skdm(const char *group, const uint8_t *skdm, size_t skdm_len, uint8_t **out,
                           size_t *out_len)
{
    if (!group || !skdm || !skdm_len) return MIAW_E_INVAL;
    Miaw__Wa__Message m = MIAW__WA__MESSAGE__INIT;
    Miaw__Wa__Message__SenderKeyDistributionMessage d = MIAW__WA__MESSAGE__SENDER_KEY_DISTRIBUTION_MESSAGE__INIT;
    d.groupid = (char *)group;
    d.has_axolotlsenderkeydistributionmessage = 1;
    d.axolotlsenderkeydistributionmessage.data = (uint8_t *)skdm;
    d.axolotlsenderkeydistributionmessage.len = skdm_len;
    m.senderkeydistributionmessage = &d;
    return miaw_wamsg_encode(&m, out, out_len);
}
