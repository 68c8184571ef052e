/* sim/codec.h - small pure parsers and encoders the simulator applies to outside input:
 * base64 (standard alphabet, padding), hex, the pairing QR string, big-endian wire
 * integers and the control API's route matcher. No state, no allocation except where an out buffer is documented; every
 * function is safe on arbitrary bytes (fuzzed by tests/fuzz/fuzz_sim_codec.c). */
#ifndef MIAW_SIM_CODEC_H
#define MIAW_SIM_CODEC_H
#include <stddef.h>
#include <stdint.h>

/* Base64 of n bytes into out (cap >= 4*((n+2)/3)+1). Returns the length or -1. */
int miaw_sim_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Strict base64 decode (standard alphabet, padding required to a multiple of 4, no
 * whitespace, non-zero bits under the padding refused; the URL-safe '-' and '_' are
 * accepted too). Returns the byte count or -1
 * (bad input or more than cap bytes). */
int miaw_sim_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* Lowercase hex (out: 2n+1). */
void miaw_sim_hex(const uint8_t *in, size_t n, char *out);

/* A parsed pairing QR: https://wa.me/settings/linked_devices#ref,noise,identity,adv,platform
 * (the URL prefix is optional). ref points into the input (ref_len bytes). */
typedef struct miaw_sim_qr {
    const char *ref;
    size_t ref_len;
    uint8_t noise_pub[32];
    uint8_t identity_pub[32];
    uint8_t adv_secret[32];
    char platform[8]; /* "" when absent */
} miaw_sim_qr;

#define MIAW_SIM_QR_PREFIX "https://wa.me/settings/linked_devices#"
#define MIAW_SIM_REF_MAX 128

/* Parse s (len bytes). Returns 0, or -1 with *why (static string) naming the bad part. */
int miaw_sim_qr_parse(const char *s, size_t len, miaw_sim_qr *qr, const char **why);

/* Big-endian unsigned integer from 1..4 bytes; -1 when len is 0 or > 4. */
int64_t miaw_sim_be_uint(const uint8_t *p, size_t len);

/* Route matching for the /sim control API: splits path (no query string) into
 * the route id and its parameter, copied NUL-terminated into param (cap bytes):
 * {phone} (digits only) for the account routes, {jid} for /sim/devices/{jid}
 * (characters [0-9a-z.:@_-], with %40 and %3A decoded; at most 95 bytes).
 * Returns one of MIAW_SIM_ROUTE_* (NONE when nothing matches). */
enum {
    MIAW_SIM_ROUTE_NONE = 0,
    MIAW_SIM_ROUTE_ACCOUNTS,
    MIAW_SIM_ROUTE_SCAN,
    MIAW_SIM_ROUTE_STATE,
    MIAW_SIM_ROUTE_CERT,
    MIAW_SIM_ROUTE_MESSAGES, /* /sim/accounts/{phone}/messages */
    MIAW_SIM_ROUTE_DEVICE,   /* /sim/devices/{jid} */
    MIAW_SIM_ROUTE_FAULTS,   /* /sim/faults */
    MIAW_SIM_ROUTE_LINK_CODE,/* /sim/accounts/{phone}/link-code */
    MIAW_SIM_ROUTE_GROUPS,   /* /sim/accounts/{phone}/groups */
    MIAW_SIM_ROUTE_PRESENCE, /* /sim/accounts/{phone}/presence */
};
int miaw_sim_route(const char *path, size_t len, char *param, size_t cap);
#endif
