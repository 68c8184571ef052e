/* core/wa/signal_store.c - the sig_* sqlite tables and the libsignal-protocol-c store
 * callbacks over them (session, pre-key, signed pre-key, identity, sender key), one row
 * set per owner id; prepared statements cached per database. */
#include "wa/signal_store.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <signal/curve.h>
#include <signal/session_pre_key.h>

#include "miaw/status.h"

enum {
    ST_OWN_GET, ST_OWN_PUT, ST_OWN_COUNTERS,
    ST_PK_GET, ST_PK_PUT, ST_PK_DEL, ST_PK_COUNT,
    ST_SPK_GET, ST_SPK_PUT, ST_SPK_DEL,
    ST_SESS_GET, ST_SESS_PUT, ST_SESS_DEL, ST_SESS_DEL_ALL, ST_SESS_DEVICES,
    ST_IDK_GET, ST_IDK_PUT, ST_IDK_DEL,
    ST_SK_GET, ST_SK_PUT, ST_SK_DEL,
    ST__COUNT
};

static const char *const sql_text[ST__COUNT] = {
    [ST_OWN_GET] = "SELECT identity_priv, reg_id, next_prekey_id, spk_id FROM sig_own WHERE owner=?1",
    [ST_OWN_PUT] = ("INSERT INTO sig_own(owner, identity_priv, reg_id, next_prekey_id, spk_id)"
                    " VALUES(?1,?2,?3,1,0) ON CONFLICT(owner) DO UPDATE SET"
                    " identity_priv=excluded.identity_priv, reg_id=excluded.reg_id"),
    [ST_OWN_COUNTERS] = "UPDATE sig_own SET next_prekey_id=?2, spk_id=?3 WHERE owner=?1",
    [ST_PK_GET] = "SELECT record FROM sig_prekeys WHERE owner=?1 AND id=?2",
    [ST_PK_PUT] = "INSERT OR REPLACE INTO sig_prekeys(owner, id, record) VALUES(?1,?2,?3)",
    [ST_PK_DEL] = "DELETE FROM sig_prekeys WHERE owner=?1 AND id=?2",
    [ST_PK_COUNT] = "SELECT count(*) FROM sig_prekeys WHERE owner=?1",
    [ST_SPK_GET] = "SELECT record FROM sig_signed_prekeys WHERE owner=?1 AND id=?2",
    [ST_SPK_PUT] = "INSERT OR REPLACE INTO sig_signed_prekeys(owner, id, record) VALUES(?1,?2,?3)",
    [ST_SPK_DEL] = "DELETE FROM sig_signed_prekeys WHERE owner=?1 AND id=?2",
    [ST_SESS_GET] = "SELECT record FROM sig_sessions WHERE owner=?1 AND name=?2 AND device=?3",
    [ST_SESS_PUT] = "INSERT OR REPLACE INTO sig_sessions(owner, name, device, record) VALUES(?1,?2,?3,?4)",
    [ST_SESS_DEL] = "DELETE FROM sig_sessions WHERE owner=?1 AND name=?2 AND device=?3",
    [ST_SESS_DEL_ALL] = "DELETE FROM sig_sessions WHERE owner=?1 AND name=?2",
    [ST_SESS_DEVICES] = "SELECT device FROM sig_sessions WHERE owner=?1 AND name=?2",
    [ST_IDK_GET] = "SELECT key FROM sig_identities WHERE owner=?1 AND name=?2 AND device=?3",
    [ST_IDK_PUT] = "INSERT OR REPLACE INTO sig_identities(owner, name, device, key) VALUES(?1,?2,?3,?4)",
    [ST_IDK_DEL] = "DELETE FROM sig_identities WHERE owner=?1 AND name=?2 AND device=?3",
    [ST_SK_GET] = "SELECT record FROM sig_sender_keys WHERE owner=?1 AND grp=?2 AND name=?3 AND device=?4",
    [ST_SK_PUT] = ("INSERT OR REPLACE INTO sig_sender_keys(owner, grp, name, device, record)"
                   " VALUES(?1,?2,?3,?4,?5)"),
    [ST_SK_DEL] = "DELETE FROM sig_sender_keys WHERE owner=?1 AND grp=?2 AND name=?3 AND device=?4",
};

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS sig_own(owner TEXT PRIMARY KEY, identity_priv BLOB NOT NULL,"
    " reg_id INTEGER NOT NULL, next_prekey_id INTEGER NOT NULL, spk_id INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sig_prekeys(owner TEXT NOT NULL, id INTEGER NOT NULL,"
    " record BLOB NOT NULL, PRIMARY KEY(owner, id));"
    "CREATE TABLE IF NOT EXISTS sig_signed_prekeys(owner TEXT NOT NULL, id INTEGER NOT NULL,"
    " record BLOB NOT NULL, PRIMARY KEY(owner, id));"
    "CREATE TABLE IF NOT EXISTS sig_sessions(owner TEXT NOT NULL, name TEXT NOT NULL,"
    " device INTEGER NOT NULL, record BLOB NOT NULL, PRIMARY KEY(owner, name, device));"
    "CREATE TABLE IF NOT EXISTS sig_identities(owner TEXT NOT NULL, name TEXT NOT NULL,"
    " device INTEGER NOT NULL, key BLOB NOT NULL, PRIMARY KEY(owner, name, device));"
    "CREATE TABLE IF NOT EXISTS sig_sender_keys(owner TEXT NOT NULL, grp TEXT NOT NULL,"
    " name TEXT NOT NULL, device INTEGER NOT NULL, record BLOB NOT NULL,"
    " PRIMARY KEY(owner, grp, name, device));";

static const char *const purge_tables[] = {"sig_own", "sig_prekeys", "sig_signed_prekeys",
                                           "sig_sessions", "sig_identities", "sig_sender_keys"};

struct miaw_sig_db {
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
};

struct miaw_sig_store {
    miaw_sig_db *sdb;
    char *owner;
    signal_context *ctx;
    signal_protocol_store_context *store;
    int have_identity; /* cache of the sig_own row */
    miaw_keypair identity;
    uint32_t reg_id;
};

const char *miaw_sig_strerror(int rc)
{
    switch (rc) {
    case 0: return "ok";
    case MIAW_SIG_E_NO_SESSION: return "no session";
    case MIAW_SIG_E_DUPLICATE: return "duplicate message";
    case MIAW_SIG_E_INVALID: return "invalid message";
    case MIAW_SIG_E_NO_PREKEY: return "unknown pre-key";
    case MIAW_SIG_E_UNTRUSTED: return "untrusted identity";
    case MIAW_SIG_E_BAD_KEY: return "invalid key";
    case MIAW_SIG_E_NO_IDENTITY: return "no own identity";
    case MIAW_E_INVAL: return "invalid argument";
    case MIAW_E_NOMEM: return "out of memory";
    case MIAW_E_NOTFOUND: return "not found";
    case MIAW_E_IO: return "storage error";
    default: return "internal error";
    }
}

int miaw_sig_error_wants_retry(int rc)
{
    return rc == MIAW_SIG_E_NO_SESSION || rc == MIAW_SIG_E_NO_PREKEY || rc == MIAW_SIG_E_INVALID ||
           rc == MIAW_SIG_E_BAD_KEY || rc == MIAW_SIG_E_UNTRUSTED;
}

/* ------------------------------------------------------------------ statements */
static sqlite3_stmt *stmt(miaw_sig_db *sdb, int i)
{
    if (!sdb->st[i] && sqlite3_prepare_v3(sdb->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
                                          &sdb->st[i], NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(sdb->st[i]);
    sqlite3_clear_bindings(sdb->st[i]);
    return sdb->st[i];
}

static void done(sqlite3_stmt *st)
{
    if (st) sqlite3_reset(st);
}

/* statement i with ?1 = owner bound */
static sqlite3_stmt *ostmt(miaw_sig_store *s, int i)
{
    sqlite3_stmt *st = stmt(s->sdb, i);
    if (st) sqlite3_bind_text(st, 1, s->owner, -1, SQLITE_STATIC);
    return st;
}

/* run a write statement to completion: 0 or MIAW_E_IO */
static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : MIAW_E_IO;
}

/* first column of the first row as a signal_buffer: 1 found, 0 none, < 0 error */
static int step_blob(sqlite3_stmt *st, signal_buffer **out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return SG_ERR_UNKNOWN;
    }
    const void *p = sqlite3_column_blob(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    signal_buffer *b = signal_buffer_create(p ? p : (const void *)"", (size_t)n);
    sqlite3_reset(st);
    if (!b) return SG_ERR_NOMEM;
    *out = b;
    return 1;
}

int miaw_sig_db_open(sqlite3 *db, miaw_sig_db **out)
{
    if (!db || !out) return MIAW_E_INVAL;
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK) return MIAW_E_IO;
    miaw_sig_db *sdb = calloc(1, sizeof *sdb);
    if (!sdb) return MIAW_E_NOMEM;
    sdb->db = db;
    *out = sdb;
    return 0;
}

void miaw_sig_db_close(miaw_sig_db *sdb)
{
    if (!sdb) return;
    for (int i = 0; i < ST__COUNT; i++) sqlite3_finalize(sdb->st[i]);
    free(sdb);
}

sqlite3 *miaw_sig_db_handle(miaw_sig_db *sdb) { return sdb->db; }

int miaw_sig_db_purge(miaw_sig_db *sdb, const char *owner)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof purge_tables / sizeof purge_tables[0]; i++) {
        char *q = sqlite3_mprintf("DELETE FROM %s WHERE owner=?1", purge_tables[i]);
        sqlite3_stmt *st = NULL;
        if (!q) return MIAW_E_NOMEM;
        if (sqlite3_prepare_v2(sdb->db, q, -1, &st, NULL) != SQLITE_OK) rc = MIAW_E_IO;
        sqlite3_free(q);
        if (!st) continue;
        sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) rc = MIAW_E_IO;
        sqlite3_finalize(st);
    }
    return rc;
}

