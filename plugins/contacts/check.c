/* plugins/contacts/check.c - "is this number on WhatsApp?": POST /contacts/check and
 * /contacts/check-batch. Numbers are normalized (invalid ones flagged in a batch, a 400
 * for a single check), answered from the instance's cache while fresh, the rest asked
 * with usync `contact` + `lid` queries of at most `usync_chunk` numbers each (facts
 * 11.6), sent together; the instance's rate-limit bucket counts the numbers asked and a
 * call that would overdraw it is a 429 RATE_LIMITED with Retry-After. Owns its check jobs
 * (freed once answered or aborted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.h"

typedef struct chk_job {
    ct_state *st;
    miaw_req *req;
    char inst[128];
    int single;
    json_t *results;     /* one object per input, in input order */
    json_t *wait;        /* digits -> [indexes] still waiting for WhatsApp */
    size_t outstanding;  /* IQs in flight */
    miaw_id *handles;
    size_t nh;
    int fail;            /* first failure's status (MIAW_E_*), 0 = none */
    char detail[160];
    size_t queries, asked;
} chk_job;

static void job_free(chk_job *j)
{
    json_decref(j->results);
    json_decref(j->wait);
    free(j->handles);
    free(j);
}

static json_t *result_of(const char *phone, const json_t *entry, int cached)
{
    int e = json_is_true(json_object_get(entry, "e"));
    json_t *jid = json_object_get(entry, "j"), *lid = json_object_get(entry, "l");
    return json_pack("{s:s,s:b,s:b,s:O,s:O,s:b}", "phone", phone, "valid", 1, "exists", e, "jid",
                     e && jid ? jid : json_null(), "lid", e && lid ? lid : json_null(), "cached", cached);
}

static void fill(chk_job *j, const char *digits, const json_t *entry)
{
    json_t *idx = json_object_get(j->wait, digits);
    size_t i;
    json_t *v;
    json_array_foreach(idx, i, v) {
        size_t k = (size_t)json_integer_value(v);
        const char *phone = json_string_value(json_object_get(json_array_get(j->results, k), "phone"));
        json_array_set_new(j->results, k, result_of(phone ? phone : digits, entry, 0));
    }
    json_object_del(j->wait, digits);
}

static void finish(chk_job *j)
{
    ct_state *st = j->st;
    if (j->fail) {
        st->api->reply_status(j->req, j->fail, NULL, "the number check failed: %s", j->detail);
    } else {
        /* a number the server did not list is not on WhatsApp */
        const char *k;
        json_t *v, *tmp;
        json_t *no = json_pack("{s:b}", "e", 0);
        json_object_foreach_safe(j->wait, tmp, k, v) fill(j, k, no);
        json_decref(no);
        if (j->single) {
            json_t *r = json_incref(json_array_get(j->results, 0));
            json_object_del(r, "valid");
            st->api->reply_json(j->req, 200, r);
        } else {
            size_t n = json_array_size(j->results), in = 0, bad = 0, i;
            json_t *v2;
            json_array_foreach(j->results, i, v2) {
                if (!json_is_true(json_object_get(v2, "valid"))) bad++;
                else if (json_is_true(json_object_get(v2, "exists"))) in++;
            }
            st->api->reply_json(j->req, 200,
                                json_pack("{s:O,s:{s:I,s:I,s:I,s:I,s:I}}", "results", j->results, "summary", "total",
                                          (json_int_t)n, "exists", (json_int_t)in, "invalid", (json_int_t)bad,
                                          "asked", (json_int_t)j->asked, "queries", (json_int_t)j->queries));
        }
    }
    job_free(j);
}

/* digits of a <user> of the answer: its jid (PN) or the echo of the <contact> query */
static void user_digits(const json_t *u, char *out, size_t cap)
{
    const char *jid = miaw_jnode_attr(u, "jid"), *pn = miaw_jnode_attr(u, "pn_jid");
    if (jid && strstr(jid, "@lid") && pn) jid = pn;
    out[0] = 0;
    if (jid && strstr(jid, "@s.whatsapp.net")) {
        snprintf(out, cap, "%.*s", (int)strcspn(jid, ":@"), jid);
        return;
    }
    json_t *echo = miaw_jnode_text(miaw_jnode_child(u, "contact"));
    const char *why;
    if (echo && ct_phone_digits(json_string_value(echo), out, cap, &why)) out[0] = 0;
    json_decref(echo);
}

