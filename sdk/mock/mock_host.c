/* sdk/mock/mock_host.c - the mock plugin host of miaw/mock_host.h: a complete
 * miaw_host_api (ABI 1.2, and of 1.3 the files: req_upload, reply_file, fetch, and the chat
 * history: msg_list, chat_list, and of 1.4 app-state sync: appstate_push / _subscribe /
 * _unsubscribe / _sync / _state) for unit tests, with no server, network or WhatsApp.
 * Owns the mock (struct miaw_mock) and everything in it: loaded plugins, routes with
 * deep-copied body schemas, requests (kept until miaw_mock_free, so a late answer from a
 * plugin is caught and reported instead of touching freed memory), asynchronous calls
 * and their JSON records, event types and subscriptions, stanza subscriptions, timers,
 * kv rows, instances and stored messages (and scripted history answers), logs and ABI violations; the temporary files
 * of multipart uploads (removed when their request ends) and of fetches (the plugin's
 * once handed over).
 * Mirrors the server's behaviour (core/http router and schema checks, envelopes and error
 * codes, core/plugins reply_status and jid_normalize, core/bus delivery) without linking
 * any of it: depends only on jansson, libdl, libc and the SDK headers. One thread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <miaw/mock_host.h>

#include <ctype.h>
#include <dlfcn.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOCK_T0 1735118400000LL
#define MOCK_MAX_PARAMS 8
#define MOCK_DEFAULT_TIMEOUT_MS 30000u
#define MOCK_DEFAULT_BODY_MAX (1u << 20)
#define MOCK_IQ_TIMEOUT_MS 20000u
#define MOCK_SEND_TIMEOUT_MS 45000u

enum { ST_PENDING, ST_DONE, ST_CANCELLED };
enum { K_MSG, K_TEXT, K_IQ, K_UPLOAD, K_DOWNLOAD, K_FETCH, K_APPSTATE };
#define MOCK_FETCH_MAX_BYTES (100ull << 20)
#define MOCK_FETCH_TIMEOUT_MS 60000u
#define MOCK_FILE_READ_MAX (64u << 20) /* reply_file: bytes captured in the reply */

struct miaw_plugin {
    miaw_mock *m;
    char *name;
    const miaw_plugin_desc *desc;
    void *dl;
    void *state;
    int in_init, initialized;
    miaw_id next_timer;
    struct miaw_plugin *next;
};

typedef struct mroute {
    miaw_plugin *owner;
    char *method, *path;
    char **segs;
    size_t nseg, nlit;
    uint32_t flags;
    miaw_route_fn handler;
    void *udata;
    miaw_field *body; /* deep copy; NULL with has_body for an empty schema */
    int has_body;
    uint64_t body_max;
    uint32_t timeout_ms;
    struct mroute *next;
} mroute;

typedef struct mupload { /* a file part of a multipart request, in a temporary file */
    char *name, *path, *filename, *ctype;
    uint64_t size;
} mupload;

typedef struct sbuf { /* a string owned by a request (decoded query values) */
    struct sbuf *next;
    char s[];
} sbuf;

struct miaw_req {
    miaw_mock *m;
    miaw_plugin *owner; /* the route's plugin; NULL once it unloaded */
    char id[40];
    char *method, *path, *query;
    char *pnames[MOCK_MAX_PARAMS], *pvals[MOCK_MAX_PARAMS];
    size_t np;
    char **hdr; /* name, value, name, value... */
    size_t nhdr;
    json_t *body;
    int answered, suspended, dead, aborting;
    miaw_abort_fn on_abort;
    void *abort_ud;
    uint32_t timeout_ms;
    int64_t deadline;
    miaw_mock_reply *reply; /* where the answer goes; NULL once delivered or detached */
    sbuf *strs;
    mupload *ups;           /* multipart file parts; removed when the request ends */
    size_t nups;
    json_t *out_headers;    /* reply_header: {name: value}, handed to the reply */
    struct miaw_req *next;
};

typedef struct mcall {
    int kind, state;
    miaw_id id;
    miaw_plugin *p; /* whose callback may still run; NULL once done or cancelled */
    json_t *rec;    /* borrowed from its records array */
    miaw_send_fn send_cb;
    miaw_iq_fn iq_cb;
    miaw_media_fn media_cb;
    miaw_media_chunk_fn chunk_cb;
    miaw_fetch_fn fetch_cb;
    miaw_appstate_push_fn as_cb;
    uint64_t max_bytes; /* fetch */
    uint32_t timeout_ms;
    void *udata;
    char *inst, *msg_id, *jid, *stype, *iq_id, *path;
    json_t *message; /* sends: what is stored on MIAW_OK */
    int no_store;
    uint64_t fed, len;
    int64_t deadline; /* 0 = none */
} mcall;

typedef struct cvec {
    mcall **v;
    size_t n, cap;
} cvec;

typedef struct etype {
    char *type;
    miaw_plugin *owner;
    uint32_t flags;
    struct etype *next;
} etype;

typedef struct esub {
    miaw_id id;
    miaw_plugin *p;
    char *pattern;
    miaw_event_fn fn;
    void *udata;
    int dead;
    struct esub *next;
} esub;

typedef struct equeued {
    char *type, *source, *inst;
    json_t *data;
    uint64_t id;
    struct equeued *next;
} equeued;

typedef struct asub { /* an app-state subscription (ABI 1.4) */
    miaw_id id;
    miaw_plugin *p;
    char *coll; /* NULL = all */
    miaw_appstate_fn fn;
    void *udata;
    struct asub *next;
} asub;

typedef struct asver { /* a collection's version per instance, advanced by completed pushes */
    char *inst;
    uint64_t v[5];
    size_t entries[5];
    struct asver *next;
} asver;

typedef struct ssub {
    miaw_id id;
    miaw_plugin *p;
    char *tag, *type, *xmlns, *child;
    miaw_stanza_fn fn;
    void *udata;
    struct ssub *next;
} ssub;

typedef struct mtimer {
    miaw_id id;
    miaw_plugin *p;
    int64_t due;
    uint64_t seq;
    uint32_t repeat;
    miaw_timer_fn fn;
    void *udata;
    struct mtimer *next;
} mtimer;

typedef struct kvrow {
    char *plugin, *inst, *key;
    json_t *v;
    struct kvrow *next;
} kvrow;

typedef struct refusal { /* a scripted engine refusal (miaw_mock_refuse) */
    char *service, *field, *err;
    int status;
    struct refusal *next;
} refusal;

typedef struct minst {
    char *id;
    json_t *obj;
    struct minst *next;
} minst;

typedef struct mmsg {
    char *inst, *id;
    json_t *obj;
    struct mmsg *next;
} mmsg;

typedef struct hscript { /* a scripted msg_list / chat_list answer (miaw_mock_script_list) */
    char *service;
    json_t *answer; /* NULL: the call answers NULL */
    struct hscript *next;
} hscript;

struct miaw_mock {
    miaw_host_api api;
    int64_t now;
    miaw_plugin *plugins;
    mroute *routes;
    struct miaw_req *reqs;
    uint64_t next_req, next_msgid, next_iqid, next_event, next_seq, next_media;
    miaw_id next_call, next_esub;
    cvec sendv, iqv, mediav, fetchv, asv;
    json_t *sends, *iqs, *media, *fetches, *stanzas, *events, *logs, *violations;
    json_t *appstate;  /* appstate_push / appstate_sync calls (miaw_mock_appstate_calls) */
    asub *asubs;
    asver *asvers;
    etype *etypes;
    esub *esubs;
    equeued *qhead, *qtail;
    int dispatching;
    ssub *ssubs;
    mtimer *timers;
    kvrow *kv;
    minst *insts;
    mmsg *msgs;
    json_t *lists;     /* msg_list / chat_list calls (miaw_mock_lists) */
    hscript *hscripts; /* scripted answers, in order */
    refusal *refusals;
    char *refused_field; /* the last refusal's field: valid until the next one */
    miaw_mock_message_check_fn check;
    void *check_ud;
    int verbose;
    struct miaw_mock *older; /* the live mocks, newest first (now_ms reads the newest) */
};

static miaw_mock *g_clock; /* the newest live mock: now_ms reads its clock */

/* ================================================================ small helpers */
static char *sdup(const char *s) { return s ? strdup(s) : NULL; }
static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static void violation(miaw_mock *m, const char *fmt, ...) MIAW_FMT(2, 3);
static void violation(miaw_mock *m, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "miaw mock host: ABI violation: %s\n", msg);
    json_array_append_new(m->violations, json_string(msg));
}

/* JSON text -> value (NULL text = fallback, a new reference or NULL); prints why on error */
static int parse_json(const char *text, const char *what, json_t **out)
{
    *out = NULL;
    if (!text) return MIAW_OK;
    json_error_t je;
    *out = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (*out) return MIAW_OK;
    fprintf(stderr, "miaw mock host: %s: not JSON (line %d column %d: %s)\n", what, je.line, je.column, je.text);
    return MIAW_E_INVAL;
}

static char *b64_encode(const void *data, size_t len)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *d = data;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)d[i] << 16 | (i + 1 < len ? (unsigned)d[i + 1] << 8 : 0u) | (i + 2 < len ? d[i + 2] : 0u);
        out[o++] = T[v >> 18 & 63];
        out[o++] = T[v >> 12 & 63];
        out[o++] = i + 1 < len ? T[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? T[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

/* standard or URL-safe base64, padding optional (as the server's node reader takes it) */
static int b64_ok(const char *s, size_t n)
{
    size_t pad = 0;
    while (n && s[n - 1] == '=') n--, pad++;
    if (pad > 2 || n % 4 == 1 || (pad && (n + pad) % 4)) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("+/-_", s[i])) return 0;
    return 1;
}

static int cvec_push(cvec *v, mcall *c)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        mcall **nv = realloc(v->v, cap * sizeof *nv);
        if (!nv) return MIAW_E_NOMEM;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = c;
    return MIAW_OK;
}

#define ERRBUF(err, errlen)     \
    char tmp_[256];             \
    if (!(err) || !(errlen)) {  \
        (err) = tmp_;           \
        (errlen) = sizeof tmp_; \
    }                           \
    (err)[0] = 0

/* ================================================================ instances */
static minst *inst_find(miaw_mock *m, const char *id)
{
    for (minst *i = m->insts; id && i; i = i->next)
        if (strcmp(i->id, id) == 0) return i;
    return NULL;
}

static int inst_connected(const minst *i) { return streq(json_string_value(json_object_get(i->obj, "status")), "connected"); }

/* MIAW_OK, MIAW_E_NOTFOUND or MIAW_E_STATE with the server's texts */
static int inst_usable(miaw_mock *m, const char *id, char *err, size_t errlen)
{
    minst *i = inst_find(m, id);
    if (!i) return snprintf(err, errlen, "instance '%s' not found", id ? id : ""), MIAW_E_NOTFOUND;
    if (!inst_connected(i)) {
        const char *st = json_string_value(json_object_get(i->obj, "status"));
        return snprintf(err, errlen, "instance '%s' is not connected (status %s)", id, st ? st : "unknown"),
               MIAW_E_STATE;
    }
    return MIAW_OK;
}

/* ================================================================ jid_normalize */
static int all_digits(const char *s, size_t n, int dash)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !(dash && s[i] == '-')) return 0;
    return 1;
}

/* "+1 (555) 123-4567" -> digits; 5-20 digits, no leading 0 */
static int phone_digits(const char *s, size_t n, char d[32])
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (isdigit((unsigned char)s[i])) {
            if (k >= 20) return MIAW_E_INVAL;
            d[k++] = s[i];
        } else if (!s[i] || !strchr(" +-().", s[i])) {
            return MIAW_E_INVAL;
        }
    }
    d[k] = 0;
    return k < 5 || d[0] == '0' ? MIAW_E_INVAL : MIAW_OK;
}

static int h_jid_normalize(const char *to, char *out, size_t outlen)
{
    if (!out || !outlen || !to || !*to) return MIAW_E_INVAL;
    char d[32];
    const char *at = strchr(to, '@');
    int n;
    if (!at) {
        if (phone_digits(to, strlen(to), d)) return MIAW_E_INVAL;
        n = snprintf(out, outlen, "%s@s.whatsapp.net", d);
        return n < 0 || (size_t)n >= outlen ? MIAW_E_INVAL : MIAW_OK;
    }
    const char *server = at + 1;
    size_t ulen = (size_t)(at - to);
    if (!*server || strchr(server, '@') || strlen(server) > 31 || ulen == 0 || ulen > 127) return MIAW_E_INVAL;
    const char *colon = memchr(to, ':', ulen);
    if (colon) { /* a device suffix: only device 0 of a user JID names the user */
        size_t dl = ulen - (size_t)(colon - to) - 1;
        if (!dl || dl > 6 || !all_digits(colon + 1, dl, 0) || strtoul(colon + 1, NULL, 10) != 0) return MIAW_E_INVAL;
        if (strcmp(server, "s.whatsapp.net") && strcmp(server, "lid")) return MIAW_E_INVAL;
        ulen = (size_t)(colon - to);
        if (!ulen) return MIAW_E_INVAL;
    }
    int group = strcmp(server, "g.us") == 0;
    if (!all_digits(to, ulen, group)) return MIAW_E_INVAL;
    if (!strcmp(server, "s.whatsapp.net") || !strcmp(server, "c.us")) {
        if (phone_digits(to, ulen, d)) return MIAW_E_INVAL;
        n = snprintf(out, outlen, "%s@s.whatsapp.net", d);
    } else if (!strcmp(server, "lid") || group) {
        n = snprintf(out, outlen, "%.*s@%s", (int)ulen, to, server);
    } else {
        return MIAW_E_INVAL;
    }
    return n < 0 || (size_t)n >= outlen ? MIAW_E_INVAL : MIAW_OK;
}

/* ================================================================ JSON nodes */
static void path_add(char *path, size_t cap, const char *key, long idx)
{
    size_t l = strlen(path);
    if (key) snprintf(path + l, cap - l, "%s%s", l ? "." : "", key);
    else snprintf(path + l, cap - l, "[%ld]", idx);
}

static int node_fail(char *err, size_t errlen, const char *path, const char *msg)
{
    snprintf(err, errlen, "%s: %s", *path ? path : "(root)", msg);
    return MIAW_E_INVAL;
}

static int jid_ok(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (!s || !n || strlen(s) != n) return 0;
    const char *at = strchr(s, '@');
    if (!at) return n <= 31;
    return at[1] && !strchr(at + 1, '@') && strlen(at + 1) <= 31 && (size_t)(at - s) <= 127;
}

/* checks a node in the ABI's JSON shape, with the server's limits; err names the path */
static int node_check(const json_t *j, char *path, size_t cap, int depth, char *err, size_t errlen)
{
    if (!json_is_object(j)) return node_fail(err, errlen, path, "expected a node object");
    if (depth > 32) return node_fail(err, errlen, path, "nodes nested deeper than 32 levels");
    size_t base = strlen(path);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)j, key, v) {
        if (strcmp(key, "tag") && strcmp(key, "attrs") && strcmp(key, "content")) {
            path_add(path, cap, key, 0);
            return node_fail(err, errlen, path, "unknown key (a node has tag, attrs and content)");
        }
    }
    const json_t *tag = json_object_get(j, "tag");
    path_add(path, cap, "tag", 0);
    if (!tag) return node_fail(err, errlen, path, "missing");
    if (!json_is_string(tag)) return node_fail(err, errlen, path, "expected a string");
    if (!json_string_length(tag)) return node_fail(err, errlen, path, "empty");
    path[base] = 0;
    const json_t *attrs = json_object_get(j, "attrs");
    if (attrs && !json_is_null(attrs)) {
        path_add(path, cap, "attrs", 0);
        if (!json_is_object(attrs)) return node_fail(err, errlen, path, "expected an object");
        size_t ab = strlen(path);
        json_object_foreach((json_t *)attrs, key, v) {
            if (!*key) return node_fail(err, errlen, path, "an attribute key is empty");
            path_add(path, cap, key, 0);
            if (json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, "jid")) {
                if (!jid_ok(json_object_get(v, "jid"))) return node_fail(err, errlen, path, "not a valid JID");
            } else if (json_is_object(v) && json_object_size(v) == 1 && json_object_get(v, "b64")) {
                const json_t *s = json_object_get(v, "b64");
                if (!json_is_string(s) || !b64_ok(json_string_value(s), json_string_length(s)))
                    return node_fail(err, errlen, path, "not valid base64");
            } else if (!json_is_string(v) && !json_is_integer(v) && !json_is_boolean(v)) {
                return node_fail(err, errlen, path,
                                 "expected a string, an integer, a boolean, {\"jid\": ...} or {\"b64\": ...}");
            }
            path[ab] = 0;
        }
        path[base] = 0;
    }
    const json_t *c = json_object_get(j, "content");
    if (!c || json_is_null(c) || json_is_string(c)) return MIAW_OK;
    path_add(path, cap, "content", 0);
    if (json_is_array(c)) {
        if (json_array_size(c) > 4096) return node_fail(err, errlen, path, "more than 4096 children");
        size_t cb = strlen(path);
        for (size_t i = 0; i < json_array_size(c); i++) {
            path_add(path, cap, NULL, (long)i);
            int rc = node_check(json_array_get(c, i), path, cap, depth + 1, err, errlen);
            if (rc) return rc;
            path[cb] = 0;
        }
    } else if (json_is_object(c) && json_object_size(c) == 1 && json_object_get(c, "b64")) {
        const json_t *s = json_object_get(c, "b64");
        if (!json_is_string(s) || !b64_ok(json_string_value(s), json_string_length(s)))
            return node_fail(err, errlen, path, "not valid base64");
    } else if (json_is_object(c) && json_object_size(c) == 1 && json_object_get(c, "jid")) {
        if (!jid_ok(json_object_get(c, "jid"))) return node_fail(err, errlen, path, "not a valid JID");
    } else {
        return node_fail(err, errlen, path, "expected a string, an array of nodes, {\"b64\": ...} or {\"jid\": ...}");
    }
    path[base] = 0;
    return MIAW_OK;
}

static int node_valid(const json_t *j, char *err, size_t errlen)
{
    char path[256] = "";
    return node_check(j, path, sizeof path, 0, err, errlen);
}

/* ================================================================ schemas */
static const miaw_field *fat(const miaw_field *base, size_t i, size_t stride)
{
    return (const miaw_field *)(const void *)((const char *)base + i * stride);
}

static void field_free_members(miaw_field *f);
static void schema_free(miaw_field *list)
{
    if (!list) return;
    for (miaw_field *f = list; f->name; f++) field_free_members(f);
    free(list);
}