/* ------------------------------------------------------------------ own identity */
static int load_own(miaw_sig_store *s)
{
    if (s->have_identity) return 0;
    sqlite3_stmt *st = ostmt(s, ST_OWN_GET);
    if (!st) return MIAW_E_IO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        done(st);
        return MIAW_SIG_E_NO_IDENTITY;
    }
    if (rc != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 32) {
        done(st);
        return MIAW_E_IO;
    }
    uint8_t priv[32];
    memcpy(priv, sqlite3_column_blob(st, 0), 32);
    s->reg_id = (uint32_t)sqlite3_column_int64(st, 1);
    done(st);
    rc = miaw_keypair_from_private(&s->identity, priv);
    OPENSSL_cleanse(priv, sizeof priv);
    if (rc != 0) return rc;
    s->have_identity = 1;
    return 0;
}

int miaw_sig_store_set_identity(miaw_sig_store *s, const miaw_keypair *identity, uint32_t reg_id)
{
    sqlite3_stmt *st = ostmt(s, ST_OWN_PUT);
    if (!st) return MIAW_E_IO;
    sqlite3_bind_blob(st, 2, identity->priv, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, reg_id);
    s->have_identity = 0;
    return step_done(st);
}

int miaw_sig_store_get_identity(miaw_sig_store *s, miaw_keypair *identity, uint32_t *reg_id)
{
    int rc = load_own(s);
    if (rc) return rc;
    if (identity) *identity = s->identity;
    if (reg_id) *reg_id = s->reg_id;
    return 0;
}

