/* core/http/apikeys.c - scoped API keys (see apikeys.h): the in-memory set loaded from
 * table api_keys, the check of a presented key, and the admin routes that create, list
 * and revoke keys. A key reads mk_<id>_<secret>: 16 hex digits of id, 40 of secret; the
 * row keeps the id, the SHA-256 of the secret (hex), the instances (JSON array) and the
 * permissions. Owns the key records and their strings. */
#include "http/apikeys.h"

#include "base/log.h"
#include "base/util.h"
#include "http/http.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_HEX 16
#define SECRET_HEX 40
#define MAX_KEYS 1000
#define MAX_KEY_INSTANCES 64

typedef struct key_rec {
    char id[ID_HEX + 1];
    char hash[65];
    char *name;
    json_t *instances; /* array of strings */
    unsigned perms;
    int64_t created_ms;
    struct key_rec *next;
} key_rec;

struct miaw_apikeys {
    miaw_storage *db;
    key_rec *head;
    size_t n;
};

static void rec_free(key_rec *r)
{
    free(r->name);
    json_decref(r->instances);
    free(r);
}

static void sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int ml = 0;
    EVP_Digest(s, n, md, &ml, EVP_sha256(), NULL);
    miaw_hex(out, md, 32);
}

static json_t *perms_json(unsigned p)
{
    json_t *a = json_array();
    if (p & MIAW_KEY_PERM_READ) json_array_append_new(a, json_string("read"));
    if (p & MIAW_KEY_PERM_SEND) json_array_append_new(a, json_string("send"));
    return a;
}

static json_t *rec_json(const key_rec *r)
{
    char ts[40];
    miaw_iso8601(ts, sizeof ts, r->created_ms);
    return json_pack("{s:s,s:s,s:O,s:o,s:s}", "id", r->id, "name", r->name ? r->name : "", "instances", r->instances,
                     "permissions", perms_json(r->perms), "createdAt", ts);
}

miaw_apikeys *miaw_apikeys_new(miaw_storage *db, char *err, size_t errlen)
{
    miaw_apikeys *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->db = db;
    if (!db || !db->db) return k; /* no storage: no scoped keys */
    if (miaw_storage_exec(db, "CREATE TABLE IF NOT EXISTS api_keys(id TEXT PRIMARY KEY, name TEXT NOT NULL, "
                              "hash TEXT NOT NULL, instances TEXT NOT NULL, perms INTEGER NOT NULL, "
                              "created_at INTEGER NOT NULL)") != 0) {
        snprintf(err, errlen, "api_keys: cannot create the table");
        free(k);
        return NULL;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db, "SELECT id, name, hash, instances, perms, created_at FROM api_keys ORDER BY created_at",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "api_keys: %s", sqlite3_errmsg(db->db));
        free(k);
        return NULL;
    }
    key_rec **tail = &k->head;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0), *hash = (const char *)sqlite3_column_text(st, 2);
        json_t *inst = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
        if (!id || !hash || strlen(id) != ID_HEX || strlen(hash) != 64 || !json_is_array(inst)) {
            json_decref(inst);
            continue;
        }
        key_rec *r = calloc(1, sizeof *r);
        if (!r) {
            json_decref(inst);
            break;
        }
        memcpy(r->id, id, ID_HEX + 1);
        memcpy(r->hash, hash, 65);
        r->name = strdup(sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
        r->instances = inst;
        r->perms = (unsigned)sqlite3_column_int(st, 4);
        r->created_ms = sqlite3_column_int64(st, 5);
        *tail = r;
        tail = &r->next;
        k->n++;
    }
    sqlite3_finalize(st);
    return k;
}

void miaw_apikeys_free(miaw_apikeys *k)
{
    if (!k) return;
    while (k->head) {
        key_rec *r = k->head;
        k->head = r->next;
        rec_free(r);
    }
    free(k);
}

size_t miaw_apikeys_count(const miaw_apikeys *k) { return k ? k->n : 0; }

static key_rec *find(const miaw_apikeys *k, const char *id, size_t idl)
{
    for (key_rec *r = k->head; r; r = r->next)
        if (idl == ID_HEX && memcmp(r->id, id, ID_HEX) == 0) return r;
    return NULL;
}

