/* core/base/storage.c - sqlite database of the server (see storage.h). */
#include "base/storage.h"

#include "base/log.h"
#include "base/util.h"

#include <miaw/status.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* WAL pages that wake the checkpoint worker (4 times that: the committing thread runs
 * one itself): a queue-like outbox rewrites the same pages often, so a larger WAL copies
 * fewer of them per event; 8000 pages = 32 MiB of WAL, at most 128 MiB. The page cache
 * (16 MiB, PRAGMA cache_size below) holds a busy outbox's working set. */
#define CHECKPOINT_PAGES 8000

static const char *MIGRATIONS[] = {
    /* 1 */
    "CREATE TABLE instances ("
    "  id TEXT PRIMARY KEY,"
    "  created_at INTEGER NOT NULL,"
    "  webhook_url TEXT,"
    "  webhook_events TEXT NOT NULL DEFAULT '[]',"
    "  webhook_enabled INTEGER NOT NULL DEFAULT 1,"
    "  status TEXT NOT NULL DEFAULT 'disconnected',"
    "  status_reason TEXT"
    ");"
    "CREATE TABLE plugin_kv ("
    "  plugin TEXT NOT NULL, instance TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY (plugin, instance, key)"
    ");",
};

int miaw_storage_exec(miaw_storage *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        MIAW_ERR("db", "%s", msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int miaw_storage_open(miaw_storage *s, const char *data_dir, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (miaw_mkdir_p(data_dir, 0700) != 0) {
        snprintf(err, errlen, "data dir %s: cannot create", data_dir);
        return -1;
    }
    size_t n = strlen(data_dir) + 16;
    s->path = malloc(n);
    snprintf(s->path, n, "%s/miaw.db", data_dir);
    mode_t old = umask(077);
    int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    umask(old);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", s->path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
        miaw_storage_close(s);
        return -1;
    }
    chmod(s->path, 0600);
    sqlite3_busy_timeout(s->db, 5000);
    if (miaw_storage_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384;") != 0) {
        snprintf(err, errlen, "%s: cannot enable WAL", s->path);
        miaw_storage_close(s);
        return -1;
    }
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    int want = (int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0]);
    if (version > want) {
        snprintf(err, errlen, "%s: schema version %d is newer than this miaw (%d)", s->path, version, want);
        miaw_storage_close(s);
        return -1;
    }
    for (int v = version; v < want; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d;", v + 1);
        if (miaw_storage_exec(s, "BEGIN") || miaw_storage_exec(s, MIGRATIONS[v]) || miaw_storage_exec(s, pragma) ||
            miaw_storage_exec(s, "COMMIT")) {
            miaw_storage_exec(s, "ROLLBACK");
            snprintf(err, errlen, "%s: migration %d failed", s->path, v + 1);
            miaw_storage_close(s);
            return -1;
        }
    }
    s->ckpt = miaw_checkpointer_start(s->db, s->path, CHECKPOINT_PAGES);
    return 0;
}

void miaw_storage_close(miaw_storage *s)
{
    miaw_checkpointer_stop(s->ckpt);
    s->ckpt = NULL;
    if (s->db) sqlite3_close_v2(s->db);
    s->db = NULL;
    free(s->path);
    s->path = NULL;
}

json_t *miaw_kv_get(miaw_storage *s, const char *plugin, const char *instance, const char *key)
{
    sqlite3_stmt *st;
    json_t *out = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM plugin_kv WHERE plugin=?1 AND instance=?2 AND key=?3", -1, &st,
                           NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, instance ? instance : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *txt = (const char *)sqlite3_column_text(st, 0);
        out = txt ? json_loads(txt, JSON_DECODE_ANY, NULL) : NULL;
        if (!out) MIAW_WARN("db", "plugin_kv %s/%s/%s: unreadable value ignored", plugin, instance, key);
    }
    sqlite3_finalize(st);
    return out;
}

int miaw_kv_put(miaw_storage *s, const char *plugin, const char *instance, const char *key, const json_t *v)
{
    char *txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!txt) return MIAW_E_INVAL;
    sqlite3_stmt *st;
    int rc = MIAW_E_IO;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO plugin_kv(plugin,instance,key,value) VALUES(?1,?2,?3,?4)",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, plugin, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, instance ? instance : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, txt, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_DONE) rc = MIAW_OK;
        sqlite3_finalize(st);
    }
    free(txt);
    return rc;
}

int miaw_kv_del(miaw_storage *s, const char *plugin, const char *instance, const char *key)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "DELETE FROM plugin_kv WHERE plugin=?1 AND instance=?2 AND key=?3", -1, &st, NULL) !=
        SQLITE_OK)
        return MIAW_E_IO;
    sqlite3_bind_text(st, 1, plugin, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, instance ? instance : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? (sqlite3_changes(s->db) ? MIAW_OK : MIAW_E_NOTFOUND) : MIAW_E_IO;
    sqlite3_finalize(st);
    return rc;
}

int miaw_storage_purge_instance(miaw_storage *s, const char *instance)
{
    static const char *sqls[] = {"DELETE FROM plugin_kv WHERE instance=?1", "DELETE FROM instances WHERE id=?1"};
    if (miaw_storage_exec(s, "BEGIN") != 0) return -1;
    for (size_t i = 0; i < sizeof sqls / sizeof sqls[0]; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->db, sqls[i], -1, &st, NULL) != SQLITE_OK) {
            miaw_storage_exec(s, "ROLLBACK");
            return -1;
        }
        sqlite3_bind_text(st, 1, instance, -1, SQLITE_STATIC);
        int ok = sqlite3_step(st) == SQLITE_DONE;
        sqlite3_finalize(st);
        if (!ok) {
            miaw_storage_exec(s, "ROLLBACK");
            return -1;
        }
    }
    return miaw_storage_exec(s, "COMMIT");
}
