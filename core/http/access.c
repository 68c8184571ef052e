/* core/http/access.c - who may call what (see http_int.h): authentication (the admin key,
 * HTTP Basic credentials, scoped keys from apikeys.c), what a scoped key may do on a route,
 * the REST rate limits per key and per client address (429 with Retry-After), the base
 * path / API prefix split, and the early verdict early.c asks for on a request head. Owns
 * nothing. */
#include "http/http_int.h"

#include "base/log.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* ------------------------------------------------------------------ auth */
static int admin_key_ok(const miaw_http *h, const char *v)
{
    size_t kl = strlen(h->api_key);
    return v && kl && miaw_ct_equal(v, strlen(v), h->api_key, kl);
}

/* the admin key or a scoped key: 1 and out filled */
static int token_ok(const miaw_http *h, const char *token, miaw_auth *out)
{
    if (admin_key_ok(h, token)) {
        out->ok = out->admin = 1;
        memcpy(out->key_id, "admin", sizeof "admin"); /* key_id holds far more */
    } else if (h->keys && miaw_apikeys_check(h->keys, token, out->key_id, sizeof out->key_id, &out->perms) == 0) {
        out->ok = 1;
    }
    return out->ok;
}

/* X-API-Key, then Authorization: Bearer, then Basic (as before scoped keys existed: a
 * wrong X-API-Key does not hide a right Authorization) */
void miaw_http_authenticate(const miaw_http *h, const char *xkey, const char *authz, miaw_auth *out)
{
    memset(out, 0, sizeof *out);
    if (xkey && token_ok(h, xkey, out)) return;
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0) {
        const char *token = authz + 7;
        while (*token == ' ') token++;
        token_ok(h, token, out);
        return;
    }
    if (authz && strncasecmp(authz, "Basic ", 6) == 0 && h->cfg->basic_auth.n) {
        const char *v = authz + 6;
        while (*v == ' ') v++;
        size_t in = strlen(v);
        if (in > 1024 || in % 4) return;
        unsigned char dec[800];
        int n = EVP_DecodeBlock(dec, (const unsigned char *)v, (int)in);
        if (n < 0) return;
        while (n > 0 && in && v[in - 1] == '=') { n--; in--; }
        int ok = 0;
        for (size_t i = 0; i < h->cfg->basic_auth.n; i++) {
            const char *cred = h->cfg->basic_auth.v[i];
            ok |= miaw_ct_equal((const char *)dec, (size_t)n, cred, strlen(cred));
        }
        if (ok) {
            out->ok = out->admin = 1;
            memcpy(out->key_id, "admin", sizeof "admin"); /* key_id holds far more */
        }
    }
}

/* what a scoped key may do on a route: instance routes only, its instances only, GET
 * needs read and anything else send; routes flagged MIAW_ROUTE_ADMIN and routes outside
 * an instance are for the admin key. NULL when allowed, else the reason. */
const char *miaw_http_authorize(const miaw_auth *a, const miaw_route_entry *rt, const char *method, const char *iid,
                                const miaw_http *h)
{
    if (a->admin || (rt->flags & MIAW_ROUTE_PUBLIC)) return NULL;
    if ((rt->flags & MIAW_ROUTE_ADMIN) || !(rt->flags & MIAW_ROUTE_INSTANCE) || !iid)
        return "this route needs the admin API key";
    int read = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!(a->perms & (read ? MIAW_KEY_PERM_READ : MIAW_KEY_PERM_SEND)))
        return read ? "this API key lacks the read permission" : "this API key lacks the send permission";
    if (!h->keys || !miaw_apikeys_allows(h->keys, a->key_id, iid)) return "this API key is not valid for this instance";
    return NULL;
}

const char *miaw_http_route_path(const miaw_http *h, const char *path, int *root)
{
    size_t bl = strlen(h->cfg->base_path);
    if (bl) {
        if (strncmp(path, h->cfg->base_path, bl) != 0 || (path[bl] && path[bl] != '/')) return NULL;
        path += bl;
        if (!*path) path = "/";
    }
    const char *api = h->cfg->api_prefix;
    size_t al = strlen(api);
    *root = 1;
    if (al && strncmp(path, api, al) == 0 && (path[al] == 0 || path[al] == '/')) {
        *root = 0;
        path += al;
        if (!*path) path = "/";
    }
    return path;
}

