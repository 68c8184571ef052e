/* sim/media.c - the simulator's media host behind the HTTPS listener: media_conn answers
 * with upload tokens, uploads checked (auth token, size, SHA-256 against the path token)
 * and stored, downloads by signed direct path, and the blob store shared with the
 * simulated phones (bounded, oldest evicted, mirrored to <state-dir>/media). Owns the
 * store and the token ring (module state). */
#include "media.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "control.h"
#include "base/log.h"
#include "miaw/plugin.h"
#include "session.h"
#include "base/util.h"
#include "wa/mediacrypto.h"

#define TOKENS 128
#define ID_HEX 32

typedef struct obj {
    char id[ID_HEX + 1];
    uint8_t *blob;
    size_t len;
    struct obj *next; /* newer */
} obj;

static struct {
    int open;
    char host[96];
    char dir[4096];          /* "" = memory only */
    uint8_t oh_key[32];      /* signs direct paths; derived from the persisted root key */
    obj *oldest, *newest;
    size_t bytes, count;
    struct { char tok[48]; uint64_t expires; } tokens[TOKENS];
    size_t next_token;
    uint64_t uploads, downloads, refused;
} M;

int miaw_sim_media_open(miaw_sim *sim, char *err, size_t errcap)
{
    memset(&M, 0, sizeof M);
    uint8_t seed[32 + 16];
    memcpy(seed, sim->root.priv, 32);
    memcpy(seed + 32, "miaw-sim media\0\0", 16);
    if (miaw_wa_sha256(seed, sizeof seed, M.oh_key)) {
        snprintf(err, errcap, "cannot derive the media signing key");
        return MIAW_E_INTERNAL;
    }
    OPENSSL_cleanse(seed, sizeof seed);
    if (sim->state_dir) {
        snprintf(M.dir, sizeof M.dir, "%s/media", sim->state_dir);
        if (mkdir(M.dir, 0700) && errno != EEXIST) {
            snprintf(err, errcap, "cannot create %s: %s", M.dir, strerror(errno));
            return MIAW_E_IO;
        }
    }
    M.open = 1;
    return 0;
}

static void obj_free(obj *o)
{
    free(o->blob);
    free(o);
}

void miaw_sim_media_close(void)
{
    for (obj *o = M.oldest, *n; o; o = n) {
        n = o->next;
        obj_free(o);
    }
    OPENSSL_cleanse(&M, sizeof M);
}

void miaw_sim_media_set_host(const char *hostport)
{
    snprintf(M.host, sizeof M.host, "%s", hostport ? hostport : "");
}

const char *miaw_sim_media_host(void)
{
    return M.host;
}

/* ------------------------------------------------------------------ tokens, signatures */

const char *miaw_sim_media_new_auth(void)
{
    uint8_t r[24];
    size_t i = M.next_token++ % TOKENS;
    if (miaw_random(r, sizeof r)) return "";
    /* standard base64 on purpose: '+', '/' make clients percent-encode it, as real tokens do */
    miaw_sim_b64_encode(r, sizeof r, M.tokens[i].tok, sizeof M.tokens[i].tok);
    M.tokens[i].expires = miaw_sim_now() + MIAW_SIM_MEDIA_AUTH_TTL;
    return M.tokens[i].tok;
}

static int auth_ok(const char *tok)
{
    uint64_t now = miaw_sim_now();
    for (size_t i = 0; i < TOKENS; i++)
        if (M.tokens[i].tok[0] && M.tokens[i].expires >= now && !strcmp(M.tokens[i].tok, tok)) return 1;
    return 0;
}

/* oh = hex(HMAC-SHA256(oh_key, id))[0:32] */
static void sign_id(const char *id, char oh[33])
{
    uint8_t mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), M.oh_key, 32, (const uint8_t *)id, strlen(id), mac, &n);
    miaw_sim_hex(mac, 16, oh);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* value of query parameter key in q (len bytes), percent-decoded into out (a literal '+'
 * stays '+': clients percent-encode it); 0, or -1 when absent, malformed or too long */
static int query_param(const char *q, size_t len, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && q[end] != '&') end++;
        if (end - i > kl && !memcmp(q + i, key, kl) && q[i + kl] == '=') {
            size_t o = 0;
            for (size_t j = i + kl + 1; j < end; j++) {
                int c = (unsigned char)q[j];
                if (c == '%') {
                    if (end - j < 3 || hexval(q[j + 1]) < 0 || hexval(q[j + 2]) < 0) return -1;
                    c = hexval(q[j + 1]) << 4 | hexval(q[j + 2]);
                    j += 2;
                }
                if (!c || o + 1 >= cap) return -1;
                out[o++] = (char)c;
            }
            out[o] = 0;
            return 0;
        }
        i = end + 1;
    }
    return -1;
}

