/* plugins/profile/profile.c - the "profile" feature area (spec 4.4.5) on the generic engine
 * services: init/fini, the own JID of each instance (from its ready event, kept in kv),
 * GET /profile (usync status + w:profile:picture for the own JID), PATCH /profile/status
 * (the status IQ, facts 11.5) and PATCH /profile/name (the presence name: <presence
 * name>, kept in kv and sent again at every connect; and the account-wide pushNameSetting
 * through app-state sync, followed when another device changes it). Pictures are
 * picture.c's. */
#include "profile.h"

#include <miaw/node_util.h>

#include <miaw/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

int pf_own_jid(pf_state *st, const char *inst, char *out, size_t cap)
{
    json_t *me = st->api->kv_get(st->self, inst, "me");
    const char *jid = json_string_value(json_object_get(me, "jid"));
    int rc = -1;
    if (jid && strchr(jid, '@')) {
        size_t k = strcspn(jid, ":@"); /* the user, without the device */
        snprintf(out, cap, "%.*s%s", (int)k, jid, strchr(jid, '@'));
        rc = 0;
    }
    json_decref(me);
    return rc;
}

/* ------------------------------------------------------------------ ready: own JID, name */

static void send_name(pf_state *st, const char *inst, const char *name)
{
    char err[128];
    json_t *p = json_pack("{s:s,s:{s:s,s:s}}", "tag", "presence", "attrs", "type", "available", "name", name);
    if (st->api->stanza_send(st->self, inst, p, err, sizeof err) != MIAW_OK)
        MIAW_LOGW(st->api, st->self, "%s: presence name not sent: %s", inst, err);
    json_decref(p);
}

static void on_ready(const miaw_event *ev, void *ud)
{
    pf_state *st = ud;
    const char *jid = json_string_value(json_object_get(ev->data, "jid"));
    const char *lid = json_string_value(json_object_get(ev->data, "lid"));
    if (!ev->instance_id || !jid) return;
    char ul[96] = ""; /* the LID user, without the device */
    if (lid && strchr(lid, '@')) snprintf(ul, sizeof ul, "%.*s%s", (int)strcspn(lid, ":@"), lid, strchr(lid, '@'));
    st->api->kv_put(st->self, ev->instance_id, "me",
                    json_pack("{s:s,s:o}", "jid", jid, "lid", ul[0] ? json_string(ul) : json_null()));
    json_t *name = st->api->kv_get(st->self, ev->instance_id, "pushName");
    if (json_is_string(name)) send_name(st, ev->instance_id, json_string_value(name));
    json_decref(name);
}

/* ------------------------------------------------------------------ GET /profile */

typedef struct get_job {
    pf_state *st;
    miaw_req *req;
    miaw_id h_status, h_pic;
    int left, fail;
    char detail[160], jid[96], inst[128];
    json_t *about, *pic;
    const char *about_t;
    char t[24];
} get_job;

static void get_free(get_job *j)
{
    json_decref(j->about);
    json_decref(j->pic);
    free(j);
}

static void get_abort(miaw_req *r, int why, void *ud)
{
    (void)r, (void)why;
    get_job *j = ud;
    if (j->h_status) j->st->api->cancel(j->st->self, j->h_status);
    if (j->h_pic) j->st->api->cancel(j->st->self, j->h_pic);
    get_free(j);
}

