/* plugins/contacts/saved.c - saved contacts through app-state sync (ABI 1.4): POST
 * /instances/{instanceId}/contacts {phone, firstName, lastName?} adds or edits a contact
 * (a contactAction "set" in critical_unblock_low, as the phone and other companions do),
 * DELETE /instances/{instanceId}/contacts/{phone} removes it, and the contact mutations
 * other devices make (the phone's address book) are followed into the known-contacts map
 * (the `name` of GET /contacts and GET /contacts/{jid}). Owns one pending record per
 * request in flight (freed by its callback or on_abort). */
#include <miaw/plugin.h>
#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.h"

#define COLLECTION "critical_unblock_low"
#define NAME_MAX_LEN 256

typedef struct pending {
    ct_state *st;
    miaw_req *req;
    miaw_id handle;
    char inst[128], jid[96], phone[24];
    json_t *saved; /* {name, firstName} for a set, NULL for a remove */
} pending;

static void pending_free(pending *p)
{
    json_decref(p->saved);
    free(p);
}

/* the known-contacts entry of jid: its saved name set (saved = {name, firstName}) or
 * cleared (saved NULL; an entry left with nothing goes) */
static void apply(ct_state *st, const char *inst, const char *jid, const char *phone, const json_t *saved)
{
    ct_inst *in = ct_inst_get(st, inst);
    if (!in) return;
    json_t *k = ct_known_map(st, in);
    json_t *cur = json_object_get(k, jid);
    if (saved) {
        if (!cur) {
            if (json_object_size(k) >= CT_KNOWN_MAX) return;
            cur = json_pack("{s:s,s:o,s:n,s:n}", "jid", jid, "phone", phone && *phone ? json_string(phone) : json_null(),
                            "pushName", "lastSeen");
            json_object_set_new(k, jid, cur);
        }
        json_object_set(cur, "name", json_object_get(saved, "name"));
        json_object_set(cur, "firstName", json_object_get(saved, "firstName"));
    } else if (cur) {
        json_object_del(cur, "name");
        json_object_del(cur, "firstName");
        if (!json_string_value(json_object_get(cur, "pushName"))) json_object_del(k, jid);
    }
    ct_known_touch(in);
}

/* a verified mutation from another device of the account */
static void on_mutation(const char *inst, const json_t *m, void *ud)
{
    ct_state *st = ud;
    const json_t *index = json_object_get(m, "index");
    const char *what = json_string_value(json_array_get(index, 0)), *jid = json_string_value(json_array_get(index, 1));
    if (!inst || !what || strcmp(what, "contact") || !jid || !strchr(jid, '@') || strlen(jid) >= 96) return;
    char phone[24] = "";
    if (strstr(jid, "@s.whatsapp.net")) snprintf(phone, sizeof phone, "%.*s", (int)strcspn(jid, "@:"), jid);
    const char *op = json_string_value(json_object_get(m, "operation"));
    if (op && !strcmp(op, "remove")) {
        apply(st, inst, jid, phone, NULL);
        return;
    }
    const json_t *ca = json_object_get(json_object_get(m, "value"), "contactAction");
    const char *full = json_string_value(json_object_get(ca, "fullName"));
    const char *first = json_string_value(json_object_get(ca, "firstName"));
    if (!full && !first) return;
    json_t *saved = json_pack("{s:s?,s:s?}", "name", full ? full : first, "firstName", first);
    apply(st, inst, jid, phone, saved);
    json_decref(saved);
}

static void on_pushed(int status, const json_t *result, const char *detail, void *ud)
{
    pending *p = ud;
    const miaw_host_api *api = p->st->api;
    if (status == MIAW_OK) {
        /* own pushes are not echoed to subscriptions: apply here */
        apply(p->st, p->inst, p->jid, p->phone, p->saved);
        json_t *d = json_pack("{s:s,s:s,s:O,s:O}", "jid", p->jid, "phone", p->phone, "appState", result, "removed",
                              p->saved ? json_false() : json_true());
        if (p->saved) {
            json_object_set(d, "name", json_object_get(p->saved, "name"));
            json_object_set(d, "firstName", json_object_get(p->saved, "firstName"));
        }
        api->reply_json(p->req, 200, d);
    } else {
        api->reply_status(p->req, status, NULL, "%s", detail ? detail : "the app-state patch was not accepted");
    }
    pending_free(p);
}

static void on_abort(miaw_req *req, int reason, void *ud)
{
    (void)req, (void)reason;
    pending *p = ud;
    p->st->api->cancel(p->st->self, p->handle); /* on_pushed will not run */
    pending_free(p);
}

