/* sim/codec.c - base64, hex, the pairing QR string, big-endian integers and /sim route
 * matching for miaw-sim.
 * Pure functions over borrowed buffers; owns nothing. */
#include "codec.h"

#include <string.h>

static const char b64_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int miaw_sim_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t need = 4 * ((n + 2) / 3) + 1;
    if (!out || cap < need) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = b64_alpha[(v >> 18) & 63];
        out[o++] = b64_alpha[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_alpha[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64_alpha[v & 63] : '=';
    }
    out[o] = 0;
    return (int)o;
}

static int b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

int miaw_sim_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (!in || len % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '=') {
                /* padding only in the last quantum, only at positions 2 and 3 */
                if (i + 4 != len || k < 2) return -1;
                pad++;
                v[k] = 0;
                continue;
            }
            if (pad) return -1; /* data after padding */
            if ((v[k] = b64_val(c)) < 0) return -1;
        }
        /* canonical only: bits that padding drops must be zero */
        if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3))) return -1;
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t nb = 3 - (size_t)pad;
        if (o + nb > cap) return -1;
        out[o++] = (uint8_t)(w >> 16);
        if (nb > 1) out[o++] = (uint8_t)(w >> 8);
        if (nb > 2) out[o++] = (uint8_t)w;
    }
    return (int)o;
}

void miaw_sim_hex(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

/* next comma-separated field of [*p, end) into f, flen; *p moves past the comma */
static int next_field(const char **p, const char *end, const char **f, size_t *flen)
{
    if (*p > end) return -1;
    const char *c = memchr(*p, ',', (size_t)(end - *p));
    const char *stop = c ? c : end;
    *f = *p;
    *flen = (size_t)(stop - *p);
    *p = c ? c + 1 : end + 1;
    return 0;
}

static int key32(const char *f, size_t flen, uint8_t out[32])
{
    uint8_t tmp[33];
    return miaw_sim_b64_decode(f, flen, tmp, sizeof tmp) == 32 ? (memcpy(out, tmp, 32), 0) : -1;
}

int miaw_sim_qr_parse(const char *s, size_t len, miaw_sim_qr *qr, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    if (!s || !qr) {
        *why = "qr missing";
        return -1;
    }
    memset(qr, 0, sizeof *qr);
    size_t plen = strlen(MIAW_SIM_QR_PREFIX);
    if (len >= plen && !memcmp(s, MIAW_SIM_QR_PREFIX, plen)) {
        s += plen;
        len -= plen;
    }
    const char *p = s, *end = s + len, *f = NULL;
    size_t flen = 0;
    next_field(&p, end, &f, &flen);
    if (flen == 0 || flen > MIAW_SIM_REF_MAX) {
        *why = "ref is empty or too long";
        return -1;
    }
    for (size_t i = 0; i < flen; i++)
        if ((unsigned char)f[i] < 0x21 || (unsigned char)f[i] > 0x7e) {
            *why = "ref has a character outside printable ASCII";
            return -1;
        }
    qr->ref = f;
    qr->ref_len = flen;
    if (next_field(&p, end, &f, &flen) || key32(f, flen, qr->noise_pub)) {
        *why = "noise key is not 32 bytes of base64";
        return -1;
    }
    if (next_field(&p, end, &f, &flen) || key32(f, flen, qr->identity_pub)) {
        *why = "identity key is not 32 bytes of base64";
        return -1;
    }
    if (next_field(&p, end, &f, &flen) || key32(f, flen, qr->adv_secret)) {
        *why = "adv secret is not 32 bytes of base64";
        return -1;
    }
    if (p <= end) { /* optional platform id */
        next_field(&p, end, &f, &flen);
        if (flen >= sizeof qr->platform || p <= end) {
            *why = "platform field is too long or followed by more fields";
            return -1;
        }
        for (size_t i = 0; i < flen; i++)
            if (!((f[i] >= '0' && f[i] <= '9') || (f[i] >= 'a' && f[i] <= 'z'))) {
                *why = "platform is not [0-9a-z]";
                return -1;
            }
        memcpy(qr->platform, f, flen);
        qr->platform[flen] = 0;
    }
    *why = NULL;
    return 0;
}

int64_t miaw_sim_be_uint(const uint8_t *p, size_t len)
{
    if (!p || len == 0 || len > 4) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) v = v << 8 | p[i];
    return v;
}

