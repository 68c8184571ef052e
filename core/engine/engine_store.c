/* core/engine/engine_store.c - sqlite rows of the protocol engine: an instance's device
 * credentials (wa_creds: private keys, registration id, adv secret, pairing result).
 * One-time pre-keys are generated into the instance's Signal store (engine_sig.c);
 * wa_prekeys only holds rows of older versions until they are moved there. Public keys
 * are derived on load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "base/log.h"

int eng_store_init(miaw_storage *db)
{
    return miaw_storage_exec(db,
                             "CREATE TABLE IF NOT EXISTS wa_creds("
                             " instance TEXT PRIMARY KEY, noise_priv BLOB NOT NULL, identity_priv BLOB NOT NULL,"
                             " spk_priv BLOB NOT NULL, spk_id INTEGER NOT NULL, spk_sig BLOB NOT NULL,"
                             " reg_id INTEGER NOT NULL, adv_secret BLOB NOT NULL, next_prekey_id INTEGER NOT NULL,"
                             " paired INTEGER NOT NULL, jid TEXT, lid TEXT, platform TEXT, biz_name TEXT,"
                             " account_key BLOB, key_index INTEGER, adv BLOB, autoconnect INTEGER NOT NULL DEFAULT 0,"
                             " updated_at INTEGER);"
                             "CREATE TABLE IF NOT EXISTS wa_prekeys("
                             " instance TEXT NOT NULL, id INTEGER NOT NULL, priv BLOB NOT NULL,"
                             " PRIMARY KEY(instance, id));");
}

static int blob(sqlite3_stmt *st, int col, void *out, size_t n)
{
    if (sqlite3_column_bytes(st, col) != (int)n) return -1;
    memcpy(out, sqlite3_column_blob(st, col), n);
    return 0;
}

static void text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    snprintf(out, cap, "%s", s ? s : "");
}

int eng_store_load(miaw_storage *db, const char *id, miaw_wa_creds *c, int *autoconnect)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT noise_priv, identity_priv, spk_priv, spk_id, spk_sig, reg_id, adv_secret,"
                           " next_prekey_id, paired, jid, lid, platform, biz_name, account_key, key_index, adv,"
                           " autoconnect FROM wa_creds WHERE instance=?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : -1;
    }
    memset(c, 0, sizeof *c);
    uint8_t np[32], ip[32], sp[32];
    int bad = blob(st, 0, np, 32) || blob(st, 1, ip, 32) || blob(st, 2, sp, 32) || blob(st, 4, c->spk_sig, 64) ||
              blob(st, 6, c->adv_secret, 32);
    bad = bad || miaw_keypair_from_private(&c->noise, np) || miaw_keypair_from_private(&c->identity, ip) ||
          miaw_keypair_from_private(&c->spk, sp);
    c->spk_id = (uint32_t)sqlite3_column_int64(st, 3);
    c->reg_id = (uint32_t)sqlite3_column_int64(st, 5);
    c->next_prekey_id = (uint32_t)sqlite3_column_int64(st, 7);
    c->paired = sqlite3_column_int(st, 8);
    text(st, 9, c->jid, sizeof c->jid);
    text(st, 10, c->lid, sizeof c->lid);
    text(st, 11, c->platform, sizeof c->platform);
    text(st, 12, c->biz_name, sizeof c->biz_name);
    if (c->paired) {
        bad = bad || blob(st, 13, c->account_key, 32) || !c->jid[0];
        c->key_index = (uint32_t)sqlite3_column_int64(st, 14);
        int n = sqlite3_column_bytes(st, 15);
        if (n > 0 && (c->adv = malloc((size_t)n))) {
            memcpy(c->adv, sqlite3_column_blob(st, 15), (size_t)n);
            c->adv_len = (size_t)n;
        }
    }
    if (autoconnect) *autoconnect = sqlite3_column_int(st, 16);
    sqlite3_finalize(st);
    memset(np, 0, sizeof np);
    memset(ip, 0, sizeof ip);
    memset(sp, 0, sizeof sp);
    if (bad) {
        MIAW_ERR("engine", "%s: stored credentials are unreadable", id);
        miaw_wa_creds_clear(c);
        return -1;
    }
    if (!c->next_prekey_id) c->next_prekey_id = 1;
    return 1;
}

int eng_store_save(miaw_storage *db, const char *id, const miaw_wa_creds *c, int autoconnect)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db,
                           "INSERT OR REPLACE INTO wa_creds(instance, noise_priv, identity_priv, spk_priv, spk_id,"
                           " spk_sig, reg_id, adv_secret, next_prekey_id, paired, jid, lid, platform, biz_name,"
                           " account_key, key_index, adv, autoconnect, updated_at)"
                           " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,"
                           " CAST(strftime('%s','now') AS INTEGER))",
                           -1, &st, NULL) != SQLITE_OK) {
        MIAW_ERR("engine", "%s: %s", id, sqlite3_errmsg(db->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, c->noise.priv, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, c->identity.priv, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, c->spk.priv, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, c->spk_id);
    sqlite3_bind_blob(st, 6, c->spk_sig, 64, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, c->reg_id);
    sqlite3_bind_blob(st, 8, c->adv_secret, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, c->next_prekey_id);
    sqlite3_bind_int(st, 10, c->paired);
    sqlite3_bind_text(st, 11, c->jid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, c->lid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, c->platform, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 14, c->biz_name, -1, SQLITE_STATIC);
    if (c->paired) {
        sqlite3_bind_blob(st, 15, c->account_key, 32, SQLITE_STATIC);
        sqlite3_bind_int64(st, 16, c->key_index);
        if (c->adv) sqlite3_bind_blob(st, 17, c->adv, (int)c->adv_len, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, 18, autoconnect);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    if (rc) MIAW_ERR("engine", "%s: cannot store credentials: %s", id, sqlite3_errmsg(db->db));
    sqlite3_finalize(st);
    return rc;
}

static int exec_id(miaw_storage *db, const char *sql, const char *id, int v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, v);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    if (rc) MIAW_ERR("engine", "%s: %s", id, sqlite3_errmsg(db->db));
    sqlite3_finalize(st);
    return rc;
}

int eng_store_set_autoconnect(miaw_storage *db, const char *id, int on)
{
    return exec_id(db, "UPDATE wa_creds SET autoconnect=?2 WHERE instance=?1", id, on);
}

int eng_store_delete(miaw_storage *db, const char *id)
{
    int a = exec_id(db, "DELETE FROM wa_prekeys WHERE instance=?1 AND ?2=?2", id, 0);
    int b = exec_id(db, "DELETE FROM wa_creds WHERE instance=?1 AND ?2=?2", id, 0);
    return a || b ? -1 : 0;
}

int eng_store_new_prekeys(miaw_storage *db, miaw_sig_store *sig, const char *id, miaw_wa_creds *c, size_t n,
                          uint32_t **ids_out, miaw_keypair **keys_out)
{
    uint32_t *ids = malloc(n * sizeof *ids);
    miaw_keypair *keys = malloc(n * sizeof *keys);
    uint32_t next = c->next_prekey_id ? c->next_prekey_id : 1;
    int rc = -1;
    uint32_t sig_next = 0, sig_spk = 0;
    if (sig && miaw_sig_store_counters(sig, &sig_next, &sig_spk) == 0 && sig_next > next) next = sig_next;
    if (!sig || !ids || !keys || miaw_storage_exec(db, "BEGIN") != 0) goto out;
    for (size_t i = 0; i < n; i++) {
        if (next > 0xFFFFFF) next = 1; /* ids are 24-bit on the wire */
        ids[i] = next++;
        if (miaw_keypair_generate(&keys[i]) != 0 || miaw_sig_store_put_prekey(sig, ids[i], &keys[i]) != 0)
            goto rollback;
    }
    uint32_t old = c->next_prekey_id, spk = 0, cnt = 0;
    c->next_prekey_id = next;
    miaw_sig_store_counters(sig, &cnt, &spk);
    if (exec_id(db, "UPDATE wa_creds SET next_prekey_id=?2 WHERE instance=?1", id, (int)next) != 0 ||
        miaw_sig_store_set_counters(sig, next, spk ? spk : c->spk_id) != 0 || miaw_storage_exec(db, "COMMIT") != 0) {
        c->next_prekey_id = old;
        goto rollback;
    }
    *ids_out = ids;
    *keys_out = keys;
    return 0;
rollback:
    MIAW_ERR("engine", "%s: cannot store pre-keys: %s", id, sqlite3_errmsg(db->db));
    miaw_storage_exec(db, "ROLLBACK");
out:
    free(ids);
    if (keys) memset(keys, 0, n * sizeof *keys);
    free(keys);
    return rc;
}

int eng_store_autoconnect_ids(miaw_storage *db, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT instance FROM wa_creds WHERE paired=1 AND autoconnect=1 ORDER BY instance",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    size_t cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(*ids, cap * sizeof *v);
            if (!v) break;
            *ids = v;
        }
        (*ids)[(*n)++] = strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return 0;
}