int miaw_sig_store_counters(miaw_sig_store *s, uint32_t *next_prekey_id, uint32_t *spk_id)
{
    sqlite3_stmt *st = ostmt(s, ST_OWN_GET);
    if (!st) return MIAW_E_IO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (next_prekey_id) *next_prekey_id = (uint32_t)sqlite3_column_int64(st, 2);
        if (spk_id) *spk_id = (uint32_t)sqlite3_column_int64(st, 3);
    }
    done(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? MIAW_SIG_E_NO_IDENTITY : MIAW_E_IO;
}

int miaw_sig_store_set_counters(miaw_sig_store *s, uint32_t next_prekey_id, uint32_t spk_id)
{
    sqlite3_stmt *st = ostmt(s, ST_OWN_COUNTERS);
    if (!st) return MIAW_E_IO;
    sqlite3_bind_int64(st, 2, next_prekey_id);
    sqlite3_bind_int64(st, 3, spk_id);
    int rc = step_done(st);
    if (rc == 0 && sqlite3_changes(s->sdb->db) == 0) return MIAW_SIG_E_NO_IDENTITY;
    return rc;
}

/* ------------------------------------------------------------------ callbacks */
static int bind_addr(sqlite3_stmt *st, const char *name, size_t len, int32_t device, int col)
{
    sqlite3_bind_text(st, col, name, (int)len, SQLITE_STATIC);
    return sqlite3_bind_int64(st, col + 1, device);
}

static int cb_load_session(signal_buffer **record, signal_buffer **user_record,
                           const signal_protocol_address *a, void *ud)
{
    (void)user_record;
    sqlite3_stmt *st = ostmt(ud, ST_SESS_GET);
    if (!st) return SG_ERR_UNKNOWN;
    bind_addr(st, a->name, a->name_len, a->device_id, 2);
    return step_blob(st, record);
}