static void field_free_members(miaw_field *f)
{
    free((char *)f->name);
    free((char *)f->format);
    free((char *)f->pattern);
    if (f->enum_values) {
        for (const char *const *e = f->enum_values; *e; e++) free((char *)*e);
        free((void *)f->enum_values);
    }
    if (f->items) {
        field_free_members((miaw_field *)f->items);
        free((void *)f->items);
    }
    schema_free((miaw_field *)f->props);
}

static int copy_field(miaw_field *dst, const miaw_field *src, size_t stride, int depth);

static miaw_field *dup_list(const miaw_field *src, size_t stride, int depth)
{
    if (!src || depth > 16) return NULL;
    size_t n = 0;
    while (fat(src, n, stride)->name) n++;
    miaw_field *out = calloc(n + 1, sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++)
        if (copy_field(&out[i], fat(src, i, stride), stride, depth) != 0) {
            schema_free(out);
            return NULL;
        }
    return out;
}

/* what validation needs (names, types, bounds, formats, enums, nesting); docs are not kept */
static int copy_field(miaw_field *dst, const miaw_field *src, size_t stride, int depth)
{
    memset(dst, 0, sizeof *dst);
    dst->name = sdup(src->name ? src->name : "items");
    dst->type = src->type;
    dst->flags = src->flags;
    dst->min = src->min;
    dst->max = src->max;
    dst->format = sdup(src->format);
    dst->pattern = sdup(src->pattern);
    if (!dst->name) return -1;
    if (src->enum_values) {
        size_t k = 0;
        while (src->enum_values[k]) k++;
        const char **e = calloc(k + 1, sizeof *e);
        if (!e) return -1;
        for (size_t i = 0; i < k; i++) e[i] = strdup(src->enum_values[i]);
        dst->enum_values = e;
    }
    if (src->items) {
        miaw_field *it = calloc(1, sizeof *it);
        if (!it) return -1;
        dst->items = it;
        if (depth > 16 || copy_field(it, src->items, stride, depth + 1) != 0) return -1;
    }
    if (src->props && !(dst->props = dup_list(src->props, stride, depth + 1))) return -1;
    return 0;
}

static int schema_check(const miaw_field *list, size_t stride, char *err, size_t errlen, int depth);

static int check_field(const miaw_field *f, size_t stride, char *err, size_t errlen, int depth)
{
    const char *name = f->name ? f->name : "items";
    if (depth > 16) return snprintf(err, errlen, "field '%s': nested too deep", name), -1;
    if (f->type > MIAW_T_ARRAY) return snprintf(err, errlen, "field '%s': unknown type %u", name, f->type), -1;
    if ((f->flags & MIAW_F_HAS_MIN) && (f->flags & MIAW_F_HAS_MAX) && f->min > f->max)
        return snprintf(err, errlen, "field '%s': min > max", name), -1;
    if (f->pattern) {
        regex_t re;
        if (regcomp(&re, f->pattern, REG_EXTENDED | REG_NOSUB) != 0)
            return snprintf(err, errlen, "field '%s': pattern does not compile", name), -1;
        regfree(&re);
    }
    if (f->type == MIAW_T_ARRAY && f->items && check_field(f->items, stride, err, errlen, depth + 1)) return -1;
    if (f->props && schema_check(f->props, stride, err, errlen, depth + 1)) return -1;
    return 0;
}

static int schema_check(const miaw_field *list, size_t stride, char *err, size_t errlen, int depth)
{
    for (size_t i = 0; list && fat(list, i, stride)->name; i++)
        if (check_field(fat(list, i, stride), stride, err, errlen, depth)) return -1;
    return 0;
}

static const char *type_name(uint32_t t)
{
    static const char *n[] = {"any", "string", "integer", "number", "boolean", "object", "array"};
    return t <= MIAW_T_ARRAY ? n[t] : "any";
}

static int type_ok(uint32_t t, const json_t *v)
{
    switch (t) {
    case MIAW_T_STRING: return json_is_string(v);
    case MIAW_T_INTEGER: return json_is_integer(v);
    case MIAW_T_NUMBER: return json_is_number(v);
    case MIAW_T_BOOLEAN: return json_is_boolean(v);
    case MIAW_T_OBJECT: return json_is_object(v);
    case MIAW_T_ARRAY: return json_is_array(v);
    default: return 1;
    }
}

#define VFAIL(...)                             \
    do {                                       \
        snprintf(field, fieldlen, "%s", path); \
        snprintf(msg, msglen, __VA_ARGS__);    \
        return -1;                             \
    } while (0)

static int schema_validate(const miaw_field *props, int strict, const json_t *obj, char *field, size_t fieldlen,
                           char *msg, size_t msglen);

/* field = prefix + "." + field (cut at cap; it only names the field) */
static void join_path(char *field, size_t cap, const char *prefix)
{
    char inner[256];
    size_t il = strnlen(field, sizeof inner - 1), pl = strlen(prefix), o = 0;
    memcpy(inner, field, il);
    inner[il] = 0;
    for (size_t i = 0; i < pl && o + 1 < cap; i++) field[o++] = prefix[i];
    if (il && o + 1 < cap) field[o++] = '.';
    for (size_t i = 0; i < il && o + 1 < cap; i++) field[o++] = inner[i];
    field[o] = 0;
}

/* the server's checks and messages (core/http/schema.c) */
static int validate_value(const miaw_field *f, const json_t *v, const char *path, char *field, size_t fieldlen,
                          char *msg, size_t msglen, int depth)
{
    if (json_is_null(v)) {
        if (f->flags & MIAW_F_NULLABLE) return 0;
        VFAIL("'%s' must not be null", path);
    }
    if (!type_ok(f->type, v)) VFAIL("'%s' must be of type %s", path, type_name(f->type));
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        long long len = (long long)json_string_length(v);
        if ((f->flags & MIAW_F_NONEMPTY) && len == 0) VFAIL("'%s' must not be empty", path);
        if ((f->flags & MIAW_F_HAS_MIN) && len < f->min)
            VFAIL("'%s' must be at least %lld characters", path, (long long)f->min);
        if ((f->flags & MIAW_F_HAS_MAX) && len > f->max)
            VFAIL("'%s' must be at most %lld characters", path, (long long)f->max);
        if (strlen(s) != (size_t)len) VFAIL("'%s' must not contain NUL characters", path);
        if (f->enum_values) {
            int hit = 0;
            for (const char *const *e = f->enum_values; *e && !hit; e++) hit = strcmp(*e, s) == 0;
            if (!hit) {
                char list[512] = "";
                size_t o = 0;
                for (const char *const *e = f->enum_values; *e && o < sizeof list - 64; e++)
                    o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", *e);
                VFAIL("'%s' must be one of: %s", path, list);
            }
        }
        if (streq(f->format, "uri") && !((strncmp(s, "http://", 7) == 0 && s[7]) || (strncmp(s, "https://", 8) == 0 && s[8])))
            VFAIL("'%s' must be a valid %s", path, f->format);
        if (f->pattern) {
            regex_t re;
            if (regcomp(&re, f->pattern, REG_EXTENDED | REG_NOSUB) == 0) {
                int r = regexec(&re, s, 0, NULL, 0);
                regfree(&re);
                if (r != 0) VFAIL("'%s' does not match the pattern %s", path, f->pattern);
            }
        }
    } else if (json_is_number(v)) {
        double d = json_number_value(v);
        if ((f->flags & MIAW_F_HAS_MIN) && d < (double)f->min) VFAIL("'%s' must be >= %lld", path, (long long)f->min);
        if ((f->flags & MIAW_F_HAS_MAX) && d > (double)f->max) VFAIL("'%s' must be <= %lld", path, (long long)f->max);
    } else if (json_is_array(v)) {
        long long n = (long long)json_array_size(v);
        if ((f->flags & MIAW_F_NONEMPTY) && n == 0) VFAIL("'%s' must not be empty", path);
        if ((f->flags & MIAW_F_HAS_MIN) && n < f->min)
            VFAIL("'%s' must have at least %lld items", path, (long long)f->min);
        if ((f->flags & MIAW_F_HAS_MAX) && n > f->max)
            VFAIL("'%s' must have at most %lld items", path, (long long)f->max);
        if (f->items && depth < 16) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                char sub[256];
                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                if (validate_value(f->items, e, sub, field, fieldlen, msg, msglen, depth + 1) != 0) return -1;
            }
        }
    } else if (json_is_object(v) && f->props && depth < 16) {
        if (schema_validate(f->props, (f->flags & MIAW_F_STRICT) != 0, v, field, fieldlen, msg, msglen) != 0) {
            join_path(field, fieldlen, path);
            return -1;
        }
    }
    return 0;
}

static int schema_validate(const miaw_field *props, int strict, const json_t *obj, char *field, size_t fieldlen,
                           char *msg, size_t msglen)
{
    const char *path = "";
    if (!json_is_object(obj)) VFAIL("the body must be a JSON object");
    for (const miaw_field *f = props; f && f->name; f++) {
        const json_t *v = json_object_get(obj, f->name);
        if (!v) {
            if (f->flags & MIAW_F_REQUIRED) {
                snprintf(field, fieldlen, "%s", f->name);
                snprintf(msg, msglen, "'%s' is required", f->name);
                return -1;
            }
            continue;
        }
        if (validate_value(f, v, f->name, field, fieldlen, msg, msglen, 0) != 0) return -1;
    }
    if (strict) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)obj, k, v) {
            int known = 0;
            for (const miaw_field *f = props; f && f->name && !known; f++) known = strcmp(f->name, k) == 0;
            if (!known) {
                snprintf(field, fieldlen, "%s", k);
                snprintf(msg, msglen, "'%s' is not a known field", k);
                return -1;
            }
        }
    }
    return 0;
}

/* ================================================================ routes */
static void route_free(mroute *r)
{
    for (size_t i = 0; i < r->nseg; i++) free(r->segs[i]);
    free(r->segs);
    free(r->method);
    free(r->path);
    schema_free(r->body);
    free(r);
}

static int is_param(const char *seg) { return seg[0] == '{' && seg[strlen(seg) - 1] == '}'; }

static int split_path(const char *path, char ***out, size_t *n)
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
        if (!(v[*n] = strndup(p, len))) return -1;
        (*n)++;
        p += len;
        while (*p == '/') p++;
    }
    return 0;
}

static int h_route_add(miaw_plugin *p, const miaw_route *r, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !p->in_init) return snprintf(err, errlen, "routes can be added only inside init"), MIAW_E_STATE;
    if (!r || r->struct_size < offsetof(miaw_route, response_example) + sizeof(char *) ||
        r->field_size < offsetof(miaw_field, example) + sizeof(char *))
        return snprintf(err, errlen, "route: struct sizes too small (built against an older SDK?)"), MIAW_E_INVAL;
    if (r->flags & ~(MIAW_ROUTE_PUBLIC | MIAW_ROUTE_INSTANCE | MIAW_ROUTE_MULTIPART))
        return snprintf(err, errlen, "route %s: unknown flags", r->path ? r->path : ""), MIAW_E_INVAL;
    static const char *methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    int mok = 0;
    for (int i = 0; r->method && i < 5; i++) mok |= strcmp(r->method, methods[i]) == 0;
    if (!mok) return snprintf(err, errlen, "route: method must be GET, POST, PUT, PATCH or DELETE"), MIAW_E_INVAL;
    if (!r->path || r->path[0] != '/' || !r->handler)
        return snprintf(err, errlen, "route %s: path must start with '/' and a handler is required", r->method),
               MIAW_E_INVAL;
    if (r->body && schema_check(r->body, r->field_size, err, errlen, 0) != 0) return MIAW_E_INVAL;
    miaw_mock *m = p->m;
    mroute *e = calloc(1, sizeof *e);
    if (!e) return MIAW_E_NOMEM;
    e->method = strdup(r->method);
    e->path = strdup(r->path);
    int rc = MIAW_OK;
    if (!e->method || !e->path || split_path(r->path, &e->segs, &e->nseg) != 0 || e->nseg > 16) {
        snprintf(err, errlen, "route %s %s: bad path", r->method, r->path);
        rc = MIAW_E_INVAL;
    }
    size_t np = 0;
    for (size_t i = 0; !rc && i < e->nseg; i++) {
        if (!is_param(e->segs[i])) {
            e->nlit++;
            continue;
        }
        np++;
        for (const char *c = e->segs[i] + 1; c[1]; c++)
            if (!isalnum((unsigned char)*c) && *c != '_') {
                snprintf(err, errlen, "route %s %s: bad parameter name", r->method, r->path);
                rc = MIAW_E_INVAL;
                break;
            }
    }
    if (!rc && np > MOCK_MAX_PARAMS)
        snprintf(err, errlen, "route %s %s: too many parameters", r->method, r->path), rc = MIAW_E_INVAL;
    if (!rc && (r->flags & MIAW_ROUTE_INSTANCE) && !strstr(r->path, "{instanceId}"))
        snprintf(err, errlen, "route %s %s: MIAW_ROUTE_INSTANCE needs {instanceId} in the path", r->method, r->path),
            rc = MIAW_E_INVAL;
    for (mroute *o = m->routes; !rc && o; o = o->next) {
        if (strcmp(o->method, e->method) || o->nseg != e->nseg) continue;
        int same = 1;
        for (size_t i = 0; i < e->nseg && same; i++)
            same = (is_param(o->segs[i]) && is_param(e->segs[i])) || strcmp(o->segs[i], e->segs[i]) == 0;
        if (same) snprintf(err, errlen, "route %s %s: already registered", r->method, r->path), rc = MIAW_E_EXIST;
    }
    if (!rc && r->body) {
        e->has_body = 1;
        if (r->body->name && !(e->body = dup_list(r->body, r->field_size, 0)))
            snprintf(err, errlen, "route %s %s: bad body schema", r->method, r->path), rc = MIAW_E_INVAL;
    }
    if (rc) {
        route_free(e);
        return rc;
    }
    e->owner = p;
    e->flags = r->flags;
    e->handler = r->handler;
    e->udata = r->udata;
    e->body_max = r->body_max;
    e->timeout_ms = r->timeout_ms;
    mroute **pp = &m->routes;
    while (*pp) pp = &(*pp)->next;
    *pp = e;
    return MIAW_OK;
}

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* percent-decodes a path segment; -1 when it would hold NUL or is malformed */
static int decode_seg(const char *s, size_t len, char **out)
{
    char *o = malloc(len + 1);
    if (!o) return -1;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int h = i + 2 < len ? hexv(s[i + 1]) : -1, l = i + 2 < len ? hexv(s[i + 2]) : -1;
            if (h < 0 || l < 0 || (c = h * 16 + l) == 0) {
                free(o);
                return -1;
            }
            i += 2;
        }
        o[k++] = (char)c;
    }
    o[k] = 0;
    *out = o;
    return 0;
}

/* 200 with *best, 404 or 405 (allow lists the methods of the path) */
static int route_match(miaw_mock *m, const char *method, const char *path, mroute **best_out, char *allow,
                       size_t allowlen)
{
    const char *seg[17];
    size_t segl[17], n = 0;
    const char *p = path;
    while (*p == '/') p++;
    while (*p) {
        if (n == 17) return 404;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        seg[n] = p;
        segl[n++] = len;
        p += len;
        while (*p == '/') p++;
    }
    mroute *best = NULL;
    int path_hit = 0;
    size_t ao = 0;
    allow[0] = 0;
    for (mroute *e = m->routes; e; e = e->next) {
        if (e->nseg != n) continue;
        int ok = 1;
        for (size_t i = 0; i < n && ok; i++)
            if (!is_param(e->segs[i])) ok = strlen(e->segs[i]) == segl[i] && memcmp(e->segs[i], seg[i], segl[i]) == 0;
        if (!ok) continue;
        path_hit = 1;
        if (strcmp(e->method, method) != 0) {
            if (ao + 10 < allowlen && !strstr(allow, e->method))
                ao += (size_t)snprintf(allow + ao, allowlen - ao, "%s%s", ao ? ", " : "", e->method);
            continue;
        }
        if (!best || e->nlit > best->nlit) best = e;
    }
    if (!best) return path_hit ? 405 : 404;
    *best_out = best;
    return 200;
}

/* ================================================================ requests: answers */
static json_t *error_env(const char *code, const char *msg, json_t *details /* stolen */)
{
    json_t *e = json_pack("{s:s,s:s}", "code", code ? code : "INTERNAL_ERROR", "message", msg ? msg : "");
    if (details) json_object_set_new(e, "details", details);
    return json_pack("{s:b,s:o}", "success", 0, "error", e);
}

/* delivers an answer into the reply (if anyone still waits for it); env stolen */
static void req_drop_uploads(struct miaw_req *r);

static void deliver_answer(struct miaw_req *r, int status, json_t *env)
{
    r->answered = 1;
    req_drop_uploads(r); /* the server removes them when the request ends */
    miaw_mock_reply *rep = r->reply;
    if (!rep) {
        json_decref(env);
        return;
    }
    rep->status = status;
    rep->headers = r->out_headers;
    r->out_headers = NULL;
    rep->json = env;
    rep->text = json_dumps(env, JSON_COMPACT);
    rep->pending = 0;
    rep->req_ = NULL;
    r->reply = NULL;
}

static int req_usable(struct miaw_req *r, const char *what)
{
    if (!r) return 0;
    if (r->dead) {
        violation(r->m, "%s on request %s after it was aborted (on_abort ran): the request is dead", what, r->id);
        return 0;
    }
    if (r->answered) {
        violation(r->m, "%s on request %s, which was already answered", what, r->id);
        return 0;
    }
    return 1;
}

static int answer_error(struct miaw_req *r, int status, const char *code, json_t *details, const char *fmt, ...)
    MIAW_FMT(5, 6);
static int answer_error(struct miaw_req *r, int status, const char *code, json_t *details, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    deliver_answer(r, status, error_env(code, msg, details));
    return MIAW_OK;
}

static int h_reply_json(miaw_req *r, int status, json_t *data)
{
    if (!req_usable(r, "reply_json")) {
        json_decref(data);
        return MIAW_E_GONE;
    }
    deliver_answer(r, status ? status : 200, json_pack("{s:b,s:o}", "success", 1, "data", data ? data : json_null()));
    return MIAW_OK;
}

static int h_reply_error(miaw_req *r, int status, const char *code, const char *fmt, ...)
{
    if (!req_usable(r, "reply_error")) return MIAW_E_GONE;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt ? fmt : "", ap);
    va_end(ap);
    if (status < 400 || status > 599) status = 500;
    deliver_answer(r, status, error_env(code ? code : "INTERNAL_ERROR", msg, NULL));
    return MIAW_OK;
}

