/* core/http/router.c - route table and matching (see router.h). Literal segments win over
 * {params} so that /groups/join/{code} is chosen before /groups/{groupJid}. */
#include "http/router.h"

#include "http/schema.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void entry_free(miaw_route_entry *e)
{
    for (size_t i = 0; i < e->nseg; i++) free(e->segs[i]);
    free(e->segs);
    free(e->method);
    free(e->path);
    miaw_schema_free(e->body);
    free(e->operation_id);
    free(e->summary);
    free(e->description);
    free(e->tag);
    free(e->response_example);
    free(e);
}

static int split(const char *path, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const char *p = path;
    while (*p == '/') p++;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char **v = realloc(*out, (*n + 1) * sizeof *v);
        if (!v) return -1;
        *out = v;
        v[(*n)++] = strndup(p, len);
        p += len;
        while (*p == '/') p++;
    }
    return 0;
}

static int is_param(const char *seg) { return seg[0] == '{' && seg[strlen(seg) - 1] == '}'; }

/* a hash of a segment (len bytes), mixed with its position: 8 bytes at a time (the last
 * word zero-padded), each word multiplied in, the 64 bits folded at the end */
static uint32_t seg_hash_n(const char *s, size_t len, size_t pos)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)pos << 32) ^ len;
    for (;;) {
        uint64_t w = 0;
        size_t k = len < 8 ? len : 8;
        memcpy(&w, s, k);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
        if (len <= 8) break;
        s += 8;
        len -= 8;
    }
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t seg_hash(const char *s, size_t pos) { return seg_hash_n(s, strlen(s), pos); }

/* the literal segments' hashes of a route with this param mask, combined (a sum) */
static uint32_t lit_hash(const uint32_t *hs, size_t n, uint32_t mask)
{
    uint32_t h = 0;
    for (size_t i = 0; i < n; i++)
        if (!(mask >> i & 1)) h += hs[i];
    return h;
}

/* the same for a request: the sum of all its segments' hashes less those at the mask's
 * places (a route has one or two params: a bit or two to visit, not every segment) */
static uint32_t lit_of(uint32_t total, const uint32_t *hs, uint32_t mask)
{
    for (; mask; mask &= mask - 1) total -= hs[__builtin_ctz(mask)];
    return total;
}

static uint32_t shape(const miaw_route_entry *e)
{
    return (uint32_t)e->nseg | ((e->flags & MIAW_ROUTE_ROOT) ? 0x100u : 0);
}

/* the bucket of a shape in rt->start; routes longer than a request may be never match */
static size_t bucket(uint32_t shape)
{
    size_t n = shape & 0xff;
    return n > MIAW_ROUTER_MAXSEG ? (size_t)-1 : n + ((shape & 0x100u) ? MIAW_ROUTER_MAXSEG + 1 : 0);
}

/* after every change of the table; without memory the matcher scans the list. A counting
 * sort by shape: stable, so the routes of a shape keep their registration order (the
 * first registered wins a tie) */
static void reindex(miaw_router *rt)
{
    free(rt->idx);
    memset(rt->start, 0, sizeof rt->start);
    rt->idx = rt->count ? malloc(rt->count * sizeof *rt->idx) : NULL;
    if (!rt->idx) return;
    uint32_t fill[MIAW_ROUTER_SHAPES] = {0};
    size_t i = 0;
    for (miaw_route_entry *e = rt->head; e && i < rt->count; e = e->next, i++) {
        size_t b = bucket(shape(e));
        if (b != (size_t)-1) rt->start[b + 1]++;
    }
    if (i != rt->count) goto bad;
    for (size_t b = 0; b < MIAW_ROUTER_SHAPES; b++) rt->start[b + 1] += rt->start[b];
    for (miaw_route_entry *e = rt->head; e; e = e->next) {
        size_t b = bucket(shape(e));
        if (b == (size_t)-1) continue; /* cannot match any request: not indexed */
        rt->idx[rt->start[b] + fill[b]++] = (miaw_router_slot){e, e->param_mask, e->lit_hash};
    }
    return;
bad:
    free(rt->idx);
    rt->idx = NULL;
    memset(rt->start, 0, sizeof rt->start);
}

