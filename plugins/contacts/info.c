/* plugins/contacts/info.c - one contact: GET /contacts/{jid} (a usync "background" query
 * for devices, lid, status (about), picture id and business, plus a w:profile:picture
 * query for the picture URL, in parallel; names from what the instance knows) and GET
 * /contacts/{jid}/picture (the URL and id of the image or preview, or with ?download=true
 * the picture itself, fetched through the host and streamed). Facts 11.4-11.6. Owns its
 * jobs until they answer or are aborted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contacts.h"

typedef struct info_job {
    ct_state *st;
    miaw_req *req;
    char inst[128], jid[96];
    miaw_id h_usync, h_pic, h_fetch;
    int left;            /* IQs still out */
    int fail;
    char detail[160];
    json_t *user;        /* the usync <user> node (new ref) */
    json_t *pic;         /* {url, id, type} or null */
    int download;
    char type[16];
} info_job;

static void job_free(info_job *j)
{
    json_decref(j->user);
    json_decref(j->pic);
    free(j);
}

static void on_abort(miaw_req *req, int why, void *ud)
{
    (void)req;
    (void)why;
    info_job *j = ud;
    ct_state *st = j->st;
    if (j->h_usync) st->api->cancel(st->self, j->h_usync);
    if (j->h_pic) st->api->cancel(st->self, j->h_pic);
    if (j->h_fetch) st->api->cancel(st->self, j->h_fetch);
    job_free(j);
}

static json_t *picture_iq(const char *jid, const char *type)
{
    return json_pack("{s:s,s:{s:{s:s},s:{s:s},s:s,s:s},s:[{s:s,s:{s:s,s:s}}]}", "tag", "iq", "attrs", "to", "jid",
                     "s.whatsapp.net", "target", "jid", jid, "type", "get", "xmlns", "w:profile:picture", "content",
                     "tag", "picture", "attrs", "type", type, "query", "url");
}

/* the picture answer: {url, id, type}, json null when there is none or it is hidden, NULL
 * (with j->fail) for other errors */
static json_t *picture_of(info_job *j, int status, const json_t *reply, const char *detail)
{
    const json_t *p = miaw_jnode_child(reply, "picture");
    if (status == MIAW_OK && p && miaw_jnode_attr(p, "url"))
        return json_pack("{s:s,s:o,s:s}", "url", miaw_jnode_attr(p, "url"), "id",
                         miaw_jnode_attr(p, "id") ? json_string(miaw_jnode_attr(p, "id")) : json_null(), "type",
                         miaw_jnode_attr(p, "type") ? miaw_jnode_attr(p, "type") : j->type);
    const char *code = miaw_jnode_attr(miaw_jnode_child(reply, "error"), "code");
    if (status == MIAW_OK || (status == MIAW_E_IO && code && (!strcmp(code, "404") || !strcmp(code, "401"))))
        return json_null();
    j->fail = status;
    snprintf(j->detail, sizeof j->detail, "%s", detail ? detail : "picture query failed");
    return NULL;
}

static void info_finish(info_job *j)
{
    ct_state *st = j->st;
    if (j->fail) {
        st->api->reply_status(j->req, j->fail, NULL, "contact info: %s", j->detail);
        job_free(j);
        return;
    }
    const json_t *u = j->user;
    const json_t *dl = miaw_jnode_child(miaw_jnode_child(u, "devices"), "device-list");
    int exists = json_array_size(json_object_get(dl, "content")) > 0;
    const json_t *stn = miaw_jnode_child(u, "status");
    json_t *about = stn && !miaw_jnode_attr(stn, "code") ? miaw_jnode_text(stn) : NULL;
    const char *t = stn ? miaw_jnode_attr(stn, "t") : NULL;
    const json_t *biz = miaw_jnode_child(u, "business");
    const json_t *vn = biz ? miaw_jnode_child(biz, "verified_name") : NULL;
    const char *lid = miaw_jnode_attr(miaw_jnode_child(u, "lid"), "val");
    ct_inst *in = ct_inst_get(st, j->inst);
    const json_t *known = in ? ct_known_get(st, in, j->jid) : NULL;
    const char *push = json_string_value(json_object_get(known, "pushName"));
    char phone[32] = "";
    if (strstr(j->jid, "@s.whatsapp.net")) snprintf(phone, sizeof phone, "%.*s", (int)strcspn(j->jid, "@"), j->jid);
    if (!lid && strstr(j->jid, "@lid")) lid = j->jid;
    json_t *o = json_object();
    json_object_set_new(o, "jid", json_string(j->jid));
    json_object_set_new(o, "phone", phone[0] ? json_string(phone) : json_null());
    json_object_set_new(o, "lid", lid ? json_string(lid) : json_null());
    json_object_set_new(o, "exists", json_boolean(exists));
    const char *saved = json_string_value(json_object_get(known, "name"));
    json_object_set_new(o, "name", saved ? json_string(saved) : json_null()); /* the saved name (app-state) */
    json_object_set_new(o, "pushName", push ? json_string(push) : json_null());
    json_t *vname = ct_verified_name(vn);
    json_object_set_new(o, "verifiedName", vname ? vname : json_null());
    json_object_set_new(o, "isBusiness", json_boolean(vn != NULL));
    json_object_set_new(o, "about", about ? about : json_null());
    json_object_set_new(o, "aboutSetAt", t && *t && about ? json_integer(strtoll(t, NULL, 10)) : json_null());
    json_object_set_new(o, "picture", json_incref(j->pic ? j->pic : json_null()));
    st->api->reply_json(j->req, 200, o);
    job_free(j);
}