static void get_finish(get_job *j)
{
    pf_state *st = j->st;
    if (j->fail) {
        st->api->reply_status(j->req, j->fail, NULL, "profile: %s", j->detail);
        get_free(j);
        return;
    }
    json_t *me = st->api->kv_get(st->self, j->inst, "me");
    json_t *name = st->api->kv_get(st->self, j->inst, "pushName");
    char phone[32];
    snprintf(phone, sizeof phone, "%.*s", (int)strcspn(j->jid, "@"), j->jid);
    json_t *o = json_pack("{s:s,s:s,s:O,s:o,s:O,s:o,s:O}", "jid", j->jid, "phone", phone, "lid",
                          json_object_get(me, "lid") ? json_object_get(me, "lid") : json_null(), "name",
                          json_is_string(name) ? json_incref(name) : json_null(), "about",
                          j->about ? j->about : json_null(), "aboutSetAt",
                          j->t[0] && j->about ? json_integer(strtoll(j->t, NULL, 10)) : json_null(), "picture",
                          j->pic ? j->pic : json_null());
    json_decref(me);
    json_decref(name);
    st->api->reply_json(j->req, 200, o);
    get_free(j);
}

static void get_fail(get_job *j, int status, const char *detail)
{
    if (j->fail) return;
    j->fail = status;
    snprintf(j->detail, sizeof j->detail, "%s", detail ? detail : "failed");
}

static void on_status(int status, const json_t *reply, const char *detail, void *ud)
{
    get_job *j = ud;
    j->h_status = 0;
    if (status != MIAW_OK) get_fail(j, status, detail);
    else {
        const json_t *u = json_array_get(json_object_get(miaw_jnode_child(miaw_jnode_child(reply, "usync"), "list"), "content"), 0);
        const json_t *stn = miaw_jnode_child(u, "status");
        if (stn && !miaw_jnode_attr(stn, "code")) {
            j->about = miaw_jnode_text(stn);
            snprintf(j->t, sizeof j->t, "%s", miaw_jnode_attr(stn, "t") ? miaw_jnode_attr(stn, "t") : "");
        }
    }
    if (!--j->left) get_finish(j);
}

static void on_pic(int status, const json_t *reply, const char *detail, void *ud)
{
    get_job *j = ud;
    j->h_pic = 0;
    const json_t *p = miaw_jnode_child(reply, "picture");
    const char *code = miaw_jnode_attr(miaw_jnode_child(reply, "error"), "code");
    if (status == MIAW_OK && p && miaw_jnode_attr(p, "url"))
        j->pic = json_pack("{s:s,s:s}", "url", miaw_jnode_attr(p, "url"), "id", miaw_jnode_attr(p, "id") ? miaw_jnode_attr(p, "id") : "");
    else if (status != MIAW_OK && !(status == MIAW_E_IO && code && (!strcmp(code, "404") || !strcmp(code, "401"))))
        get_fail(j, status, detail);
    if (!--j->left) get_finish(j);
}

static int h_get(miaw_req *req, void *ud)
{
    pf_state *st = ud;
    get_job *j = calloc(1, sizeof *j);
    if (!j) return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    j->st = st;
    j->req = req;
    snprintf(j->inst, sizeof j->inst, "%s", st->api->req_param(req, "instanceId"));
    if (pf_own_jid(st, j->inst, j->jid, sizeof j->jid)) {
        free(j);
        return st->api->reply_status(req, MIAW_E_STATE, NULL, "the instance has not connected yet"), MIAW_OK;
    }
    char err[256] = "";
    json_t *q = json_pack("{s:s,s:{s:{s:s},s:s,s:s},s:[{s:s,s:{s:s,s:s,s:s,s:s,s:s},s:[{s:s,s:[{s:s}]},{s:s,s:[{s:s,"
                          "s:{s:{s:s}}}]}]}]}",
                          "tag", "iq", "attrs", "to", "jid", "s.whatsapp.net", "type", "get", "xmlns", "usync", "content",
                          "tag", "usync", "attrs", "sid", "profile", "mode", "query", "context", "interactive", "index",
                          "0", "last", "true", "content", "tag", "query", "content", "tag", "status", "tag", "list",
                          "content", "tag", "user", "attrs", "jid", "jid", j->jid);
    json_t *pq = json_pack("{s:s,s:{s:{s:s},s:{s:s},s:s,s:s},s:[{s:s,s:{s:s,s:s}}]}", "tag", "iq", "attrs", "to", "jid",
                           "s.whatsapp.net", "target", "jid", j->jid, "type", "get", "xmlns", "w:profile:picture",
                           "content", "tag", "picture", "attrs", "type", "image", "query", "url");
    int rc = st->api->iq(st->self, j->inst, q, 20000, on_status, j, &j->h_status, err, sizeof err);
    if (rc == MIAW_OK && (rc = st->api->iq(st->self, j->inst, pq, 20000, on_pic, j, &j->h_pic, err, sizeof err)))
        st->api->cancel(st->self, j->h_status);
    json_decref(q);
    json_decref(pq);
    if (rc != MIAW_OK) {
        get_free(j);
        return st->api->reply_status(req, rc, NULL, "%s", err), MIAW_OK;
    }
    j->left = 2;
    st->api->req_suspend(req, get_abort, j);
    return MIAW_ASYNC;
}