static char *sdup(const char *s) { return s ? strdup(s) : NULL; }

/* 1..5 for the methods a route may have, 0 for any other (no route has it) */
static int method_code(const char *m)
{
    switch (m[0]) {
    case 'G': return strcmp(m, "GET") == 0 ? 1 : 0;
    case 'P':
        return m[1] == 'O' ? (strcmp(m, "POST") == 0 ? 2 : 0)
               : m[1] == 'U' ? (strcmp(m, "PUT") == 0 ? 3 : 0)
                             : (strcmp(m, "PATCH") == 0 ? 4 : 0);
    case 'D': return strcmp(m, "DELETE") == 0 ? 5 : 0;
    default: return 0;
    }
}

int miaw_router_add(miaw_router *rt, const miaw_route *r, uint32_t extra_flags,
                    struct miaw_plugin *owner, char *err, size_t errlen)
{
    int mcode = r->method ? method_code(r->method) : 0;
    if (!mcode) {
        snprintf(err, errlen, "route: method must be GET, POST, PUT, PATCH or DELETE");
        return MIAW_E_INVAL;
    }
    if (!r->path || r->path[0] != '/' || !r->handler) {
        snprintf(err, errlen, "route %s: path must start with '/' and a handler is required", r->method);
        return MIAW_E_INVAL;
    }
    if (r->body && miaw_schema_check(r->body, err, errlen) != 0) return MIAW_E_INVAL;
    miaw_route_entry *e = calloc(1, sizeof *e);
    if (!e) return MIAW_E_NOMEM;
    e->method = strdup(r->method);
    e->mcode = (uint8_t)mcode;
    e->path = strdup(r->path);
    if (split(r->path, &e->segs, &e->nseg) != 0 || e->nseg > 16) {
        entry_free(e);
        snprintf(err, errlen, "route %s %s: bad path", r->method, r->path);
        return MIAW_E_INVAL;
    }
    size_t np = 0;
    for (size_t i = 0; i < e->nseg; i++) {
        if (is_param(e->segs[i])) {
            np++;
            e->param_mask |= 1u << i;
            for (const char *c = e->segs[i] + 1; c[1]; c++)
                if (!isalnum((unsigned char)*c) && *c != '_') {
                    snprintf(err, errlen, "route %s %s: bad parameter name", r->method, r->path);
                    entry_free(e);
                    return MIAW_E_INVAL;
                }
        } else {
            e->nliteral++;
        }
    }
    if (np > MIAW_MAX_PARAMS) {
        snprintf(err, errlen, "route %s %s: too many parameters", r->method, r->path);
        entry_free(e);
        return MIAW_E_INVAL;
    }
    if ((r->flags & MIAW_ROUTE_INSTANCE) && !strstr(r->path, "{instanceId}")) {
        snprintf(err, errlen, "route %s %s: MIAW_ROUTE_INSTANCE needs {instanceId} in the path", r->method, r->path);
        entry_free(e);
        return MIAW_E_INVAL;
    }
    /* a plugin declares only ABI flags (the low 16 bits); internal ones come from the host */
    e->flags = (owner ? r->flags & 0xffffu : r->flags) | extra_flags;
    for (miaw_route_entry *o = rt->head; o; o = o->next) {
        if (strcmp(o->method, e->method) || o->nseg != e->nseg || ((o->flags ^ e->flags) & MIAW_ROUTE_ROOT)) continue;
        int same = 1;
        for (size_t i = 0; i < e->nseg && same; i++)
            same = (is_param(o->segs[i]) && is_param(e->segs[i])) || strcmp(o->segs[i], e->segs[i]) == 0;
        if (same) {
            snprintf(err, errlen, "route %s %s: already registered", r->method, r->path);
            entry_free(e);
            return MIAW_E_EXIST;
        }
    }
    e->handler = r->handler;
    e->udata = r->udata;
    if (r->body) {
        e->body = miaw_schema_dup(r->body, r->field_size);
        if (!e->body && r->body->name) {
            entry_free(e);
            snprintf(err, errlen, "route %s %s: bad body schema", r->method, r->path);
            return MIAW_E_INVAL;
        }
        e->has_body = 1;
    }
    e->body_max = r->body_max;
    e->timeout_ms = r->timeout_ms;
    e->operation_id = sdup(r->operation_id);
    e->summary = sdup(r->summary);
    e->description = sdup(r->description);
    e->tag = sdup(r->tag);
    e->response_example = sdup(r->response_example);
    e->owner = owner;
    uint32_t hs[16];
    for (size_t i = 0; i < e->nseg; i++) hs[i] = seg_hash(e->segs[i], i);
    e->lit_hash = lit_hash(hs, e->nseg, e->param_mask);
    /* append, keeping registration order for the docs */
    miaw_route_entry **pp = &rt->head;
    while (*pp) pp = &(*pp)->next;
    *pp = e;
    rt->count++;
    reindex(rt);
    return MIAW_OK;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 1 when s is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) */
