/* core/engine/engine_appstate_store.c - the sqlite rows of app-state sync: wa_as_keys
 * (the app-state sync keys the phone shared: id, 32-byte key data, timestamp),
 * wa_as_state (per collection: version and 128-byte LTHash) and wa_as_macs (per
 * collection: index MAC -> value MAC). Rows of the wrong shape are reported as corrupt,
 * never trusted: the collection is then synced again from scratch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "engine/engine_appstate.h"
#include "miaw/status.h"

int eas_store_init(miaw_storage *db)
{
    return miaw_storage_exec(db,
                             "CREATE TABLE IF NOT EXISTS wa_as_keys("
                             " instance TEXT NOT NULL, key_id BLOB NOT NULL, key_data BLOB NOT NULL,"
                             " ts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(instance, key_id));"
                             "CREATE TABLE IF NOT EXISTS wa_as_state("
                             " instance TEXT NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL,"
                             " hash BLOB NOT NULL, PRIMARY KEY(instance, name));"
                             "CREATE TABLE IF NOT EXISTS wa_as_macs("
                             " instance TEXT NOT NULL, name TEXT NOT NULL, index_mac BLOB NOT NULL,"
                             " value_mac BLOB NOT NULL, PRIMARY KEY(instance, name, index_mac));");
}

static sqlite3_stmt *prep(miaw_storage *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) {
        MIAW_ERR("engine", "app-state storage: %s", sqlite3_errmsg(db->db));
        return NULL;
    }
    return st;
}

int eas_key_put(miaw_storage *db, const char *inst, const uint8_t *id, size_t id_len, const uint8_t data[32],
                int64_t ts)
{
    sqlite3_stmt *st = prep(db, "INSERT INTO wa_as_keys(instance, key_id, key_data, ts) VALUES(?1,?2,?3,?4)"
                                " ON CONFLICT(instance, key_id) DO UPDATE SET key_data=excluded.key_data, ts=excluded.ts");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id, (int)id_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, data, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ts);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

static int key_row(sqlite3_stmt *st, int col, uint8_t data[32])
{
    if (sqlite3_column_bytes(st, col) != 32) return -1;
    memcpy(data, sqlite3_column_blob(st, col), 32);
    return 0;
}

int eas_key_get(miaw_storage *db, const char *inst, const uint8_t *id, size_t id_len, uint8_t data[32])
{
    sqlite3_stmt *st = prep(db, "SELECT key_data FROM wa_as_keys WHERE instance=?1 AND key_id=?2");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id, (int)id_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    rc = rc == SQLITE_ROW ? (key_row(st, 0, data) ? MIAW_E_NOTFOUND : 0) : rc == SQLITE_DONE ? MIAW_E_NOTFOUND : -1;
    sqlite3_finalize(st);
    return rc;
}

int eas_key_latest(miaw_storage *db, const char *inst, uint8_t *id, size_t *id_len, uint8_t data[32])
{
    sqlite3_stmt *st = prep(db, "SELECT key_id, key_data FROM wa_as_keys WHERE instance=?1 AND length(key_data)=32"
                                " AND length(key_id) BETWEEN 1 AND 64 ORDER BY ts DESC, rowid DESC LIMIT 1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id_len = (size_t)sqlite3_column_bytes(st, 0);
        memcpy(id, sqlite3_column_blob(st, 0), *id_len);
        rc = key_row(st, 1, data) ? MIAW_E_NOTFOUND : 0;
    } else {
        rc = rc == SQLITE_DONE ? MIAW_E_NOTFOUND : -1;
    }
    sqlite3_finalize(st);
    return rc;
}

long eas_key_count(miaw_storage *db, const char *inst)
{
    sqlite3_stmt *st = prep(db, "SELECT count(*) FROM wa_as_keys WHERE instance=?1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

int eas_state_load(miaw_storage *db, const char *inst, const char *name, miaw_as_state *st)
{
    miaw_as_state_free(st);
    sqlite3_stmt *s = prep(db, "SELECT version, hash FROM wa_as_state WHERE instance=?1 AND name=?2");
    if (!s) return -1;
    sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s), corrupt = 0;
    if (rc == SQLITE_ROW) {
        int64_t v = sqlite3_column_int64(s, 0);
        if (v < 0 || sqlite3_column_bytes(s, 1) != MIAW_AS_HASH_LEN) corrupt = 1;
        else {
            st->version = (uint64_t)v;
            memcpy(st->hash, sqlite3_column_blob(s, 1), MIAW_AS_HASH_LEN);
        }
    } else if (rc != SQLITE_DONE) {
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_DONE) return 0; /* never synced */
    s = prep(db, "SELECT index_mac, value_mac FROM wa_as_macs WHERE instance=?1 AND name=?2");
    if (!s) return -1;
    sqlite3_bind_text(s, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    while (!corrupt && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 0) != 32 || sqlite3_column_bytes(s, 1) != 32 ||
            miaw_as_state_get(st, sqlite3_column_blob(s, 0)))
            corrupt = 1;
        else if (miaw_as_state_put(st, sqlite3_column_blob(s, 0), sqlite3_column_blob(s, 1)) != MIAW_OK)
            rc = SQLITE_NOMEM;
    }
    sqlite3_finalize(s);
    if (!corrupt && rc != SQLITE_DONE) {
        miaw_as_state_free(st);
        return -1;
    }
    if (corrupt) {
        MIAW_WARN("engine", "%s: app-state %s: stored state is corrupt; the collection will be synced again", inst,
                  name);
        miaw_as_state_free(st);
        return 1;
    }
    return 0;
}

