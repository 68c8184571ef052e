/* core/engine/engine_history.c - chat history over chat storage (wa_messages): the plugin
 * services msg_list (a page of messages, newest first, with filters) and chat_list (one
 * entry per chat, most recent first), their opaque cursors, the indexes that make a page
 * O(limit * log n), the per-chat summary table wa_chats kept by triggers (last message,
 * counts), and the retention sweeper (rows older than whatsapp.chat_storage_retention_days
 * deleted in batches of about 5 ms on one engine timer). Owns the sweeper (struct eng_hist,
 * freed when its timer handle has closed); answers are new references for the caller. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "engine/engine_int.h"
#include "wa/jid.h"
#include "wa/proto_json.h"
#include "wa_message.pb-c.h"

#define HIST_DEFAULT_LIMIT 50
#define HIST_MAX_LIMIT 200
#define HIST_FIRST_SWEEP_MS 1000u     /* after the engine starts */
#define HIST_SWEEP_EVERY_MS 3600000u  /* then hourly */
#define HIST_BATCH_MS 5               /* a retention batch aims at this much loop time */
#define HIST_BATCH_MIN 10
#define HIST_BATCH_MAX 2000
#define HIST_GAP_FACTOR 4             /* the pause after a batch: 4x its time (>= 1 ms) */

/* a received message the account has not read or played yet (SQL over a row alias) */
#define UNREAD(R) "(" R ".from_me=0 AND coalesce(" R ".status,'') NOT IN ('read','played'))"
#define LAST_OF(R)                                                                                \
    "(SELECT coalesce(m.ts,0), m.rowid FROM wa_messages m WHERE m.instance=" R ".instance AND m.chat=" R \
    ".chat ORDER BY m.ts DESC, m.rowid DESC LIMIT 1)"

/* ------------------------------------------------------------ schema */
static const char SCHEMA[] =
    "CREATE INDEX IF NOT EXISTS wa_messages_ts ON wa_messages(instance, ts);"
    "CREATE INDEX IF NOT EXISTS wa_messages_chat_ts ON wa_messages(instance, chat, ts);"
    "CREATE INDEX IF NOT EXISTS wa_messages_chat_type_ts ON wa_messages(instance, chat, type, ts);"
    "CREATE TABLE IF NOT EXISTS wa_chats(instance TEXT NOT NULL, chat TEXT NOT NULL,"
    " last_ts INTEGER NOT NULL, last_row INTEGER NOT NULL, messages INTEGER NOT NULL, unread INTEGER NOT NULL,"
    " PRIMARY KEY(instance, chat)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS wa_chats_recent ON wa_chats(instance, last_ts, last_row);"
    /* an UPDATE then an INSERT OR IGNORE: a third of the cost of an upsert in a trigger */
    "CREATE TRIGGER IF NOT EXISTS wa_hist_ins AFTER INSERT ON wa_messages BEGIN"
    " UPDATE wa_chats SET messages=messages+1, unread=unread+" UNREAD("NEW") ","
    " last_ts=CASE WHEN (coalesce(NEW.ts,0), NEW.rowid) > (last_ts, last_row) THEN coalesce(NEW.ts,0)"
    " ELSE last_ts END,"
    " last_row=CASE WHEN (coalesce(NEW.ts,0), NEW.rowid) > (last_ts, last_row) THEN NEW.rowid ELSE last_row END"
    " WHERE instance=NEW.instance AND chat=NEW.chat;"
    " INSERT OR IGNORE INTO wa_chats(instance, chat, last_ts, last_row, messages, unread)"
    " VALUES(NEW.instance, NEW.chat, coalesce(NEW.ts,0), NEW.rowid, 1, " UNREAD("NEW") ");"
    " END;"
    "CREATE TRIGGER IF NOT EXISTS wa_hist_del AFTER DELETE ON wa_messages BEGIN"
    " UPDATE wa_chats SET messages=messages-1, unread=unread-" UNREAD("OLD")
    " WHERE instance=OLD.instance AND chat=OLD.chat;"
    " DELETE FROM wa_chats WHERE instance=OLD.instance AND chat=OLD.chat AND messages<=0;"
    " UPDATE wa_chats SET (last_ts, last_row)=" LAST_OF("wa_chats")
    " WHERE instance=OLD.instance AND chat=OLD.chat AND last_row=OLD.rowid;"
    " END;"
    "CREATE TRIGGER IF NOT EXISTS wa_hist_status AFTER UPDATE OF status ON wa_messages"
    " WHEN " UNREAD("OLD") " IS NOT " UNREAD("NEW") " BEGIN"
    " UPDATE wa_chats SET unread=unread+" UNREAD("NEW") "-" UNREAD("OLD")
    " WHERE instance=NEW.instance AND chat=NEW.chat;"
    " END;"
    "CREATE TRIGGER IF NOT EXISTS wa_hist_ts AFTER UPDATE OF ts ON wa_messages WHEN OLD.ts IS NOT NEW.ts BEGIN"
    " UPDATE wa_chats SET (last_ts, last_row)=" LAST_OF("wa_chats") " WHERE instance=NEW.instance AND chat=NEW.chat;"
    " END;";

