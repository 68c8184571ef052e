/* plugins/contacts/contacts.c - the "contacts" feature area (spec 4.4.3) on the generic
 * engine services: the plugin's init/fini and configuration, per-instance records (the
 * number-check cache, the rate-limit bucket), the contacts known from the push names of
 * received messages (kept in the plugin's kv storage) and GET /contacts. Number checks are
 * check.c's, contact info and pictures info.c's, the block list blocklist.c's.
 * Adding and removing contacts (app-state) is not here yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.h"

/* ------------------------------------------------------------------ instances */

ct_inst *ct_inst_get(ct_state *st, const char *id)
{
    for (ct_inst *in = st->insts; in; in = in->next)
        if (!strcmp(in->id, id)) return in;
    ct_inst *in = calloc(1, sizeof *in);
    if (!in || !(in->cache = json_object())) {
        free(in);
        return NULL;
    }
    snprintf(in->id, sizeof in->id, "%s", id);
    in->tokens = st->rate_burst;
    in->refill_ms = st->api->now_ms();
    in->next = st->insts;
    st->insts = in;
    return in;
}

static void inst_free(ct_inst *in)
{
    json_decref(in->cache);
    json_decref(in->known);
    free(in);
}

int64_t ct_rate_take(ct_state *st, ct_inst *in, size_t n)
{
    int64_t now = st->api->now_ms();
    double per_ms = st->rate_per_minute / 60000.0;
    if (now > in->refill_ms) in->tokens += (double)(now - in->refill_ms) * per_ms;
    in->refill_ms = now;
    if (in->tokens > st->rate_burst) in->tokens = st->rate_burst;
    if ((double)n <= in->tokens) {
        in->tokens -= (double)n;
        return 0;
    }
    double wait_s = per_ms > 0 ? ((double)n - in->tokens) / per_ms / 1000.0 : 3600;
    int64_t whole = (int64_t)wait_s; /* rounded up, at least 1 s */
    if ((double)whole < wait_s) whole++;
    return whole < 1 ? 1 : whole;
}

/* ------------------------------------------------------------------ known contacts */

static json_t *known_of(ct_state *st, ct_inst *in)
{
    if (!in->known) {
        json_t *k = st->api->kv_get(st->self, in->id, "known");
        in->known = json_is_object(k) ? k : json_object();
        if (!json_is_object(k)) json_decref(k);
    }
    return in->known;
}

const json_t *ct_known_get(ct_state *st, ct_inst *in, const char *jid) { return json_object_get(known_of(st, in), jid); }
json_t *ct_known_map(ct_state *st, ct_inst *in) { return known_of(st, in); }
void ct_known_touch(ct_inst *in) { in->known_dirty = 1; }

static void on_message(const miaw_event *ev, void *ud)
{
    ct_state *st = ud;
    const json_t *d = ev->data;
    const char *name = json_string_value(json_object_get(d, "senderName"));
    const char *phone = json_string_value(json_object_get(d, "senderPhone"));
    const char *from = json_string_value(json_object_get(d, "from"));
    if (!ev->instance_id || json_is_true(json_object_get(d, "fromMe")) || !name || !*name) return;
    char jid[96];
    if (phone && *phone) snprintf(jid, sizeof jid, "%s@s.whatsapp.net", phone);
    else if (from && !strstr(from, "@g.us")) snprintf(jid, sizeof jid, "%.*s", (int)strcspn(from, ":"), from);
    else return;
    if (!strchr(jid, '@')) return;
    ct_inst *in = ct_inst_get(st, ev->instance_id);
    if (!in) return;
    json_t *k = known_of(st, in);
    json_t *cur = json_object_get(k, jid);
    if (!cur && json_object_size(k) >= CT_KNOWN_MAX) return;
    const char *old = json_string_value(json_object_get(cur, "pushName"));
    int64_t now_s = st->api->now_ms() / 1000;
    if (cur && old && !strcmp(old, name) && now_s - json_integer_value(json_object_get(cur, "lastSeen")) < 60) return;
    json_t *e = json_pack("{s:s,s:o,s:s,s:I}", "jid", jid, "phone", phone && *phone ? json_string(phone) : json_null(),
                          "pushName", name, "lastSeen", (json_int_t)now_s);
    if (cur && json_object_get(cur, "name")) { /* the saved name (app-state) stays */
        json_object_set(e, "name", json_object_get(cur, "name"));
        json_object_set(e, "firstName", json_object_get(cur, "firstName"));
    }
    json_object_set_new(k, jid, e);
    in->known_dirty = 1;
}

static void on_flush(miaw_id t, void *ud)
{
    (void)t;
    ct_state *st = ud;
    for (ct_inst *in = st->insts; in; in = in->next)
        if (in->known_dirty && in->known) {
            st->api->kv_put(st->self, in->id, "known", json_incref(in->known));
            in->known_dirty = 0;
        }
}

static void on_deleted(const miaw_event *ev, void *ud)
{
    ct_state *st = ud;
    for (ct_inst **pp = &st->insts; *pp; pp = &(*pp)->next)
        if (ev->instance_id && !strcmp((*pp)->id, ev->instance_id)) {
            ct_inst *in = *pp;
            *pp = in->next;
            inst_free(in);
            return;
        }
}

static int cmp_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "pushName"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "pushName"));
    int c = strcmp(x ? x : "", y ? y : "");
    if (c) return c;
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "jid")),
                  json_string_value(json_object_get(*(json_t *const *)b, "jid")));
}

