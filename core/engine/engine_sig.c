/* core/engine/engine_sig.c - the bridge between an instance's device credentials (wa_creds,
 * the source of truth for the identity and signed pre-key, which pairing and the Noise
 * login need) and its Signal store (sig_* tables, owner = instance id), which libsignal
 * reads when it builds and uses sessions. Opening the store copies the identity,
 * registration id and signed pre-key in when they differ, and moves any one-time
 * pre-keys still in the old wa_prekeys table into it. New one-time pre-keys are written
 * to the Signal store directly (engine_store.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "base/log.h"
#include "wa/signal_keys.h"

/* one-time pre-keys left in wa_prekeys (before the Signal store existed) move over */
static int migrate_prekeys(eng_inst *ei)
{
    miaw_storage *db = ei->e->db;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->db, "SELECT id, priv FROM wa_prekeys WHERE instance=?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, ei->id, -1, SQLITE_STATIC);
    int rc = 0;
    size_t n = 0;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        miaw_keypair kp;
        if (sqlite3_column_bytes(st, 1) != 32 || miaw_keypair_from_private(&kp, sqlite3_column_blob(st, 1)) != 0)
            continue;
        rc = miaw_sig_store_put_prekey(ei->sig, (uint32_t)sqlite3_column_int64(st, 0), &kp) ? -1 : 0;
        memset(&kp, 0, sizeof kp);
        n++;
    }
    sqlite3_finalize(st);
    if (rc == 0 && n) {
        if (sqlite3_prepare_v2(db->db, "DELETE FROM wa_prekeys WHERE instance=?1", -1, &st, NULL) != SQLITE_OK) return -1;
        sqlite3_bind_text(st, 1, ei->id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
        MIAW_INFO("engine", "%s: moved %zu pre-keys into the Signal store", ei->id, n);
    }
    return rc;
}

static int bridge(eng_inst *ei)
{
    const miaw_wa_creds *c = &ei->creds;
    miaw_keypair cur;
    uint32_t reg = 0, next = 0, spk_id = 0;
    int have = miaw_sig_store_get_identity(ei->sig, &cur, &reg) == 0;
    if (!have || memcmp(cur.priv, c->identity.priv, 32) != 0 || reg != c->reg_id) {
        if (have) MIAW_WARN("engine", "%s: Signal identity differs from the device's; replacing it", ei->id);
        if (miaw_sig_store_set_identity(ei->sig, &c->identity, c->reg_id) != 0) return -1;
    }
    memset(&cur, 0, sizeof cur);
    miaw_sig_store_counters(ei->sig, &next, &spk_id);
    uint8_t pub[32], sig[64];
    uint32_t got = 0;
    if (spk_id != c->spk_id || miaw_sig_signed_prekey_get(ei->sig, c->spk_id, &got, pub, sig) != 0 ||
        memcmp(pub, c->spk.pub, 32) != 0) {
        if (miaw_sig_store_put_signed_prekey(ei->sig, c->spk_id, &c->spk, c->spk_sig, 0) != 0) return -1;
        if (miaw_sig_store_set_counters(ei->sig, next ? next : c->next_prekey_id, c->spk_id) != 0) return -1;
    }
    return migrate_prekeys(ei);
}

int eng_sig_open(eng_inst *ei)
{
    if (ei->sig) return 0;
    if (!ei->have_creds || !ei->e->sdb) return -1;
    if (miaw_sig_store_open(ei->e->sdb, ei->id, &ei->sig) != 0) {
        ei->sig = NULL;
        MIAW_ERR("engine", "%s: cannot open the Signal store", ei->id);
        return -1;
    }
    int outer = !sqlite3_get_autocommit(ei->e->db->db);
    if (!outer) miaw_storage_exec(ei->e->db, "BEGIN");
    int rc = bridge(ei);
    if (!outer) miaw_storage_exec(ei->e->db, rc == 0 ? "COMMIT" : "ROLLBACK");
    if (rc) {
        MIAW_ERR("engine", "%s: cannot bring the device keys into the Signal store", ei->id);
        eng_sig_close(ei);
        return -1;
    }
    return 0;
}

void eng_sig_close(eng_inst *ei)
{
    miaw_sig_store_close(ei->sig);
    ei->sig = NULL;
}

void eng_sig_purge(miaw_engine *e, const char *id)
{
    if (e->sdb && miaw_sig_db_purge(e->sdb, id) != 0) MIAW_ERR("engine", "%s: cannot drop the Signal rows", id);
}