static void on_user(int status, const json_t *reply, const char *detail, void *ud)
{
    info_job *j = ud;
    j->h_usync = 0;
    if (status != MIAW_OK && !j->fail) {
        j->fail = status;
        snprintf(j->detail, sizeof j->detail, "%s", detail ? detail : "usync failed");
    } else if (status == MIAW_OK) {
        const json_t *list = miaw_jnode_child(miaw_jnode_child(reply, "usync"), "list");
        j->user = json_incref(json_array_get(json_object_get(list, "content"), 0));
    }
    if (!--j->left) info_finish(j);
}

static void on_pic_for_info(int status, const json_t *reply, const char *detail, void *ud)
{
    info_job *j = ud;
    j->h_pic = 0;
    json_t *p = picture_of(j, status, reply, detail);
    if (p) j->pic = p;
    if (!--j->left) info_finish(j);
}

static info_job *job_new(ct_state *st, miaw_req *req)
{
    info_job *j = calloc(1, sizeof *j);
    if (!j) {
        st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory");
        return NULL;
    }
    j->st = st;
    j->req = req;
    snprintf(j->inst, sizeof j->inst, "%s", st->api->req_param(req, "instanceId"));
    if (ct_user_jid(st, st->api->req_param(req, "jid"), j->jid, sizeof j->jid)) {
        st->api->reply_status(req, MIAW_E_INVAL, "jid", "not a phone number or user JID (groups have their own routes)");
        free(j);
        return NULL;
    }
    return j;
}

static int h_info(miaw_req *req, void *ud)
{
    ct_state *st = ud;
    info_job *j = job_new(st, req);
    if (!j) return MIAW_OK;
    snprintf(j->type, sizeof j->type, "preview");
    char sid[48], err[256] = "";
    snprintf(sid, sizeof sid, "ci%lld", (long long)st->api->now_ms());
    json_t *q = json_pack("{s:s,s:{s:{s:s},s:s,s:s},s:[{s:s,s:{s:s,s:s,s:s,s:s,s:s},s:[{s:s,s:[{s:s,s:{s:s}},{s:s},"
                          "{s:s},{s:s},{s:s,s:[{s:s}]}]},{s:s,s:[{s:s,s:{s:{s:s}}}]}]}]}",
                          "tag", "iq", "attrs", "to", "jid", "s.whatsapp.net", "type", "get", "xmlns", "usync", "content",
                          "tag", "usync", "attrs", "sid", sid, "mode", "full", "context", "background", "index", "0",
                          "last", "true", "content", "tag", "query", "content", "tag", "devices", "attrs", "version",
                          "2", "tag", "lid", "tag", "status", "tag", "picture", "tag", "business", "content", "tag",
                          "verified_name", "tag", "list", "content", "tag", "user", "attrs", "jid", "jid", j->jid);
    json_t *pq = picture_iq(j->jid, "preview");
    int rc = st->api->iq(st->self, j->inst, q, 20000, on_user, j, &j->h_usync, err, sizeof err);
    if (rc == MIAW_OK) {
        j->left = 1;
        rc = st->api->iq(st->self, j->inst, pq, 20000, on_pic_for_info, j, &j->h_pic, err, sizeof err);
        if (rc != MIAW_OK) st->api->cancel(st->self, j->h_usync);
    }
    json_decref(q);
    json_decref(pq);
    if (rc != MIAW_OK) {
        st->api->reply_status(req, rc, NULL, "%s", err[0] ? err : "cannot query WhatsApp");
        job_free(j);
        return MIAW_OK;
    }
    j->left = 2;
    st->api->req_suspend(req, on_abort, j);
    return MIAW_ASYNC;
}

/* ------------------------------------------------------------------ picture */

static void on_fetched(int status, const char *path, const char *ct, uint64_t size, const char *detail, void *ud)
{
    (void)size;
    info_job *j = ud;
    ct_state *st = j->st;
    j->h_fetch = 0;
    if (status != MIAW_OK) {
        st->api->reply_error(j->req, 502, "WHATSAPP_ERROR", "cannot download the picture: %s",
                             detail ? detail : "failed");
    } else {
        char name[64];
        snprintf(name, sizeof name, "%.*s-%s.jpg", (int)strcspn(j->jid, "@"), j->jid, j->type);
        if (st->api->reply_file(j->req, 200, path, ct && !strncmp(ct, "image/", 6) ? ct : "image/jpeg", name,
                                MIAW_FILE_F_UNLINK) != MIAW_OK) {
            unlink(path);
            st->api->reply_status(j->req, MIAW_E_INTERNAL, NULL, "cannot send the picture");
        }
    }
    job_free(j);
}