/* reply_status's table (plugin.h); the host's default texts when fmt gives none */
static void status_code(int st, int *http, const char **code, const char **desc)
{
    switch (st) {
    case MIAW_E_INVAL: *http = 400, *code = "INVALID_REQUEST", *desc = "Request validation failed"; break;
    case MIAW_E_NOTFOUND: *http = 404, *code = "NOT_FOUND", *desc = "No such route or resource"; break;
    case MIAW_E_EXIST: *http = 409, *code = "CONFLICT", *desc = "Resource already exists or is busy"; break;
    case MIAW_E_STATE:
        *http = 503, *code = "INSTANCE_NOT_CONNECTED", *desc = "Instance not connected to WhatsApp";
        break;
    case MIAW_E_TIMEOUT: *http = 504, *code = "TIMEOUT", *desc = "The operation did not complete in time"; break;
    case MIAW_E_LIMIT: *http = 429, *code = "RATE_LIMITED", *desc = "Too many requests"; break;
    case MIAW_E_TOOBIG: *http = 413, *code = "PAYLOAD_TOO_LARGE", *desc = "Request body too large"; break;
    case MIAW_E_AUTH: *http = 401, *code = "UNAUTHORIZED", *desc = "Invalid or missing API key"; break;
    case MIAW_E_IO: *http = 500, *code = "WHATSAPP_ERROR", *desc = "WhatsApp operation failed"; break;
    case MIAW_E_NOTSUP:
        *http = 503, *code = "SERVICE_UNAVAILABLE", *desc = "Temporarily unable to take the request";
        break;
    default: *http = 500, *code = "INTERNAL_ERROR", *desc = "Internal error"; break;
    }
}

static int h_reply_status(miaw_req *r, int status, const char *field, const char *fmt, ...)
{
    if (!req_usable(r, "reply_status")) return MIAW_E_GONE;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt ? fmt : "", ap);
    va_end(ap);
    int http;
    const char *code, *desc;
    status_code(status, &http, &code, &desc);
    deliver_answer(r, http, error_env(code, msg[0] ? msg : desc, field ? json_pack("{s:s}", "field", field) : NULL));
    return MIAW_OK;
}

/* a handler's negative return without an answer (the server's miaw_err_from_status) */
static void answer_from_status(struct miaw_req *r, int st)
{
    int http = 500;
    const char *code = "INTERNAL_ERROR", *desc = "Internal error";
    switch (st) {
    case MIAW_E_INVAL: case MIAW_E_NOTFOUND: case MIAW_E_EXIST: case MIAW_E_STATE: case MIAW_E_TIMEOUT:
    case MIAW_E_AUTH: status_code(st, &http, &code, &desc); break;
    case MIAW_E_LIMIT: status_code(MIAW_E_NOTSUP, &http, &code, &desc); break;
    default: break;
    }
    answer_error(r, http, code, NULL, "%s", desc);
}

/* ================================================================ requests: accessors */
/* a request read after its on_abort returned: freed memory in the server */
static int req_readable(struct miaw_req *r, const char *what)
{
    if (!r) return 0;
    if (r->dead && !r->aborting) {
        violation(r->m, "%s on request %s after it was aborted (on_abort ran): the request is dead", what, r->id);
        return 0;
    }
    return 1;
}

static const char *h_req_param(miaw_req *r, const char *name)
{
    if (!req_readable(r, "req_param")) return NULL;
    for (size_t i = 0; name && i < r->np; i++)
        if (strcmp(r->pnames[i], name) == 0) return r->pvals[i];
    return NULL;
}

static const char *req_keep(struct miaw_req *r, const char *s, size_t len)
{
    sbuf *b = malloc(sizeof *b + len + 1);
    if (!b) return NULL;
    memcpy(b->s, s, len);
    b->s[len] = 0;
    b->next = r->strs;
    r->strs = b;
    return b->s;
}

static const char *h_req_query(miaw_req *r, const char *name)
{
    if (!req_readable(r, "req_query") || !name || !r->query) return NULL;
    const char *p = r->query, *end = p + strlen(p);
    size_t nl = strlen(name);
    while (p < end) {
        const char *amp = strchr(p, '&');
        if (!amp) amp = end;
        const char *eq = memchr(p, '=', (size_t)(amp - p));
        const char *kend = eq ? eq : amp;
        if ((size_t)(kend - p) == nl && memcmp(p, name, nl) == 0) {
            if (!eq) return "";
            char tmp[4096];
            size_t o = 0;
            for (const char *s = eq + 1; s < amp && o + 1 < sizeof tmp; s++) {
                if (*s == '+') tmp[o++] = ' ';
                else if (*s == '%' && s + 2 < amp && hexv(s[1]) >= 0 && hexv(s[2]) >= 0) {
                    char c = (char)(hexv(s[1]) * 16 + hexv(s[2]));
                    if (c) tmp[o++] = c;
                    s += 2;
                } else tmp[o++] = *s;
            }
            return req_keep(r, tmp, o);
        }
        p = amp + 1;
    }
    return NULL;
}

static const char *h_req_header(miaw_req *r, const char *name)
{
    if (!req_readable(r, "req_header")) return NULL;
    for (size_t i = 0; name && i + 1 < r->nhdr; i += 2)
        if (strcasecmp(r->hdr[i], name) == 0) return r->hdr[i + 1];
    return NULL;
}

static const json_t *h_req_body(miaw_req *r) { return req_readable(r, "req_body") ? r->body : NULL; }
static const char *h_req_id(miaw_req *r) { return req_readable(r, "req_id") ? r->id : NULL; }

static int h_req_suspend(miaw_req *r, miaw_abort_fn on_abort, void *udata)
{
    if (!r) return MIAW_E_INVAL;
    if (r->answered || r->dead || r->suspended) {
        violation(r->m, "req_suspend on request %s, which is %s", r->id,
                  r->dead ? "dead" : r->answered ? "already answered" : "already suspended");
        return MIAW_E_STATE;
    }
    r->suspended = 1;
    r->on_abort = on_abort;
    r->abort_ud = udata;
    r->deadline = r->m->now + r->timeout_ms;
    return MIAW_OK;
}

/* the request ends without a normal answer: reason MIAW_E_GONE (client left) or
 * MIAW_E_TIMEOUT (504 first); then on_abort, after which req is dead */
static void req_abort(struct miaw_req *r, int reason)
{
    miaw_abort_fn fn = r->on_abort;
    void *ud = r->abort_ud;
    miaw_mock_reply *rep = r->reply;
    if (rep) rep->aborted = 1;
    if (reason == MIAW_E_TIMEOUT)
        answer_error(r, 504, "TIMEOUT", NULL, "the operation did not complete within %u ms", r->timeout_ms);
    if (r->reply) {
        r->reply->pending = 0;
        r->reply->req_ = NULL;
        r->reply = NULL;
    }
    r->dead = 1;
    r->aborting = 1; /* the request may still be read inside on_abort, not after */
    if (fn) fn(r, reason, ud);
    r->aborting = 0;
    req_drop_uploads(r);
}

static int req_pending(const struct miaw_req *r) { return r->suspended && !r->answered && !r->dead; }

/* ================================================================ plugins: 1.0 services */
static void h_log(miaw_plugin *p, int level, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt ? fmt : "", ap);
    va_end(ap);
    if (!p) return;
    json_array_append_new(p->m->logs, json_pack("{s:i,s:s,s:s}", "level", level, "plugin", p->name, "message", msg));
    if (p->m->verbose) fprintf(stderr, "[mock] plugin:%s %d %s\n", p->name, level, msg);
}

static int64_t h_now_ms(void) { return g_clock ? g_clock->now : MOCK_T0; }

static int valid_event_name(const char *t)
{
    if (!t || !*t || strlen(t) > 64) return 0;
    for (const char *c = t; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.')) return 0;
    return 1;
}

static etype *etype_find(miaw_mock *m, const char *type)
{
    for (etype *t = m->etypes; type && t; t = t->next)
        if (strcmp(t->type, type) == 0) return t;
    return NULL;
}

static int h_event_declare(miaw_plugin *p, const miaw_event_decl *d, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !p->in_init) return snprintf(err, errlen, "events can be declared only inside init"), MIAW_E_STATE;
    if (!d || d->struct_size < sizeof(miaw_event_decl)) return MIAW_E_INVAL;
    if (!valid_event_name(d->type))
        return snprintf(err, errlen, "event type '%s': must be 1-64 of [a-z0-9_.]", d->type ? d->type : ""),
               MIAW_E_INVAL;
    if (etype_find(p->m, d->type))
        return snprintf(err, errlen, "event type '%s' is already declared", d->type), MIAW_E_EXIST;
    etype *t = calloc(1, sizeof *t);
    if (!t || !(t->type = strdup(d->type))) {
        free(t);
        return MIAW_E_NOMEM;
    }
    t->owner = p;
    t->flags = d->flags;
    etype **pp = &p->m->etypes;
    while (*pp) pp = &(*pp)->next;
    *pp = t;
    return MIAW_OK;
}

static int h_event_subscribe(miaw_plugin *p, const char *pattern, miaw_event_fn fn, void *udata, miaw_id *out)
{
    if (!p || !p->in_init) return MIAW_E_STATE;
    if (!pattern || !*pattern || !fn) return MIAW_E_INVAL;
    esub *s = calloc(1, sizeof *s);
    if (!s || !(s->pattern = strdup(pattern))) {
        free(s);
        return MIAW_E_NOMEM;
    }
    s->id = ++p->m->next_esub;
    s->p = p;
    s->fn = fn;
    s->udata = udata;
    esub **pp = &p->m->esubs;
    while (*pp) pp = &(*pp)->next;
    *pp = s;
    if (out) *out = s->id;
    return MIAW_OK;
}

static void free_dead_esubs(miaw_mock *m)
{
    esub **pp = &m->esubs;
    while (*pp) {
        esub *s = *pp;
        if (!s->dead) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        free(s->pattern);
        free(s);
    }
}

static int h_event_unsubscribe(miaw_plugin *p, miaw_id id)
{
    if (!p) return MIAW_E_INVAL;
    for (esub *s = p->m->esubs; s; s = s->next)
        if (s->id == id && s->p == p && !s->dead) {
            s->dead = 1;
            if (!p->m->dispatching) free_dead_esubs(p->m);
            return MIAW_OK;
        }
    return MIAW_E_NOTFOUND;
}

static int pattern_matches(const char *pattern, const char *type)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncmp(pattern, type, n - 1) == 0;
    return strcmp(pattern, type) == 0;
}

/* the bus: queue, and deliver unless already delivering (no recursion); data stolen.
 * Returns the number of handler calls made. */
static int bus_emit(miaw_mock *m, const char *source, const char *type, const char *inst, json_t *data,
                    uint64_t id)
{
    equeued *q = calloc(1, sizeof *q);
    if (!q) {
        json_decref(data);
        return MIAW_E_NOMEM;
    }
    q->type = strdup(type);
    q->source = strdup(source);
    q->inst = sdup(inst);
    q->data = data ? data : json_object();
    q->id = id;
    if (m->qtail) m->qtail->next = q;
    else m->qhead = q;
    m->qtail = q;
    if (m->dispatching) return 0;
    m->dispatching = 1;
    int calls = 0;
    while (m->qhead) {
        equeued *cur = m->qhead;
        m->qhead = cur->next;
        if (!m->qhead) m->qtail = NULL;
        miaw_event ev = {.struct_size = sizeof ev, .type = cur->type, .source = cur->source,
                         .instance_id = cur->inst, .id = cur->id, .ts_ms = m->now, .data = cur->data};
        for (esub *s = m->esubs; s; s = s->next)
            if (!s->dead && pattern_matches(s->pattern, cur->type)) {
                s->fn(&ev, s->udata);
                calls++;
            }
        free(cur->type);
        free(cur->source);
        free(cur->inst);
        json_decref(cur->data);
        free(cur);
    }
    m->dispatching = 0;
    free_dead_esubs(m);
    return calls;
}

static int h_event_emit(miaw_plugin *p, const char *type, const char *instance_id, json_t *data)
{
    if (!p) {
        json_decref(data);
        return MIAW_E_INVAL;
    }
    miaw_mock *m = p->m;
    etype *t = etype_find(m, type);
    if (!t || t->owner != p) {
        json_decref(data);
        return t ? MIAW_E_AUTH : MIAW_E_NOTFOUND;
    }
    if (!data) data = json_object();
    uint64_t id = ++m->next_event;
    json_array_append_new(m->events, json_pack("{s:I,s:s,s:s,s:s?,s:I,s:O}", "id", (json_int_t)id, "type", type,
                                               "source", p->name, "instanceId", instance_id, "tsMs",
                                               (json_int_t)m->now, "data", data));
    int rc = bus_emit(m, p->name, type, instance_id, data, id);
    return rc < 0 ? rc : MIAW_OK;
}

static json_t *h_instance_get(miaw_plugin *p, const char *id)
{
    minst *i = p ? inst_find(p->m, id) : NULL;
    return i ? json_deep_copy(i->obj) : NULL;
}

/* ---------------------------------------------------------------- kv */
static kvrow **kv_slot(miaw_mock *m, const char *plugin, const char *inst, const char *key)
{
    if (!inst) inst = "";
    kvrow **pp = &m->kv;
    for (; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->plugin, plugin) && !strcmp((*pp)->inst, inst) && !strcmp((*pp)->key, key)) break;
    return pp;
}

/* stores a copy made through text, as the server's database does; v borrowed */
static int kv_store(miaw_mock *m, const char *plugin, const char *inst, const char *key, const json_t *v)
{
    char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_t *copy = txt ? json_loads(txt, JSON_DECODE_ANY, NULL) : NULL;
    free(txt);
    if (!copy) return MIAW_E_INVAL;
    kvrow **pp = kv_slot(m, plugin, inst, key);
    if (*pp) {
        json_decref((*pp)->v);
        (*pp)->v = copy;
        return MIAW_OK;
    }
    kvrow *r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(copy);
        return MIAW_E_NOMEM;
    }
    r->plugin = strdup(plugin);
    r->inst = strdup(inst ? inst : "");
    r->key = strdup(key);
    r->v = copy;
    *pp = r;
    return MIAW_OK;
}

static void kv_unlink(kvrow **pp)
{
    kvrow *r = *pp;
    *pp = r->next;
    free(r->plugin);
    free(r->inst);
    free(r->key);
    json_decref(r->v);
    free(r);
}

static json_t *h_kv_get(miaw_plugin *p, const char *inst, const char *key)
{
    if (!p || !key) return NULL;
    kvrow **pp = kv_slot(p->m, p->name, inst, key);
    return *pp ? json_deep_copy((*pp)->v) : NULL;
}

static int h_kv_put(miaw_plugin *p, const char *inst, const char *key, json_t *v)
{
    int rc = p && key && v ? kv_store(p->m, p->name, inst, key, v) : MIAW_E_INVAL;
    json_decref(v);
    return rc;
}

static int h_kv_del(miaw_plugin *p, const char *inst, const char *key)
{
    if (!p || !key) return MIAW_E_INVAL;
    kvrow **pp = kv_slot(p->m, p->name, inst, key);
    if (!*pp) return MIAW_E_NOTFOUND;
    kv_unlink(pp);
    return MIAW_OK;
}

/* ---------------------------------------------------------------- timers */
static int h_timer_start(miaw_plugin *p, uint32_t delay_ms, uint32_t repeat_ms, miaw_timer_fn fn, void *udata,
                         miaw_id *out)
{
    if (!p || !fn) return MIAW_E_INVAL;
    mtimer *t = calloc(1, sizeof *t);
    if (!t) return MIAW_E_NOMEM;
    t->id = ++p->next_timer;
    t->p = p;
    t->due = p->m->now + delay_ms;
    t->seq = ++p->m->next_seq;
    t->repeat = repeat_ms;
    t->fn = fn;
    t->udata = udata;
    t->next = p->m->timers;
    p->m->timers = t;
    if (out) *out = t->id;
    return MIAW_OK;
}

static void timer_unlink(miaw_mock *m, mtimer *t)
{
    for (mtimer **pp = &m->timers; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            free(t);
            return;
        }
}

static int h_timer_stop(miaw_plugin *p, miaw_id id)
{
    if (!p) return MIAW_E_INVAL;
    for (mtimer *t = p->m->timers; t; t = t->next)
        if (t->p == p && t->id == id) {
            timer_unlink(p->m, t);
            return MIAW_OK;
        }
    return MIAW_E_NOTFOUND;
}

/* ================================================================ engine services */
static void call_free(mcall *c)
{
    free(c->inst);
    free(c->msg_id);
    free(c->jid);
    free(c->stype);
    free(c->iq_id);
    free(c->path);
    json_decref(c->message);
    free(c);
}

static void rec_state(mcall *c, const char *state) { json_object_set_new(c->rec, "state", json_string(state)); }

static char *part_path(const char *path)
{
    size_t n = strlen(path) + 6;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s.part", path);
    return s;
}

/* a new call in the plugin's name, recorded in arr (rec stolen) and listed in v */
static mcall *call_new(miaw_plugin *p, int kind, cvec *v, json_t *arr, json_t *rec, const char *inst, void *udata)
{
    mcall *c = calloc(1, sizeof *c);
    if (!c || !(c->inst = strdup(inst)) || cvec_push(v, c) != MIAW_OK) {
        if (c) free(c->inst);
        free(c);
        json_decref(rec);
        return NULL;
    }
    c->kind = kind;
    c->id = ++p->m->next_call;
    c->p = p;
    c->udata = udata;
    c->rec = rec;
    json_object_set_new(rec, "handle", json_integer((json_int_t)c->id));
    json_object_set_new(rec, "plugin", json_string(p->name));
    json_object_set_new(rec, "instance", json_string(inst));
    json_object_set_new(rec, "state", json_string("pending"));
    json_array_append_new(arr, rec);
    return c;
}

static void call_cancel(mcall *c)
{
    if (c->state != ST_PENDING) return;
    c->state = ST_CANCELLED;
    c->p = NULL;
    rec_state(c, "cancelled");
    if (c->kind == K_DOWNLOAD && c->path) { /* the transfer stops and its temporary file goes */
        char *pp = part_path(c->path);
        if (pp) remove(pp);
        free(pp);
    }
}

static mcall *call_by_handle(miaw_mock *m, miaw_plugin *p, miaw_id h)
{
    cvec *vs[] = {&m->sendv, &m->iqv, &m->mediav, &m->fetchv, &m->asv};
    for (size_t k = 0; k < 5; k++)
        for (size_t i = 0; i < vs[k]->n; i++)
            if (vs[k]->v[i]->id == h && vs[k]->v[i]->p == p) return vs[k]->v[i];
    return NULL;
}

static void h_cancel(miaw_plugin *p, miaw_id handle)
{
    if (!p) return;
    mcall *c = call_by_handle(p->m, p, handle);
    if (c) call_cancel(c);
}

static void h_send_cancel(miaw_plugin *p, miaw_id handle) { h_cancel(p, handle); }