static int cb_sub_devices(signal_int_list **sessions, const char *name, size_t len, void *ud)
{
    sqlite3_stmt *st = ostmt(ud, ST_SESS_DEVICES);
    if (!st) return SG_ERR_UNKNOWN;
    sqlite3_bind_text(st, 2, name, (int)len, SQLITE_STATIC);
    signal_int_list *l = signal_int_list_alloc();
    if (!l) {
        done(st);
        return SG_ERR_NOMEM;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) signal_int_list_push_back(l, sqlite3_column_int(st, 0));
    done(st);
    if (rc != SQLITE_DONE) {
        signal_int_list_free(l);
        return SG_ERR_UNKNOWN;
    }
    *sessions = l;
    return (int)signal_int_list_size(l);
}

static int cb_store_session(const signal_protocol_address *a, uint8_t *rec, size_t len,
                            uint8_t *urec, size_t ulen, void *ud)
{
    (void)urec;
    (void)ulen;
    sqlite3_stmt *st = ostmt(ud, ST_SESS_PUT);
    if (!st) return SG_ERR_UNKNOWN;
    bind_addr(st, a->name, a->name_len, a->device_id, 2);
    sqlite3_bind_blob(st, 4, rec, (int)len, SQLITE_STATIC);
    return step_done(st) ? SG_ERR_UNKNOWN : 0;
}

static int cb_contains_session(const signal_protocol_address *a, void *ud)
{
    signal_buffer *b = NULL;
    int rc = cb_load_session(&b, NULL, a, ud);
    signal_buffer_free(b);
    return rc == 1;
}

static int cb_delete_session(const signal_protocol_address *a, void *ud)
{
    miaw_sig_store *s = ud;
    sqlite3_stmt *st = ostmt(s, ST_SESS_DEL);
    if (!st) return SG_ERR_UNKNOWN;
    bind_addr(st, a->name, a->name_len, a->device_id, 2);
    if (step_done(st)) return SG_ERR_UNKNOWN;
    return sqlite3_changes(s->sdb->db) > 0;
}

static int cb_delete_all_sessions(const char *name, size_t len, void *ud)
{
    miaw_sig_store *s = ud;
    sqlite3_stmt *st = ostmt(s, ST_SESS_DEL_ALL);
    if (!st) return SG_ERR_UNKNOWN;
    sqlite3_bind_text(st, 2, name, (int)len, SQLITE_STATIC);
    if (step_done(st)) return SG_ERR_UNKNOWN;
    return sqlite3_changes(s->sdb->db);
}

static int load_by_id(miaw_sig_store *s, int which, signal_buffer **record, uint32_t id)
{
    sqlite3_stmt *st = ostmt(s, which);
    if (!st) return SG_ERR_UNKNOWN;
    sqlite3_bind_int64(st, 2, id);
    int rc = step_blob(st, record);
    return rc == 1 ? SG_SUCCESS : rc == 0 ? SG_ERR_INVALID_KEY_ID : rc;
}

static int store_by_id(miaw_sig_store *s, int which, uint32_t id, const uint8_t *rec, size_t len)
{
    sqlite3_stmt *st = ostmt(s, which);
    if (!st) return SG_ERR_UNKNOWN;
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_blob(st, 3, rec, (int)len, SQLITE_STATIC);
    return step_done(st) ? SG_ERR_UNKNOWN : 0;
}

static int contains_by_id(miaw_sig_store *s, int which, uint32_t id)
{
    signal_buffer *b = NULL;
    int rc = load_by_id(s, which, &b, id);
    signal_buffer_free(b);
    return rc == SG_SUCCESS;
}

static int remove_by_id(miaw_sig_store *s, int which, uint32_t id)
{
    sqlite3_stmt *st = ostmt(s, which);
    if (!st) return SG_ERR_UNKNOWN;
    sqlite3_bind_int64(st, 2, id);
    return step_done(st) ? SG_ERR_UNKNOWN : 0;
}

