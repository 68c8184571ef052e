/* core/engine/engine_protocol.c - chat storage follows protocol messages: a revoke ("delete
 * for everyone", protocolMessage REVOKE) marks its target row revoked (type kept, text and
 * payload cleared, status "revoked"), an edit (MESSAGE_EDIT) replaces the target's text
 * and payload and records the edit time (column edited_at), whether it came from a peer,
 * from the account's own phone (DSM) or from a send of ours the server acknowledged.
 * Only the author may edit or revoke; in groups a revoke with edit="8" (admin) applies to
 * anyone's message (the server decides who may send one). Also the typed fields of the
 * `message` event that content kinds carry (location, contact cards). Owns no state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "base/log.h"
#include "base/util.h"
#include "wa/msgcontent.h"

int eng_proto_init(miaw_storage *db)
{
    /* added after the table's first release: an older database gets the column now */
    sqlite3_stmt *st;
    int have = 0;
    if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM pragma_table_info('wa_messages') WHERE name='edited_at'", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    have = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return have ? 0 : miaw_storage_exec(db, "ALTER TABLE wa_messages ADD COLUMN edited_at INTEGER");
}

int eng_proto_visible(const miaw_wa_content *c)
{
    return c->type == MIAW_WA_CONTENT_PROTOCOL && c->target_id &&
           (c->proto_type == MIAW_WA_PROTO_REVOKE || c->proto_type == MIAW_WA_PROTO_MESSAGE_EDIT);
}

/* the target row of c in chat that actor may change: 1 and *rowid / *raw (malloc'd, may
 * be NULL) / *revoked, 0 when there is none, -1 on a database error */
static int find_target(miaw_engine *e, const char *inst, const char *chat, const char *actor, int from_me, int admin,
                       const char *id, int64_t *rowid, uint8_t **raw, size_t *raw_len, int *revoked)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db->db,
                           "SELECT rowid, from_me, sender, status, raw FROM wa_messages"
                           " WHERE instance=?1 AND chat=?2 AND id=?3 ORDER BY from_me DESC",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chat, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    int found = 0, rc;
    while (!found && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int row_me = sqlite3_column_int(st, 1);
        const char *sender = (const char *)sqlite3_column_text(st, 2);
        const char *status = (const char *)sqlite3_column_text(st, 3);
        if (!admin && (row_me != from_me || (!from_me && (!sender || strcmp(sender, actor) != 0)))) continue;
        found = 1;
        *rowid = sqlite3_column_int64(st, 0);
        *revoked = status && !strcmp(status, "revoked");
        const void *b = sqlite3_column_blob(st, 4);
        int n = sqlite3_column_bytes(st, 4);
        *raw = NULL;
        *raw_len = 0;
        if (b && n > 0 && (*raw = malloc((size_t)n))) {
            memcpy(*raw, b, (size_t)n);
            *raw_len = (size_t)n;
        }
    }
    if (!found && rc != SQLITE_DONE && rc != SQLITE_ROW) found = -1;
    sqlite3_finalize(st);
    return found;
}

static int exec_row(miaw_engine *e, const char *sql, int64_t rowid, const char *text, const uint8_t *raw,
                    size_t raw_len, int64_t ts)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(st, 1, rowid);
    if (text) sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, 2);
    if (raw) sqlite3_bind_blob(st, 3, raw, (int)raw_len, SQLITE_STATIC);
    else sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, ts);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int eng_proto_apply(eng_inst *ei, const char *chat, const char *actor, int from_me, const miaw_wa_content *c,
                    const char *edit, int64_t ts)
{
    if (!eng_proto_visible(c)) return 0;
    miaw_engine *e = ei->e;
    int revoke = c->proto_type == MIAW_WA_PROTO_REVOKE;
    int admin = revoke && edit && !strcmp(edit, "8") && strstr(chat, "@g.us") != NULL;
    int64_t rowid = 0;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    int revoked = 0;
    int f = find_target(e, ei->id, chat, actor, from_me, admin, c->target_id, &rowid, &raw, &raw_len, &revoked);
    if (f <= 0) {
        if (f == 0)
            MIAW_DEBUG("engine", "%s: %s of %s in %s by %s: no such message of that author stored", ei->id,
                       revoke ? "revoke" : "edit", c->target_id, chat, actor);
        return f;
    }
    int rc = 0;
    if (revoke) {
        rc = exec_row(e, "UPDATE wa_messages SET text=NULL, raw=NULL, status='revoked' WHERE rowid=?1", rowid, NULL,
                      NULL, 0, 0);
    } else if (!revoked) {
        int64_t at = c->edit_ts_ms > 0 ? c->edit_ts_ms / 1000 : ts;
        uint8_t *merged = NULL;
        size_t mlen = 0;
        miaw_wa_content mc;
        int have = e->cfg->chat_storage && c->edited &&
                   miaw_wa_apply_edit(raw, raw_len, c->edited, c->edited_len, &merged, &mlen) == 0 &&
                   miaw_wa_content_parse(merged, mlen, &mc) == 0;
        if (have) {
            rc = exec_row(e, "UPDATE wa_messages SET text=?2, raw=?3, edited_at=?4 WHERE rowid=?1", rowid, mc.text,
                          merged, mlen, at);
            miaw_wa_content_clear(&mc);
        } else {
            rc = exec_row(e, "UPDATE wa_messages SET edited_at=?4 WHERE rowid=?1", rowid, NULL, NULL, 0, at);
        }
        free(merged);
    }
    free(raw);
    if (rc) MIAW_ERR("engine", "%s: cannot apply the %s of %s: %s", ei->id, revoke ? "revoke" : "edit", c->target_id,
                     sqlite3_errmsg(e->db->db));
    else MIAW_DEBUG("engine", "%s: message %s in %s %s", ei->id, c->target_id, chat, revoke ? "revoked" : "edited");
    return rc ? -1 : 1;
}

void eng_proto_on_acked(eng_inst *ei, const eng_send *s, int64_t ts)
{
    miaw_wa_content c;
    if (miaw_wa_content_parse(s->msg, s->msg_len, &c) != 0) return;
    if (eng_proto_visible(&c)) eng_proto_apply(ei, s->chat_s, s->own_s, 1, &c, s->edit, ts);
    miaw_wa_content_clear(&c);
}

/* ------------------------------------------------------------ event fields */
static json_t *str_or_null(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? json_string(s) : json_null();
}

static json_t *num_or_null(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_real(json_number_value(v)) : json_null();
}

static json_t *card(const json_t *cm)
{
    return json_pack("{s:o,s:o}", "name", str_or_null(cm, "displayName"), "vcard", str_or_null(cm, "vcard"));
}

void eng_proto_event_fields(json_t *d, const json_t *raw)
{
    const json_t *loc = json_object_get(raw, "locationMessage");
    if (json_is_object(loc))
        json_object_set_new(d, "location",
                            json_pack("{s:o,s:o,s:o,s:o}", "latitude", num_or_null(loc, "degreesLatitude"),
                                      "longitude", num_or_null(loc, "degreesLongitude"), "name",
                                      str_or_null(loc, "name"), "address", str_or_null(loc, "address")));
    const json_t *one = json_object_get(raw, "contactMessage");
    const json_t *many = json_object_get(json_object_get(raw, "contactsArrayMessage"), "contacts");
    if (json_is_object(one) || json_is_array(many)) {
        json_t *arr = json_array();
        if (json_is_object(one)) json_array_append_new(arr, card(one));
        size_t i;
        const json_t *v;
        json_array_foreach(many, i, v) json_array_append_new(arr, card(v));
        json_object_set_new(d, "contacts", arr);
    }
}