int miaw_apikeys_check(const miaw_apikeys *k, const char *token, char *id, size_t idlen, unsigned *perms)
{
    if (!k || !token || strncmp(token, "mk_", 3) != 0 || strlen(token) != 3 + ID_HEX + 1 + SECRET_HEX ||
        token[3 + ID_HEX] != '_')
        return -1;
    key_rec *r = find(k, token + 3, ID_HEX);
    if (!r) return -1;
    char h[65];
    sha256_hex(token + 4 + ID_HEX, SECRET_HEX, h);
    if (!miaw_ct_equal(h, 64, r->hash, 64)) return -1;
    snprintf(id, idlen, "%s", r->id);
    *perms = r->perms;
    return 0;
}

int miaw_apikeys_allows(const miaw_apikeys *k, const char *id, const char *instance)
{
    key_rec *r = k && id ? find(k, id, strlen(id)) : NULL;
    if (!r || !instance) return 0;
    size_t i;
    json_t *v;
    json_array_foreach(r->instances, i, v) if (strcmp(json_string_value(v), instance) == 0) return 1;
    return 0;
}

/* ------------------------------------------------------------------ routes */
static int h_create(miaw_req *q, void *ud)
{
    miaw_apikeys *k = ud;
    const json_t *b = miaw_req_body(q);
    if (!k->db || !k->db->db) return miaw_req_reply_err(q, MIAW_ERR_UNAVAILABLE, NULL, "no storage for API keys");
    if (k->n >= MAX_KEYS)
        return miaw_req_reply_code(q, 409, "CONFLICT", json_pack("{s:i}", "max", MAX_KEYS), "too many API keys; revoke some first");
    unsigned perms = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(b, "permissions"), i, v)
        perms |= strcmp(json_string_value(v), "read") == 0 ? MIAW_KEY_PERM_READ : MIAW_KEY_PERM_SEND;
    json_t *inst = json_array();
    json_array_foreach(json_object_get(b, "instances"), i, v) {
        int dup = 0;
        size_t j;
        json_t *w;
        json_array_foreach(inst, j, w) dup |= json_equal(v, w);
        if (!dup) json_array_append(inst, v);
    }
    key_rec *r = calloc(1, sizeof *r);
    char secret[SECRET_HEX + 1], token[3 + ID_HEX + 1 + SECRET_HEX + 1];
    if (!r || miaw_random_hex(r->id, ID_HEX / 2) != 0 || miaw_random_hex(secret, SECRET_HEX / 2) != 0) {
        free(r);
        json_decref(inst);
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot draw a key");
    }
    sha256_hex(secret, SECRET_HEX, r->hash);
    const char *name = json_string_value(json_object_get(b, "name"));
    r->name = strdup(name ? name : "");
    r->instances = inst;
    r->perms = perms;
    r->created_ms = miaw_now_ms();
    char *itxt = json_dumps(inst, JSON_COMPACT);
    sqlite3_stmt *st = NULL;
    int ok = itxt && sqlite3_prepare_v2(k->db->db, "INSERT INTO api_keys(id,name,hash,instances,perms,created_at) VALUES(?,?,?,?,?,?)",
                                        -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, itxt, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, (int)perms);
        sqlite3_bind_int64(st, 6, r->created_ms);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    free(itxt);
    if (!ok) {
        MIAW_ERR("apikeys", "cannot store a key: %s", sqlite3_errmsg(k->db->db));
        rec_free(r);
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot store the key");
    }
    r->next = k->head;
    k->head = r;
    k->n++;
    snprintf(token, sizeof token, "mk_%s_%s", r->id, secret);
    json_t *out = rec_json(r);
    json_object_set_new(out, "key", json_string(token));
    MIAW_INFO("apikeys", "key %s created (%s), instances %zu", r->id, r->name, json_array_size(inst));
    return miaw_req_reply_data(q, 201, out);
}

static int h_list(miaw_req *q, void *ud)
{
    miaw_apikeys *k = ud;
    json_t *a = json_array();
    for (key_rec *r = k->head; r; r = r->next) json_array_append_new(a, rec_json(r));
    return miaw_req_reply_data(q, 200, a);
}