static int cb_load_pk(signal_buffer **r, uint32_t id, void *ud) { return load_by_id(ud, ST_PK_GET, r, id); }
static int cb_store_pk(uint32_t id, uint8_t *r, size_t n, void *ud) { return store_by_id(ud, ST_PK_PUT, id, r, n); }
static int cb_contains_pk(uint32_t id, void *ud) { return contains_by_id(ud, ST_PK_GET, id); }
static int cb_remove_pk(uint32_t id, void *ud) { return remove_by_id(ud, ST_PK_DEL, id); }
static int cb_load_spk(signal_buffer **r, uint32_t id, void *ud) { return load_by_id(ud, ST_SPK_GET, r, id); }
static int cb_store_spk(uint32_t id, uint8_t *r, size_t n, void *ud) { return store_by_id(ud, ST_SPK_PUT, id, r, n); }
static int cb_contains_spk(uint32_t id, void *ud) { return contains_by_id(ud, ST_SPK_GET, id); }
static int cb_remove_spk(uint32_t id, void *ud) { return remove_by_id(ud, ST_SPK_DEL, id); }

static int cb_get_identity(signal_buffer **pub, signal_buffer **priv, void *ud)
{
    miaw_sig_store *s = ud;
    if (load_own(s) != 0) return SG_ERR_UNKNOWN;
    uint8_t k[33] = {0x05};
    memcpy(k + 1, s->identity.pub, 32);
    *pub = signal_buffer_create(k, sizeof k);
    *priv = signal_buffer_create(s->identity.priv, 32);
    if (*pub && *priv) return 0;
    signal_buffer_free(*pub);
    signal_buffer_bzero_free(*priv);
    *pub = *priv = NULL;
    return SG_ERR_NOMEM;
}

static int cb_get_reg_id(void *ud, uint32_t *reg_id)
{
    miaw_sig_store *s = ud;
    if (load_own(s) != 0) return SG_ERR_UNKNOWN;
    *reg_id = s->reg_id;
    return 0;
}

static int cb_save_identity(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
    sqlite3_stmt *st = ostmt(ud, key ? ST_IDK_PUT : ST_IDK_DEL);
    if (!st) return SG_ERR_UNKNOWN;
    bind_addr(st, a->name, a->name_len, a->device_id, 2);
    if (key) sqlite3_bind_blob(st, 4, key, (int)len, SQLITE_STATIC);
    return step_done(st) ? SG_ERR_UNKNOWN : 0;
}

static int cb_is_trusted(const signal_protocol_address *a, uint8_t *key, size_t len, void *ud)
{
    /* TOFU with automatic acceptance of changed identities, as WhatsApp clients do:
     * the session builder then replaces the session and save_identity the key. */
    (void)a;
    (void)key;
    (void)len;
    (void)ud;
    return 1;
}

static int bind_sender(sqlite3_stmt *st, const signal_protocol_sender_key_name *n)
{
    sqlite3_bind_text(st, 2, n->group_id, (int)n->group_id_len, SQLITE_STATIC);
    return bind_addr(st, n->sender.name, n->sender.name_len, n->sender.device_id, 3);
}

static int cb_store_sk(const signal_protocol_sender_key_name *n, uint8_t *rec, size_t len,
                       uint8_t *urec, size_t ulen, void *ud)
{
    (void)urec;
    (void)ulen;
    sqlite3_stmt *st = ostmt(ud, ST_SK_PUT);
    if (!st) return SG_ERR_UNKNOWN;
    bind_sender(st, n);
    sqlite3_bind_blob(st, 5, rec, (int)len, SQLITE_STATIC);
    return step_done(st) ? SG_ERR_UNKNOWN : 0;
}

static int cb_load_sk(signal_buffer **rec, signal_buffer **urec,
                      const signal_protocol_sender_key_name *n, void *ud)
{
    (void)urec;
    sqlite3_stmt *st = ostmt(ud, ST_SK_GET);
    if (!st) return SG_ERR_UNKNOWN;
    bind_sender(st, n);
    return step_blob(st, rec);
}