static int exec_mac(sqlite3_stmt *st, const uint8_t *im, const uint8_t *vm)
{
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 3, im, 32, SQLITE_STATIC);
    if (vm) sqlite3_bind_blob(st, 4, vm, 32, SQLITE_STATIC);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

int eas_state_save(miaw_storage *db, const char *inst, const char *name, const miaw_as_state *old,
                   const miaw_as_state *cur)
{
    if (miaw_storage_exec(db, "SAVEPOINT eas_save") != 0) return -1;
    int rc = -1;
    sqlite3_stmt *up = prep(db, "INSERT OR REPLACE INTO wa_as_state(instance, name, version, hash) VALUES(?1,?2,?3,?4)");
    sqlite3_stmt *put = prep(db, "INSERT OR REPLACE INTO wa_as_macs(instance, name, index_mac, value_mac)"
                                 " VALUES(?1,?2,?3,?4)");
    sqlite3_stmt *del = prep(db, "DELETE FROM wa_as_macs WHERE instance=?1 AND name=?2 AND index_mac=?3");
    if (!up || !put || !del) goto done;
    sqlite3_bind_text(up, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(up, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 3, (int64_t)cur->version);
    sqlite3_bind_blob(up, 4, cur->hash, MIAW_AS_HASH_LEN, SQLITE_STATIC);
    if (sqlite3_step(up) != SQLITE_DONE) goto done;
    sqlite3_bind_text(put, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(put, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(del, 1, inst, -1, SQLITE_STATIC);
    sqlite3_bind_text(del, 2, name, -1, SQLITE_STATIC);
    /* merge walk over the two sorted maps */
    size_t i = 0, j = 0;
    while (i < old->n || j < cur->n) {
        int c = i >= old->n ? 1 : j >= cur->n ? -1 : memcmp(old->ents[i].index_mac, cur->ents[j].index_mac, 32);
        if (c < 0) {
            if (exec_mac(del, old->ents[i].index_mac, NULL)) goto done;
            i++;
        } else if (c > 0) {
            if (exec_mac(put, cur->ents[j].index_mac, cur->ents[j].value_mac)) goto done;
            j++;
        } else {
            if (memcmp(old->ents[i].value_mac, cur->ents[j].value_mac, 32) &&
                exec_mac(put, cur->ents[j].index_mac, cur->ents[j].value_mac))
                goto done;
            i++, j++;
        }
    }
    rc = 0;
done:
    if (rc) MIAW_ERR("engine", "%s: app-state %s not saved: %s", inst, name, sqlite3_errmsg(db->db));
    sqlite3_finalize(up);
    sqlite3_finalize(put);
    sqlite3_finalize(del);
    if (rc) miaw_storage_exec(db, "ROLLBACK TO eas_save");
    miaw_storage_exec(db, "RELEASE eas_save");
    return rc;
}

void eas_purge(miaw_storage *db, const char *inst)
{
    static const char *sql[] = {"DELETE FROM wa_as_keys WHERE instance=?1", "DELETE FROM wa_as_state WHERE instance=?1",
                                "DELETE FROM wa_as_macs WHERE instance=?1"};
    for (size_t i = 0; i < 3; i++) {
        sqlite3_stmt *st = prep(db, sql[i]);
        if (!st) continue;
        sqlite3_bind_text(st, 1, inst, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_finalize(st);
    }
}
