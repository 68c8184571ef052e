/* plugins/presence/read.c - POST /instances/{instanceId}/read/{messageId}: read receipts
 * (<receipt type="read" to=<chat> id [participant] t><list><item id/>...</list>) for a
 * received message and the earlier unread ones of its chat.
 * "Unread" means: a message received in that chat (not sent by this account) at or before
 * the given one (its timestamp, and for the same second its place in chat storage) that
 * this plugin has not marked read yet. The marks are a per-chat watermark kept in the
 * plugin's kv store ("read:<chat>" = {t: the newest timestamp read, ids: the ids read at
 * that second}), so they survive restarts and no receipt is sent twice; reading an older
 * message than the watermark sends nothing. Messages read on another device of the
 * account are not known here and may be marked again (WhatsApp ignores that).
 * Chat history comes from the host (msg_get, msg_list). State: the kv rows only. */
#include "presence.h"

#include <stdio.h>
#include <string.h>

#define READ_MAX 1000      /* ids marked by one call at most (oldest ones beyond are left) */
#define READ_SCAN_PAGES 10 /* msg_list pages of 200 looked at */
#define IDS_PER_RECEIPT 100

/* is id in the array of strings ids? */
static int has_id(const json_t *ids, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) if (json_string_value(v) && !strcmp(json_string_value(v), id)) return 1;
    return 0;
}

/* the unread received messages of chat from target (at ts) back to the mark: a new array
 * of {id, sender, timestamp}, target first. NULL when chat history is unavailable. */
static json_t *unread(miaw_plugin_base *b, const char *inst, const char *chat, const char *target, json_int_t ts,
                      json_int_t mark_t, const json_t *mark_ids)
{
    json_t *out = json_array(), *cursor = NULL;
    int started = 0, done = 0;
    for (int page = 0; page < READ_SCAN_PAGES && !done; page++) {
        json_t *q = json_pack("{s:s,s:b,s:I,s:i}", "chat", chat, "fromMe", 0, "until", ts, "limit", 200);
        if (cursor) json_object_set(q, "before", cursor);
        json_t *r = b->api->msg_list(b->self, inst, q);
        json_decref(q);
        json_decref(cursor);
        cursor = NULL;
        if (!json_is_array(json_object_get(r, "messages"))) {
            json_decref(r);
            break;
        }
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(r, "messages"), i, m) {
            const char *id = json_string_value(json_object_get(m, "id"));
            json_int_t t = json_integer_value(json_object_get(m, "timestamp"));
            if (!id) continue;
            if (!started) { /* newer messages of the same second come first: skip them */
                if (strcmp(id, target)) continue;
                started = 1;
            }
            if (t < mark_t || json_array_size(out) >= READ_MAX) {
                done = 1;
                break;
            }
            if (t == mark_t && has_id(mark_ids, id)) continue;
            const json_t *sender = json_object_get(m, "sender");
            json_array_append_new(out, json_pack("{s:s,s:O,s:I}", "id", id, "sender", sender ? sender : json_null(),
                                                 "timestamp", t));
        }
        json_t *next = json_object_get(r, "next");
        if (json_is_string(next)) cursor = json_incref(next);
        else done = 1;
        json_decref(r);
    }
    json_decref(cursor);
    return out;
}

/* one receipt for ids (all of the same sender: participant in groups, else NULL); MIAW_OK
 * or the error (err set) */
static int send_receipt(miaw_plugin_base *b, const char *inst, const char *chat, const char *participant,
                        const json_t *ids, char *err, size_t errlen)
{
    json_t *attrs = json_pack("{s:s,s:s,s:{s:s},s:I}", "id", json_string_value(json_array_get(ids, 0)), "type", "read",
                              "to", "jid", chat, "t", (json_int_t)(b->api->now_ms() / 1000));
    if (participant) json_object_set_new(attrs, "participant", json_pack("{s:s}", "jid", participant));
    json_t *n = json_pack("{s:s,s:o}", "tag", "receipt", "attrs", attrs);
    if (json_array_size(ids) > 1) {
        json_t *items = json_array();
        for (size_t i = 1; i < json_array_size(ids); i++)
            json_array_append_new(items, json_pack("{s:s,s:{s:O}}", "tag", "item", "attrs", "id", json_array_get(ids, i)));
        json_object_set_new(n, "content", json_pack("[{s:s,s:o}]", "tag", "list", "content", items));
    }
    int rc = b->api->stanza_send(b->self, inst, n, err, errlen);
    json_decref(n);
    return rc;
}

/* the receipts for list (target first): grouped by sender in groups, IDS_PER_RECEIPT ids
 * each. MIAW_OK, or the first error (err set). *sent counts the receipts. */