/* ------------------------------------------------------------------ PATCH status / name */

typedef struct set_job {
    pf_state *st;
    miaw_req *req;
    miaw_id h;
    json_t *status;
} set_job;

static void set_abort(miaw_req *r, int why, void *ud)
{
    (void)r, (void)why;
    set_job *j = ud;
    j->st->api->cancel(j->st->self, j->h);
    json_decref(j->status);
    free(j);
}

static void on_status_set(int status, const json_t *reply, const char *detail, void *ud)
{
    set_job *j = ud;
    const char *code = miaw_jnode_attr(miaw_jnode_child(reply, "error"), "code");
    if (status == MIAW_OK) j->st->api->reply_json(j->req, 200, json_pack("{s:O}", "status", j->status));
    else if (status == MIAW_E_IO && code && (!strcmp(code, "400") || !strcmp(code, "406")))
        j->st->api->reply_status(j->req, MIAW_E_INVAL, "status", "WhatsApp refused the about text (%s)", detail);
    else j->st->api->reply_status(j->req, status, NULL, "about text: %s", detail ? detail : "failed");
    json_decref(j->status);
    free(j);
}

static int h_status(miaw_req *req, void *ud)
{
    pf_state *st = ud;
    json_t *s = json_object_get(st->api->req_body(req), "status");
    if (utf8_chars(json_string_value(s)) > PF_STATUS_MAX)
        return st->api->reply_status(req, MIAW_E_INVAL, "status", "at most %d characters", PF_STATUS_MAX), MIAW_OK;
    set_job *j = calloc(1, sizeof *j);
    if (!j) return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    j->st = st;
    j->req = req;
    j->status = json_incref(s);
    json_t *bytes = miaw_jnode_b64((const uint8_t *)json_string_value(s), json_string_length(s));
    json_t *iq = json_pack("{s:s,s:{s:{s:s},s:s,s:s},s:[{s:s,s:o}]}", "tag", "iq", "attrs", "to", "jid", "s.whatsapp.net",
                           "type", "set", "xmlns", "status", "content", "tag", "status", "content", bytes);
    char err[256] = "";
    int rc = st->api->iq(st->self, st->api->req_param(req, "instanceId"), iq, 20000, on_status_set, j, &j->h, err,
                         sizeof err);
    json_decref(iq);
    if (rc != MIAW_OK) {
        json_decref(j->status);
        free(j);
        return st->api->reply_status(req, rc, NULL, "%s", err), MIAW_OK;
    }
    st->api->req_suspend(req, set_abort, j);
    return MIAW_ASYNC;
}

/* the account-wide push name through app-state (critical_block, setting_pushName v1) */
typedef struct name_push {
    pf_state *st;
    miaw_req *req;
    miaw_id handle;
    char *name;
} name_push;

static void name_reply(pf_state *st, miaw_req *req, const char *name, const json_t *as, const char *as_err)
{
    json_t *d = json_pack("{s:s,s:O?}", "name", name, "appState", as);
    if (as_err) json_object_set_new(d, "appStateError", json_string(as_err));
    st->api->reply_json(req, 200, d);
}

