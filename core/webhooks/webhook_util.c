/* core/webhooks/webhook_util.c - signature, event ids, retry schedule, URL helpers, latency
 * percentiles (see webhook_util.h). Each thread that signs or makes ids keeps one HMAC
 * context and a block of random bytes for its lifetime (never freed; the server uses them
 * on its loop thread only). */
#include "webhooks/webhook_util.h"

#include "base/util.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the HMAC implementation is fetched once per thread and its context reused (HMAC()
 * fetches the algorithm and allocates a context at each call: a few microseconds per
 * delivery); the key changes with the timestamp, so EVP_MAC_init takes it at each call */
static _Thread_local EVP_MAC_CTX *t_mac;

static EVP_MAC_CTX *mac_ctx(void)
{
    if (t_mac) return t_mac;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!mac) return NULL;
    t_mac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac); /* the context holds its own reference */
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0), OSSL_PARAM_construct_end()};
    if (t_mac && EVP_MAC_CTX_set_params(t_mac, params) != 1) {
        EVP_MAC_CTX_free(t_mac);
        t_mac = NULL;
    }
    return t_mac;
}

void miaw_wh_sign(char out[72], const char *secret, const char *timestamp, const void *body, size_t len)
{
    size_t sl = strlen(secret), tl = strlen(timestamp);
    unsigned char md[32], kb[256], *key = sl + tl <= sizeof kb ? kb : malloc(sl + tl + 1);
    size_t mdlen = 0;
    EVP_MAC_CTX *c = mac_ctx();
    out[0] = 0;
    if (!key) return;
    memcpy(key, secret, sl);
    memcpy(key + sl, timestamp, tl);
    int ok = c && EVP_MAC_init(c, key, sl + tl, NULL) == 1 && EVP_MAC_update(c, body, len) == 1 &&
             EVP_MAC_final(c, md, &mdlen, sizeof md) == 1 && mdlen == 32;
    OPENSSL_cleanse(key, sl + tl);
    if (key != kb) free(key);
    if (!ok) return;
    memcpy(out, "sha256=", 7);
    miaw_hex(out + 7, md, 32);
}

/* random bytes for event ids, drawn from the system a block at a time (one getrandom
 * per event id was a system call per event); each byte is used once and wiped */
static _Thread_local uint8_t t_rnd[1024];
static _Thread_local size_t t_rnd_pos = sizeof t_rnd;

static int rnd_take(uint8_t *out, size_t n)
{
    if (t_rnd_pos + n > sizeof t_rnd) {
        if (miaw_random(t_rnd, sizeof t_rnd) != 0) return -1;
        t_rnd_pos = 0;
    }
    memcpy(out, t_rnd + t_rnd_pos, n);
    memset(t_rnd + t_rnd_pos, 0, n);
    t_rnd_pos += n;
    return 0;
}

int miaw_wh_event_id(char out[31], int64_t now_ms)
{
    static const char B32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint8_t r[10];
    if (rnd_take(r, sizeof r) != 0) return -1;
    memcpy(out, "evt_", 4);
    uint64_t t = (uint64_t)now_ms & 0xFFFFFFFFFFFFull;
    for (int i = 9; i >= 0; i--) {
        out[4 + i] = B32[t & 31];
        t >>= 5;
    }
    /* 80 random bits = 16 base32 characters */
    for (int i = 0; i < 16; i++) {
        int bit = i * 5, v = 0;
        for (int j = 0; j < 5; j++, bit++) v = (v << 1) | ((r[bit / 8] >> (7 - bit % 8)) & 1);
        out[14 + i] = B32[v];
    }
    out[30] = 0;
    return 0;
}

int miaw_wh_max_attempts(int max_retries) { return max_retries > 2 ? max_retries - 1 : 1; }

int64_t miaw_wh_retry_delay(int next_attempt, int retry_delay_ms, double rnd)
{
    static const int units[] = {0, 0, 1, 5, 15, 60}; /* index = attempt number */
    if (next_attempt < 2) return 0;
    int u = next_attempt < (int)(sizeof units / sizeof units[0]) ? units[next_attempt] : 60;
    double d = (double)u * (double)retry_delay_ms;
    if (rnd < 0) rnd = 0;
    if (rnd >= 1) rnd = 0.999999;
    d *= 0.9 + 0.2 * rnd;
    return (int64_t)d;
}

static const char *after_scheme(const char *url, int *https)
{
    if (!url) return NULL;
    if (strncasecmp(url, "http://", 7) == 0) {
        *https = 0;
        return url + 7;
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        *https = 1;
        return url + 8;
    }
    return NULL;
}

int miaw_wh_url_valid(const char *url)
{
    int https;
    const char *h = after_scheme(url, &https);
    if (!h || !*h || *h == '/' || *h == '?' || *h == '#' || *h == ':') return 0;
    if (strlen(url) > 2048) return 0;
    for (const unsigned char *c = (const unsigned char *)url; *c; c++)
        if (*c <= 0x20 || *c == 0x7f) return 0;
    char key[300];
    return miaw_wh_url_hostkey(url, key, sizeof key) == 0;
}

int miaw_wh_url_hostkey(const char *url, char *out, size_t cap)
{
    int https = 0;
    const char *h = after_scheme(url, &https);
    if (!h) return -1;
    size_t n = strcspn(h, "/?#");
    const char *at = memchr(h, '@', n);
    if (at) { /* strip userinfo */
        n -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    if (n == 0 || n + 8 >= cap) return -1;
    const char *colon = NULL;
    if (h[0] == '[') { /* IPv6 literal */
        const char *rb = memchr(h, ']', n);
        if (!rb) return -1;
        colon = (size_t)(rb + 1 - h) < n && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(h, ':', n);
    }
    size_t hl = colon ? (size_t)(colon - h) : n;
    if (hl == 0) return -1;
    for (size_t i = 0; i < hl; i++) out[i] = (char)tolower((unsigned char)h[i]);
    long port = https ? 443 : 80;
    if (colon) {
        char *end;
        if (colon + 1 == h + n) return -1;
        port = strtol(colon + 1, &end, 10);
        if (end != h + n || port < 1 || port > 65535) return -1;
    }
    snprintf(out + hl, cap - hl, ":%ld", port);
    return 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

json_t *miaw_wh_percentiles(const float *v, unsigned n, double scale)
{
    float *tmp = n ? malloc(n * sizeof *tmp) : NULL;
    if (!tmp) return json_pack("{s:n,s:n,s:i}", "p50", "p99", "samples", 0);
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_float);
    unsigned i50 = (n - 1) * 50 / 100, i99 = (n - 1) * 99 / 100;
    json_t *o = json_pack("{s:I,s:I,s:i}", "p50", (json_int_t)(tmp[i50] * scale + 0.5), "p99",
                          (json_int_t)(tmp[i99] * scale + 0.5), "samples", (int)n);
    free(tmp);
    return o;
}