static void on_usync(int status, const json_t *reply, const char *detail, void *ud)
{
    chk_job *j = ud;
    ct_state *st = j->st;
    j->outstanding--;
    if (status != MIAW_OK) {
        if (!j->fail) {
            j->fail = status == MIAW_E_IO ? MIAW_E_IO : status;
            snprintf(j->detail, sizeof j->detail, "%s", detail ? detail : "usync failed");
        }
    } else {
        ct_inst *in = ct_inst_get(st, j->inst);
        const json_t *list = miaw_jnode_child(miaw_jnode_child(reply, "usync"), "list");
        const json_t *users = json_object_get(list, "content");
        size_t i;
        const json_t *u;
        int64_t now = st->api->now_ms();
        json_array_foreach(users, i, u) {
            char digits[32];
            user_digits(u, digits, sizeof digits);
            if (!digits[0]) continue;
            const char *type = miaw_jnode_attr(miaw_jnode_child(u, "contact"), "type");
            int exists = type && !strcmp(type, "in");
            const char *lid = miaw_jnode_attr(miaw_jnode_child(u, "lid"), "val");
            const char *jid = miaw_jnode_attr(u, "jid");
            if (jid && strstr(jid, "@lid")) {
                if (!lid) lid = jid;
                jid = NULL;
            }
            char pj[64];
            snprintf(pj, sizeof pj, "%s@s.whatsapp.net", digits);
            json_t *e = json_pack("{s:b,s:s,s:o,s:I}", "e", exists, "j", pj, "l", lid ? json_string(lid) : json_null(),
                                  "t", (json_int_t)now);
            if (in && st->cache_ttl_s && st->cache_max) {
                if (json_object_size(in->cache) >= st->cache_max) json_object_clear(in->cache);
                json_object_set(in->cache, digits, e);
            }
            fill(j, digits, e);
            json_decref(e);
        }
    }
    if (!j->outstanding) finish(j);
}

static void on_abort(miaw_req *req, int why, void *ud)
{
    (void)req;
    (void)why;
    chk_job *j = ud;
    for (size_t i = 0; i < j->nh; i++) j->st->api->cancel(j->st->self, j->handles[i]);
    job_free(j);
}

static json_t *usync_node(ct_state *st, json_t *users /* stolen */)
{
    char sid[48];
    snprintf(sid, sizeof sid, "ct%lld.%llu", (long long)st->api->now_ms(), (unsigned long long)st->usync_queries);
    return json_pack("{s:s,s:{s:{s:s},s:s,s:s},s:[{s:s,s:{s:s,s:s,s:s,s:s,s:s},s:[{s:s,s:[{s:s},{s:s}]},{s:s,s:o}]}]}",
                     "tag", "iq", "attrs", "to", "jid", "s.whatsapp.net", "type", "get", "xmlns", "usync", "content",
                     "tag", "usync", "attrs", "sid", sid, "mode", "query", "context", "interactive", "index", "0",
                     "last", "true", "content", "tag", "query", "content", "tag", "contact", "tag", "lid", "tag", "list",
                     "content", users);
}

/* answers now (cache, rate limit, errors) or starts the queries: MIAW_OK or MIAW_ASYNC */
static int run(ct_state *st, miaw_req *req, const json_t *phones, int single)
{
    const char *inst = st->api->req_param(req, "instanceId");
    ct_inst *in = ct_inst_get(st, inst);
    chk_job *j = calloc(1, sizeof *j);
    if (!in || !j || !(j->results = json_array()) || !(j->wait = json_object())) {
        if (j) job_free(j);
        return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    }
    j->st = st;
    j->req = req;
    j->single = single;
    snprintf(j->inst, sizeof j->inst, "%s", inst);
    int64_t now = st->api->now_ms();
    size_t i;
    const json_t *p;
    json_array_foreach(phones, i, p) {
        const char *phone = json_string_value(p), *why = NULL;
        char digits[32];
        if (ct_phone_digits(phone, digits, sizeof digits, &why)) {
            if (single) {
                job_free(j);
                return st->api->reply_status(req, MIAW_E_INVAL, "phone", "%s", why), MIAW_OK;
            }
            json_array_append_new(j->results, json_pack("{s:s,s:b,s:b,s:n,s:n,s:s}", "phone", phone, "valid", 0,
                                                        "exists", 0, "jid", "lid", "error", why));
            continue;
        }
        const json_t *c = json_object_get(in->cache, digits);
        if (c && now - json_integer_value(json_object_get(c, "t")) < (int64_t)st->cache_ttl_s * 1000) {
            json_array_append_new(j->results, result_of(phone, c, 1));
            continue;
        }
        json_array_append_new(j->results, json_pack("{s:s}", "phone", phone)); /* filled by the answer */
        json_t *idx = json_object_get(j->wait, digits);
        if (!idx) json_object_set_new(j->wait, digits, idx = json_array());
        json_array_append_new(idx, json_integer((json_int_t)i));
    }
    size_t misses = json_object_size(j->wait);
    if (!misses) {
        finish(j);
        return MIAW_OK;
    }
    int64_t wait = ct_rate_take(st, in, misses);
    if (wait) {
        char ra[32];
        snprintf(ra, sizeof ra, "%lld", (long long)wait);
        if (MIAW_HOST_HAS(st->api, reply_header)) st->api->reply_header(req, "Retry-After", ra);
        st->api->reply_error(req, 429, "RATE_LIMITED",
                             "number checks for this instance are rate limited (%u numbers per minute): %zu numbers "
                             "to ask, retry after %lld s",
                             st->rate_per_minute, misses, (long long)wait);
        job_free(j);
        return MIAW_OK;
    }
    size_t nchunks = (misses + st->chunk - 1) / st->chunk;
    j->handles = calloc(nchunks, sizeof *j->handles);
    if (!j->handles) {
        job_free(j);
        return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    }
    json_t *users = json_array();
    size_t k = 0;
    const char *digits;
    json_t *v;
    char err[256] = "";
    int rc = MIAW_OK;
    json_object_foreach(j->wait, digits, v) {
        char plus[40];
        snprintf(plus, sizeof plus, "+%s", digits);
        json_array_append_new(users, json_pack("{s:s,s:[{s:s,s:s}]}", "tag", "user", "content", "tag", "contact",
                                               "content", plus));
        if (++k % st->chunk && k != misses) continue;
        json_t *node = usync_node(st, users);
        users = json_array();
        rc = st->api->iq(st->self, inst, node, 20000, on_usync, j, &j->handles[j->nh], err, sizeof err);
        json_decref(node);
        if (rc != MIAW_OK) break;
        j->nh++;
        j->outstanding++;
        j->queries++;
        st->usync_queries++;
    }
    json_decref(users);
    j->asked = misses;
    st->numbers_asked += misses;
    if (rc != MIAW_OK) {
        for (size_t h = 0; h < j->nh; h++) st->api->cancel(st->self, j->handles[h]);
        job_free(j);
        return st->api->reply_status(req, rc, NULL, "%s", err[0] ? err : "cannot query WhatsApp"), MIAW_OK;
    }
    st->api->req_suspend(req, on_abort, j);
    return MIAW_ASYNC;
}