/* wa_chats from the rows already there (a database from before this table) */
static const char BACKFILL[] =
    "INSERT OR IGNORE INTO wa_chats(instance, chat, last_ts, last_row, messages, unread)"
    " SELECT instance, chat, 0, 0, count(*), sum(" UNREAD("wa_messages") ") FROM wa_messages GROUP BY instance, chat;"
    "UPDATE wa_chats SET (last_ts, last_row)=" LAST_OF("wa_chats") ";";

int eng_hist_init(miaw_storage *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='wa_chats'", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    int existed = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (miaw_storage_exec(db, "BEGIN") != 0) return -1;
    if (miaw_storage_exec(db, SCHEMA) != 0 || (!existed && miaw_storage_exec(db, BACKFILL) != 0)) {
        miaw_storage_exec(db, "ROLLBACK");
        return -1;
    }
    return miaw_storage_exec(db, "COMMIT");
}

/* ------------------------------------------------------------ cursors */
/* 18 bytes: kind, version 1, ts and rowid as 64-bit big-endian; base64url, no padding (24
 * characters). Opaque to clients; a position (ts, rowid) in newest-first order. */
static const char B64U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int eng_hist_cursor_encode(char kind, int64_t ts, int64_t row, char out[ENG_HIST_CURSOR_MAX])
{
    uint8_t b[18];
    b[0] = (uint8_t)kind;
    b[1] = 1;
    for (int i = 0; i < 8; i++) {
        b[2 + i] = (uint8_t)((uint64_t)ts >> (56 - 8 * i));
        b[10 + i] = (uint8_t)((uint64_t)row >> (56 - 8 * i));
    }
    size_t o = 0;
    for (size_t i = 0; i < sizeof b; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        for (int k = 3; k >= 0; k--) out[o++] = B64U[(v >> (6 * k)) & 63];
    }
    out[o] = 0;
    return 0;
}

int eng_hist_cursor_decode(const char *s, char kind, int64_t *ts, int64_t *row)
{
    if (!s || strlen(s) != 24) return -1;
    uint8_t b[18];
    for (size_t i = 0, o = 0; i < 24; i += 4) {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            const char *p = strchr(B64U, s[i + k]);
            if (!p || !s[i + k]) return -1;
            v = v << 6 | (uint32_t)(p - B64U);
        }
        b[o++] = (uint8_t)(v >> 16);
        b[o++] = (uint8_t)(v >> 8);
        b[o++] = (uint8_t)v;
    }
    if (b[0] != (uint8_t)kind || b[1] != 1) return -1;
    uint64_t t = 0, r = 0;
    for (int i = 0; i < 8; i++) {
        t = t << 8 | b[2 + i];
        r = r << 8 | b[10 + i];
    }
    if ((int64_t)r <= 0) return -1;
    *ts = (int64_t)t;
    *row = (int64_t)r;
    return 0;
}

