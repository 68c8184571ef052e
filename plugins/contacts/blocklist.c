/* plugins/contacts/blocklist.c - the account's block list (facts 11.7): GET
 * /contacts/blocklist (the blocklist get IQ), POST /contacts/{jid}/block and /unblock
 * (the blocklist set IQ with action, jid and, when the LID is known from a number
 * check, jid = LID plus pn_jid). Owns its pending requests until they answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.h"

typedef struct blk_job {
    ct_state *st;
    miaw_req *req;
    miaw_id h;
    char jid[96];
    int block;
} blk_job;

static void on_abort(miaw_req *req, int why, void *ud)
{
    (void)req;
    (void)why;
    blk_job *j = ud;
    j->st->api->cancel(j->st->self, j->h);
    free(j);
}

static json_t *list_json(const json_t *list)
{
    json_t *arr = json_array();
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(list, "content"), i, it) {
        const char *jid = miaw_jnode_attr(it, "jid"), *pn = miaw_jnode_attr(it, "pn_jid");
        if (!jid) continue;
        if (strstr(jid, "@lid") && pn) {
            const char *lid = jid;
            jid = pn;
            pn = lid;
        } else pn = strstr(jid, "@lid") ? jid : NULL;
        char phone[32] = "";
        if (strstr(jid, "@s.whatsapp.net")) snprintf(phone, sizeof phone, "%.*s", (int)strcspn(jid, ":@"), jid);
        json_array_append_new(arr, json_pack("{s:s,s:o,s:o}", "jid", jid, "phone",
                                             phone[0] ? json_string(phone) : json_null(), "lid",
                                             pn ? json_string(pn) : json_null()));
    }
    return arr;
}

static void on_list(int status, const json_t *reply, const char *detail, void *ud)
{
    blk_job *j = ud;
    const json_t *list = miaw_jnode_child(reply, "list");
    if (status != MIAW_OK) ct_reply_iq_error(j->st, j->req, status, reply, detail, "block list");
    else {
        json_t *arr = list_json(list);
        j->st->api->reply_json(j->req, 200, json_pack("{s:o,s:I}", "blocklist", arr, "total",
                                                      (json_int_t)json_array_size(arr)));
    }
    free(j);
}

static void on_set(int status, const json_t *reply, const char *detail, void *ud)
{
    blk_job *j = ud;
    if (status != MIAW_OK) ct_reply_iq_error(j->st, j->req, status, reply, detail, j->block ? "block" : "unblock");
    else j->st->api->reply_json(j->req, 200, json_pack("{s:s,s:b}", "jid", j->jid, "blocked", j->block));
    free(j);
}

static int start(ct_state *st, miaw_req *req, blk_job *j, json_t *node, miaw_iq_fn cb)
{
    char err[256] = "";
    int rc = st->api->iq(st->self, st->api->req_param(req, "instanceId"), node, 20000, cb, j, &j->h, err, sizeof err);
    json_decref(node);
    if (rc != MIAW_OK) {
        free(j);
        st->api->reply_status(req, rc, NULL, "%s", err[0] ? err : "cannot query WhatsApp");
        return MIAW_OK;
    }
    st->api->req_suspend(req, on_abort, j);
    return MIAW_ASYNC;
}

static int h_list(miaw_req *req, void *ud)
{
    ct_state *st = ud;
    blk_job *j = calloc(1, sizeof *j);
    if (!j) return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    j->st = st;
    j->req = req;
    return start(st, req, j,
                 json_pack("{s:s,s:{s:{s:s},s:s,s:s}}", "tag", "iq", "attrs", "to", "jid", "s.whatsapp.net", "type",
                           "get", "xmlns", "blocklist"),
                 on_list);
}

static int set(miaw_req *req, ct_state *st, int block)
{
    blk_job *j = calloc(1, sizeof *j);
    if (!j) return st->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory"), MIAW_OK;
    j->st = st;
    j->req = req;
    j->block = block;
    if (ct_user_jid(st, st->api->req_param(req, "jid"), j->jid, sizeof j->jid)) {
        free(j);
        return st->api->reply_status(req, MIAW_E_INVAL, "jid", "not a phone number or user JID"), MIAW_OK;
    }
    json_t *item = json_pack("{s:s,s:{s:s,s:{s:s}}}", "tag", "item", "attrs", "action", block ? "block" : "unblock",
                             "jid", "jid", j->jid);
    /* WhatsApp wants the LID with the phone number beside it when the LID is known */
    ct_inst *in = ct_inst_get(st, st->api->req_param(req, "instanceId"));
    char digits[32];
    const char *why;
    if (in && strstr(j->jid, "@s.whatsapp.net") && !ct_phone_digits(j->jid, digits, sizeof digits, &why)) {
        const char *lid = json_string_value(json_object_get(json_object_get(in->cache, digits), "l"));
        json_t *attrs = json_object_get(item, "attrs");
        if (lid) {
            json_object_set_new(attrs, "jid", json_pack("{s:s}", "jid", lid));
            json_object_set_new(attrs, "pn_jid", json_pack("{s:s}", "jid", j->jid));
        }
    }
    return start(st, req, j,
                 json_pack("{s:s,s:{s:{s:s},s:s,s:s},s:[o]}", "tag", "iq", "attrs", "to", "jid", "s.whatsapp.net",
                           "type", "set", "xmlns", "blocklist", "content", item),
                 on_set);
}

static int h_block(miaw_req *req, void *ud) { return set(req, ud, 1); }
static int h_unblock(miaw_req *req, void *ud) { return set(req, ud, 0); }

int ct_block_register(ct_state *st, char *err, size_t n)
{
    miaw_route rl = {MIAW_ROUTE_INIT, .method = "GET", .path = "/instances/{instanceId}/contacts/blocklist",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_list, .udata = st, .tag = "Contacts",
                     .operation_id = "getBlocklist", .summary = "List blocked contacts",
                     .response_example = "{\"blocklist\":[{\"jid\":\"15551234567@s.whatsapp.net\",\"phone\":"
                                         "\"15551234567\",\"lid\":null}],\"total\":1}"};
    miaw_route rb = {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/contacts/{jid}/block",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_block, .udata = st, .tag = "Contacts",
                     .operation_id = "blockContact", .summary = "Block a contact",
                     .description = "{jid}: a phone number, phone-number JID or LID. Blocking twice is not an error.",
                     .response_example = "{\"jid\":\"15551234567@s.whatsapp.net\",\"blocked\":true}"};
    miaw_route ru = {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/contacts/{jid}/unblock",
                     .flags = MIAW_ROUTE_INSTANCE, .handler = h_unblock, .udata = st, .tag = "Contacts",
                     .operation_id = "unblockContact", .summary = "Unblock a contact",
                     .response_example = "{\"jid\":\"15551234567@s.whatsapp.net\",\"blocked\":false}"};
    int rc = st->api->route_add(st->self, &rl, err, n);
    if (rc == MIAW_OK) rc = st->api->route_add(st->self, &rb, err, n);
    if (rc == MIAW_OK) rc = st->api->route_add(st->self, &ru, err, n);
    return rc;
}