static void on_name_pushed(int status, const json_t *result, const char *detail, void *ud)
{
    name_push *np = ud;
    name_reply(np->st, np->req, np->name, status == MIAW_OK ? result : NULL,
               status == MIAW_OK ? NULL : detail ? detail : "the app-state patch was not accepted");
    free(np->name);
    free(np);
}

static void on_name_abort(miaw_req *req, int reason, void *ud)
{
    (void)req, (void)reason;
    name_push *np = ud;
    np->st->api->cancel(np->st->self, np->handle);
    free(np->name);
    free(np);
}

static int h_name(miaw_req *req, void *ud)
{
    pf_state *st = ud;
    const char *inst = st->api->req_param(req, "instanceId");
    const char *name = json_string_value(json_object_get(st->api->req_body(req), "name"));
    if (utf8_chars(name) > PF_NAME_MAX)
        return st->api->reply_status(req, MIAW_E_INVAL, "name", "at most %d characters", PF_NAME_MAX), MIAW_OK;
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return st->api->reply_status(req, MIAW_E_INVAL, "name", "no control characters"), MIAW_OK;
    json_t *p = json_pack("{s:s,s:{s:s,s:s}}", "tag", "presence", "attrs", "type", "available", "name", name);
    char err[256] = "";
    int rc = st->api->stanza_send(st->self, inst, p, err, sizeof err);
    json_decref(p);
    if (rc != MIAW_OK) return st->api->reply_status(req, rc, NULL, "%s", err), MIAW_OK;
    st->api->kv_put(st->self, inst, "pushName", json_string(name));
    if (!MIAW_HOST_HAS(st->api, appstate_push)) return name_reply(st, req, name, NULL, "the host has no app-state sync"), MIAW_OK;
    char ts[24];
    snprintf(ts, sizeof ts, "%lld", (long long)st->api->now_ms());
    json_t *patch = json_pack("{s:s,s:[{s:s,s:[s],s:i,s:{s:s,s:{s:s}}}]}", "collection", "critical_block", "mutations",
                              "operation", "set", "index", "setting_pushName", "version", 1, "value", "timestamp", ts,
                              "pushNameSetting", "name", name);
    name_push *np = calloc(1, sizeof *np);
    const char *f = NULL;
    err[0] = 0;
    if (np && (np->name = strdup(name))) {
        np->st = st;
        np->req = req;
        rc = st->api->appstate_push(st->self, inst, patch, on_name_pushed, np, &np->handle, &f, err, sizeof err);
    } else {
        rc = MIAW_E_NOMEM;
    }
    json_decref(patch);
    if (rc != MIAW_OK) {
        if (np) free(np->name);
        free(np);
        /* the presence name went out; the account-wide setting could not (e.g. no key from the phone yet) */
        return name_reply(st, req, name, NULL, *err ? err : "the app-state patch could not be made"), MIAW_OK;
    }
    st->api->req_suspend(req, on_name_abort, np);
    return MIAW_ASYNC;
}

/* the push name changed on another device of the account (the phone) */
static void on_setting(const char *inst, const json_t *m, void *ud)
{
    pf_state *st = ud;
    const char *what = json_string_value(json_array_get(json_object_get(m, "index"), 0));
    const char *name = json_string_value(
        json_object_get(json_object_get(json_object_get(m, "value"), "pushNameSetting"), "name"));
    if (inst && what && !strcmp(what, "setting_pushName") && name && *name)
        st->api->kv_put(st->self, inst, "pushName", json_string(name));
}

/* ------------------------------------------------------------------ init */

static const miaw_field STATUS_BODY[] = {
    {.name = "status", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MAX, .max = 4 * PF_STATUS_MAX,
     .description = "the about text, at most 139 characters (\"\" clears it)", .example = "\"Available\""},
    {0},
};
static const miaw_field NAME_BODY[] = {
    {.name = "name", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX,
     .max = 4 * PF_NAME_MAX, .description = "the push name, 1 to 25 characters",
     .example = "\"Support Bot\""},
    {0},
};