/* ------------------------------------------------------------ rows */
/* the columns eng_hist_row_json reads, from `first` on */
#define ROW_COLS "rowid, id, chat, sender, from_me, ts, type, status, push_name, text, quoted_id, raw"

/* a stored message in msg_get's shape (as eng_chat_get) from the ROW_COLS of st */
static json_t *row_json(sqlite3_stmt *st)
{
    json_t *o = json_pack("{s:s?,s:b,s:I}", "id", (const char *)sqlite3_column_text(st, 1), "fromMe",
                          sqlite3_column_int(st, 4), "timestamp", (json_int_t)sqlite3_column_int64(st, 5));
    if (!o) return NULL;
    static const struct { int col; const char *name; } S[] = {{2, "chat"},     {3, "sender"},  {6, "type"},
                                                              {7, "status"},   {8, "pushName"}, {9, "text"},
                                                              {10, "quotedId"}};
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
        const unsigned char *v = sqlite3_column_text(st, S[i].col);
        json_object_set_new(o, S[i].name, v ? json_string((const char *)v) : json_null());
    }
    const void *raw = sqlite3_column_blob(st, 11);
    int n = sqlite3_column_bytes(st, 11);
    json_t *m = raw && n > 0 ? miaw_pb_json_decode(&miaw__wa__message__descriptor, raw, (size_t)n) : NULL;
    json_object_set_new(o, "message", m ? m : json_null());
    return o;
}

/* ------------------------------------------------------------ queries */
typedef struct hq {
    const char *before, *type;
    char chat[MIAW_JID_STR_MAX];
    int has_chat, limit, from_me; /* from_me -1: any */
    int has_since, has_until, has_cursor;
    int64_t since, until, cts, crow;
} hq;

static json_t *qerr(const char *field, const char *fmt, ...) MIAW_FMT(2, 3);
static json_t *qerr(const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return field ? json_pack("{s:s,s:s}", "error", msg, "field", field)
                 : json_pack("{s:s,s:b}", "error", msg, "internal", 1);
}

static int is_key(const char *k, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (!strcmp(k, *allowed)) return 1;
    return 0;
}

/* reads query into q; NULL, or the {error, field} answer */
static json_t *parse_query(const json_t *query, char kind, hq *q)
{
    static const char *const MSG_KEYS[] = {"chat", "before", "limit", "type", "fromMe", "since", "until", NULL};
    static const char *const CHAT_KEYS[] = {"before", "limit", NULL};
    memset(q, 0, sizeof *q);
    q->limit = HIST_DEFAULT_LIMIT;
    q->from_me = -1;
    if (!query) return NULL;
    if (!json_is_object(query)) return qerr("query", "query: expected an object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)query, k, v)
    {
        if (!is_key(k, kind == 'm' ? MSG_KEYS : CHAT_KEYS)) return qerr(k, "%s: unknown parameter", k);
        if (json_is_null(v)) continue;
        if (!strcmp(k, "limit")) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > HIST_MAX_LIMIT)
                return qerr(k, "limit: expected an integer from 1 to %d", HIST_MAX_LIMIT);
            q->limit = (int)json_integer_value(v);
        } else if (!strcmp(k, "before")) {
            if (!json_is_string(v) || eng_hist_cursor_decode(json_string_value(v), kind, &q->cts, &q->crow) != 0)
                return qerr(k, "before: not a cursor from a previous answer of this list");
            q->has_cursor = 1;
        } else if (!strcmp(k, "chat")) {
            miaw_jid j;
            if (!json_is_string(v) || miaw_jid_recipient(json_string_value(v), &j) != 0 ||
                miaw_jid_format(&j, q->chat, sizeof q->chat) < 0)
                return qerr(k, "chat: expected a phone number, a user JID or a group JID");
            q->has_chat = 1;
        } else if (!strcmp(k, "type")) {
            if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > 32)
                return qerr(k, "type: expected a message type such as \"text\" or \"image\"");
            q->type = json_string_value(v);
        } else if (!strcmp(k, "fromMe")) {
            if (!json_is_boolean(v)) return qerr(k, "fromMe: expected a boolean");
            q->from_me = json_is_true(v);
        } else { /* since, until */
            if (!json_is_integer(v) || json_integer_value(v) < 0)
                return qerr(k, "%s: expected a unix time in seconds (an integer >= 0)", k);
            if (!strcmp(k, "since")) q->since = json_integer_value(v), q->has_since = 1;
            else q->until = json_integer_value(v), q->has_until = 1;
        }
    }
    if (q->has_since && q->has_until && q->since > q->until) return qerr("since", "since: later than until");
    return NULL;
}