static int early_env(char *body, size_t cap, const char *code, const char *msg, json_t *details)
{
    json_t *err = json_pack("{s:s,s:s}", "code", code, "message", msg);
    if (details) json_object_set_new(err, "details", details);
    json_t *doc = json_pack("{s:b,s:o}", "success", 0, "error", err);
    size_t n = json_dumpb(doc, body, cap - 1, JSON_COMPACT);
    json_decref(doc);
    if (n >= cap) n = 0;
    body[n] = 0;
    return 0;
}

int miaw_http_early_verdict(miaw_http *h, const char *method, const char *path, const char *xkey, const char *authz,
                            int chunked, uint64_t cl, uint64_t seen, char *body, size_t cap)
{
    int root, st = 0;
    char allow[128] = "";
    miaw_route_match m;
    const char *rp = miaw_http_route_path(h, path, &root);
    int rs = rp ? miaw_router_match(h->router, strcmp(method, "HEAD") == 0 ? "GET" : method, rp, root, &m, allow, sizeof allow)
                : 404;
    if (rs == 400) {
        st = 400;
        early_env(body, cap, "INVALID_REQUEST", "malformed path segment", json_pack("{s:s}", "field", "path"));
    } else if (rs == 404) {
        st = 404;
        early_env(body, cap, "NOT_FOUND", "no such route", NULL);
    } else if (rs == 405) {
        st = 405;
        early_env(body, cap, "METHOD_NOT_ALLOWED", "method not allowed", json_pack("{s:s}", "allow", allow));
    } else {
        const miaw_route_entry *rt = m.route;
        miaw_auth a = {0};
        const char *why = NULL;
        if (!(rt->flags & MIAW_ROUTE_PUBLIC)) {
            miaw_http_authenticate(h, xkey, authz, &a);
            if (a.ok) {
                const char *iid = NULL;
                for (size_t i = 0; i < m.nparams; i++)
                    if (strcmp(m.names[i], "{instanceId}") == 0) iid = m.values[i];
                why = miaw_http_authorize(&a, rt, method, iid, h);
            }
        }
        uint64_t limit = rt->body_max ? rt->body_max : (uint64_t)h->cfg->max_body_bytes;
        if (!(rt->flags & MIAW_ROUTE_PUBLIC) && !a.ok) {
            st = 401;
            early_env(body, cap, "UNAUTHORIZED", "missing or invalid API key", NULL);
        } else if (why) {
            st = 403;
            early_env(body, cap, "FORBIDDEN", why, NULL);
        } else if (chunked ? seen > limit + MIAW_EARLY_CHUNK_SLACK : cl > limit) {
            st = 413;
            char msg[160];
            snprintf(msg, sizeof msg, "the request body exceeds the limit of %llu bytes", (unsigned long long)limit);
            early_env(body, cap, "PAYLOAD_TOO_LARGE", msg, json_pack("{s:I}", "limit", (json_int_t)limit));
        }
    }
    if (st) MIAW_INFO("http", "%s %s %d (refused before the body: %s %llu bytes)", method, path, st,
                      chunked ? "chunked, seen" : "declared", (unsigned long long)(chunked ? seen : cl));
    return st;
}

/* the client's address (no port), for the per-address rate limit */
void miaw_http_peer_addr(miaw_req *r, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    h2o_conn_t *c = r->h2o ? r->h2o->conn : NULL;
    out[0] = 0;
    if (!c || !c->callbacks->get_peername || c->callbacks->get_peername(c, (struct sockaddr *)&ss) == 0) return;
    if (ss.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)cap);
    else if (ss.ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)cap);
}

/* 0 when within the limit; else answered 429 RATE_LIMITED with Retry-After */
int miaw_http_rate_limited(miaw_req *r, miaw_ratelimit *rl, const char *what, const char *key)
{
    uint64_t ms = rl && key && *key ? miaw_ratelimit_take(rl, key, uv_now(r->http->loop)) : 0;
    if (!ms) return 0;
    miaw_http_retry_hint(ms);
    miaw_req_reply_code(r, 429, "RATE_LIMITED", json_pack("{s:s}", "limit", what),
                        strcmp(what, "address") == 0 ? "too many requests from this address"
                                                     : "too many requests with this API key");
    return 1;
}

