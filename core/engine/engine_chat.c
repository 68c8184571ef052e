/* core/engine/engine_chat.c - chat storage (table wa_messages: messages in and out per instance,
 * keyed by chat, id and direction, which also makes redelivered messages recognisable)
 * and the per-instance cache of device lists from usync (kept until a device
 * notification names the user, or an hour has passed). With chat_storage off only the
 * key columns of a row are written (no text, no payload). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "base/log.h"
#include "wa/proto_json.h"
#include "wa_message.pb-c.h"

#define DEVLIST_MAX 512
#define DEVLIST_TTL_MS (3600 * 1000)

int eng_chat_init(miaw_storage *db)
{
    return miaw_storage_exec(db,
                             "CREATE TABLE IF NOT EXISTS wa_messages("
                             " instance TEXT NOT NULL, chat TEXT NOT NULL, id TEXT NOT NULL,"
                             " from_me INTEGER NOT NULL, sender TEXT, push_name TEXT, type TEXT, text TEXT,"
                             " quoted_id TEXT, ts INTEGER, status TEXT, raw BLOB, created_at INTEGER,"
                             " PRIMARY KEY(instance, chat, id, from_me));"
                             "CREATE INDEX IF NOT EXISTS wa_messages_id ON wa_messages(instance, id);") ||
           eng_proto_init(db); /* edited_at (engine_protocol.c) */
}

static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}

int eng_chat_insert(miaw_engine *e, const char *inst, const eng_msg_row *r)
{
    /* prepared once per engine (every stored message goes through here), reset after use */
    if (!e->chat_ins &&
        sqlite3_prepare_v3(e->db->db,
                           "INSERT OR IGNORE INTO wa_messages(instance, chat, id, from_me, sender, push_name, type,"
                           " text, quoted_id, ts, status, raw, created_at)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,CAST(strftime('%s','now') AS INTEGER))",
                           -1, SQLITE_PREPARE_PERSISTENT, &e->chat_ins, NULL) != SQLITE_OK) {
        MIAW_ERR("engine", "%s: %s", inst, sqlite3_errmsg(e->db->db));
        e->chat_ins = NULL;
        return -1;
    }
    sqlite3_stmt *st = e->chat_ins;
    int full = e->cfg->chat_storage;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->chat, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, r->from_me);
    bind_opt(st, 5, r->sender);
    bind_opt(st, 6, full ? r->push_name : NULL);
    bind_opt(st, 7, r->type);
    bind_opt(st, 8, full ? r->text : NULL);
    bind_opt(st, 9, full ? r->quoted_id : NULL);
    sqlite3_bind_int64(st, 10, r->ts);
    bind_opt(st, 11, r->status);
    if (full && r->raw) sqlite3_bind_blob(st, 12, r->raw, (int)r->raw_len, SQLITE_STATIC);
    else sqlite3_bind_null(st, 12);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        MIAW_ERR("engine", "%s: cannot store message %s: %s", inst, r->id, sqlite3_errmsg(e->db->db));
        return -1;
    }
    return sqlite3_changes(e->db->db) > 0 ? 1 : 0;
}

int eng_chat_exists(miaw_engine *e, const char *inst, const char *chat, const char *id, int from_me)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db->db,
                           "SELECT 1 FROM wa_messages WHERE instance=?1 AND chat=?2 AND id=?3 AND from_me=?4", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, chat, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, from_me);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int eng_chat_set_status(miaw_engine *e, const char *inst, const char *id, int from_me, const char *status, int64_t ts)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db->db,
                           "UPDATE wa_messages SET status=?4, ts=CASE WHEN ?5>0 THEN ?5 ELSE ts END"
                           " WHERE instance=?1 AND id=?2 AND from_me=?3 AND status IS NOT 'revoked'",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, from_me);
    sqlite3_bind_text(st, 4, status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, ts);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? strdup(s) : NULL;
}