static char *new_msg_id(miaw_mock *m)
{
    char id[32];
    snprintf(id, sizeof id, "3EB0%018llX", (unsigned long long)++m->next_msgid);
    return strdup(id);
}

/* a scripted refusal of service: its status (err and *field set), or MIAW_OK */
static int refused(miaw_mock *m, const char *service, const char **field, char *err, size_t errlen)
{
    for (refusal **pp = &m->refusals; *pp; pp = &(*pp)->next) {
        refusal *r = *pp;
        if (strcmp(r->service, service) != 0) continue;
        *pp = r->next;
        int st = r->status;
        snprintf(err, errlen, "%s", r->err ? r->err : "refused by the mock (miaw_mock_refuse)");
        free(m->refused_field);
        m->refused_field = r->field;
        if (field) *field = r->field;
        free(r->service);
        free(r->err);
        free(r);
        return st;
    }
    return MIAW_OK;
}

/* checks shared by msg_send and send_text after the message itself: instance, to, ids */
static int send_checks(miaw_mock *m, const char *inst, const char *to, char jid[160], const char **f, char *err,
                       size_t errlen)
{
    int rc = inst_find(m, inst) ? MIAW_OK : MIAW_E_NOTFOUND;
    if (rc) return snprintf(err, errlen, "instance '%s' not found", inst), rc;
    if (!to || h_jid_normalize(to, jid, 160) != MIAW_OK) {
        *f = "to";
        return snprintf(err, errlen,
                        "'to' must be a phone number (5-20 digits with country code), a user JID or a group JID"),
               MIAW_E_INVAL;
    }
    return MIAW_OK;
}

static int h_msg_send(miaw_plugin *p, const char *inst, const char *to, const json_t *message, const void *bytes,
                      size_t len, const miaw_msg_opts *opts, miaw_send_fn cb, void *udata, miaw_id *handle,
                      const char **field, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    static char fieldbuf[200]; /* "message.<path>": valid until the next call (one thread) */
    const char *f = NULL;
    if (field) *field = NULL;
    if (!p || !cb) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    if (!inst) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    if (opts && opts->struct_size < offsetof(miaw_msg_opts, flags) + sizeof(uint32_t))
        return snprintf(err, errlen, "opts: struct_size too small"), MIAW_E_INVAL;
    miaw_mock *m = p->m;
    int rc = MIAW_OK;
    if (message) {
        char path[160] = "", e2[256] = "";
        if (!json_is_object(message)) {
            f = "message";
            snprintf(err, errlen, "message: expected a WAProto.Message object");
            rc = MIAW_E_INVAL;
        } else if (m->check && m->check(message, path, sizeof path, e2, sizeof e2, m->check_ud) != MIAW_OK) {
            snprintf(fieldbuf, sizeof fieldbuf, "message%s%s", *path ? "." : "", path);
            f = fieldbuf;
            snprintf(err, errlen, "message: %s%s%s", path, *path ? ": " : "", e2[0] ? e2 : "not a valid Message");
            rc = MIAW_E_INVAL;
        }
    } else if (!bytes || !len) {
        f = "message";
        snprintf(err, errlen, "message: neither JSON nor bytes given");
        rc = MIAW_E_INVAL;
    }
    const json_t *nodes = opts ? opts->nodes : NULL;
    if (!rc && nodes) {
        if (!json_is_array(nodes) || json_array_size(nodes) > 16) {
            snprintf(err, errlen, "opts.nodes: expected an array of at most 16 nodes");
            rc = MIAW_E_INVAL;
        }
        for (size_t i = 0; !rc && i < json_array_size(nodes); i++) {
            char e2[256];
            if (node_valid(json_array_get(nodes, i), e2, sizeof e2) != MIAW_OK) {
                snprintf(err, errlen, "opts.nodes[%zu].%s", i, e2);
                rc = MIAW_E_INVAL;
            }
        }
        if (rc) f = "opts.nodes";
    }
    char jid[160];
    if (!rc) rc = refused(m, "msg_send", &f, err, errlen);
    if (!rc) rc = send_checks(m, inst, to, jid, &f, err, errlen);
    if (!rc && opts && opts->message_id && (!*opts->message_id || strlen(opts->message_id) >= 23)) {
        f = "opts.message_id";
        rc = MIAW_E_INVAL;
        snprintf(err, errlen, "a message id has 1-22 characters");
    }
    if (!rc && opts && opts->type && (!*opts->type || strlen(opts->type) >= 16)) {
        f = "opts.type";
        rc = MIAW_E_INVAL;
        snprintf(err, errlen, "a stanza type has 1-15 characters");
    }
    if (!rc) rc = inst_usable(m, inst, err, errlen);
    if (rc) {
        if (field) *field = f;
        return rc;
    }
    json_t *rec = json_pack("{s:s,s:s,s:s}", "kind", "msg_send", "to", to, "jid", jid);
    if (message) json_object_set_new(rec, "message", json_deep_copy(message));
    else {
        char *b = b64_encode(bytes, len);
        json_object_set_new(rec, "bytes", b ? json_string(b) : json_null());
        free(b);
    }
    if (opts)
        json_object_set_new(rec, "opts",
                            json_pack("{s:s?,s:s?,s:s?,s:O?,s:I,s:I}", "messageId", opts->message_id, "type", opts->type,
                                      "edit", opts->edit, "nodes", opts->nodes, "timeoutMs",
                                      (json_int_t)opts->timeout_ms, "flags", (json_int_t)opts->flags));
    mcall *c = call_new(p, K_MSG, &m->sendv, m->sends, rec, inst, udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    c->send_cb = cb;
    c->msg_id = opts && opts->message_id ? strdup(opts->message_id) : new_msg_id(m);
    c->jid = strdup(jid);
    c->stype = strdup(opts && opts->type ? opts->type : "text");
    c->message = message ? json_deep_copy(message) : NULL;
    c->no_store = opts && (opts->flags & MIAW_MSG_F_NO_STORE);
    c->deadline = m->now + (opts && opts->timeout_ms ? opts->timeout_ms : MOCK_SEND_TIMEOUT_MS);
    json_object_set_new(c->rec, "id", json_string(c->msg_id));
    if (handle) *handle = c->id;
    return MIAW_OK;
}

static int h_send_text(miaw_plugin *p, const char *inst, const char *to, const char *text, const char *quoted_id,
                       miaw_send_fn cb, void *udata, miaw_id *handle, const char **field, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    const char *f = NULL;
    if (field) *field = NULL;
    if (!p || !cb) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    if (!inst) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    miaw_mock *m = p->m;
    char jid[160];
    int rc = refused(m, "send_text", &f, err, errlen);
    if (!rc) rc = send_checks(m, inst, to, jid, &f, err, errlen);
    if (!rc && (!text || !*text)) {
        f = "text";
        rc = MIAW_E_INVAL;
        snprintf(err, errlen, "'text' must not be empty");
    }
    if (!rc) rc = inst_usable(m, inst, err, errlen);
    if (rc) {
        if (field) *field = f;
        return rc;
    }
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:s?}", "kind", "send_text", "to", to, "jid", jid, "text", text,
                            "quotedId", quoted_id && *quoted_id ? quoted_id : NULL);
    mcall *c = call_new(p, K_TEXT, &m->sendv, m->sends, rec, inst, udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    c->send_cb = cb;
    c->msg_id = new_msg_id(m);
    c->jid = strdup(jid);
    c->stype = strdup("text");
    c->message = json_pack("{s:s}", "conversation", text);
    c->deadline = m->now + MOCK_SEND_TIMEOUT_MS;
    json_object_set_new(c->rec, "id", json_string(c->msg_id));
    if (handle) *handle = c->id;
    return MIAW_OK;
}

static json_t *h_msg_get(miaw_plugin *p, const char *inst, const char *id)
{
    if (!p || !inst || !id || !inst_find(p->m, inst)) return NULL;
    for (mmsg *g = p->m->msgs; g; g = g->next)
        if (!strcmp(g->inst, inst) && !strcmp(g->id, id)) return json_deep_copy(g->obj);
    return NULL;
}

static int msg_store(miaw_mock *m, const char *inst, const char *id, json_t *obj /* stolen */)
{
    json_object_set_new(obj, "id", json_string(id));
    for (mmsg *g = m->msgs; g; g = g->next)
        if (!strcmp(g->inst, inst) && !strcmp(g->id, id)) {
            json_decref(g->obj);
            g->obj = obj;
            return MIAW_OK;
        }
    mmsg *g = calloc(1, sizeof *g);
    if (!g || !(g->inst = strdup(inst)) || !(g->id = strdup(id))) {
        if (g) free(g->inst);
        free(g);
        json_decref(obj);
        return MIAW_E_NOMEM;
    }
    g->obj = obj;
    g->next = m->msgs;
    m->msgs = g;
    return MIAW_OK;
}

static int h_iq(miaw_plugin *p, const char *inst, const json_t *node, uint32_t timeout_ms, miaw_iq_fn cb,
                void *udata, miaw_id *handle, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !cb || !node) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    if (!inst) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    if (node_valid(node, err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    const char *tag = json_string_value(json_object_get(node, "tag"));
    if (strcmp(tag, "iq") != 0) return snprintf(err, errlen, "tag: an iq is needed, not <%s>", tag), MIAW_E_INVAL;
    miaw_mock *m = p->m;
    int rc = refused(m, "iq", NULL, err, errlen);
    if (rc) return rc;
    rc = inst_usable(m, inst, err, errlen);
    if (rc) {
        snprintf(err, errlen, "%s", rc == MIAW_E_NOTFOUND ? "no such instance" : "the instance is not connected");
        return rc;
    }
    json_t *n = json_deep_copy(node);
    json_t *attrs = json_object_get(n, "attrs");
    if (!json_is_object(attrs)) {
        attrs = json_object();
        json_object_set_new(n, "attrs", attrs);
    }
    char id[40];
    snprintf(id, sizeof id, "mock.iq-%llu", (unsigned long long)++m->next_iqid);
    json_object_set_new(attrs, "id", json_string(id));
    if (!json_object_get(attrs, "to")) json_object_set_new(attrs, "to", json_pack("{s:s}", "jid", "s.whatsapp.net"));
    uint32_t t = timeout_ms ? timeout_ms : MOCK_IQ_TIMEOUT_MS;
    json_t *rec = json_pack("{s:o,s:I}", "node", n, "timeoutMs", (json_int_t)t);
    mcall *c = call_new(p, K_IQ, &m->iqv, m->iqs, rec, inst, udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    c->iq_cb = cb;
    c->iq_id = strdup(id);
    c->deadline = m->now + t;
    if (handle) *handle = c->id;
    return MIAW_OK;
}

static int h_stanza_send(miaw_plugin *p, const char *inst, const json_t *node, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !node) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    if (!inst) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    if (node_valid(node, err, errlen) != MIAW_OK) return MIAW_E_INVAL;
    int rc = refused(p->m, "stanza_send", NULL, err, errlen);
    if (rc) return rc;
    rc = inst_usable(p->m, inst, err, errlen);
    if (rc)
        return snprintf(err, errlen, "%s", rc == MIAW_E_NOTFOUND ? "no such instance" : "the instance is not connected"),
               rc;
    json_array_append_new(p->m->stanzas,
                          json_pack("{s:s,s:s,s:o}", "plugin", p->name, "instance", inst, "node", json_deep_copy(node)));
    return MIAW_OK;
}

static int h_stanza_subscribe(miaw_plugin *p, const miaw_stanza_filter *f, miaw_stanza_fn fn, void *udata,
                              miaw_id *out)
{
    if (!p || !p->in_init) return MIAW_E_STATE;
    if (!f || !fn || f->struct_size < sizeof(miaw_stanza_filter)) return MIAW_E_INVAL;
    ssub *s = calloc(1, sizeof *s);
    if (!s) return MIAW_E_NOMEM;
    s->id = ++p->m->next_call;
    s->p = p;
    s->tag = sdup(f->tag);
    s->type = sdup(f->type);
    s->xmlns = sdup(f->xmlns);
    s->child = sdup(f->child);
    s->fn = fn;
    s->udata = udata;
    ssub **pp = &p->m->ssubs;
    while (*pp) pp = &(*pp)->next;
    *pp = s;
    if (out) *out = s->id;
    return MIAW_OK;
}

static int media_type_ok(const char *t)
{
    static const char *k[] = {"image", "video", "audio", "ptt", "document", "sticker"};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (!strcmp(t, k[i])) return 1;
    return !strncmp(t, "thumbnail-", 10) && t[10];
}

static int h_media_upload(miaw_plugin *p, const char *inst, const char *media_type, const void *data, size_t len,
                          const char *path, miaw_media_fn cb, void *udata, miaw_id *handle, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !cb || !media_type || (!data && !path)) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    if (!inst) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    if (!media_type_ok(media_type))
        return snprintf(err, errlen, "media_type: unknown media type '%s'", media_type), MIAW_E_INVAL;
    miaw_mock *m = p->m;
    int rc = refused(m, "media_upload", NULL, err, errlen);
    if (!rc) rc = inst_usable(m, inst, err, errlen);
    if (rc) return rc;
    json_t *rec = json_pack("{s:s,s:s}", "kind", "upload", "mediaType", media_type);
    uint64_t total = len;
    if (data) {
        char *b = b64_encode(data, len);
        json_object_set_new(rec, "data", b ? json_string(b) : json_null());
        free(b);
    } else {
        struct stat st;
        total = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
        json_object_set_new(rec, "path", json_string(path));
    }
    json_object_set_new(rec, "length", json_integer((json_int_t)total));
    mcall *c = call_new(p, K_UPLOAD, &m->mediav, m->media, rec, inst, udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    c->media_cb = cb;
    c->len = total;
    if (handle) *handle = c->id;
    return MIAW_OK;
}

static int h_media_download(miaw_plugin *p, const char *inst, const char *media_type, const json_t *media,
                            const char *path, miaw_media_chunk_fn chunk, miaw_media_fn cb, void *udata,
                            miaw_id *handle, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !cb || !media_type || !media || (!path && !chunk))
        return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    if (!inst) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    if (!media_type_ok(media_type))
        return snprintf(err, errlen, "media_type: unknown media type '%s'", media_type), MIAW_E_INVAL;
    if (!json_is_object(media)) return snprintf(err, errlen, "media: expected an object"), MIAW_E_INVAL;
    miaw_mock *m = p->m;
    int rc = refused(m, "media_download", NULL, err, errlen);
    if (!rc) rc = inst_usable(m, inst, err, errlen);
    if (rc) return rc;
    json_t *rec = json_pack("{s:s,s:s,s:O}", "kind", "download", "mediaType", media_type, "media", media);
    if (path) json_object_set_new(rec, "path", json_string(path));
    else json_object_set_new(rec, "chunk", json_true());
    mcall *c = call_new(p, K_DOWNLOAD, &m->mediav, m->media, rec, inst, udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    c->media_cb = cb;
    c->chunk_cb = path ? NULL : chunk;
    c->path = sdup(path);
    if (handle) *handle = c->id;
    return MIAW_OK;
}

/* ================================================================ 1.3: files */
/* a new empty temporary file, 0600, under $TMPDIR (or /tmp): its fd and path, or -1 */
static int mock_tmpfile(const char *prefix, char *path, size_t cap)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    if (snprintf(path, cap, "%s/miaw-mock-%s-XXXXXX", dir, prefix) >= (int)cap) return -1;
    int fd = mkstemp(path); /* 0600 */
    if (fd >= 0) fchmod(fd, 0600);
    return fd;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static void req_drop_uploads(struct miaw_req *r)
{
    for (size_t i = 0; i < r->nups; i++) {
        if (r->ups[i].path) remove(r->ups[i].path);
        free(r->ups[i].name);
        free(r->ups[i].path);
        free(r->ups[i].filename);
        free(r->ups[i].ctype);
    }
    free(r->ups);
    r->ups = NULL;
    r->nups = 0;
}

static int h_req_upload(miaw_req *r, const char *name, miaw_upload *out)
{
    if (!req_readable(r, "req_upload")) return MIAW_E_GONE;
    if (!name || !out || out->struct_size < offsetof(miaw_upload, size) + sizeof out->size) return MIAW_E_INVAL;
    if (r->answered) {
        violation(r->m, "req_upload on request %s after it was answered: its files are gone", r->id);
        return MIAW_E_GONE;
    }
    for (size_t i = 0; i < r->nups; i++)
        if (!strcmp(r->ups[i].name, name)) {
            out->path = r->ups[i].path;
            out->filename = r->ups[i].filename;
            out->content_type = r->ups[i].ctype;
            out->size = r->ups[i].size;
            return MIAW_OK;
        }
    return MIAW_E_NOTFOUND;
}

/* the server's Range rules (core/http/files.c): 1 = one range [*from, *from + *len),
 * 2 = not satisfiable, 0 = the whole file */
static int digits_u64(const char **p, uint64_t *v, int *overflow)
{
    const char *s = *p;
    uint64_t x = 0;
    *overflow = 0;
    if (*s < '0' || *s > '9') return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (x > (UINT64_MAX - 9) / 10) *overflow = 1;
        else x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    *p = s;
    return 0;
}

static int mock_range(const char *v, uint64_t size, uint64_t *from, uint64_t *len)
{
#define SKIP_WS() while (*v == ' ' || *v == '\t') v++
    SKIP_WS();
    if (strncasecmp(v, "bytes", 5) != 0) return 0;
    v += 5;
    SKIP_WS();
    if (*v++ != '=') return 0;
    SKIP_WS();
    uint64_t a = 0, b = 0;
    int ofa = 0, ofb = 0, has_a = 0, has_b = 0;
    if (*v != '-') {
        if (digits_u64(&v, &a, &ofa) != 0) return 0;
        has_a = 1;
    }
    SKIP_WS();
    if (*v++ != '-') return 0;
    SKIP_WS();
    if (*v >= '0' && *v <= '9') digits_u64(&v, &b, &ofb), has_b = 1;
    SKIP_WS();
#undef SKIP_WS
    if (*v) return 0;
    if (!has_a) {
        if (!has_b) return 0;
        if (b == 0 || size == 0) return 2;
        if (ofb || b > size) b = size;
        *from = size - b;
        *len = b;
        return 1;
    }
    if (has_b && !ofa && !ofb && b < a) return 0;
    if (ofa || a >= size) return 2;
    uint64_t last = has_b && !ofb && b < size - 1 ? b : size - 1;
    *from = a;
    *len = last - a + 1;
    return 1;
}

/* the server's Content-Disposition: inline|attachment; filename="<ASCII>"; filename*=UTF-8''... */
static char *mock_disposition(const char *filename, int attachment)
{
    const char *kind = attachment ? "attachment" : "inline";
    if (!filename || !*filename) return strdup(kind);
    size_t n = strlen(filename);
    if (n > 1024) return NULL;
    char *out = malloc(64 + 4 * n);
    if (!out) return NULL;
    size_t o = (size_t)sprintf(out, "%s; filename=\"", kind);
    int plain = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)filename[i];
        if (c >= 0x80 && (c & 0xc0) == 0x80) {
            plain = 0;
            continue;
        }
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') out[o++] = '_', plain = 0;
        else out[o++] = (char)c;
    }
    out[o++] = '"';
    if (!plain) {
        o += (size_t)sprintf(out + o, "; filename*=UTF-8''");
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)filename[i];
            if (isalnum(c) || (c && strchr("!#$&+-.^_`|~", c))) out[o++] = (char)c;
            else o += (size_t)sprintf(out + o, "%%%02X", c);
        }
    }
    out[o] = 0;
    return out;
}