/* ------------------------------------------------------------------ store */

static void file_path(const char *id, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s.enc", M.dir, id);
}

static void evict_oldest(void)
{
    obj *o = M.oldest;
    if (!o) return;
    M.oldest = o->next;
    if (!M.oldest) M.newest = NULL;
    M.bytes -= o->len;
    M.count--;
    if (M.dir[0]) {
        char p[4200];
        file_path(o->id, p, sizeof p);
        unlink(p);
    }
    obj_free(o);
}

/* take over blob (malloc'd) under id; persist = also write the file */
static obj *insert(const char *id, uint8_t *blob, size_t len, int persist)
{
    obj *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    snprintf(o->id, sizeof o->id, "%s", id);
    o->blob = blob;
    o->len = len;
    while (M.oldest && (M.bytes + len > MIAW_SIM_MEDIA_STORE_MAX || M.count >= MIAW_SIM_MEDIA_OBJECTS_MAX))
        evict_oldest();
    if (M.newest) M.newest->next = o;
    else M.oldest = o;
    M.newest = o;
    M.bytes += len;
    M.count++;
    if (persist && M.dir[0]) {
        char p[4200], tmp[4210];
        file_path(id, p, sizeof p);
        snprintf(tmp, sizeof tmp, "%s.tmp", p);
        FILE *f = fopen(tmp, "wb");
        int ok = f && fwrite(blob, 1, len, f) == len;
        if (f && fclose(f)) ok = 0;
        if (!ok || rename(tmp, p)) {
            unlink(tmp);
            MIAW_WARN("sim", "media: cannot write %s", p);
        }
    }
    return o;
}

/* a blob written by an earlier run of the simulator */
static obj *load(const char *id)
{
    if (!M.dir[0]) return NULL;
    char p[4200];
    struct stat st;
    file_path(id, p, sizeof p);
    if (stat(p, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > MIAW_SIM_MEDIA_UPLOAD_MAX)
        return NULL;
    uint8_t *b = malloc((size_t)st.st_size);
    FILE *f = fopen(p, "rb");
    size_t n = b && f ? fread(b, 1, (size_t)st.st_size, f) : 0;
    if (f) fclose(f);
    if (n != (size_t)st.st_size) {
        free(b);
        return NULL;
    }
    obj *o = insert(id, b, n, 0);
    if (!o) free(b);
    return o;
}

static obj *find(const char *id)
{
    for (obj *o = M.oldest; o; o = o->next)
        if (!strcmp(o->id, id)) return o;
    return load(id);
}

int miaw_sim_media_put(const char *type, const uint8_t *blob, size_t len, char *url, size_t ucap, char *direct_path,
                       size_t dcap)
{
    if (!M.open || !len || len > MIAW_SIM_MEDIA_UPLOAD_MAX) return MIAW_E_LIMIT;
    char id[ID_HEX + 1], oh[33];
    if (miaw_random_hex(id, ID_HEX / 2)) return MIAW_E_INTERNAL;
    uint8_t *copy = malloc(len);
    if (!copy) return MIAW_E_NOMEM;
    memcpy(copy, blob, len);
    if (!insert(id, copy, len, 1)) {
        free(copy);
        return MIAW_E_NOMEM;
    }
    sign_id(id, oh);
    /* the shape of WhatsApp's direct paths: a path and a query (whatsmeow appends
     * "&hash=…" to it, so the query must exist) */
    snprintf(direct_path, dcap, "/v/t62.7118-24/%s.enc?ccb=11-4&oh=%s&oe=%08" PRIX64 "&_nc_sid=5e03e0", id, oh,
             miaw_sim_now() + 30 * 86400);
    snprintf(url, ucap, "https://%s%s&mms3=true", M.host[0] ? M.host : "127.0.0.1", direct_path);
    MIAW_INFO("sim", "media: %s blob %s stored (%zu bytes)", type ? type : "?", id, len);
    return 0;
}

int miaw_sim_media_get(const char *path_or_url, const uint8_t **blob, size_t *len)
{
    if (!M.open || !path_or_url) return MIAW_E_NOTFOUND;
    const char *p = path_or_url;
    if (!strncmp(p, "https://", 8)) p = strchr(p + 8, '/');
    if (!p || *p != '/') return MIAW_E_NOTFOUND;
    const char *q = strchr(p, '?');
    size_t plen = q ? (size_t)(q - p) : strlen(p);
    const char *slash = p + plen;
    while (slash > p && slash[-1] != '/') slash--;
    size_t seg = (size_t)(p + plen - slash);
    char id[ID_HEX + 1], oh[33], want[33];
    if (seg != ID_HEX + 4 || memcmp(slash + ID_HEX, ".enc", 4)) return MIAW_E_NOTFOUND;
    for (size_t i = 0; i < ID_HEX; i++)
        if (hexval(slash[i]) < 0 || (slash[i] >= 'A' && slash[i] <= 'F')) return MIAW_E_NOTFOUND;
    memcpy(id, slash, ID_HEX);
    id[ID_HEX] = 0;
    sign_id(id, want);
    if (!q || query_param(q + 1, strlen(q + 1), "oh", oh, sizeof oh) || CRYPTO_memcmp(oh, want, 33)) return MIAW_E_NOTFOUND;
    obj *o = find(id);
    if (!o) return MIAW_E_NOTFOUND;
    *blob = o->blob;
    *len = o->len;
    return 0;
}

void *miaw_sim_media_stats_json(void)
{
    return json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "host", M.host, "objects", (json_int_t)M.count, "bytes",
                     (json_int_t)M.bytes, "uploads", (json_int_t)M.uploads, "downloads", (json_int_t)M.downloads,
                     "refused", (json_int_t)M.refused);
}