static int utf8_ok(const unsigned char *p)
{
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 4 : 0;
        if (!n) return 0;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xc0) != 0x80) return 0;
        if (n == 3 && ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0))) return 0;
        if (n == 4 && ((p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))) return 0;
        p += n;
    }
    return 1;
}

/* "." or ".." (n bytes at s) */
static int dot_seg(const char *s, size_t n) { return (n == 1 || n == 2) && s[0] == '.' && s[n - 1] == '.'; }

/* percent-decodes one segment exactly once: its decoded length; -1 when it is too long, holds a malformed
 * escape, or would contain NUL or '/' (an encoded separator), is a dot segment, or is
 * not valid UTF-8 once decoded */
static int decode_seg(const char *s, size_t len, char *out, size_t cap)
{
    /* as a rule a segment is plain ASCII with no escape: checked 8 bytes at a time (a '%',
     * a NUL or a byte above 0x7f sends it to the byte loop), copied at once, nothing to
     * decode and valid UTF-8 as it is */
    if (len < cap) {
        size_t i = 0;
        uint64_t bad = 0;
        for (uint64_t w; i + 8 <= len; i += 8) {
            memcpy(&w, s + i, 8);
            uint64_t pct = w ^ 0x2525252525252525ull; /* '%' */
            bad |= ((pct - 0x0101010101010101ull) & ~pct) | ((w - 0x0101010101010101ull) & ~w) | w;
        }
        for (; i < len; i++) {
            unsigned char c = (unsigned char)s[i];
            bad |= (c == '%' || c == 0 || c >= 0x80) ? 0x80 : 0;
        }
        if (!(bad & 0x8080808080808080ull)) {
            memcpy(out, s, len);
            out[len] = 0;
            return dot_seg(out, len) ? -1 : (int)len;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len) return -1;
            int h = hexv(s[i + 1]), l = hexv(s[i + 2]);
            if (h < 0 || l < 0) return -1;
            c = h * 16 + l;
            i += 2;
            if (c == 0 || c == '/') return -1;
        } else if (c == 0) {
            return -1;
        }
        if (o + 1 >= cap) return -1;
        out[o++] = (char)c;
    }
    out[o] = 0;
    if (dot_seg(out, o)) return -1;
    return utf8_ok((const unsigned char *)out) ? (int)o : -1;
}

/* 1 when every literal segment of e is the decoded request segment at its place */
static int literals_match(const miaw_route_entry *e, char dec[][256], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(e->param_mask >> i & 1) && strcmp(e->segs[i], dec[i]) != 0) return 0;
    return 1;
}

/* the routes a request of this shape may match, one after the other: with the index the
 * routes of its shape whose literal hash fits, without it (no memory) the whole list */
typedef struct scan {
    const miaw_router *rt;
    const uint32_t *hs;
    uint32_t want, total;
    size_t k, end;
    miaw_route_entry *e;
} scan;

static void scan_start(scan *sc, const miaw_router *rt, uint32_t want, const uint32_t *hs, uint32_t total)
{
    *sc = (scan){.rt = rt, .hs = hs, .want = want, .total = total, .e = rt->head};
    if (rt->idx) {
        size_t b = bucket(want);
        sc->k = b == (size_t)-1 ? 0 : rt->start[b];
        sc->end = b == (size_t)-1 ? 0 : rt->start[b + 1];
    }
}