static int push(ct_state *st, miaw_req *req, const char *phone_in, const char *field, const char *first,
                const char *last)
{
    const miaw_host_api *api = st->api;
    const char *why = NULL;
    pending *p = calloc(1, sizeof *p);
    if (!p) return api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    if (ct_phone_digits(phone_in, p->phone, sizeof p->phone, &why) != 0) {
        free(p);
        return api->reply_status(req, MIAW_E_INVAL, field, "%s: %s", field, why), MIAW_OK;
    }
    p->st = st;
    p->req = req;
    snprintf(p->inst, sizeof p->inst, "%s", api->req_param(req, "instanceId"));
    snprintf(p->jid, sizeof p->jid, "%s@s.whatsapp.net", p->phone);
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)api->now_ms());
    json_t *value;
    if (first) {
        char full[2 * NAME_MAX_LEN + 2];
        snprintf(full, sizeof full, "%s%s%s", first, last && *last ? " " : "", last ? last : "");
        p->saved = json_pack("{s:s,s:s}", "name", full, "firstName", first);
        value = json_pack("{s:s,s:{s:s,s:s}}", "timestamp", ts, "contactAction", "fullName", full, "firstName", first);
    } else {
        value = json_pack("{s:s}", "timestamp", ts);
    }
    json_t *patch = json_pack("{s:s,s:[{s:s,s:[s,s],s:i,s:o}]}", "collection", COLLECTION, "mutations", "operation",
                              first ? "set" : "remove", "index", "contact", p->jid, "version", 2, "value", value);
    const char *f = NULL;
    char err[256] = "";
    int rc = api->appstate_push(st->self, p->inst, patch, on_pushed, p, &p->handle, &f, err, sizeof err);
    json_decref(patch);
    if (rc != MIAW_OK) {
        pending_free(p);
        if (rc == MIAW_E_STATE)
            return api->reply_status(req, rc, NULL, "%s", *err ? err : "the instance is not connected"), MIAW_OK;
        return api->reply_status(req, rc, NULL, "%s", *err ? err : "the contact could not be saved"), MIAW_OK;
    }
    api->req_suspend(req, on_abort, p);
    return MIAW_ASYNC;
}

static int h_add(miaw_req *req, void *ud)
{
    ct_state *st = ud;
    const json_t *b = st->api->req_body(req);
    const char *first = json_string_value(json_object_get(b, "firstName"));
    const char *last = json_string_value(json_object_get(b, "lastName"));
    return push(st, req, json_string_value(json_object_get(b, "phone")), "phone", first, last);
}

static int h_remove(miaw_req *req, void *ud)
{
    ct_state *st = ud;
    return push(st, req, st->api->req_param(req, "phone"), "phone", NULL, NULL);
}

static const miaw_field ADD[] = {
    {.name = "phone", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 64,
     .description = "phone number with country code or a phone-number JID", .example = "\"+1 555 123 4567\""},
    {.name = "firstName", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX,
     .max = NAME_MAX_LEN, .description = "first name (the contact's name as saved: firstName + lastName)",
     .example = "\"Ada\""},
    {.name = "lastName", .type = MIAW_T_STRING, .flags = MIAW_F_HAS_MAX, .max = NAME_MAX_LEN,
     .description = "last name", .example = "\"Lovelace\""},
    {0},
};

int ct_saved_register(ct_state *st, char *err, size_t n)
{
    const miaw_host_api *api = st->api;
    if (!MIAW_HOST_HAS(api, appstate_push) || !MIAW_HOST_HAS(api, appstate_subscribe)) {
        MIAW_LOGW(api, st->self, "adding and removing contacts not loaded: the host has no app-state sync (1.4)");
        return MIAW_OK;
    }
    miaw_route ra = {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/contacts",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_add, .udata = st, .body = ADD, .tag = "Contacts",
                     .operation_id = "saveContact", .summary = "Add or edit a contact",
                     .description = "Saves the contact in the account's address book through app-state sync (a "
                                    "contactAction in critical_unblock_low): the phone and every linked device get "
                                    "it. Answers once WhatsApp's server took the patch. 503 INSTANCE_NOT_CONNECTED "
                                    "when not connected or before the phone shared its app-state keys.",
                     .response_example = "{\"jid\":\"15551234567@s.whatsapp.net\",\"phone\":\"15551234567\","
                                         "\"name\":\"Ada Lovelace\",\"firstName\":\"Ada\",\"removed\":false,"
                                         "\"appState\":{\"collection\":\"critical_unblock_low\",\"version\":7}}"};
    miaw_route rd = {MIAW_ROUTE_INIT, .method = "DELETE", .path = "/instances/{instanceId}/contacts/{phone}",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_remove, .udata = st, .tag = "Contacts",
                     .operation_id = "removeContact", .summary = "Remove a contact",
                     .description = "Removes the contact from the account's address book through app-state sync (a "
                                    "contact \"remove\" mutation); its push name stays known.",
                     .response_example = "{\"jid\":\"15551234567@s.whatsapp.net\",\"phone\":\"15551234567\","
                                         "\"removed\":true,\"appState\":{\"collection\":\"critical_unblock_low\","
                                         "\"version\":8}}"};
    int rc = api->route_add(st->self, &ra, err, n);
    if (rc == MIAW_OK) rc = api->route_add(st->self, &rd, err, n);
    if (rc == MIAW_OK && api->appstate_subscribe(st->self, COLLECTION, on_mutation, st, NULL) != MIAW_OK) {
        snprintf(err, n, "cannot subscribe to app-state %s", COLLECTION);
        rc = MIAW_E_INVAL;
    }
    return rc;
}