static int h_revoke(miaw_req *q, void *ud)
{
    miaw_apikeys *k = ud;
    const char *id = miaw_req_param(q, "keyId");
    key_rec **pp = &k->head;
    while (*pp && strcmp((*pp)->id, id) != 0) pp = &(*pp)->next;
    if (!*pp) return miaw_req_reply_code(q, 404, "NOT_FOUND", json_pack("{s:s}", "keyId", id), "no such API key");
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(k->db->db, "DELETE FROM api_keys WHERE id = ?", -1, &st, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (!ok) return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot revoke the key");
    key_rec *r = *pp;
    *pp = r->next;
    k->n--;
    MIAW_INFO("apikeys", "key %s revoked", r->id);
    json_t *out = json_pack("{s:s,s:b}", "id", r->id, "revoked", 1);
    rec_free(r);
    return miaw_req_reply_data(q, 200, out);
}

static const char *const PERMS[] = {"read", "send", NULL};
static const miaw_field PERM_ITEM[] = {{.type = MIAW_T_STRING, .enum_values = PERMS}, {0}};
static const miaw_field INST_ITEM[] = {{.type = MIAW_T_STRING, .flags = MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 128}, {0}};
static const miaw_field CREATE_BODY[] = {
    {.name = "name", .type = MIAW_T_STRING, .flags = MIAW_F_HAS_MAX, .max = 100, .description = "a label for people",
     .example = "\"billing-bot\""},
    {.name = "instances", .type = MIAW_T_ARRAY, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 1,
     .max = MAX_KEY_INSTANCES, .items = INST_ITEM, .description = "the instances the key is valid for",
     .example = "[\"shop\"]"},
    {.name = "permissions", .type = MIAW_T_ARRAY, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 1,
     .max = 2, .items = PERM_ITEM,
     .description = "read: GET routes of those instances; send: every other method on them (sending, connecting ...)",
     .example = "[\"read\",\"send\"]"},
    {0}};

int miaw_apikeys_routes(miaw_apikeys *k, miaw_router *rt, char *err, size_t errlen)
{
    const char *ex = "{\"id\":\"3f2a9c0d1b7e4a55\",\"name\":\"billing-bot\",\"instances\":[\"shop\"],"
                     "\"permissions\":[\"read\",\"send\"],\"createdAt\":\"2026-01-01T10:00:00.000Z\","
                     "\"key\":\"mk_3f2a9c0d1b7e4a55_0123456789abcdef0123456789abcdef01234567\"}";
    const miaw_route create = {MIAW_ROUTE_INIT, .method = "POST", .path = "/keys", .handler = h_create, .udata = k,
                               .body = CREATE_BODY, .operation_id = "createApiKey", .summary = "Create a scoped API key",
                               .description = "Admin key only. The key (`key`) is in this answer only: the server keeps "
                                              "its SHA-256. A scoped key works on the listed instances' routes: "
                                              "`read` allows GET, `send` every other method; instance management, "
                                              "webhook settings and key management stay with the admin key.",
                               .tag = "Keys", .response_example = ex};
    const miaw_route list = {MIAW_ROUTE_INIT, .method = "GET", .path = "/keys", .handler = h_list, .udata = k,
                             .operation_id = "listApiKeys", .summary = "List scoped API keys (without secrets)",
                             .description = "Admin key only.", .tag = "Keys",
                             .response_example = "[{\"id\":\"3f2a9c0d1b7e4a55\",\"name\":\"billing-bot\",\"instances\":"
                                                 "[\"shop\"],\"permissions\":[\"read\"],\"createdAt\":"
                                                 "\"2026-01-01T10:00:00.000Z\"}]"};
    const miaw_route revoke = {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/keys/{keyId}", .handler = h_revoke,
                               .udata = k, .operation_id = "revokeApiKey", .summary = "Revoke a scoped API key",
                               .description = "Admin key only. The key stops working at once.", .tag = "Keys",
                               .response_example = "{\"id\":\"3f2a9c0d1b7e4a55\",\"revoked\":true}"};
    if (miaw_router_add(rt, &create, MIAW_ROUTE_ADMIN, NULL, err, errlen) ||
        miaw_router_add(rt, &list, MIAW_ROUTE_ADMIN, NULL, err, errlen) ||
        miaw_router_add(rt, &revoke, MIAW_ROUTE_ADMIN, NULL, err, errlen))
        return -1;
    return 0;
}