/* ------------------------------------------------------------------ open/close */
int miaw_sig_store_open(miaw_sig_db *sdb, const char *owner, miaw_sig_store **out)
{
    if (!sdb || !owner || !*owner || !out) return MIAW_E_INVAL;
    miaw_sig_store *s = calloc(1, sizeof *s);
    if (!s) return MIAW_E_NOMEM;
    s->sdb = sdb;
    s->owner = strdup(owner);
    if (!s->owner || miaw_signal_ctx_new(&s->ctx) != 0 ||
        signal_protocol_store_context_create(&s->store, s->ctx) != 0) {
        miaw_sig_store_close(s);
        return MIAW_E_NOMEM;
    }
    signal_protocol_session_store ss = {
        .load_session_func = cb_load_session, .get_sub_device_sessions_func = cb_sub_devices,
        .store_session_func = cb_store_session, .contains_session_func = cb_contains_session,
        .delete_session_func = cb_delete_session, .delete_all_sessions_func = cb_delete_all_sessions,
        .user_data = s};
    signal_protocol_pre_key_store pk = {.load_pre_key = cb_load_pk, .store_pre_key = cb_store_pk,
                                        .contains_pre_key = cb_contains_pk,
                                        .remove_pre_key = cb_remove_pk, .user_data = s};
    signal_protocol_signed_pre_key_store spk = {
        .load_signed_pre_key = cb_load_spk, .store_signed_pre_key = cb_store_spk,
        .contains_signed_pre_key = cb_contains_spk, .remove_signed_pre_key = cb_remove_spk,
        .user_data = s};
    signal_protocol_identity_key_store ik = {
        .get_identity_key_pair = cb_get_identity, .get_local_registration_id = cb_get_reg_id,
        .save_identity = cb_save_identity, .is_trusted_identity = cb_is_trusted, .user_data = s};
    signal_protocol_sender_key_store sk = {.store_sender_key = cb_store_sk,
                                           .load_sender_key = cb_load_sk, .user_data = s};
    if (signal_protocol_store_context_set_session_store(s->store, &ss) != 0 ||
        signal_protocol_store_context_set_pre_key_store(s->store, &pk) != 0 ||
        signal_protocol_store_context_set_signed_pre_key_store(s->store, &spk) != 0 ||
        signal_protocol_store_context_set_identity_key_store(s->store, &ik) != 0 ||
        signal_protocol_store_context_set_sender_key_store(s->store, &sk) != 0) {
        miaw_sig_store_close(s);
        return MIAW_E_INTERNAL;
    }
    *out = s;
    return 0;
}

void miaw_sig_store_close(miaw_sig_store *s)
{
    if (!s) return;
    if (s->store) signal_protocol_store_context_destroy(s->store);
    if (s->ctx) signal_context_destroy(s->ctx);
    free(s->owner);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

const char *miaw_sig_store_owner(const miaw_sig_store *s) { return s->owner; }
signal_context *miaw_sig_store_ctx(miaw_sig_store *s) { return s->ctx; }
signal_protocol_store_context *miaw_sig_store_protocol(miaw_sig_store *s) { return s->store; }
miaw_sig_db *miaw_sig_store_db(miaw_sig_store *s) { return s->sdb; }

int miaw_sig_store_count_prekeys(miaw_sig_store *s)
{
    sqlite3_stmt *st = ostmt(s, ST_PK_COUNT);
    if (!st) return MIAW_E_IO;
    int rc = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : MIAW_E_IO;
    done(st);
    return rc;
}

int miaw_sig_store_remote_identity(miaw_sig_store *s, const char *name, int32_t device, uint8_t pub[32])
{
    sqlite3_stmt *st = ostmt(s, ST_IDK_GET);
    if (!st) return MIAW_E_IO;
    bind_addr(st, name, strlen(name), device, 2);
    signal_buffer *b = NULL;
    int rc = step_blob(st, &b);
    if (rc < 0) return MIAW_E_IO;
    if (rc == 0) return MIAW_E_NOTFOUND;
    rc = signal_buffer_len(b) == 33 ? 0 : MIAW_E_IO;
    if (rc == 0) memcpy(pub, signal_buffer_data(b) + 1, 32);
    signal_buffer_free(b);
    return rc;
}

int miaw_sig_store_has_session(miaw_sig_store *s, const char *name, int32_t device)
{
    signal_protocol_address a = {.name = name, .name_len = strlen(name), .device_id = device};
    signal_buffer *b = NULL;
    int rc = cb_load_session(&b, NULL, &a, s);
    signal_buffer_free(b);
    return rc < 0 ? MIAW_E_IO : rc;
}

int miaw_sig_store_delete_session(miaw_sig_store *s, const char *name, int32_t device)
{
    signal_protocol_address a = {.name = name, .name_len = strlen(name), .device_id = device};
    return cb_delete_session(&a, s) < 0 ? MIAW_E_IO : 0;
}

int miaw_sig_store_delete_sender_key(miaw_sig_store *s, const char *group, const char *name, int32_t device)
{
    sqlite3_stmt *st = ostmt(s, ST_SK_DEL);
    if (!st) return MIAW_E_IO;
    sqlite3_bind_text(st, 2, group, -1, SQLITE_STATIC);
    bind_addr(st, name, strlen(name), device, 3);
    return step_done(st);
}