static int h_check(miaw_req *req, void *ud)
{
    ct_state *st = ud;
    json_t *one = json_pack("[O]", json_object_get(st->api->req_body(req), "phone"));
    int rc = run(st, req, one, 1);
    json_decref(one);
    return rc;
}

static int h_batch(miaw_req *req, void *ud)
{
    ct_state *st = ud;
    return run(st, req, json_object_get(st->api->req_body(req), "phones"), 0);
}

static const miaw_field PHONE[] = {
    {.name = "phone", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 64,
     .description = "phone number with country code (spaces, +, -, (, ), . allowed) or a phone-number JID",
     .example = "\"+1 555 123 4567\""},
    {0},
};
static const miaw_field PHONE_ITEM[] = {{.type = MIAW_T_STRING, .flags = MIAW_F_HAS_MAX, .max = 64}, {0}};
static const miaw_field PHONES[] = {
    {.name = "phones", .type = MIAW_T_ARRAY, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN | MIAW_F_HAS_MAX, .min = 1,
     .max = CT_BATCH_MAX, .items = PHONE_ITEM,
     .description = "1 to 500 phone numbers; invalid ones are flagged in the results, not refused",
     .example = "[\"15551234567\",\"+44 20 7946 0000\"]"},
    {0},
};

int ct_check_register(ct_state *st, char *err, size_t n)
{
    miaw_route r1 = {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/contacts/check",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_check, .udata = st, .body = PHONE, .tag = "Contacts",
                     .operation_id = "checkNumber", .summary = "Check if a number is on WhatsApp",
                     .description = "Asks WhatsApp (usync contact query) unless the instance checked the number within "
                                    "the cache TTL. Rate limited per instance: 429 RATE_LIMITED with Retry-After.",
                     .response_example = "{\"phone\":\"15551234567\",\"exists\":true,\"jid\":"
                                         "\"15551234567@s.whatsapp.net\",\"lid\":\"123456789012345@lid\","
                                         "\"cached\":false}"};
    miaw_route r2 = {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/contacts/check-batch",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_batch, .udata = st, .body = PHONES, .tag = "Contacts",
                     .operation_id = "checkNumbers", .summary = "Check up to 500 numbers",
                     .description = "One result per input, in input order; invalid numbers have valid=false and an "
                                    "error. Numbers not cached are asked in usync queries of usync_chunk numbers. The "
                                    "numbers asked count against the instance's rate limit (429 RATE_LIMITED with "
                                    "Retry-After when the call would exceed it; nothing is asked then).",
                     .response_example = "{\"results\":[{\"phone\":\"15551234567\",\"valid\":true,\"exists\":true,"
                                         "\"jid\":\"15551234567@s.whatsapp.net\",\"lid\":\"123456789012345@lid\","
                                         "\"cached\":false},{\"phone\":\"12\",\"valid\":false,\"exists\":false,"
                                         "\"jid\":null,\"lid\":null,\"error\":\"too few digits\"}],\"summary\":{"
                                         "\"total\":2,\"exists\":1,\"invalid\":1,\"asked\":1,\"queries\":1}}"};
    int rc = st->api->route_add(st->self, &r1, err, n);
    if (rc == MIAW_OK) rc = st->api->route_add(st->self, &r2, err, n);
    return rc;
}