int eng_chat_find(miaw_engine *e, const char *inst, const char *id, char **chat, char **sender, char **text,
                  int *from_me)
{
    *chat = *sender = *text = NULL;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db->db,
                           "SELECT chat, sender, text, from_me FROM wa_messages WHERE instance=?1 AND id=?2"
                           " ORDER BY created_at DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        *chat = col_dup(st, 0);
        *sender = col_dup(st, 1);
        *text = col_dup(st, 2);
        *from_me = sqlite3_column_int(st, 3);
    }
    sqlite3_finalize(st);
    return found;
}

json_t *eng_chat_get(miaw_engine *e, const char *inst, const char *id)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db->db,
                           "SELECT chat, sender, from_me, ts, type, status, push_name, text, quoted_id, raw,"
                           " edited_at FROM wa_messages WHERE instance=?1 AND id=?2 ORDER BY created_at DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    json_t *o = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        static const char *const names[] = {"chat", "sender", NULL, NULL, "type", "status", "pushName", "text",
                                            "quotedId"};
        o = json_pack("{s:s,s:b,s:I}", "id", id, "fromMe", sqlite3_column_int(st, 2),
                      "timestamp", (json_int_t)sqlite3_column_int64(st, 3));
        for (int i = 0; i < 9; i++) {
            if (!names[i]) continue;
            const unsigned char *v = sqlite3_column_text(st, i);
            json_object_set_new(o, names[i], v ? json_string((const char *)v) : json_null());
        }
        const void *raw = sqlite3_column_blob(st, 9);
        int n = sqlite3_column_bytes(st, 9);
        json_t *m = raw && n > 0 ? miaw_pb_json_decode(&miaw__wa__message__descriptor, raw, (size_t)n) : NULL;
        json_object_set_new(o, "message", m ? m : json_null());
        if (sqlite3_column_type(st, 10) != SQLITE_NULL) /* edited (engine_protocol.c) */
            json_object_set_new(o, "editedAt", json_integer((json_int_t)sqlite3_column_int64(st, 10)));
    }
    sqlite3_finalize(st);
    return o;
}

void eng_chat_delete(miaw_engine *e, const char *inst)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(e->db->db, "DELETE FROM wa_messages WHERE instance=?1", -1, &st, NULL) != SQLITE_OK) return;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

/* ------------------------------------------------------------ device lists */
eng_devlist *eng_devlist_get(eng_inst *ei, const char *user)
{
    uint64_t now = uv_now(ei->e->loop);
    for (eng_devlist *d = ei->devlists; d; d = d->next)
        if (!strcmp(d->user, user)) return now - d->at < DEVLIST_TTL_MS ? d : NULL;
    return NULL;
}

void eng_devlist_put(eng_inst *ei, const miaw_wa_usync_user *u)
{
    char user[MIAW_JID_STR_MAX];
    if (miaw_jid_format(&u->user, user, sizeof user) < 0) return;
    eng_devlist *d = NULL, **pp = &ei->devlists, **oldest = NULL;
    for (; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->user, user)) {
            d = *pp;
            break;
        }
        if (!oldest || (*pp)->at < (*oldest)->at) oldest = pp;
    }
    if (!d && ei->ndevlists >= DEVLIST_MAX && oldest) { /* reuse the oldest entry */
        d = *oldest;
    }
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d) return;
        d->next = ei->devlists;
        ei->devlists = d;
        ei->ndevlists++;
    }
    snprintf(d->user, sizeof d->user, "%s", user);
    memcpy(d->devices, u->devices, u->ndevices * sizeof u->devices[0]);
    d->n = u->ndevices;
    d->at = uv_now(ei->e->loop);
}

void eng_devlist_forget(eng_inst *ei, const char *user)
{
    eng_devlist **pp = &ei->devlists;
    while (*pp) {
        if (!user || !strcmp((*pp)->user, user)) {
            eng_devlist *d = *pp;
            *pp = d->next;
            free(d);
            ei->ndevlists--;
        } else {
            pp = &(*pp)->next;
        }
    }
}

void eng_devlist_free(eng_inst *ei) { eng_devlist_forget(ei, NULL); }