/* 1.4: the same checks as the server's (core/http/http.c miaw_req_add_header) */
static int h_reply_header(miaw_req *r, const char *name, const char *value)
{
    static const char *const owned[] = {"content-type", "content-length", "content-range", "content-disposition",
                                        "transfer-encoding", "connection", "x-request-id", "cache-control",
                                        "set-cookie", NULL};
    if (!req_usable(r, "reply_header")) return MIAW_E_GONE;
    size_t nl = name ? strlen(name) : 0, vl = value ? strlen(value) : 0;
    if (!nl || nl > 64 || !value || vl > 1024 || json_object_size(r->out_headers) >= 16) return MIAW_E_INVAL;
    char lower[65];
    for (size_t i = 0; i < nl; i++) {
        if (!(isalnum((unsigned char)name[i]) || strchr("!#$%&'*+-.^_`|~", name[i]))) return MIAW_E_INVAL;
        lower[i] = (char)tolower((unsigned char)name[i]);
    }
    lower[nl] = 0;
    for (size_t i = 0; i < vl; i++)
        if ((unsigned char)value[i] < 0x20 ? value[i] != '\t' : value[i] == 0x7f) return MIAW_E_INVAL;
    for (size_t i = 0; owned[i]; i++)
        if (!strcmp(lower, owned[i])) return MIAW_E_INVAL;
    if (!r->out_headers) r->out_headers = json_object();
    json_object_set_new(r->out_headers, lower, json_string(value));
    return MIAW_OK;
}

static int h_reply_file(miaw_req *r, int status, const char *path, const char *content_type, const char *filename,
                        uint32_t flags)
{
    if (!req_usable(r, "reply_file")) return MIAW_E_GONE;
    int bad_ct = 0;
    for (const char *c = content_type; c && *c; c++) bad_ct |= (unsigned char)*c < 0x20 || *c == 0x7f;
    if (!path || (flags & ~(uint32_t)(MIAW_FILE_F_ATTACHMENT | MIAW_FILE_F_UNLINK)) || status < 200 || status > 599 ||
        bad_ct || (content_type && strlen(content_type) > 255))
        return MIAW_E_INVAL;
    char *disp = mock_disposition(filename, (flags & MIAW_FILE_F_ATTACHMENT) != 0);
    if (!disp) return MIAW_E_INVAL;
    struct stat st;
    FILE *f = fopen(path, "rb");
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        if (f) fclose(f);
        free(disp);
        return MIAW_E_NOTFOUND; /* nothing answered: the plugin answers another way */
    }
    uint64_t size = (uint64_t)st.st_size, from = 0, len = size;
    const char *range = streq(r->method, "GET") && status == 200 ? h_req_header(r, "range") : NULL;
    int rk = range && !h_req_header(r, "if-range") ? mock_range(range, size, &from, &len) : 0;
    char *body = NULL;
    if (rk != 2 && len <= MOCK_FILE_READ_MAX && (body = malloc((size_t)len + 1))) {
        if (fseeko(f, (off_t)from, SEEK_SET) != 0 || fread(body, 1, (size_t)len, f) != (size_t)len) {
            free(body);
            body = NULL;
        } else body[len] = 0;
    }
    fclose(f);
    if (flags & MIAW_FILE_F_UNLINK) remove(path);
    int http = rk == 1 ? 206 : rk == 2 ? 416 : status;
    json_t *rec = json_pack("{s:s,s:s,s:s?,s:s,s:I,s:i,s:I}", "path", path, "contentType",
                            content_type && *content_type ? content_type : "application/octet-stream", "filename",
                            filename, "disposition", disp, "flags", (json_int_t)flags, "status", http, "size",
                            (json_int_t)size);
    free(disp);
    if (rk == 1) json_object_set_new(rec, "range", json_pack("{s:I,s:I}", "from", (json_int_t)from, "length", (json_int_t)len));
    if (rk == 2) {
        miaw_mock_reply *rep = r->reply;
        deliver_answer(r, 416, error_env("INVALID_REQUEST", "the requested range is not satisfiable",
                                          json_pack("{s:s,s:I}", "range", range, "size", (json_int_t)size)));
        if (rep) rep->file = rec;
        else json_decref(rec);
        return MIAW_OK;
    }
    r->answered = 1;
    req_drop_uploads(r);
    miaw_mock_reply *rep = r->reply;
    if (!rep) {
        json_decref(rec);
        free(body);
        return MIAW_OK;
    }
    rep->status = http;
    rep->file = rec;
    rep->body = body;
    rep->body_len = body ? (size_t)len : 0;
    rep->pending = 0;
    rep->req_ = NULL;
    r->reply = NULL;
    return MIAW_OK;
}

/* http(s)://host... with no spaces or control characters (the server parses with libcurl) */
static int url_ok(const char *url)
{
    size_t n = 0;
    while (isalpha((unsigned char)url[n])) n++;
    if (!((n == 4 && !strncasecmp(url, "http", 4)) || (n == 5 && !strncasecmp(url, "https", 5))) ||
        strncmp(url + n, "://", 3) != 0)
        return 0;
    const char *host = url + n + 3;
    if (!*host || *host == '/' || *host == '?' || *host == '#') return 0;
    for (const char *c = url; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f) return 0;
    return 1;
}

static int h_fetch(miaw_plugin *p, const char *url, const miaw_fetch_opts *opts, miaw_fetch_fn cb, void *udata,
                   miaw_id *handle, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !cb || !url) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    if (opts && opts->struct_size < offsetof(miaw_fetch_opts, max_redirects) + sizeof(uint32_t))
        return snprintf(err, errlen, "opts: struct_size too small"), MIAW_E_INVAL;
    if (!url_ok(url)) return snprintf(err, errlen, "only http,https URLs are allowed"), MIAW_E_INVAL;
    miaw_mock *m = p->m;
    int rc = refused(m, "fetch", NULL, err, errlen);
    if (rc) return rc;
    uint64_t max = opts && opts->max_bytes ? opts->max_bytes : MOCK_FETCH_MAX_BYTES;
    uint32_t tmo = opts && opts->timeout_ms ? opts->timeout_ms : MOCK_FETCH_TIMEOUT_MS;
    uint32_t redirs = opts && opts->max_redirects ? opts->max_redirects : 3;
    json_t *rec = json_pack("{s:s,s:s,s:I,s:I,s:I}", "kind", "fetch", "url", url, "maxBytes", (json_int_t)max,
                            "timeoutMs", (json_int_t)tmo, "maxRedirects", (json_int_t)redirs);
    mcall *c = call_new(p, K_FETCH, &m->fetchv, m->fetches, rec, "", udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    json_object_del(c->rec, "instance");
    c->fetch_cb = cb;
    c->max_bytes = max;
    c->timeout_ms = tmo;
    c->deadline = m->now + tmo;
    if (handle) *handle = c->id;
    return MIAW_OK;
}

/* ================================================================ chat history (ABI 1.3) */
/* msg_list / chat_list: a scripted answer when there is one, else an answer computed from
 * the stored messages of the instance, with the server's query checks. Cursors are
 * "mock:<offset>" into the sorted, filtered list (positions, not the server's opaque ones). */
static json_t *hist_err(const char *field, const char *msg)
{
    return json_pack("{s:s,s:s}", "error", msg, "field", field);
}

typedef struct hquery {
    const char *chat, *type;
    char chat_jid[160];
    int limit, from_me;
    long long since, until, offset;
    int has_since, has_until;
} hquery;

static json_t *hist_query(const json_t *q, int messages, hquery *h)
{
    memset(h, 0, sizeof *h);
    h->limit = 50;
    h->from_me = -1;
    if (!q) return NULL;
    if (!json_is_object(q)) return hist_err("query", "query: expected an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)q, k, v)
    {
        int known = !strcmp(k, "limit") || !strcmp(k, "before") ||
                    (messages && (!strcmp(k, "chat") || !strcmp(k, "type") || !strcmp(k, "fromMe") ||
                                  !strcmp(k, "since") || !strcmp(k, "until")));
        if (!known) return hist_err(k, "unknown parameter");
        if (json_is_null(v)) continue;
        if (!strcmp(k, "limit")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 200)
                return hist_err(k, "limit: expected an integer from 1 to 200");
            h->limit = (int)json_integer_value(v);
        } else if (!strcmp(k, "before")) {
            const char *s = json_string_value(v);
            char *end = NULL;
            long long off = s && !strncmp(s, "mock:", 5) ? strtoll(s + 5, &end, 10) : -1;
            if (off <= 0 || !end || *end) return hist_err(k, "before: not a cursor from a previous answer");
            h->offset = off;
        } else if (!strcmp(k, "chat")) {
            if (!json_is_string(v) ||
                h_jid_normalize(json_string_value(v), h->chat_jid, sizeof h->chat_jid) != MIAW_OK)
                return hist_err(k, "chat: expected a phone number, a user JID or a group JID");
            h->chat = h->chat_jid;
        } else if (!strcmp(k, "type")) {
            if (!json_is_string(v) || !json_string_length(v)) return hist_err(k, "type: expected a message type");
            h->type = json_string_value(v);
        } else if (!strcmp(k, "fromMe")) {
            if (!json_is_boolean(v)) return hist_err(k, "fromMe: expected a boolean");
            h->from_me = json_is_true(v);
        } else {
            if (!json_is_integer(v) || json_integer_value(v) < 0) return hist_err(k, "expected unix seconds");
            if (!strcmp(k, "since")) h->since = json_integer_value(v), h->has_since = 1;
            else h->until = json_integer_value(v), h->has_until = 1;
        }
    }
    if (h->has_since && h->has_until && h->since > h->until) return hist_err("since", "since: later than until");
    return NULL;
}

static json_int_t msg_ts(const json_t *o) { return json_integer_value(json_object_get(o, "timestamp")); }

/* the instance's stored messages, newest first (timestamp, then most recently stored): new array */
static json_t *hist_sorted(miaw_mock *m, const char *inst)
{
    json_t *a = json_array();
    for (mmsg *g = m->msgs; g; g = g->next) /* newest stored first */
        if (!strcmp(g->inst, inst)) {
            size_t i = 0; /* stable insertion: after every message at least as new */
            while (i < json_array_size(a) && msg_ts(json_array_get(a, i)) >= msg_ts(g->obj)) i++;
            json_array_insert(a, i, g->obj);
        }
    return a;
}

static int hist_unread(const json_t *o)
{
    const char *st = json_string_value(json_object_get(o, "status"));
    return !json_is_true(json_object_get(o, "fromMe")) && !(st && (!strcmp(st, "read") || !strcmp(st, "played")));
}

/* items [offset, offset + limit) of all (stolen) as {key: [...], next} */
static json_t *hist_page(json_t *all, const char *key, const hquery *h)
{
    json_t *items = json_array(), *next = json_null();
    size_t n = json_array_size(all);
    for (size_t i = (size_t)h->offset; i < n && json_array_size(items) < (size_t)h->limit; i++)
        json_array_append(items, json_array_get(all, i));
    if ((size_t)h->offset + json_array_size(items) < n) {
        char c[32];
        snprintf(c, sizeof c, "mock:%lld", h->offset + (long long)json_array_size(items));
        json_decref(next);
        next = json_string(c);
    }
    json_decref(all);
    return json_pack("{s:o,s:o}", key, items, "next", next);
}

static json_t *hist_answer(miaw_plugin *p, const char *service, const char *inst, const json_t *query)
{
    miaw_mock *m = p->m;
    json_array_append_new(m->lists, json_pack("{s:s,s:s,s:s?,s:o}", "service", service, "plugin", p->name, "instance",
                                              inst, "query", query ? json_deep_copy(query) : json_object()));
    for (hscript **pp = &m->hscripts; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->service, service)) {
            hscript *s = *pp;
            *pp = s->next;
            json_t *a = s->answer ? json_deep_copy(s->answer) : NULL;
            json_decref(s->answer);
            free(s->service);
            free(s);
            return a;
        }
    if (!inst || !inst_find(m, inst)) return NULL;
    int messages = !strcmp(service, "msg_list");
    hquery h;
    json_t *bad = hist_query(query, messages, &h);
    if (bad) return bad;
    json_t *sorted = hist_sorted(m, inst), *out = json_array();
    size_t i;
    json_t *o;
    if (messages) {
        json_array_foreach(sorted, i, o)
        {
            const char *chat = json_string_value(json_object_get(o, "chat")), *type;
            if (h.chat && !(chat && !strcmp(chat, h.chat))) continue;
            if (h.type && !((type = json_string_value(json_object_get(o, "type"))) && !strcmp(type, h.type))) continue;
            if (h.from_me >= 0 && json_is_true(json_object_get(o, "fromMe")) != h.from_me) continue;
            if ((h.has_since && msg_ts(o) < h.since) || (h.has_until && msg_ts(o) > h.until)) continue;
            json_array_append_new(out, json_deep_copy(o));
        }
    } else {
        json_array_foreach(sorted, i, o)
        {
            const char *chat = json_string_value(json_object_get(o, "chat"));
            if (!chat) continue;
            json_t *c = NULL;
            size_t j;
            json_t *e;
            json_array_foreach(out, j, e) if (!strcmp(json_string_value(json_object_get(e, "jid")), chat)) c = e;
            if (!c) { /* the first one seen is the newest */
                size_t l = strlen(chat);
                c = json_pack("{s:s,s:b,s:O,s:i,s:i}", "jid", chat, "isGroup", l > 5 && !strcmp(chat + l - 5, "@g.us"),
                              "lastMessage", o, "unreadCount", 0, "messageCount", 0);
                json_array_append_new(out, c);
            }
            json_object_set_new(c, "messageCount",
                                json_integer(json_integer_value(json_object_get(c, "messageCount")) + 1));
            json_object_set_new(c, "unreadCount",
                                json_integer(json_integer_value(json_object_get(c, "unreadCount")) + hist_unread(o)));
        }
    }
    json_decref(sorted);
    return hist_page(out, messages ? "messages" : "chats", &h);
}

static json_t *h_msg_list(miaw_plugin *p, const char *inst, const json_t *query)
{
    return p ? hist_answer(p, "msg_list", inst, query) : NULL;
}

static json_t *h_chat_list(miaw_plugin *p, const char *inst, const json_t *query)
{
    return p ? hist_answer(p, "chat_list", inst, query) : NULL;
}

/* ================================================================ app-state (ABI 1.4) */
static const char *const AS_COLLS[] = {"critical_block", "critical_unblock_low", "regular_high", "regular_low",
                                       "regular"};

static int as_coll(const char *c)
{
    for (int i = 0; c && i < 5; i++)
        if (!strcmp(c, AS_COLLS[i])) return i;
    return -1;
}

static asver *as_ver(miaw_mock *m, const char *inst)
{
    for (asver *a = m->asvers; a; a = a->next)
        if (!strcmp(a->inst, inst)) return a;
    asver *a = calloc(1, sizeof *a);
    if (!a || !(a->inst = strdup(inst))) {
        free(a);
        return NULL;
    }
    a->next = m->asvers;
    m->asvers = a;
    return a;
}

/* the shape the server checks before anything is encoded (core/engine/engine_appstate.c) */
static int as_patch_valid(const json_t *patch, const char **field, char *err, size_t errlen)
{
    json_t *muts = json_object_get(patch, "mutations");
    *field = "collection";
    if (as_coll(json_string_value(json_object_get(patch, "collection"))) < 0)
        return snprintf(err, errlen, "collection must be one of the five app-state collections"), MIAW_E_INVAL;
    *field = "mutations";
    if (!json_is_array(muts) || !json_array_size(muts) || json_array_size(muts) > 100)
        return snprintf(err, errlen, "mutations must be an array of 1 to 100 mutations"), MIAW_E_INVAL;
    size_t i, j;
    json_t *mu, *s;
    json_array_foreach(muts, i, mu)
    {
        const char *op = json_string_value(json_object_get(mu, "operation"));
        json_t *idx = json_object_get(mu, "index");
        if (!op || (strcmp(op, "set") && strcmp(op, "remove")))
            return snprintf(err, errlen, "mutation %zu: operation must be \"set\" or \"remove\"", i), MIAW_E_INVAL;
        if (!json_is_array(idx) || !json_array_size(idx))
            return snprintf(err, errlen, "mutation %zu: index must be a non-empty array of strings", i), MIAW_E_INVAL;
        json_array_foreach(idx, j, s) if (!json_is_string(s)) return snprintf(
            err, errlen, "mutation %zu: index must be a non-empty array of strings", i), MIAW_E_INVAL;
        if (!json_is_object(json_object_get(mu, "value")))
            return snprintf(err, errlen, "mutation %zu: value must be a SyncActionValue object", i), MIAW_E_INVAL;
    }
    *field = NULL;
    return MIAW_OK;
}

static int h_as_push(miaw_plugin *p, const char *inst, const json_t *patch, miaw_appstate_push_fn cb, void *udata,
                     miaw_id *handle, const char **field, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (field) *field = NULL;
    const char *f = NULL;
    if (!p || !cb || !patch) return snprintf(err, errlen, "missing argument"), MIAW_E_INVAL;
    if (!inst) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    miaw_mock *m = p->m;
    int rc = as_patch_valid(patch, &f, err, errlen);
    if (!rc) rc = refused(m, "appstate_push", &f, err, errlen);
    if (!rc) rc = inst_usable(m, inst, err, errlen);
    if (rc) {
        if (field) *field = f;
        return rc;
    }
    mcall *c = call_new(p, K_APPSTATE, &m->asv, m->appstate,
                        json_pack("{s:s,s:O}", "kind", "appstate_push", "patch", (json_t *)patch), inst, udata);
    if (!c) return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    c->as_cb = cb;
    c->message = json_deep_copy(patch);
    if (handle) *handle = c->id;
    return MIAW_OK;
}