/* ------------------------------------------------------------------ media_conn */

int miaw_sim_media_on_iq(miaw_sim_conn *c, const miaw_node *iq)
{
    if (!miaw_node_attr_is(iq, "xmlns", "w:m") || !miaw_node_child(iq, "media_conn")) return 0;
    if (!M.host[0]) {
        miaw_sim_iq_error(c, iq, 503, "service-unavailable");
        return 1;
    }
    miaw_node *r = miaw_sim_iq_result(iq);
    miaw_node *mc = r ? miaw_node_addv(r, "media_conn", "auth", miaw_sim_media_new_auth(), NULL) : NULL;
    if (mc) {
        miaw_node_set_attrf(mc, "ttl", "%d", MIAW_SIM_MEDIA_TTL);
        miaw_node_set_attrf(mc, "auth_ttl", "%d", MIAW_SIM_MEDIA_AUTH_TTL);
        miaw_node_set_attr(mc, "max_buckets", "12");
        miaw_node *h = miaw_node_addv(mc, "host", "hostname", M.host, NULL);
        if (h) miaw_node_set_attrf(h, "maxContentLengthBytes", "%u", MIAW_SIM_MEDIA_UPLOAD_MAX);
    }
    if (mc) miaw_sim_conn_send(c, r);
    miaw_node_free(r);
    return 1;
}

/* ------------------------------------------------------------------ HTTP */

static void refuse(h2o_req_t *req, int status, const char *code, const char *msg)
{
    M.refused++;
    miaw_sim_http_json(req, status, miaw_sim_error_json(code, NULL, msg));
}