/* /sim/devices/{jid}: the JID segment, percent-decoded for '@' and ':' */
static int route_device(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '%' && i + 2 < n && p[i + 1] == '4' && p[i + 2] == '0') ch = '@', i += 2;
        else if (ch == '%' && i + 2 < n && p[i + 1] == '3' && (p[i + 2] == 'A' || p[i + 2] == 'a')) ch = ':', i += 2;
        else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || ch == '.' || ch == ':' || ch == '@' ||
                   ch == '_' || ch == '-'))
            return MIAW_SIM_ROUTE_NONE;
        if (o + 1 >= cap || o >= 95) return MIAW_SIM_ROUTE_NONE;
        out[o++] = ch;
    }
    if (!o) return MIAW_SIM_ROUTE_NONE;
    out[o] = 0;
    return MIAW_SIM_ROUTE_DEVICE;
}

int miaw_sim_route(const char *path, size_t len, char *phone, size_t cap)
{
    static const char acc[] = "/sim/accounts", devs[] = "/sim/devices/";
    if (!cap) return MIAW_SIM_ROUTE_NONE;
    phone[0] = 0;
    if (len == 10 && !memcmp(path, "/sim/state", 10)) return MIAW_SIM_ROUTE_STATE;
    if (len == 9 && !memcmp(path, "/sim/cert", 9)) return MIAW_SIM_ROUTE_CERT;
    if (len == 11 && !memcmp(path, "/sim/faults", 11)) return MIAW_SIM_ROUTE_FAULTS;
    if (len > sizeof devs - 1 && !memcmp(path, devs, sizeof devs - 1)) {
        int r = route_device(path + sizeof devs - 1, len - (sizeof devs - 1), phone, cap);
        if (r == MIAW_SIM_ROUTE_NONE) phone[0] = 0;
        return r;
    }
    size_t al = sizeof acc - 1;
    if (len < al || memcmp(path, acc, al)) return MIAW_SIM_ROUTE_NONE;
    if (len == al || (len == al + 1 && path[al] == '/')) return MIAW_SIM_ROUTE_ACCOUNTS;
    if (path[al] != '/') return MIAW_SIM_ROUTE_NONE;
    const char *p = path + al + 1, *end = path + len;
    const char *slash = memchr(p, '/', (size_t)(end - p));
    if (!slash || slash == p || (size_t)(slash - p) >= cap) return MIAW_SIM_ROUTE_NONE;
    for (const char *q = p; q < slash; q++)
        if (*q < '0' || *q > '9') return MIAW_SIM_ROUTE_NONE; /* {phone} is digits */
    int route = MIAW_SIM_ROUTE_NONE;
    if ((size_t)(end - slash) == 5 && !memcmp(slash, "/scan", 5)) route = MIAW_SIM_ROUTE_SCAN;
    else if ((size_t)(end - slash) == 9 && !memcmp(slash, "/messages", 9)) route = MIAW_SIM_ROUTE_MESSAGES;
    else if ((size_t)(end - slash) == 10 && !memcmp(slash, "/link-code", 10)) route = MIAW_SIM_ROUTE_LINK_CODE;
    else if ((size_t)(end - slash) == 7 && !memcmp(slash, "/groups", 7)) route = MIAW_SIM_ROUTE_GROUPS;
    else if ((size_t)(end - slash) == 9 && !memcmp(slash, "/presence", 9)) route = MIAW_SIM_ROUTE_PRESENCE;
    if (route != MIAW_SIM_ROUTE_NONE) {
        memcpy(phone, p, (size_t)(slash - p));
        phone[slash - p] = 0;
    }
    return route;
}