static int h_as_subscribe(miaw_plugin *p, const char *coll, miaw_appstate_fn fn, void *udata, miaw_id *out)
{
    if (!p || !fn || (coll && as_coll(coll) < 0)) return MIAW_E_INVAL;
    asub *a = calloc(1, sizeof *a);
    if (!a || (coll && !(a->coll = strdup(coll)))) {
        free(a);
        return MIAW_E_NOMEM;
    }
    a->id = ++p->m->next_call;
    a->p = p;
    a->fn = fn;
    a->udata = udata;
    asub **pp = &p->m->asubs;
    while (*pp) pp = &(*pp)->next;
    *pp = a;
    if (out) *out = a->id;
    return MIAW_OK;
}

static int h_as_unsubscribe(miaw_plugin *p, miaw_id id)
{
    if (!p) return MIAW_E_INVAL;
    for (asub **pp = &p->m->asubs; *pp; pp = &(*pp)->next)
        if ((*pp)->p == p && (*pp)->id == id) {
            asub *a = *pp;
            *pp = a->next;
            free(a->coll);
            free(a);
            return MIAW_OK;
        }
    return MIAW_E_NOTFOUND;
}

static int h_as_sync(miaw_plugin *p, const char *inst, const char *coll, int full, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    if (!p || !inst) return snprintf(err, errlen, "missing instance id"), MIAW_E_INVAL;
    if (coll && as_coll(coll) < 0) return snprintf(err, errlen, "unknown app-state collection"), MIAW_E_INVAL;
    int rc = refused(p->m, "appstate_sync", NULL, err, errlen);
    if (!rc) rc = inst_usable(p->m, inst, err, errlen);
    if (rc) return rc;
    json_array_append_new(p->m->appstate, json_pack("{s:s,s:s,s:s,s:s?,s:b}", "kind", "appstate_sync", "plugin",
                                                    p->name, "instance", inst, "collection", coll, "full", full));
    return MIAW_OK;
}

static json_t *h_as_state(miaw_plugin *p, const char *inst)
{
    if (!p || !inst || !inst_find(p->m, inst)) return NULL;
    asver *a = as_ver(p->m, inst);
    json_t *cols = json_object();
    size_t pending = 0;
    for (size_t i = 0; i < p->m->asv.n; i++)
        if (p->m->asv.v[i]->state == ST_PENDING && !strcmp(p->m->asv.v[i]->inst, inst)) pending++;
    for (int i = 0; i < 5; i++)
        json_object_set_new(cols, AS_COLLS[i],
                            json_pack("{s:I,s:s,s:I,s:s}", "version", (json_int_t)(a ? a->v[i] : 0), "hash",
                                      "00000000000000000000000000000000000000000000000000000000000000000000000000"
                                      "000000000000000000000000000000000000000000000000000000000000000000000000000"
                                      "00000000000000000000000000000000000000000000000000000000000000000000000000"
                                      "000000000000000000000000000000",
                                      "entries", (json_int_t)(a ? a->entries[i] : 0), "status", "synced"));
    return json_pack("{s:i,s:I,s:o}", "keys", 1, "pending", (json_int_t)pending, "collections", cols);
}

/* ================================================================ the host table */
static const miaw_host_api MOCK_API = {
    .struct_size = sizeof(miaw_host_api),
    .abi_major = MIAW_ABI_MAJOR,
    .abi_minor = MIAW_ABI_MINOR,
    .server_version = "mock",
    .log = h_log,
    .now_ms = h_now_ms,
    .route_add = h_route_add,
    .event_declare = h_event_declare,
    .event_subscribe = h_event_subscribe,
    .req_param = h_req_param,
    .req_query = h_req_query,
    .req_header = h_req_header,
    .req_body = h_req_body,
    .req_id = h_req_id,
    .req_suspend = h_req_suspend,
    .reply_json = h_reply_json,
    .reply_error = h_reply_error,
    .event_emit = h_event_emit,
    .event_unsubscribe = h_event_unsubscribe,
    .instance_get = h_instance_get,
    .kv_get = h_kv_get,
    .kv_put = h_kv_put,
    .kv_del = h_kv_del,
    .timer_start = h_timer_start,
    .timer_stop = h_timer_stop,
    .send_text = h_send_text,
    .send_cancel = h_send_cancel,
    .iq = h_iq,
    .stanza_send = h_stanza_send,
    .stanza_subscribe = h_stanza_subscribe,
    .msg_send = h_msg_send,
    .msg_get = h_msg_get,
    .cancel = h_cancel,
    .reply_status = h_reply_status,
    .jid_normalize = h_jid_normalize,
    .media_upload = h_media_upload,
    .media_download = h_media_download,
    .req_upload = h_req_upload,
    .reply_file = h_reply_file,
    .fetch = h_fetch,
    .msg_list = h_msg_list,
    .chat_list = h_chat_list,
    .reply_header = h_reply_header,
    .appstate_push = h_as_push,
    .appstate_subscribe = h_as_subscribe,
    .appstate_unsubscribe = h_as_unsubscribe,
    .appstate_sync = h_as_sync,
    .appstate_state = h_as_state,
};

/* ================================================================ public: the mock */
miaw_mock *miaw_mock_new(void)
{
    miaw_mock *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->api = MOCK_API;
    m->now = MOCK_T0;
    m->sends = json_array();
    m->iqs = json_array();
    m->media = json_array();
    m->appstate = json_array();
    m->fetches = json_array();
    m->stanzas = json_array();
    m->events = json_array();
    m->logs = json_array();
    m->violations = json_array();
    m->lists = json_array();
    m->verbose = getenv("MIAW_MOCK_VERBOSE") != NULL;
    if (!m->sends || !m->iqs || !m->media || !m->fetches || !m->stanzas || !m->events || !m->logs || !m->violations ||
        !m->lists) {
        miaw_mock_free(m);
        return NULL;
    }
    m->older = g_clock;
    g_clock = m;
    return m;
}

const miaw_host_api *miaw_mock_api(miaw_mock *m) { return m ? &m->api : NULL; }

int miaw_mock_set_abi_minor(miaw_mock *m, unsigned minor)
{
    if (!m || minor > MIAW_ABI_MINOR) return MIAW_E_INVAL;
    m->api = MOCK_API;
    m->api.abi_minor = (uint16_t)minor;
    if (minor == 0) m->api.struct_size = (uint32_t)offsetof(miaw_host_api, send_text);
    else if (minor == 1) m->api.struct_size = (uint32_t)offsetof(miaw_host_api, iq);
    else if (minor == 2) m->api.struct_size = (uint32_t)offsetof(miaw_host_api, req_upload);
    else if (minor == 3) m->api.struct_size = (uint32_t)offsetof(miaw_host_api, appstate_push);
    return MIAW_OK;
}

int64_t miaw_mock_now(const miaw_mock *m) { return m ? m->now : 0; }

/* ================================================================ public: plugins */
static int valid_plugin_name(const char *n)
{
    if (!n || !(*n >= 'a' && *n <= 'z') || strlen(n) > 31) return 0;
    for (const char *c = n; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_')) return 0;
    return 1;
}

/* removes everything p registered or has in flight; its kv rows stay */
static void unregister_all(miaw_mock *m, miaw_plugin *p)
{
    cvec *vs[] = {&m->sendv, &m->iqv, &m->mediav, &m->fetchv, &m->asv};
    for (size_t k = 0; k < 5; k++)
        for (size_t i = 0; i < vs[k]->n; i++)
            if (vs[k]->v[i]->p == p) call_cancel(vs[k]->v[i]);
    for (asub **pp = &m->asubs; *pp;) {
        asub *a = *pp;
        if (a->p == p) {
            *pp = a->next;
            free(a->coll);
            free(a);
        } else pp = &a->next;
    }
    for (mroute **pp = &m->routes; *pp;) {
        mroute *r = *pp;
        if (r->owner == p) {
            *pp = r->next;
            route_free(r);
        } else pp = &r->next;
    }
    for (etype **pp = &m->etypes; *pp;) {
        etype *t = *pp;
        if (t->owner == p) {
            *pp = t->next;
            free(t->type);
            free(t);
        } else pp = &t->next;
    }
    for (esub *s = m->esubs; s; s = s->next)
        if (s->p == p) s->dead = 1;
    if (!m->dispatching) free_dead_esubs(m);
    for (ssub **pp = &m->ssubs; *pp;) {
        ssub *s = *pp;
        if (s->p == p) {
            *pp = s->next;
            free(s->tag);
            free(s->type);
            free(s->xmlns);
            free(s->child);
            free(s);
        } else pp = &s->next;
    }
    for (mtimer **pp = &m->timers; *pp;) {
        mtimer *t = *pp;
        if (t->p == p) {
            *pp = t->next;
            free(t);
        } else pp = &t->next;
    }
}

static miaw_plugin *load_desc(miaw_mock *m, const miaw_plugin_desc *d, void *dl, const char *what, const char *name,
                              const char *config_json, char *err, size_t errlen)
{
    ERRBUF(err, errlen);
    const char *why = NULL;
    char whybuf[256];
    if (!d) why = "entry returned no descriptor";
    else if (d->magic != MIAW_PLUGIN_MAGIC) why = "bad descriptor magic";
    else if (d->abi_major != MIAW_ABI_MAJOR) {
        snprintf(whybuf, sizeof whybuf, "built for plugin ABI %u.%u, this host speaks %u.%u (major must match)",
                 d->abi_major, d->abi_minor, MIAW_ABI_MAJOR, m->api.abi_minor);
        why = whybuf;
    } else if (d->abi_minor_required > m->api.abi_minor) {
        snprintf(whybuf, sizeof whybuf, "needs plugin ABI minor %u, this host has %u.%u", d->abi_minor_required,
                 MIAW_ABI_MAJOR, m->api.abi_minor);
        why = whybuf;
    } else if (d->struct_size < offsetof(miaw_plugin_desc, fini) + sizeof(void *)) why = "descriptor too small";
    else if (!d->init || !d->fini) why = "descriptor lacks init or fini";
    else if (!valid_plugin_name(d->name)) why = "descriptor name must match [a-z][a-z0-9_]{0,30}";
    else if (name && strcmp(d->name, name) != 0) {
        snprintf(whybuf, sizeof whybuf, "descriptor name '%s' differs from the expected name '%s'", d->name, name);
        why = whybuf;
    } else if (miaw_mock_plugin(m, d->name)) {
        snprintf(whybuf, sizeof whybuf, "plugin '%s' is already loaded", d->name);
        why = whybuf;
    }
    json_t *cfg = NULL;
    if (!why && parse_json(config_json, "config", &cfg) != MIAW_OK) why = "config is not JSON";
    if (!why && cfg && !json_is_object(cfg)) why = "config is not a JSON object";
    if (why) {
        snprintf(err, errlen, "%s: refused: %s", what, why);
        json_decref(cfg);
        if (dl) dlclose(dl);
        return NULL;
    }
    if (!cfg) cfg = json_object();
    miaw_plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(d->name))) {
        free(p);
        json_decref(cfg);
        if (dl) dlclose(dl);
        return snprintf(err, errlen, "out of memory"), NULL;
    }
    p->m = m;
    p->desc = d;
    p->dl = dl;
    char perr[512] = "";
    p->in_init = 1;
    int rc = d->init(p, &m->api, cfg, &p->state, perr, sizeof perr);
    p->in_init = 0;
    json_decref(cfg);
    if (rc != MIAW_OK) {
        snprintf(err, errlen, "%s: init failed (%d): %s", p->name, rc, *perr ? perr : "no message");
        unregister_all(m, p); /* fini is not called after a failed init */
        if (dl) dlclose(dl);
        free(p->name);
        free(p);
        return NULL;
    }
    p->initialized = 1;
    miaw_plugin **pp = &m->plugins;
    while (*pp) pp = &(*pp)->next;
    *pp = p;
    return p;
}

miaw_plugin *miaw_mock_load(miaw_mock *m, const char *path, const char *name, const char *config_json, char *err,
                            size_t errlen)
{
    ERRBUF(err, errlen);
    if (!m || !path) return snprintf(err, errlen, "missing argument"), NULL;
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) return snprintf(err, errlen, "%s: dlopen failed: %s", path, dlerror()), NULL;
    miaw_plugin_entry_fn entry;
    *(void **)&entry = dlsym(dl, MIAW_PLUGIN_ENTRY);
    if (!entry) {
        dlclose(dl);
        return snprintf(err, errlen, "%s: refused: no " MIAW_PLUGIN_ENTRY " symbol (not a miaw plugin?)", path), NULL;
    }
    return load_desc(m, entry(), dl, path, name, config_json, err, errlen);
}

miaw_plugin *miaw_mock_load_desc(miaw_mock *m, const miaw_plugin_desc *d, const char *config_json, char *err,
                                 size_t errlen)
{
    ERRBUF(err, errlen);
    if (!m) return snprintf(err, errlen, "missing argument"), NULL;
    return load_desc(m, d, NULL, d && d->name ? d->name : "descriptor", NULL, config_json, err, errlen);
}

void miaw_mock_unload(miaw_mock *m, miaw_plugin *p)
{
    if (!m || !p) return;
    miaw_plugin **pp = &m->plugins;
    while (*pp && *pp != p) pp = &(*pp)->next;
    if (!*pp) return;
    *pp = p->next;
    for (struct miaw_req *r = m->reqs; r; r = r->next) /* the server aborts pending requests first */
        if (r->owner == p) {
            if (req_pending(r)) req_abort(r, MIAW_E_GONE);
            r->owner = NULL;
        }
    if (p->initialized) p->desc->fini(p->state);
    unregister_all(m, p);
    if (p->dl) dlclose(p->dl);
    free(p->name);
    free(p);
}

void *miaw_mock_plugin_state(const miaw_plugin *p) { return p ? p->state : NULL; }

miaw_plugin *miaw_mock_plugin(miaw_mock *m, const char *name)
{
    for (miaw_plugin *p = m ? m->plugins : NULL; p && name; p = p->next)
        if (strcmp(p->name, name) == 0) return p;
    return NULL;
}

json_t *miaw_mock_routes(miaw_mock *m)
{
    json_t *a = json_array();
    for (mroute *r = m ? m->routes : NULL; r; r = r->next)
        json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:s,s:I}", "method", r->method, "path", r->path, "flags",
                                           (json_int_t)r->flags, "plugin", r->owner->name, "timeoutMs",
                                           (json_int_t)(r->timeout_ms ? r->timeout_ms : MOCK_DEFAULT_TIMEOUT_MS)));
    return a;
}

/* ================================================================ public: requests */
static void req_free(struct miaw_req *r)
{
    free(r->method);
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->np; i++) {
        free(r->pnames[i]);
        free(r->pvals[i]);
    }
    for (size_t i = 0; i < r->nhdr; i++) free(r->hdr[i]);
    free(r->hdr);
    json_decref(r->body);
    json_decref(r->out_headers);
    req_drop_uploads(r);
    while (r->strs) {
        sbuf *b = r->strs;
        r->strs = b->next;
        free(b);
    }
    free(r);
}

static int is_json_ct(const char *ct)
{
    if (!ct) return 1;
    while (*ct == ' ') ct++;
    return strncasecmp(ct, "application/json", 16) == 0 && (ct[16] == 0 || ct[16] == ';' || ct[16] == ' ');
}

/* a multipart body given as parts (miaw_mock_call_multipart) */
typedef struct mform {
    const miaw_mock_part *parts;
    size_t n;
    uint64_t size; /* about what the encoded body would take */
} mform;

static int utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned c = *p++;
        if (c < 0x80) continue;
        int k = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xc2 && c < 0xe0 ? 1 : -1;
        if (k < 0 || e - p < k) return 0;
        unsigned cp = c & (0x3f >> k);
        for (int i = 0; i < k; i++) {
            if ((p[i] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        p += k;
    }
    return 1;
}

/* the server's text-field coercion (core/http/multipart.c miaw_form_coerce) */
static void form_coerce(json_t *fields, const miaw_field *props)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(fields, tmp, k, v)
    {
        const miaw_field *f = props;
        while (f && f->name && strcmp(f->name, k) != 0) f++;
        if (!f || !f->name || !json_is_string(v) || f->type == MIAW_T_STRING || f->type == MIAW_T_ANY) continue;
        json_t *j = json_loads(json_string_value(v), JSON_DECODE_ANY, NULL);
        int ok = j && ((f->type == MIAW_T_INTEGER && json_is_integer(j)) || (f->type == MIAW_T_NUMBER && json_is_number(j)) ||
                       (f->type == MIAW_T_BOOLEAN && json_is_boolean(j)) || (f->type == MIAW_T_OBJECT && json_is_object(j)) ||
                       (f->type == MIAW_T_ARRAY && json_is_array(j)) || ((f->flags & MIAW_F_NULLABLE) && json_is_null(j)));
        if (ok) json_object_set_new(fields, k, j);
        else json_decref(j);
    }
}

/* the form of a multipart request: text fields into r->body, files spooled; 0, or the
 * request is answered (400 naming the part, 500 when a file cannot be written) */
static int form_read(struct miaw_req *r, const mform *form, const mroute *rt)
{
    json_t *fields = json_object();
    for (size_t i = 0; i < form->n; i++) {
        const miaw_mock_part *p = &form->parts[i];
        int is_file = !p->value;
        if (!p->name || !*p->name || !utf8_ok(p->name, strlen(p->name))) {
            json_decref(fields);
            return answer_error(r, 400, "INVALID_REQUEST", json_pack("{s:s}", "field", "body"),
                                "malformed multipart/form-data body: a part's name is empty or not UTF-8"), -1;
        }
        if (is_file && p->filename && !*p->filename && !p->len) continue; /* an empty file input */
        int dup = json_object_get(fields, p->name) != NULL;
        for (size_t k = 0; k < r->nups && !dup; k++) dup = !strcmp(r->ups[k].name, p->name);
        if (dup) {
            json_decref(fields);
            return answer_error(r, 400, "INVALID_REQUEST", json_pack("{s:s}", "field", p->name),
                                "malformed multipart/form-data body: the form field '%s' appears more than once", p->name), -1;
        }
        if (!is_file) {
            json_t *sv = json_stringn(p->value, strlen(p->value));
            if (!sv) {
                json_decref(fields);
                return answer_error(r, 400, "INVALID_REQUEST", json_pack("{s:s}", "field", p->name),
                                    "malformed multipart/form-data body: the form field '%s' is not UTF-8 text", p->name), -1;
            }
            json_object_set_new(fields, p->name, sv);
            continue;
        }
        char path[4096];
        int fd = mock_tmpfile("upload", path, sizeof path);
        int ok = fd >= 0 && (!p->len || write_all(fd, p->data, p->len) == 0);
        if (fd >= 0 && close(fd) != 0) ok = 0;
        mupload *v = ok ? realloc(r->ups, (r->nups + 1) * sizeof *v) : NULL;
        if (!v) {
            if (fd >= 0) remove(path);
            json_decref(fields);
            return answer_error(r, 500, "INTERNAL_ERROR", NULL, "cannot store the file of '%s'", p->name), -1;
        }
        r->ups = v;
        v[r->nups].name = strdup(p->name);
        v[r->nups].path = strdup(path);
        v[r->nups].filename = p->filename && *p->filename ? strdup(p->filename) : NULL;
        v[r->nups].ctype = sdup(p->content_type);
        v[r->nups].size = p->len;
        r->nups++;
    }
    form_coerce(fields, rt->body);
    r->body = fields;
    return 0;
}