static int send_receipts(miaw_plugin_base *b, const char *inst, const char *chat, const json_t *list, int *sent,
                         char *err, size_t errlen)
{
    int group = strstr(chat, "@g.us") != NULL;
    json_t *by = json_object(); /* sender ("" in 1:1) -> [ids] */
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        const char *s = group ? json_string_value(json_object_get(m, "sender")) : "";
        if (!s) continue; /* a group message without a known sender cannot be receipted */
        json_t *arr = json_object_get(by, s);
        if (!arr) json_object_set_new(by, s, arr = json_array());
        json_array_append(arr, json_object_get(m, "id"));
    }
    int rc = MIAW_OK;
    const char *s;
    json_t *arr;
    json_object_foreach(by, s, arr) {
        for (size_t off = 0; rc == MIAW_OK && off < json_array_size(arr); off += IDS_PER_RECEIPT) {
            json_t *chunk = json_array();
            for (size_t k = off; k < off + IDS_PER_RECEIPT && k < json_array_size(arr); k++)
                json_array_append(chunk, json_array_get(arr, k));
            rc = send_receipt(b, inst, chat, group ? s : NULL, chunk, err, errlen);
            json_decref(chunk);
            if (rc == MIAW_OK) (*sent)++;
        }
        if (rc != MIAW_OK) break;
    }
    json_decref(by);
    return rc;
}

static int h_read(miaw_req *req, void *ud)
{
    miaw_plugin_base *b = ud;
    const char *inst = b->api->req_param(req, "instanceId"), *id = b->api->req_param(req, "messageId");
    if (!id || !*id || strlen(id) > 128)
        return b->api->reply_status(req, MIAW_E_INVAL, "messageId", "messageId must be 1-128 characters"), MIAW_OK;
    json_t *msg = b->api->msg_get(b->self, inst, id);
    if (!msg) return b->api->reply_status(req, MIAW_E_NOTFOUND, "messageId", "no stored message with this id"), MIAW_OK;
    const char *chat = json_string_value(json_object_get(msg, "chat"));
    json_int_t ts = json_integer_value(json_object_get(msg, "timestamp"));
    if (json_is_true(json_object_get(msg, "fromMe")) || !chat) {
        json_decref(msg);
        return b->api->reply_status(req, MIAW_E_INVAL, "messageId",
                                    "this account sent that message: only received messages are marked read"),
               MIAW_OK;
    }
    char key[PRS_JID_MAX + 8];
    snprintf(key, sizeof key, "read:%s", chat);
    json_t *mark = b->api->kv_get(b->self, inst, key);
    json_int_t mark_t = json_integer_value(json_object_get(mark, "t"));
    const json_t *mark_ids = json_object_get(mark, "ids");
    int already = ts < mark_t || (ts == mark_t && has_id(mark_ids, id));
    json_t *list = already ? json_array() : unread(b, inst, chat, id, ts, mark_t, mark_ids);
    if (!already && !json_array_size(list)) { /* history did not list it: the target alone */
        const json_t *sender = json_object_get(msg, "sender");
        json_array_append_new(list, json_pack("{s:s,s:O,s:I}", "id", id, "sender", sender ? sender : json_null(),
                                              "timestamp", ts));
    }
    char err[256] = "";
    int sent = 0, rc = send_receipts(b, inst, chat, list, &sent, err, sizeof err);
    if (rc != MIAW_OK) {
        b->api->reply_status(req, rc, NULL, "%s", *err ? err : "the receipt was not sent");
    } else {
        json_t *ids = json_array();
        size_t i;
        json_t *m;
        json_array_foreach(list, i, m) json_array_append(ids, json_object_get(m, "id"));
        if (json_array_size(list)) { /* the new watermark: ts, with the ids read at that second */
            json_t *same = json_array();
            if (ts == mark_t)
                json_array_foreach(mark_ids, i, m) if (json_array_size(same) < READ_MAX) json_array_append(same, m);
            json_array_foreach(list, i, m) if (json_integer_value(json_object_get(m, "timestamp")) == ts &&
                                                json_array_size(same) < 2 * READ_MAX)
                json_array_append(same, json_object_get(m, "id"));
            if (b->api->kv_put(b->self, inst, key, json_pack("{s:I,s:o}", "t", ts, "ids", same)) != MIAW_OK)
                MIAW_LOGW(b->api, b->self, "%s: the read mark of %s was not saved", inst, chat);
        }
        b->api->reply_json(req, 200, json_pack("{s:s,s:s,s:o,s:i}", "messageId", id, "chat", chat, "read", ids,
                                               "receipts", sent));
    }
    json_decref(list);
    json_decref(mark);
    json_decref(msg);
    return MIAW_OK;
}

int prs_read_register(miaw_plugin_base *b, char *err, size_t errlen)
{
    miaw_route r = {MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/read/{messageId}",
                    .flags = MIAW_ROUTE_INSTANCE, .handler = h_read, .udata = b, .tag = "Presence",
                    .summary = "Mark a message, and the earlier unread ones of its chat, as read",
                    .description =
                        "Sends read receipts (blue ticks) for the received message `messageId` and every message "
                        "received before it in the same chat that was not marked read through this route yet (at "
                        "most 1000 per call), one receipt per sender in groups. The marks are kept per chat, so "
                        "calling it again for the same or an older message sends nothing (`read` is then empty). "
                        "`read` lists the ids marked now, newest first. 404 NOT_FOUND for an unknown id, 400 "
                        "INVALID_REQUEST for a message this account sent.",
                    .response_example = "{\"messageId\":\"3EB0C4F1A2B3C4D5E6F7A8\",\"chat\":\"15551234567@s.whatsapp.net\","
                                        "\"read\":[\"3EB0C4F1A2B3C4D5E6F7A8\",\"3EB0AA11BB22CC33DD44EE\"],\"receipts\":1}"};
    return b->api->route_add(b->self, &r, err, errlen);
}