static void bind_named_text(sqlite3_stmt *st, const char *name, const char *v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void bind_named_i64(sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i) sqlite3_bind_int64(st, i, v);
}

json_t *eng_hist_msg_list(miaw_storage *db, const char *inst, const json_t *query)
{
    hq q;
    json_t *bad = parse_query(query, 'm', &q);
    if (bad) return bad;
    char sql[768];
    /* the planner walks (instance[, chat[, type]], ts) backwards from the cursor: the
     * index order is ts then rowid, which is the answer's order, so no sort and no scan */
    snprintf(sql, sizeof sql,
             "SELECT " ROW_COLS " FROM wa_messages WHERE instance=:inst%s%s%s%s%s%s"
             " ORDER BY ts DESC, rowid DESC LIMIT :lim",
             q.has_chat ? " AND chat=:chat" : "", q.type ? " AND type=:type" : "",
             q.from_me >= 0 ? " AND from_me=:fromme" : "", q.has_since ? " AND ts>=:since" : "",
             q.has_until ? " AND ts<=:until" : "",
             q.has_cursor ? " AND ts<=:cts AND (ts<:cts OR rowid<:crow)" : "");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) {
        MIAW_ERR("engine", "%s: history: %s", inst, sqlite3_errmsg(db->db));
        return qerr(NULL, "storage error");
    }
    bind_named_text(st, ":inst", inst);
    if (q.has_chat) bind_named_text(st, ":chat", q.chat);
    if (q.type) bind_named_text(st, ":type", q.type);
    if (q.from_me >= 0) bind_named_i64(st, ":fromme", q.from_me);
    if (q.has_since) bind_named_i64(st, ":since", q.since);
    if (q.has_until) bind_named_i64(st, ":until", q.until);
    if (q.has_cursor) {
        bind_named_i64(st, ":cts", q.cts);
        bind_named_i64(st, ":crow", q.crow);
    }
    bind_named_i64(st, ":lim", q.limit + 1); /* one more: is there a next page? */
    json_t *msgs = json_array(), *next = json_null();
    int n = 0, rc;
    int64_t last_ts = 0, last_row = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == q.limit) {
            char c[ENG_HIST_CURSOR_MAX];
            eng_hist_cursor_encode('m', last_ts, last_row, c);
            json_decref(next);
            next = json_string(c);
            break;
        }
        json_t *o = row_json(st);
        if (o) json_array_append_new(msgs, o);
        last_row = sqlite3_column_int64(st, 0);
        last_ts = sqlite3_column_int64(st, 5);
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        MIAW_ERR("engine", "%s: history: %s", inst, sqlite3_errmsg(db->db));
        json_decref(msgs);
        json_decref(next);
        return qerr(NULL, "storage error");
    }
    return json_pack("{s:o,s:o}", "messages", msgs, "next", next);
}

/* the message at rowid as JSON, or NULL */
static json_t *row_by_id(sqlite3_stmt *st, int64_t row)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, row);
    return sqlite3_step(st) == SQLITE_ROW ? row_json(st) : NULL;
}