/* everything up to and including the handler; the answer lands in r->reply */
static void dispatch(miaw_mock *m, struct miaw_req *r, const char *body, const mform *form)
{
    char allow[128];
    mroute *rt = NULL;
    int st = route_match(m, r->method, r->path, &rt, allow, sizeof allow);
    if (st == 404) {
        answer_error(r, 404, "NOT_FOUND", NULL, "no route %s %s", r->method, r->path);
        return;
    }
    if (st == 405) {
        answer_error(r, 405, "METHOD_NOT_ALLOWED", json_pack("{s:s}", "allow", allow),
                     "%s is not allowed on %s (allowed: %s)", r->method, r->path, allow);
        return;
    }
    /* path parameters, percent-decoded */
    const char *p = r->path;
    for (size_t i = 0; i < rt->nseg; i++) {
        while (*p == '/') p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (is_param(rt->segs[i])) {
            char *v = NULL;
            if (decode_seg(p, len, &v) != 0) {
                answer_error(r, 404, "NOT_FOUND", NULL, "no route %s %s", r->method, r->path);
                return;
            }
            r->pnames[r->np] = strndup(rt->segs[i] + 1, strlen(rt->segs[i]) - 2);
            r->pvals[r->np++] = v;
        }
        p += len;
    }
    r->owner = rt->owner;
    r->timeout_ms = rt->timeout_ms ? rt->timeout_ms : MOCK_DEFAULT_TIMEOUT_MS;
    if (rt->flags & MIAW_ROUTE_INSTANCE) {
        const char *iid = h_req_param(r, "instanceId");
        if (!iid || !inst_find(m, iid)) {
            answer_error(r, 404, "INSTANCE_NOT_FOUND", json_pack("{s:s}", "instanceId", iid ? iid : ""),
                         "instance '%s' does not exist", iid ? iid : "");
            return;
        }
    }
    int multipart = (rt->flags & MIAW_ROUTE_MULTIPART) != 0;
    if (rt->has_body || multipart) {
        uint64_t limit = rt->body_max ? rt->body_max : MOCK_DEFAULT_BODY_MAX;
        uint64_t blen = form ? form->size : body ? strlen(body) : 0;
        if (blen > limit) {
            answer_error(r, 413, "PAYLOAD_TOO_LARGE", json_pack("{s:I}", "limit", (json_int_t)limit),
                         "request body of %llu bytes exceeds the limit of %llu bytes", (unsigned long long)blen,
                         (unsigned long long)limit);
            return;
        }
        const char *ct = h_req_header(r, "content-type");
        if (form && !multipart) {
            answer_error(r, 415, "UNSUPPORTED_MEDIA_TYPE", NULL, "the body must be application/json");
            return;
        }
        if (!form && multipart && ct && !strncasecmp(ct, "multipart/form-data", 19)) {
            answer_error(r, 400, "INVALID_REQUEST", json_pack("{s:s}", "field", "body"),
                         "the mock takes multipart bodies as parts: use miaw_mock_call_multipart");
            return;
        }
        if (form) {
            if (form_read(r, form, rt) != 0) return;
        } else if (!rt->has_body) {
            /* a multipart route without a schema reads forms only */
        } else if (blen) {
            json_error_t je;
            r->body = json_loadb(body, (size_t)blen, JSON_REJECT_DUPLICATES, &je);
            if (!r->body && !is_json_ct(ct)) {
                answer_error(r, 415, "UNSUPPORTED_MEDIA_TYPE", NULL,
                             multipart ? "the body must be application/json or multipart/form-data"
                                       : "the body must be application/json");
                return;
            }
            if (!r->body) {
                answer_error(r, 400, "INVALID_REQUEST",
                             json_pack("{s:s,s:i,s:i}", "field", "body", "line", je.line, "column", je.column),
                             "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
                return;
            }
        } else {
            r->body = json_object();
        }
        char field[256], msg[512];
        if (rt->has_body && schema_validate(rt->body, 0, r->body, field, sizeof field, msg, sizeof msg) != 0) {
            answer_error(r, 400, "INVALID_REQUEST", json_pack("{s:s}", "field", field), "%s", msg);
            return;
        }
    }
    int rc = rt->handler(r, rt->udata);
    if (rc == MIAW_ASYNC) {
        if (!r->suspended && !r->answered) {
            violation(m, "handler of %s %s returned MIAW_ASYNC without req_suspend", rt->method, rt->path);
            answer_error(r, 500, "INTERNAL_ERROR", NULL, "handler error");
        }
        return;
    }
    if (rc < 0 && !r->answered) {
        answer_from_status(r, rc);
        return;
    }
    if (!r->answered) {
        violation(m, "handler of %s %s returned %d without answering", rt->method, rt->path, rc);
        answer_error(r, 500, "INTERNAL_ERROR", NULL, "handler did not answer");
    }
}

static int call_any(miaw_mock *m, const char *method, const char *path, const char *const *headers,
                    const char *body, const mform *form, miaw_mock_reply *reply)
{
    if (!reply) return MIAW_E_INVAL;
    for (struct miaw_req *o = m ? m->reqs : NULL; o; o = o->next) /* a reused reply: the old request answers nowhere */
        if (o->reply == reply) o->reply = NULL;
    memset(reply, 0, sizeof *reply);
    if (!m || !method || !path) return MIAW_E_INVAL;
    struct miaw_req *r = calloc(1, sizeof *r);
    if (!r) return MIAW_E_NOMEM;
    r->m = m;
    snprintf(r->id, sizeof r->id, "mock-%llu", (unsigned long long)++m->next_req);
    r->next = m->reqs;
    m->reqs = r;
    r->reply = reply;
    r->timeout_ms = MOCK_DEFAULT_TIMEOUT_MS;
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    if (plen >= 7 && !strncmp(path, "/api/v1", 7) && (plen == 7 || path[7] == '/')) {
        path += 7;
        plen -= 7;
    }
    r->method = strdup(method);
    r->path = plen ? strndup(path, plen) : strdup("/");
    r->query = q ? strdup(q + 1) : NULL;
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *colon = strchr(headers[i], ':');
        if (!colon) continue;
        char **nh = realloc(r->hdr, (r->nhdr + 2) * sizeof *nh);
        if (!nh) break;
        r->hdr = nh;
        const char *v = colon + 1;
        while (*v == ' ') v++;
        r->hdr[r->nhdr++] = strndup(headers[i], (size_t)(colon - headers[i]));
        r->hdr[r->nhdr++] = strdup(v);
    }
    if (!r->method || !r->path) {
        answer_error(r, 500, "INTERNAL_ERROR", NULL, "out of memory");
        return reply->status;
    }
    dispatch(m, r, body, form);
    if (req_pending(r) && r->reply == reply) {
        reply->pending = 1;
        reply->req_ = r;
    }
    return reply->status;
}

int miaw_mock_call_h(miaw_mock *m, const char *method, const char *path, const char *const *headers,
                     const char *body, miaw_mock_reply *reply)
{
    return call_any(m, method, path, headers, body, NULL, reply);
}

int miaw_mock_call_multipart(miaw_mock *m, const char *method, const char *path, const char *const *headers,
                             const miaw_mock_part *parts, size_t nparts, miaw_mock_reply *reply)
{
    if (!parts && nparts) return MIAW_E_INVAL;
    mform f = {parts, nparts, 40};
    for (size_t i = 0; i < nparts; i++) /* delimiter, Content-Disposition, Content-Type, the bytes */
        f.size += 90 + (parts[i].name ? strlen(parts[i].name) : 0) + (parts[i].filename ? strlen(parts[i].filename) + 13 : 0) +
                  (parts[i].content_type ? strlen(parts[i].content_type) + 16 : 0) +
                  (parts[i].value ? strlen(parts[i].value) : parts[i].len);
    return call_any(m, method, path, headers, NULL, &f, reply);
}

int miaw_mock_call(miaw_mock *m, const char *method, const char *path, const char *body, miaw_mock_reply *reply)
{
    return miaw_mock_call_h(m, method, path, NULL, body, reply);
}

int miaw_mock_abort(miaw_mock *m, miaw_mock_reply *reply)
{
    struct miaw_req *r = reply ? reply->req_ : NULL;
    if (!m || !r || r->m != m || !req_pending(r)) return MIAW_E_STATE;
    req_abort(r, MIAW_E_GONE);
    return MIAW_OK;
}

int miaw_mock_timeout(miaw_mock *m, miaw_mock_reply *reply)
{
    struct miaw_req *r = reply ? reply->req_ : NULL;
    if (!m || !r || r->m != m || !req_pending(r)) return MIAW_E_STATE;
    req_abort(r, MIAW_E_TIMEOUT);
    return MIAW_OK;
}

void miaw_mock_reply_clear(miaw_mock_reply *reply)
{
    if (!reply) return;
    if (reply->req_) reply->req_->reply = NULL;
    json_decref(reply->json);
    free(reply->text);
    json_decref(reply->file);
    json_decref(reply->headers);
    free(reply->body);
    memset(reply, 0, sizeof *reply);
}

const char *miaw_mock_reply_code(const miaw_mock_reply *reply)
{
    return reply ? miaw_mock_str(reply->json, "error.code") : NULL;
}

/* ================================================================ public: JSON helpers */
const json_t *miaw_mock_get(const json_t *j, const char *path)
{
    if (!j || !path) return NULL;
    const char *p = path;
    while (*p && j) {
        if (*p == '.') p++;
        if (*p == '[') {
            char *end;
            unsigned long idx = strtoul(p + 1, &end, 10);
            if (end == p + 1 || *end != ']') return NULL;
            j = json_array_get(j, idx);
            p = end + 1;
            continue;
        }
        size_t n = strcspn(p, ".[");
        if (!n) return NULL;
        char key[256];
        if (n >= sizeof key) return NULL;
        memcpy(key, p, n);
        key[n] = 0;
        j = json_object_get(j, key);
        p += n;
    }
    return j;
}

const char *miaw_mock_str(const json_t *j, const char *path) { return json_string_value(miaw_mock_get(j, path)); }

/* ================================================================ public: instances, messages */
int miaw_mock_put_instance(miaw_mock *m, const char *id, const char *json)
{
    if (!m || !id || !*id) return MIAW_E_INVAL;
    json_t *o;
    if (parse_json(json, "instance", &o) != MIAW_OK) return MIAW_E_INVAL;
    if (!o) o = json_object();
    if (!json_is_object(o)) {
        json_decref(o);
        return MIAW_E_INVAL;
    }
    if (!json_object_get(o, "status")) json_object_set_new(o, "status", json_string("connected"));
    json_object_set_new(o, "instanceId", json_string(id));
    minst *i = inst_find(m, id);
    if (i) {
        json_decref(i->obj);
        i->obj = o;
        return MIAW_OK;
    }
    i = calloc(1, sizeof *i);
    if (!i || !(i->id = strdup(id))) {
        free(i);
        json_decref(o);
        return MIAW_E_NOMEM;
    }
    i->obj = o;
    minst **pp = &m->insts;
    while (*pp) pp = &(*pp)->next;
    *pp = i;
    return MIAW_OK;
}

int miaw_mock_set_connected(miaw_mock *m, const char *id, int connected)
{
    minst *i = m ? inst_find(m, id) : NULL;
    if (!i) return MIAW_E_NOTFOUND;
    json_object_set_new(i->obj, "status", json_string(connected ? "connected" : "disconnected"));
    return MIAW_OK;
}

int miaw_mock_del_instance(miaw_mock *m, const char *id)
{
    if (!m || !id) return MIAW_E_INVAL;
    for (minst **pp = &m->insts; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->id, id)) {
            minst *i = *pp;
            *pp = i->next;
            free(i->id);
            json_decref(i->obj);
            free(i);
            for (kvrow **kp = &m->kv; *kp;) {
                if (!strcmp((*kp)->inst, id)) kv_unlink(kp);
                else kp = &(*kp)->next;
            }
            for (mmsg **gp = &m->msgs; *gp;) {
                mmsg *g = *gp;
                if (!strcmp(g->inst, id)) {
                    *gp = g->next;
                    free(g->inst);
                    free(g->id);
                    json_decref(g->obj);
                    free(g);
                } else gp = &g->next;
            }
            return MIAW_OK;
        }
    return MIAW_E_NOTFOUND;
}

int miaw_mock_put_message(miaw_mock *m, const char *inst, const char *id, const char *json)
{
    if (!m || !inst || !id || !json) return MIAW_E_INVAL;
    json_t *o;
    if (parse_json(json, "message", &o) != MIAW_OK) return MIAW_E_INVAL;
    if (!json_is_object(o)) {
        json_decref(o);
        return MIAW_E_INVAL;
    }
    return msg_store(m, inst, id, o);
}

const json_t *miaw_mock_lists(miaw_mock *m) { return m ? m->lists : NULL; }

int miaw_mock_script_list(miaw_mock *m, const char *service, const char *answer_json)
{
    if (!m || !service || !answer_json || (strcmp(service, "msg_list") && strcmp(service, "chat_list")))
        return MIAW_E_INVAL;
    json_t *a;
    if (parse_json(answer_json, "answer", &a) != MIAW_OK) return MIAW_E_INVAL;
    hscript *h = calloc(1, sizeof *h);
    if (!h || !(h->service = strdup(service))) {
        free(h);
        json_decref(a);
        return MIAW_E_NOMEM;
    }
    if (json_is_null(a)) json_decref(a);
    else h->answer = a;
    hscript **pp = &m->hscripts;
    while (*pp) pp = &(*pp)->next;
    *pp = h;
    return MIAW_OK;
}

void miaw_mock_set_message_check(miaw_mock *m, miaw_mock_message_check_fn fn, void *udata)
{
    if (!m) return;
    m->check = fn;
    m->check_ud = udata;
}

/* ================================================================ public: engine calls */
int miaw_mock_refuse(miaw_mock *m, const char *service, int status, const char *field, const char *err)
{
    static const char *known[] = {"msg_send",       "send_text", "iq",           "stanza_send", "media_upload",
                                  "media_download", "fetch",     "appstate_push", "appstate_sync"};
    int ok = 0;
    for (size_t i = 0; service && i < sizeof known / sizeof known[0]; i++) ok |= strcmp(service, known[i]) == 0;
    if (!m || !ok || status >= 0) return MIAW_E_INVAL;
    refusal *r = calloc(1, sizeof *r);
    if (!r || !(r->service = strdup(service))) {
        free(r);
        return MIAW_E_NOMEM;
    }
    r->status = status;
    r->field = sdup(field);
    r->err = sdup(err);
    refusal **pp = &m->refusals;
    while (*pp) pp = &(*pp)->next;
    *pp = r;
    return MIAW_OK;
}


const json_t *miaw_mock_sends(miaw_mock *m) { return m ? m->sends : NULL; }
const json_t *miaw_mock_iqs(miaw_mock *m) { return m ? m->iqs : NULL; }
const json_t *miaw_mock_media(miaw_mock *m) { return m ? m->media : NULL; }
const json_t *miaw_mock_fetches(miaw_mock *m) { return m ? m->fetches : NULL; }
const json_t *miaw_mock_stanzas(miaw_mock *m) { return m ? m->stanzas : NULL; }

static int call_ready(mcall *c)
{
    if (c->state == ST_DONE) return MIAW_E_STATE;
    if (c->state == ST_CANCELLED) return MIAW_E_GONE;
    return MIAW_OK;
}

/* marks c done (its callback runs next) with what the callback gets */
static void call_done(mcall *c, json_t *result /* stolen */)
{
    c->state = ST_DONE;
    c->p = NULL;
    rec_state(c, "done");
    json_object_set_new(c->rec, "result", result);
}

static const char *send_detail(int st)
{
    switch (st) {
    case MIAW_E_STATE: return "the instance is not connected";
    case MIAW_E_NOTFOUND: return "the recipient has no WhatsApp devices";
    case MIAW_E_TIMEOUT: return "no acknowledgement from the server in time";
    case MIAW_E_IO: return "the server refused the message";
    default: return "the message was not sent";
    }
}

int miaw_mock_complete_send(miaw_mock *m, size_t i, int status, const char *message_id, int64_t timestamp_s,
                            const char *detail)
{
    if (!m || i >= m->sendv.n) return MIAW_E_NOTFOUND;
    mcall *c = m->sendv.v[i];
    if (c->state == ST_DONE) return MIAW_E_STATE;
    const char *id = message_id ? message_id : c->msg_id;
    int64_t ts = timestamp_s ? timestamp_s : m->now / 1000;
    if (status == MIAW_OK && !c->no_store) /* the message went out: chat storage keeps it */
        msg_store(m, c->inst, id,
                  json_pack("{s:s,s:b,s:I,s:s,s:s,s:O?}", "chat", c->jid, "fromMe", 1, "timestamp", (json_int_t)ts,
                            "type", c->stype, "status", "sent", "message", c->message));
    int rc = call_ready(c);
    if (rc) return rc;
    if (status != MIAW_OK && !detail) detail = send_detail(status);
    miaw_send_fn cb = c->send_cb;
    void *ud = c->udata;
    call_done(c, json_pack("{s:i,s:s,s:I,s:s?}", "status", status, "messageId", id, "timestamp", (json_int_t)ts,
                           "detail", detail));
    json_t *keep = json_string(id); /* id may point into the record */
    cb(status, json_string_value(keep), status == MIAW_OK ? ts : 0, detail, ud);
    json_decref(keep);
    return MIAW_OK;
}

