/* core/base/storage.h - the server's sqlite database (WAL, 0600 files) under the data dir:
 * open, schema migrations of the core tables, and the per-plugin key/value store.
 * Owns the sqlite3 handle and its checkpointer. Loop thread only (the checkpointer's
 * worker has a connection of its own). */
#ifndef MIAW_STORAGE_H
#define MIAW_STORAGE_H
#include "base/checkpoint.h"

#include <jansson.h>
#include <sqlite3.h>

/* ckpt: WAL checkpoints on a worker thread (NULL: SQLite's automatic ones) */
typedef struct miaw_storage { sqlite3 *db; char *path; miaw_checkpointer *ckpt; } miaw_storage;

/* opens <data_dir>/miaw.db, creates the directory (0700), applies migrations.
 * 0, or -1 with a message. */
int miaw_storage_open(miaw_storage *s, const char *data_dir, char *err, size_t errlen);
void miaw_storage_close(miaw_storage *s);
/* run SQL without results; 0 or -1 (logged) */
int miaw_storage_exec(miaw_storage *s, const char *sql);

/* plugin key/value; value stored as JSON text. get returns a new reference or NULL. */
json_t *miaw_kv_get(miaw_storage *s, const char *plugin, const char *instance, const char *key);
int miaw_kv_put(miaw_storage *s, const char *plugin, const char *instance, const char *key, const json_t *v);
int miaw_kv_del(miaw_storage *s, const char *plugin, const char *instance, const char *key);
/* deletes every row of every core table that belongs to the instance */
int miaw_storage_purge_instance(miaw_storage *s, const char *instance);
#endif