/* GET /instances/{instanceId}/contacts: every contact known from push names, by name */
static int h_list(miaw_req *req, void *ud)
{
    ct_state *st = ud;
    ct_inst *in = ct_inst_get(st, st->api->req_param(req, "instanceId"));
    if (!in) return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    json_t *k = known_of(st, in);
    size_t n = json_object_size(k), i = 0;
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (!v) return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    const char *key;
    json_t *val;
    json_object_foreach(k, key, val) v[i++] = val;
    qsort(v, n, sizeof *v, cmp_name);
    json_t *arr = json_array();
    for (i = 0; i < n; i++) {
        json_t *c = json_deep_copy(v[i]);
        if (!json_object_get(c, "name")) json_object_set_new(c, "name", json_null()); /* not saved (app-state) */
        json_array_append_new(arr, c);
    }
    free(v);
    st->api->reply_json(req, 200, json_pack("{s:o,s:I}", "contacts", arr, "total", (json_int_t)n));
    return MIAW_OK;
}

int ct_known_register(ct_state *st, char *err, size_t n)
{
    miaw_route r = {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/contacts",
                    .flags = MIAW_ROUTE_INSTANCE, .handler = h_list, .udata = st, .tag = "Contacts",
                    .operation_id = "listContacts", .summary = "List known contacts",
                    .description = "The contacts this instance knows: everyone whose push name it saw on a received "
                                   "message, and the contacts saved in the account's address book (app-state sync: "
                                   "added through POST .../contacts or on the phone; name = the saved name, null when "
                                   "not saved).",
                    .response_example = "{\"contacts\":[{\"jid\":\"15551234567@s.whatsapp.net\",\"phone\":"
                                        "\"15551234567\",\"pushName\":\"Bob\",\"name\":null,\"lastSeen\":1735118400}],"
                                        "\"total\":1}"};
    int rc = st->api->route_add(st->self, &r, err, n);
    if (rc != MIAW_OK) return rc;
    rc = st->api->event_subscribe(st->self, "message", on_message, st, NULL);
    if (rc == MIAW_OK) rc = st->api->event_subscribe(st->self, "instance.deleted", on_deleted, st, NULL);
    if (rc == MIAW_OK) rc = st->api->timer_start(st->self, 2000, 2000, on_flush, st, NULL);
    if (rc != MIAW_OK) snprintf(err, n, "cannot subscribe to events or start the flush timer (%d)", rc);
    return rc;
}

/* ------------------------------------------------------------------ init */

static int conf_u32(const json_t *config, const char *key, uint32_t def, uint32_t min, uint32_t max, uint32_t *out,
                    char *err, size_t n)
{
    const json_t *v = json_object_get(config, key);
    *out = def;
    if (!v) return MIAW_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(err, n, "config %s: an integer from %u to %u", key, min, max);
        return MIAW_E_INVAL;
    }
    *out = (uint32_t)json_integer_value(v);
    return MIAW_OK;
}

static void ct_fini(void *state)
{
    ct_state *st = state;
    if (!st) return;
    while (st->insts) {
        ct_inst *in = st->insts;
        st->insts = in->next;
        if (in->known_dirty && in->known) st->api->kv_put(st->self, in->id, "known", json_incref(in->known));
        inst_free(in);
    }
    free(st);
}

static int ct_init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **out, char *err,
                   size_t n)
{
    ct_state *st = calloc(1, sizeof *st);
    if (!st) return MIAW_E_NOMEM;
    st->self = self;
    st->api = api;
    int rc = conf_u32(config, "cache_ttl_s", 3600, 0, 30 * 86400, &st->cache_ttl_s, err, n);
    if (rc == MIAW_OK) rc = conf_u32(config, "cache_max", 50000, 0, 10000000, &st->cache_max, err, n);
    if (rc == MIAW_OK) rc = conf_u32(config, "rate_per_minute", 600, 1, 100000000, &st->rate_per_minute, err, n);
    if (rc == MIAW_OK) rc = conf_u32(config, "rate_burst", 1000, CT_BATCH_MAX, 100000000, &st->rate_burst, err, n);
    if (rc == MIAW_OK) rc = conf_u32(config, "usync_chunk", 100, 1, CT_BATCH_MAX, &st->chunk, err, n);
    if (rc == MIAW_OK) rc = ct_check_register(st, err, n);
    if (rc == MIAW_OK) rc = ct_block_register(st, err, n); /* literal /contacts/blocklist before {jid} */
    if (rc == MIAW_OK) rc = ct_info_register(st, err, n);
    if (rc == MIAW_OK) rc = ct_known_register(st, err, n);
    if (rc == MIAW_OK) rc = ct_saved_register(st, err, n);
    if (rc != MIAW_OK) {
        free(st);
        return rc;
    }
    *out = st;
    return MIAW_OK;
}

static const miaw_plugin_desc DESC = {
    MIAW_PLUGIN_DESC_INIT, .abi_minor_required = 3, .name = "contacts", .version = "1.0.0",
    .description = "check numbers on WhatsApp, contact info and pictures, known and saved contacts (app-state), "
                   "block list (spec 4.4.3)",
    .init = ct_init, .fini = ct_fini,
};
MIAW_EXPORT const miaw_plugin_desc *miaw_plugin_entry(void) { return &DESC; }