int miaw_mock_complete_iq(miaw_mock *m, size_t i, int status, const char *reply_json, const char *detail)
{
    if (!m || i >= m->iqv.n) return MIAW_E_NOTFOUND;
    mcall *c = m->iqv.v[i];
    int rc = call_ready(c);
    if (rc) return rc;
    json_t *reply = NULL;
    if (parse_json(reply_json, "iq reply", &reply) != MIAW_OK) return MIAW_E_INVAL;
    if (status == MIAW_E_GONE) status = MIAW_E_STATE;
    if (status == MIAW_E_TIMEOUT || status == MIAW_E_STATE) {
        json_decref(reply);
        reply = NULL;
    } else if (!reply && status == MIAW_OK) {
        reply = json_pack("{s:s,s:{s:s,s:s,s:{s:s}}}", "tag", "iq", "attrs", "id", c->iq_id, "type", "result", "from",
                          "jid", "s.whatsapp.net");
    }
    char dbuf[200] = "";
    if (!detail && status == MIAW_E_IO) {
        const json_t *kids = json_object_get(reply, "content"), *e = NULL;
        for (size_t k = 0; k < json_array_size(kids) && !e; k++)
            if (streq(json_string_value(json_object_get(json_array_get(kids, k), "tag")), "error"))
                e = json_array_get(kids, k);
        const char *code = miaw_mock_str(e, "attrs.code"), *text = miaw_mock_str(e, "attrs.text");
        snprintf(dbuf, sizeof dbuf, "%s %s", code ? code : "?", text ? text : "");
        detail = dbuf;
    } else if (!detail && status == MIAW_E_TIMEOUT) detail = "the server did not answer in time";
    else if (!detail && status == MIAW_E_STATE) detail = "the connection closed";
    miaw_iq_fn cb = c->iq_cb;
    void *ud = c->udata;
    call_done(c, json_pack("{s:i,s:O?,s:s?}", "status", status, "reply", reply, "detail", detail));
    cb(status, reply, detail, ud);
    json_decref(reply);
    return MIAW_OK;
}

static json_t *fake_upload_result(miaw_mock *m, mcall *c)
{
    unsigned char k[32];
    char *b[3];
    for (int n = 0; n < 3; n++) {
        for (size_t j = 0; j < sizeof k; j++) k[j] = (unsigned char)(c->id * 31u + (unsigned)n * 7u + j);
        b[n] = b64_encode(k, sizeof k);
    }
    char url[96], dp[64], len[32], ts[32];
    unsigned long long id = (unsigned long long)++m->next_media;
    snprintf(dp, sizeof dp, "/v/t62.mock/%llu", id);
    snprintf(url, sizeof url, "https://mmg.whatsapp.net%s", dp);
    snprintf(len, sizeof len, "%llu", (unsigned long long)c->len);
    snprintf(ts, sizeof ts, "%lld", (long long)(m->now / 1000));
    json_t *r = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:s}", "url", url, "directPath", dp, "mediaKey", b[0],
                          "fileSha256", b[1], "fileEncSha256", b[2], "fileLength", len, "mediaKeyTimestamp", ts);
    for (int n = 0; n < 3; n++) free(b[n]);
    return r;
}

/* ---- app-state (ABI 1.4) ---- */
const json_t *miaw_mock_appstate_calls(miaw_mock *m) { return m ? m->appstate : NULL; }

int miaw_mock_complete_appstate(miaw_mock *m, size_t i, int status, const char *detail)
{
    mcall *c = NULL;
    for (size_t k = 0, n = 0; m && k < m->asv.n; k++) /* i counts pushes only, as in the records */
        if (n++ == i) c = m->asv.v[k];
    if (!c) return MIAW_E_NOTFOUND;
    int rc = call_ready(c);
    if (rc) return rc;
    json_t *result = NULL;
    if (status == MIAW_OK) {
        const char *coll = json_string_value(json_object_get(c->message, "collection"));
        int ci = as_coll(coll);
        asver *a = as_ver(m, c->inst);
        if (!a || ci < 0) return MIAW_E_NOMEM;
        a->v[ci]++;
        size_t j;
        json_t *mu;
        json_array_foreach(json_object_get(c->message, "mutations"), j, mu)
        {
            int rm = streq(json_string_value(json_object_get(mu, "operation")), "remove");
            if (!rm) a->entries[ci]++;
            else if (a->entries[ci]) a->entries[ci]--;
        }
        result = json_pack("{s:s,s:I}", "collection", coll, "version", (json_int_t)a->v[ci]);
    } else if (!detail) {
        detail = status == MIAW_E_STATE ? "the instance is not connected" : "the server refused the patch";
    }
    miaw_appstate_push_fn cb = c->as_cb;
    void *ud = c->udata;
    call_done(c, json_pack("{s:i,s:O?,s:s?}", "status", status, "result", result, "detail", detail));
    cb(status, result, detail, ud);
    json_decref(result);
    return MIAW_OK;
}

int miaw_mock_appstate_deliver(miaw_mock *m, const char *instance_id, const char *mutation_json)
{
    json_t *mu = NULL;
    if (!m || !instance_id || parse_json(mutation_json, "app-state mutation", &mu) != MIAW_OK) return MIAW_E_INVAL;
    const char *coll = json_string_value(json_object_get(mu, "collection"));
    if (!json_is_object(mu) || as_coll(coll) < 0 || !json_is_array(json_object_get(mu, "index"))) {
        json_decref(mu);
        return MIAW_E_INVAL;
    }
    int n = 0;
    miaw_id last = 0;
    for (;;) { /* a handler may unsubscribe: walk by id */
        asub *a = m->asubs;
        while (a && a->id <= last) a = a->next;
        if (!a) break;
        last = a->id;
        if (a->coll && strcmp(a->coll, coll)) continue;
        a->fn(instance_id, mu, a->udata);
        n++;
    }
    json_decref(mu);
    return n;
}

int miaw_mock_complete_media(miaw_mock *m, size_t i, int status, const char *result_json, const char *detail)
{
    if (!m || i >= m->mediav.n) return MIAW_E_NOTFOUND;
    mcall *c = m->mediav.v[i];
    int rc = call_ready(c);
    if (rc) return rc;
    json_t *result = NULL;
    if (parse_json(result_json, "media result", &result) != MIAW_OK) return MIAW_E_INVAL;
    if (status != MIAW_OK) {
        json_decref(result);
        result = NULL;
        if (!detail) detail = status == MIAW_E_GONE ? "the server no longer has the media" : "the transfer failed";
    } else if (!result) {
        char len[32];
        snprintf(len, sizeof len, "%llu", (unsigned long long)c->fed);
        result = c->kind == K_UPLOAD ? fake_upload_result(m, c) : json_pack("{s:s}", "fileLength", len);
    }
    if (c->kind == K_DOWNLOAD && c->path) {
        char *pp = part_path(c->path);
        if (pp && status == MIAW_OK) {
            struct stat st;
            if (stat(pp, &st) != 0) { /* nothing fed: an empty file */
                FILE *f = fopen(pp, "wb");
                if (f) fclose(f);
            }
            if (rename(pp, c->path) != 0) {
                status = MIAW_E_IO;
                detail = "cannot rename the downloaded file";
                json_decref(result);
                result = NULL;
            }
        } else if (pp) {
            remove(pp);
        }
        free(pp);
    }
    miaw_media_fn cb = c->media_cb;
    void *ud = c->udata;
    call_done(c, json_pack("{s:i,s:O?,s:s?}", "status", status, "result", result, "detail", detail));
    cb(status, result, detail, ud);
    json_decref(result);
    return MIAW_OK;
}

int miaw_mock_media_feed(miaw_mock *m, size_t i, const void *data, size_t len)
{
    if (!m || i >= m->mediav.n) return MIAW_E_NOTFOUND;
    mcall *c = m->mediav.v[i];
    if (c->kind != K_DOWNLOAD) return MIAW_E_INVAL;
    int rc = call_ready(c);
    if (rc) return rc;
    if (c->path) {
        char *pp = part_path(c->path);
        FILE *f = pp ? fopen(pp, "ab") : NULL;
        free(pp);
        if (!f) return MIAW_E_IO;
        size_t w = len ? fwrite(data, 1, len, f) : 0;
        if (fclose(f) != 0 || w != len) return MIAW_E_IO;
        c->fed += len;
        return MIAW_OK;
    }
    c->fed += len;
    if (c->chunk_cb(data, len, c->udata) == 0) return MIAW_OK;
    miaw_media_fn cb = c->media_cb;
    void *ud = c->udata;
    if (c->state != ST_PENDING) return MIAW_E_INTERNAL; /* cancelled from inside its chunk callback */
    call_done(c, json_pack("{s:i,s:s}", "status", MIAW_E_INTERNAL, "detail", "stopped by the plugin"));
    cb(MIAW_E_INTERNAL, NULL, "stopped by the plugin", ud);
    return MIAW_E_INTERNAL;
}

int miaw_mock_complete_fetch(miaw_mock *m, size_t i, int status, const void *data, size_t len, const char *content_type,
                             const char *detail)
{
    if (!m || i >= m->fetchv.n) return MIAW_E_NOTFOUND;
    mcall *c = m->fetchv.v[i];
    int rc = call_ready(c);
    if (rc) return rc;
    char dbuf[160], path[4096] = "";
    if (status == MIAW_OK && len > c->max_bytes) status = MIAW_E_LIMIT, detail = NULL; /* as the host checks */
    if (status == MIAW_OK) {
        int fd = mock_tmpfile("fetch", path, sizeof path);
        int ok = fd >= 0 && (!len || write_all(fd, data, len) == 0);
        if (fd >= 0 && close(fd) != 0) ok = 0;
        if (!ok) {
            if (fd >= 0) remove(path);
            return MIAW_E_IO;
        }
    } else if (!detail) {
        if (status == MIAW_E_LIMIT) snprintf(dbuf, sizeof dbuf, "the body is larger than %llu bytes", (unsigned long long)c->max_bytes);
        else if (status == MIAW_E_TIMEOUT) snprintf(dbuf, sizeof dbuf, "no complete answer within %u ms", c->timeout_ms);
        else if (status == MIAW_E_INVAL) snprintf(dbuf, sizeof dbuf, "only http and https URLs can be fetched, redirects included");
        else snprintf(dbuf, sizeof dbuf, "the transfer failed");
        detail = dbuf;
    }
    miaw_fetch_fn cb = c->fetch_cb;
    void *ud = c->udata;
    call_done(c, status == MIAW_OK ? json_pack("{s:i,s:s,s:s?,s:I}", "status", status, "path", path, "contentType",
                                               content_type, "size", (json_int_t)len)
                                   : json_pack("{s:i,s:s}", "status", status, "detail", detail));
    if (status == MIAW_OK) cb(MIAW_OK, path, content_type, len, NULL, ud);
    else cb(status, NULL, NULL, 0, detail, ud);
    return MIAW_OK;
}

/* ================================================================ public: events, stanzas */
int miaw_mock_emit(miaw_mock *m, const char *type, const char *instance_id, const char *data_json)
{
    if (!m || !valid_event_name(type)) return MIAW_E_INVAL;
    json_t *data;
    if (parse_json(data_json, "event data", &data) != MIAW_OK) return MIAW_E_INVAL;
    return bus_emit(m, "core", type, instance_id, data, ++m->next_event);
}

const json_t *miaw_mock_events(miaw_mock *m) { return m ? m->events : NULL; }

static int attr_is(const json_t *node, const char *key, const char *want)
{
    if (!want) return 1;
    const json_t *v = json_object_get(json_object_get(node, "attrs"), key);
    if (json_is_object(v)) v = json_object_get(v, "jid");
    return streq(json_string_value(v), want);
}

static int ssub_matches(const ssub *s, const json_t *n)
{
    if (s->tag && !streq(json_string_value(json_object_get(n, "tag")), s->tag)) return 0;
    if (!attr_is(n, "type", s->type) || !attr_is(n, "xmlns", s->xmlns)) return 0;
    if (s->child) {
        const json_t *c = json_object_get(n, "content");
        const json_t *first = json_is_array(c) ? json_array_get(c, 0) : NULL;
        if (!first || !streq(json_string_value(json_object_get(first, "tag")), s->child)) return 0;
    }
    return 1;
}

int miaw_mock_deliver(miaw_mock *m, const char *instance_id, const char *node_json)
{
    if (!m || !instance_id || !node_json) return MIAW_E_INVAL;
    json_t *n;
    if (parse_json(node_json, "stanza", &n) != MIAW_OK) return MIAW_E_INVAL;
    if (!json_is_string(json_object_get(n, "tag"))) {
        json_decref(n);
        return MIAW_E_INVAL;
    }
    int calls = 0;
    for (ssub *s = m->ssubs; s; s = s->next)
        if (ssub_matches(s, n)) {
            s->fn(instance_id, n, s->udata);
            calls++;
        }
    json_decref(n);
    return calls;
}

/* ================================================================ public: timers, kv, logs */
int miaw_mock_run_timers(miaw_mock *m, uint64_t advance_ms)
{
    if (!m) return 0;
    int64_t target = m->now + (int64_t)advance_ms;
    int fired = 0;
    for (;;) {
        /* the earliest due thing: a timer (start order on ties), then requests, IQs, sends, fetches */
        mtimer *tbest = NULL;
        for (mtimer *t = m->timers; t; t = t->next)
            if (!tbest || t->due < tbest->due || (t->due == tbest->due && t->seq < tbest->seq)) tbest = t;
        struct miaw_req *rbest = NULL;
        for (struct miaw_req *r = m->reqs; r; r = r->next)
            if (req_pending(r) && (!rbest || r->deadline < rbest->deadline)) rbest = r;
        mcall *cbest = NULL;
        cvec *vs[] = {&m->iqv, &m->sendv, &m->fetchv};
        for (size_t k = 0; k < 3; k++)
            for (size_t i = 0; i < vs[k]->n; i++) {
                mcall *c = vs[k]->v[i];
                if (c->state == ST_PENDING && c->deadline && (!cbest || c->deadline < cbest->deadline)) cbest = c;
            }
        int64_t due = INT64_MAX;
        int which = 0;
        if (tbest) due = tbest->due, which = 1;
        if (rbest && rbest->deadline < due) due = rbest->deadline, which = 2;
        if (cbest && cbest->deadline < due) due = cbest->deadline, which = 3;
        if (!which || due > target) break;
        if (due > m->now) m->now = due;
        if (++fired > 1000000) {
            violation(m, "timers keep falling due at %lld ms: stopped after a million callbacks", (long long)m->now);
            break;
        }
        if (which == 1) {
            miaw_timer_fn fn = tbest->fn;
            void *ud = tbest->udata;
            miaw_id id = tbest->id;
            if (tbest->repeat) {
                tbest->due = m->now + tbest->repeat;
                tbest->seq = ++m->next_seq;
            } else {
                timer_unlink(m, tbest); /* one-shot: gone before its callback runs */
            }
            fn(id, ud);
        } else if (which == 2) {
            req_abort(rbest, MIAW_E_TIMEOUT);
        } else {
            cvec *v = cbest->kind == K_IQ ? &m->iqv : cbest->kind == K_FETCH ? &m->fetchv : &m->sendv;
            size_t idx = 0;
            while (v->v[idx] != cbest) idx++;
            if (cbest->kind == K_IQ) miaw_mock_complete_iq(m, idx, MIAW_E_TIMEOUT, NULL, NULL);
            else if (cbest->kind == K_FETCH) miaw_mock_complete_fetch(m, idx, MIAW_E_TIMEOUT, NULL, 0, NULL, NULL);
            else miaw_mock_complete_send(m, idx, MIAW_E_TIMEOUT, NULL, 0, NULL);
        }
    }
    if (target > m->now) m->now = target;
    return fired;
}

size_t miaw_mock_timer_count(const miaw_mock *m)
{
    size_t n = 0;
    for (mtimer *t = m ? m->timers : NULL; t; t = t->next) n++;
    return n;
}

const json_t *miaw_mock_kv(miaw_mock *m, const char *plugin, const char *instance_id, const char *key)
{
    if (!m || !plugin || !key) return NULL;
    kvrow **pp = kv_slot(m, plugin, instance_id, key);
    return *pp ? (*pp)->v : NULL;
}

int miaw_mock_kv_put(miaw_mock *m, const char *plugin, const char *instance_id, const char *key, const char *json)
{
    if (!m || !plugin || !key) return MIAW_E_INVAL;
    if (!json) {
        kvrow **pp = kv_slot(m, plugin, instance_id, key);
        if (*pp) kv_unlink(pp);
        return MIAW_OK;
    }
    json_t *v;
    if (parse_json(json, "kv value", &v) != MIAW_OK) return MIAW_E_INVAL;
    int rc = kv_store(m, plugin, instance_id, key, v);
    json_decref(v);
    return rc;
}

const json_t *miaw_mock_logs(miaw_mock *m) { return m ? m->logs : NULL; }
const json_t *miaw_mock_violations(miaw_mock *m) { return m ? m->violations : NULL; }

/* ================================================================ public: free */
void miaw_mock_free(miaw_mock *m)
{
    if (!m) return;
    for (struct miaw_req *r = m->reqs; r; r = r->next) /* as at shutdown: abort while plugins are loaded */
        if (req_pending(r)) req_abort(r, MIAW_E_GONE);
    while (m->plugins) {
        miaw_plugin *last = m->plugins;
        while (last->next) last = last->next;
        miaw_mock_unload(m, last);
    }
    while (m->reqs) {
        struct miaw_req *r = m->reqs;
        m->reqs = r->next;
        if (r->reply) { /* an answer nobody collected stays with its reply; just unlink */
            r->reply->req_ = NULL;
            r->reply->pending = 0;
        }
        req_free(r);
    }
    cvec *vs[] = {&m->sendv, &m->iqv, &m->mediav, &m->fetchv, &m->asv};
    for (size_t k = 0; k < 5; k++) {
        for (size_t i = 0; i < vs[k]->n; i++) call_free(vs[k]->v[i]);
        free(vs[k]->v);
    }
    while (m->asvers) {
        asver *a = m->asvers;
        m->asvers = a->next;
        free(a->inst);
        free(a);
    }
    json_decref(m->appstate);
    while (m->qhead) {
        equeued *q = m->qhead;
        m->qhead = q->next;
        free(q->type);
        free(q->source);
        free(q->inst);
        json_decref(q->data);
        free(q);
    }
    while (m->kv) kv_unlink(&m->kv);
    while (m->refusals) {
        refusal *r = m->refusals;
        m->refusals = r->next;
        free(r->service);
        free(r->field);
        free(r->err);
        free(r);
    }
    free(m->refused_field);
    while (m->insts) {
        minst *i = m->insts;
        m->insts = i->next;
        free(i->id);
        json_decref(i->obj);
        free(i);
    }
    while (m->msgs) {
        mmsg *g = m->msgs;
        m->msgs = g->next;
        free(g->inst);
        free(g->id);
        json_decref(g->obj);
        free(g);
    }
    json_decref(m->sends);
    json_decref(m->iqs);
    json_decref(m->media);
    json_decref(m->fetches);
    json_decref(m->stanzas);
    json_decref(m->events);
    json_decref(m->logs);
    json_decref(m->violations);
    json_decref(m->lists);
    while (m->hscripts) {
        hscript *h = m->hscripts;
        m->hscripts = h->next;
        free(h->service);
        json_decref(h->answer);
        free(h);
    }
    for (miaw_mock **pp = &g_clock; *pp; pp = &(*pp)->older)
        if (*pp == m) {
            *pp = m->older;
            break;
        }
    free(m);
}