static miaw_route_entry *scan_next(scan *sc)
{
    if (sc->rt->idx) {
        while (sc->k < sc->end) {
            const miaw_router_slot *sl = &sc->rt->idx[sc->k++];
            if (sl->lit == lit_of(sc->total, sc->hs, sl->param_mask)) return sl->e; /* else: cannot match */
        }
        return NULL;
    }
    while (sc->e) {
        miaw_route_entry *e = sc->e;
        sc->e = e->next;
        if (shape(e) == sc->want) return e;
    }
    return NULL;
}

int miaw_router_match(const miaw_router *rt, const char *method, const char *path, int root,
                      miaw_route_match *m, char *allow, size_t allowlen)
{
    /* split the raw request path and decode every segment once, without allocating */
    char dec[MIAW_ROUTER_MAXSEG][256];
    uint8_t dlen[MIAW_ROUTER_MAXSEG];
    uint32_t hs[MIAW_ROUTER_MAXSEG], total = 0; /* each segment's hash, and their sum */
    size_t n = 0;
    const char *p = path;
    while (*p == '/') p++;
    while (*p) {
        if (n == MIAW_ROUTER_MAXSEG) return 404;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int dl = decode_seg(p, len, dec[n], sizeof dec[n]);
        if (dl < 0) return 400;
        dlen[n] = (uint8_t)dl; /* at most 255 */
        hs[n] = seg_hash_n(dec[n], (size_t)dl, n);
        total += hs[n];
        n++;
        p += len;
        while (*p == '/') p++;
    }
    /* the routes of the request's method first (an integer compare before any literal);
     * only when none matches, the path's other methods: 404 or 405, and the Allow list
     * (always wanted for OPTIONS, which no route has) */
    miaw_route_entry *best = NULL, *e;
    size_t best_lit = 0;
    uint32_t want = (uint32_t)n | (root ? 0x100u : 0);
    int mc = method_code(method);
    scan sc;
    if (allow && allowlen) allow[0] = 0;
    if (mc) {
        scan_start(&sc, rt, want, hs, total);
        while ((e = scan_next(&sc)))
            if (e->mcode == mc && literals_match(e, dec, n) && (!best || e->nliteral > best_lit)) {
                best = e;
                best_lit = e->nliteral;
            }
    }
    if (!best) {
        int path_hit = 0;
        size_t ao = 0;
        scan_start(&sc, rt, want, hs, total);
        while ((e = scan_next(&sc))) {
            if (!literals_match(e, dec, n)) continue;
            path_hit = 1;
            if (allow && allowlen && ao + 10 < allowlen && !strstr(allow, e->method))
                ao += (size_t)snprintf(allow + ao, allowlen - ao, "%s%s", ao ? ", " : "", e->method);
        }
        return path_hit ? 405 : 404;
    }
    m->route = best;
    m->nparams = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(best->param_mask >> i & 1)) continue;
        memcpy(m->values[m->nparams], dec[i], (size_t)dlen[i] + 1);
        m->names[m->nparams++] = best->segs[i];
    }
    return 200;
}

int miaw_router_set_flags(miaw_router *rt, const char *method, const char *path, uint32_t flags)
{
    for (miaw_route_entry *e = rt->head; e; e = e->next)
        if (strcmp(e->method, method) == 0 && strcmp(e->path, path) == 0) {
            e->flags |= flags;
            reindex(rt);
            return MIAW_OK;
        }
    return MIAW_E_NOTFOUND;
}

void miaw_router_remove_owner(miaw_router *rt, struct miaw_plugin *owner)
{
    miaw_route_entry **pp = &rt->head;
    while (*pp) {
        if ((*pp)->owner == owner) {
            miaw_route_entry *d = *pp;
            *pp = d->next;
            entry_free(d);
            rt->count--;
        } else {
            pp = &(*pp)->next;
        }
    }
    reindex(rt);
}

void miaw_router_free(miaw_router *rt)
{
    while (rt->head) {
        miaw_route_entry *d = rt->head;
        rt->head = d->next;
        entry_free(d);
    }
    rt->count = 0;
    free(rt->idx);
    rt->idx = NULL;
    memset(rt->start, 0, sizeof rt->start);
}