/* the path token against the body: base64url(SHA-256(body)), with or without padding */
static int token_matches(const char *tok, size_t tl, const uint8_t *body, size_t len)
{
    uint8_t d[32];
    char b[48];
    if (miaw_wa_sha256(body, len, d)) return 0;
    int n = miaw_sim_b64_encode(d, 32, b, sizeof b);
    for (int i = 0; i < n; i++) b[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
    while (n && b[n - 1] == '=') n--;
    while (tl && tok[tl - 1] == '=') tl--;
    return (size_t)n == tl && !memcmp(b, tok, tl);
}

/* POST /<mms|newsletter|product|pps>/<type>/<token>?auth=…&token=… */
static void upload(h2o_req_t *req, const char *path, size_t plen, const char *q, size_t qlen)
{
    const char *s1 = memchr(path + 1, '/', plen - 1), *s2 = s1 ? memchr(s1 + 1, '/', (size_t)(path + plen - s1 - 1)) : NULL;
    char auth[128], type[40];
    if (!s2 || s2 == s1 + 1 || (size_t)(s2 - s1 - 1) >= sizeof type || s2 + 1 == path + plen ||
        memchr(s2 + 1, '/', (size_t)(path + plen - s2 - 1))) {
        refuse(req, 404, "NOT_FOUND", "uploads go to /mms/<type>/<token>");
        return;
    }
    memcpy(type, s1 + 1, (size_t)(s2 - s1 - 1));
    type[s2 - s1 - 1] = 0;
    if (query_param(q, qlen, "auth", auth, sizeof auth) || !auth_ok(auth)) {
        refuse(req, 401, "UNAUTHORIZED", "missing, unknown or expired auth (ask media_conn for one)");
        return;
    }
    if (!req->entity.base || !req->entity.len) {
        refuse(req, 400, "INVALID_REQUEST", "empty upload");
        return;
    }
    if (req->entity.len > MIAW_SIM_MEDIA_UPLOAD_MAX) {
        refuse(req, 413, "PAYLOAD_TOO_LARGE", "upload larger than maxContentLengthBytes");
        return;
    }
    if (!token_matches(s2 + 1, (size_t)(path + plen - s2 - 1), (const uint8_t *)req->entity.base, req->entity.len)) {
        refuse(req, 400, "INVALID_REQUEST", "the token is not base64url(SHA-256(body)) (fileEncSha256)");
        return;
    }
    char url[512], dp[256], handle[33];
    if (miaw_sim_media_put(type, (const uint8_t *)req->entity.base, req->entity.len, url, sizeof url, dp, sizeof dp) ||
        miaw_random_hex(handle, 16)) {
        refuse(req, 500, "INTERNAL_ERROR", "cannot store the upload");
        return;
    }
    M.uploads++;
    const char *id = strstr(dp, ".enc?");
    char object_id[ID_HEX + 1] = "";
    if (id && id - dp > ID_HEX) snprintf(object_id, sizeof object_id, "%.*s", ID_HEX, id - ID_HEX);
    miaw_sim_http_json(req, 200, json_pack("{s:s,s:s,s:s,s:s,s:I}", "url", url, "direct_path", dp, "handle", handle,
                                           "object_id", object_id, "ts", (json_int_t)miaw_sim_now()));
}

/* GET <direct path>[&hash=…&mms-type=…&__wa-mms=], optionally Range: bytes=a-[b] */
static void download(h2o_req_t *req, int head)
{
    char path[1024];
    const uint8_t *blob;
    size_t len;
    if (req->path.len >= sizeof path) {
        refuse(req, 414, "INVALID_REQUEST", "path too long");
        return;
    }
    memcpy(path, req->path.base, req->path.len);
    path[req->path.len] = 0;
    if (miaw_sim_media_get(path, &blob, &len)) {
        refuse(req, 404, "NOT_FOUND", "no such media (unknown, evicted, or a wrong oh signature)");
        return;
    }
    size_t from = 0, to = len - 1;
    ssize_t ri = h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1);
    if (ri >= 0) {
        h2o_iovec_t v = req->headers.entries[ri].value;
        char r[64];
        unsigned long long a = 0, b = ~0ULL;
        int n = 0;
        snprintf(r, sizeof r, "%.*s", (int)(v.len < 63 ? v.len : 63), v.base);
        if (sscanf(r, "bytes=%llu-%n", &a, &n) != 1 || !n || (r[n] && sscanf(r + n, "%llu", &b) != 1) || a >= len ||
            b < a) {
            req->res.status = 416;
            req->res.reason = "Range Not Satisfiable";
            h2o_send_inline(req, "", 0);
            return;
        }
        from = (size_t)a;
        to = b < len - 1 ? (size_t)b : len - 1;
        req->res.status = 206;
        req->res.reason = "Partial Content";
        char cr[96];
        int cl = snprintf(cr, sizeof cr, "bytes %zu-%zu/%zu", from, to, len);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_RANGE, NULL, h2o_strdup(&req->pool, cr, (size_t)cl).base, (size_t)cl);
    } else {
        req->res.status = 200;
        req->res.reason = "OK";
    }
    M.downloads++;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/octet-stream"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCEPT_RANGES, NULL, H2O_STRLIT("bytes"));
    MIAW_DEBUG("sim", "media: GET %.*s %d (%zu bytes)", (int)req->path_normalized.len, req->path_normalized.base,
               req->res.status, to - from + 1);
    h2o_send_inline(req, head ? "" : (const char *)blob + from, head ? 0 : to - from + 1);
}

void miaw_sim_media_http(h2o_req_t *req)
{
    const char *path = req->path_normalized.base;
    size_t plen = req->path_normalized.len;
    size_t qat = req->query_at;
    const char *q = qat != SIZE_MAX ? req->path.base + qat + 1 : "";
    size_t qlen = qat != SIZE_MAX ? req->path.len - qat - 1 : 0;
    int post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    static const char *const up[] = {"/mms/", "/newsletter/", "/product/", "/pps/"};
    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
        size_t l = strlen(up[i]);
        if (plen > l && !memcmp(path, up[i], l)) {
            if (post) upload(req, path, plen, q, qlen);
            else refuse(req, 405, "METHOD_NOT_ALLOWED", "uploads are POSTs");
            return;
        }
    }
    if (get || head) download(req, head);
    else refuse(req, 405, "METHOD_NOT_ALLOWED", "downloads are GETs");
}