json_t *eng_hist_chat_list(miaw_storage *db, const char *inst, const json_t *query)
{
    hq q;
    json_t *bad = parse_query(query, 'c', &q);
    if (bad) return bad;
    sqlite3_stmt *st, *one;
    if (sqlite3_prepare_v2(db->db,
                           q.has_cursor ? "SELECT chat, last_ts, last_row, messages, unread FROM wa_chats"
                                          " WHERE instance=?1 AND last_ts<=?2 AND (last_ts<?2 OR last_row<?3)"
                                          " ORDER BY last_ts DESC, last_row DESC LIMIT ?4"
                                        : "SELECT chat, last_ts, last_row, messages, unread FROM wa_chats"
                                          " WHERE instance=?1 ORDER BY last_ts DESC, last_row DESC LIMIT ?4",
                           -1, &st, NULL) != SQLITE_OK) {
        MIAW_ERR("engine", "%s: chats: %s", inst, sqlite3_errmsg(db->db));
        return qerr(NULL, "storage error");
    }
    if (sqlite3_prepare_v2(db->db, "SELECT " ROW_COLS " FROM wa_messages WHERE rowid=?1", -1, &one, NULL) !=
        SQLITE_OK) {
        sqlite3_finalize(st);
        return qerr(NULL, "storage error");
    }
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    if (q.has_cursor) {
        sqlite3_bind_int64(st, 2, q.cts);
        sqlite3_bind_int64(st, 3, q.crow);
    }
    sqlite3_bind_int(st, 4, q.limit + 1);
    json_t *chats = json_array(), *next = json_null();
    int n = 0, rc;
    int64_t last_ts = 0, last_row = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == q.limit) {
            char c[ENG_HIST_CURSOR_MAX];
            eng_hist_cursor_encode('c', last_ts, last_row, c);
            json_decref(next);
            next = json_string(c);
            break;
        }
        const char *jid = (const char *)sqlite3_column_text(st, 0);
        size_t jl = jid ? strlen(jid) : 0;
        last_ts = sqlite3_column_int64(st, 1);
        last_row = sqlite3_column_int64(st, 2);
        json_t *lm = row_by_id(one, last_row);
        json_array_append_new(chats, json_pack("{s:s,s:b,s:o,s:I,s:I}", "jid", jid ? jid : "", "isGroup",
                                               jl > 5 && !strcmp(jid + jl - 5, "@g.us"), "lastMessage",
                                               lm ? lm : json_null(), "unreadCount",
                                               (json_int_t)sqlite3_column_int64(st, 4), "messageCount",
                                               (json_int_t)sqlite3_column_int64(st, 3)));
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(one);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        MIAW_ERR("engine", "%s: chats: %s", inst, sqlite3_errmsg(db->db));
        json_decref(chats);
        json_decref(next);
        return qerr(NULL, "storage error");
    }
    return json_pack("{s:o,s:o}", "chats", chats, "next", next);
}