static void on_pic(int status, const json_t *reply, const char *detail, void *ud)
{
    info_job *j = ud;
    ct_state *st = j->st;
    j->h_pic = 0;
    json_t *p = picture_of(j, status, reply, detail);
    if (!p) {
        ct_reply_iq_error(st, j->req, j->fail, reply, j->detail, "profile picture");
    } else if (json_is_null(p)) {
        st->api->reply_status(j->req, MIAW_E_NOTFOUND, NULL, "no profile picture, or it is hidden from this account");
    } else if (!j->download) {
        st->api->reply_json(j->req, 200, p);
        job_free(j);
        return;
    } else {
        char err[256] = "";
        miaw_fetch_opts fo = {.struct_size = sizeof fo, .max_bytes = 5u << 20, .timeout_ms = 20000};
        int rc = st->api->fetch(st->self, json_string_value(json_object_get(p, "url")), &fo, on_fetched, j,
                                &j->h_fetch, err, sizeof err);
        json_decref(p);
        if (rc == MIAW_OK) return; /* the request stays suspended; on_fetched answers */
        st->api->reply_error(j->req, 502, "WHATSAPP_ERROR", "cannot download the picture: %s", err);
        job_free(j);
        return;
    }
    json_decref(p);
    job_free(j);
}

static int h_picture(miaw_req *req, void *ud)
{
    ct_state *st = ud;
    const char *type = st->api->req_query(req, "type"), *dl = st->api->req_query(req, "download");
    if (type && strcmp(type, "preview") && strcmp(type, "image"))
        return st->api->reply_status(req, MIAW_E_INVAL, "type", "type is preview or image"), MIAW_OK;
    if (dl && strcmp(dl, "true") && strcmp(dl, "false") && strcmp(dl, "1") && strcmp(dl, "0"))
        return st->api->reply_status(req, MIAW_E_INVAL, "download", "download is true or false"), MIAW_OK;
    info_job *j = job_new(st, req);
    if (!j) return MIAW_OK;
    snprintf(j->type, sizeof j->type, "%s", type ? type : "image");
    j->download = dl && (!strcmp(dl, "true") || !strcmp(dl, "1"));
    char err[256] = "";
    json_t *pq = picture_iq(j->jid, j->type);
    int rc = st->api->iq(st->self, j->inst, pq, 20000, on_pic, j, &j->h_pic, err, sizeof err);
    json_decref(pq);
    if (rc != MIAW_OK) {
        st->api->reply_status(req, rc, NULL, "%s", err[0] ? err : "cannot query WhatsApp");
        job_free(j);
        return MIAW_OK;
    }
    st->api->req_suspend(req, on_abort, j);
    return MIAW_ASYNC;
}

int ct_info_register(ct_state *st, char *err, size_t n)
{
    miaw_route r1 = {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/contacts/{jid}",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_info, .udata = st, .tag = "Contacts",
                     .operation_id = "getContact", .summary = "Get contact info",
                     .description = "{jid}: a phone number, a phone-number JID or a LID. Names (the saved contact "
                                    "name once app-state provides it, the push name seen on messages, the verified "
                                    "business name), about text, business flag and the preview picture.",
                     .response_example = "{\"jid\":\"15551234567@s.whatsapp.net\",\"phone\":\"15551234567\",\"lid\":"
                                         "\"123456789012345@lid\",\"exists\":true,\"name\":null,\"pushName\":\"Bob\","
                                         "\"verifiedName\":null,\"isBusiness\":false,\"about\":\"Hey there\","
                                         "\"aboutSetAt\":1735118400,\"picture\":{\"url\":\"https://...\",\"id\":"
                                         "\"1735118400\",\"type\":\"preview\"}}"};
    miaw_route r2 = {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/contacts/{jid}/picture",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_picture, .udata = st, .tag = "Contacts",
                     .operation_id = "getContactPicture", .summary = "Get a contact's profile picture",
                     .description = "Query: type=image (default, 640x640) or preview (96x96); download=true streams "
                                    "the JPEG through the server instead of answering its URL. 404 NOT_FOUND when the "
                                    "contact has no picture or hides it from this account.",
                     .response_example = "{\"url\":\"https://...\",\"id\":\"1735118400\",\"type\":\"image\"}"};
    int rc = st->api->route_add(st->self, &r1, err, n);
    if (rc == MIAW_OK) rc = st->api->route_add(st->self, &r2, err, n);
    return rc;
}