static void pf_fini(void *state)
{
    pf_state *st = state;
    if (!st) return;
    pf_picture_fini(st);
    free(st);
}

static int pf_init(miaw_plugin *self, const miaw_host_api *api, const json_t *config, void **out, char *err, size_t n)
{
    (void)config;
    pf_state *st = calloc(1, sizeof *st);
    if (!st) return MIAW_E_NOMEM;
    st->self = self;
    st->api = api;
    st->pics.api = api;
    st->pics.self = self;
    miaw_route rg = {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/profile",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_get, .udata = st, .tag = "Profile",
                     .operation_id = "getProfile", .summary = "Get the own profile",
                     .description = "The account's JID, the push name (set through this API or on the phone, followed "
                                    "through app-state sync; null until either happens), the about text and the "
                                    "profile picture as WhatsApp has them.",
                     .response_example = "{\"jid\":\"15551234567@s.whatsapp.net\",\"phone\":\"15551234567\",\"lid\":"
                                         "\"123456789012345@lid\",\"name\":\"Support Bot\",\"about\":\"Available\","
                                         "\"aboutSetAt\":1735118400,\"picture\":{\"url\":\"https://...\",\"id\":\"3\"}}"};
    miaw_route rs = {MIAW_ROUTE_INIT, .method = "PATCH", .path = "/instances/{instanceId}/profile/status",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_status, .udata = st, .body = STATUS_BODY,
                     .tag = "Profile", .operation_id = "setProfileStatus", .summary = "Update the about text",
                     .response_example = "{\"status\":\"Available\"}"};
    miaw_route rn = {MIAW_ROUTE_INIT, .method = "PATCH", .path = "/instances/{instanceId}/profile/name",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_name, .udata = st, .body = NAME_BODY, .tag = "Profile",
                     .operation_id = "setProfileName", .summary = "Update the push name",
                     .description = "Sent as the presence name (what contacts see on messages from this instance) "
                                    "now and at every connect, and as the account-wide setting through app-state sync "
                                    "(pushNameSetting in critical_block: the phone and other devices take it); the "
                                    "answer waits for the server to take that patch. appState is null, with "
                                    "appStateError saying why, when the setting could not be sent (e.g. the phone has "
                                    "not shared its app-state keys yet): the presence name was sent all the same.",
                     .response_example = "{\"name\":\"Support Bot\",\"appState\":{\"collection\":\"critical_block\","
                                         "\"version\":3}}"};
    int rc = api->route_add(self, &rg, err, n);
    if (rc == MIAW_OK) rc = api->route_add(self, &rs, err, n);
    if (rc == MIAW_OK) rc = api->route_add(self, &rn, err, n);
    if (rc == MIAW_OK) rc = pf_picture_register(st, err, n);
    if (rc == MIAW_OK && (rc = api->event_subscribe(self, "ready", on_ready, st, NULL)) != MIAW_OK)
        snprintf(err, n, "cannot subscribe to ready (%d)", rc);
    if (rc == MIAW_OK && MIAW_HOST_HAS(api, appstate_subscribe) &&
        (rc = api->appstate_subscribe(self, "critical_block", on_setting, st, NULL)) != MIAW_OK)
        snprintf(err, n, "cannot subscribe to app-state critical_block (%d)", rc);
    if (rc != MIAW_OK) {
        free(st);
        return rc;
    }
    *out = st;
    return MIAW_OK;
}

static const miaw_plugin_desc DESC = {
    MIAW_PLUGIN_DESC_INIT, .abi_minor_required = 3, .name = "profile", .version = "1.0.0",
    .description = "profile name, about text and picture (spec 4.4.5)", .init = pf_init, .fini = pf_fini,
};
MIAW_EXPORT const miaw_plugin_desc *miaw_plugin_entry(void) { return &DESC; }