/* ------------------------------------------------------------ retention */
long eng_hist_expire(miaw_storage *db, const char *inst, int64_t cutoff, int batch)
{
    sqlite3_stmt *st;
    /* rows without a timestamp (ts 0) age by when they were stored */
    if (sqlite3_prepare_v2(db->db,
                           "DELETE FROM wa_messages WHERE rowid IN (SELECT rowid FROM wa_messages"
                           " WHERE instance=?1 AND ts<?2 AND (ts>0 OR created_at<?2) LIMIT ?3)",
                           -1, &st, NULL) != SQLITE_OK) {
        MIAW_ERR("engine", "%s: retention: %s", inst, sqlite3_errmsg(db->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, cutoff);
    sqlite3_bind_int(st, 3, batch);
    int rc = sqlite3_step(st);
    long n = rc == SQLITE_DONE ? (long)sqlite3_changes(db->db) : -1;
    sqlite3_finalize(st);
    if (n < 0) MIAW_ERR("engine", "%s: retention: %s", inst, sqlite3_errmsg(db->db));
    return n;
}

int eng_hist_instances(miaw_storage *db, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT DISTINCT instance FROM wa_chats", -1, &st, NULL) != SQLITE_OK) return -1;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            char **v = realloc(*ids, (cap = cap ? cap * 2 : 8) * sizeof *v);
            if (!v) break;
            *ids = v;
        }
        const char *s = (const char *)sqlite3_column_text(st, 0);
        if (!s || !((*ids)[*n] = strdup(s))) break;
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < *n; i++) free((*ids)[i]);
        free(*ids);
        *ids = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* the sweeper: one timer per engine; a sweep walks the instances that have rows, one
 * batch per timer tick, so the loop is never held for more than one batch */
struct eng_hist {
    uv_timer_t timer; /* first: the close callback frees the struct */
    miaw_engine *e;
    int64_t cutoff;   /* unix seconds, of the sweep in progress */
    char **ids;       /* instances still to sweep */
    size_t n, i;
    long deleted;
    int batch;        /* rows per step, adapted to HIST_BATCH_MS */
};

static void sweep_end(eng_hist *h)
{
    for (size_t i = 0; i < h->n; i++) free(h->ids[i]);
    free(h->ids);
    h->ids = NULL;
    h->n = h->i = 0;
}

static void on_sweep(uv_timer_t *t)
{
    eng_hist *h = t->data;
    miaw_engine *e = h->e;
    if (!h->ids) { /* a new sweep */
        if (eng_hist_instances(e->db, &h->ids, &h->n) != 0) {
            uv_timer_start(t, on_sweep, HIST_SWEEP_EVERY_MS, 0);
            return;
        }
        h->i = 0;
        h->deleted = 0;
        h->cutoff = miaw_now_ms() / 1000 - (int64_t)e->cfg->chat_retention_days * 86400;
    }
    uint64_t took_ms = 0;
    if (h->i < h->n) {
        uint64_t t0 = uv_hrtime();
        long k = eng_hist_expire(e->db, h->ids[h->i], h->cutoff, h->batch);
        took_ms = (uv_hrtime() - t0) / 1000000;
        if (k > 0) h->deleted += k;
        if (k < h->batch) h->i++; /* done with this instance (or it failed: next one) */
        else if (took_ms * 2 < HIST_BATCH_MS && h->batch < HIST_BATCH_MAX) h->batch *= 2;
        if (took_ms > 2 * HIST_BATCH_MS && h->batch > HIST_BATCH_MIN) h->batch /= 2;
    }
    if (h->i < h->n) { /* the loop gets at least four fifths of the time while a sweep runs */
        uv_timer_start(t, on_sweep, took_ms ? took_ms * HIST_GAP_FACTOR : 1, 0);
        return;
    }
    if (h->deleted)
        MIAW_INFO("engine", "chat storage retention: %ld message(s) older than %d day(s) deleted", h->deleted,
                  e->cfg->chat_retention_days);
    sweep_end(h);
    uv_timer_start(t, on_sweep, HIST_SWEEP_EVERY_MS, 0);
}

int eng_hist_start(miaw_engine *e, char *err, size_t errlen)
{
    if (e->cfg->chat_retention_days <= 0) return 0;
    eng_hist *h = calloc(1, sizeof *h);
    if (!h) return snprintf(err, errlen, "out of memory"), -1;
    h->e = e;
    h->batch = ENG_HIST_BATCH;
    uv_timer_init(e->loop, &h->timer);
    h->timer.data = h;
    uv_timer_start(&h->timer, on_sweep, HIST_FIRST_SWEEP_MS, 0);
    e->hist = h;
    MIAW_INFO("engine", "chat storage keeps messages for %d day(s)", e->cfg->chat_retention_days);
    return 0;
}

static void on_hist_closed(uv_handle_t *hd) { free(hd->data); }

void eng_hist_stop(miaw_engine *e)
{
    eng_hist *h = e->hist;
    if (!h) return;
    e->hist = NULL;
    sweep_end(h);
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, on_hist_closed);
}
