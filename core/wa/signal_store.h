/* core/wa/signal_store.h - sqlite-backed libsignal-protocol-c stores (own identity and
 * registration id, one-time and signed pre-keys, remote identities, sessions, sender
 * keys), keyed by an owner id so many accounts (instances, simulated phones) share one
 * database. Owns the sig_* tables and one signal context + store context per account.
 *
 * Ownership: a miaw_sig_db borrows the sqlite3 handle (the caller closes it after
 * miaw_sig_db_close) and owns its prepared statements. A miaw_sig_store borrows its
 * miaw_sig_db (close every store before the db) and owns its signal_context and
 * signal_protocol_store_context. Single-threaded: use both from one thread (the loop).
 * Keep at most one open store per owner: the own identity is cached in the store.
 * Decryptions run inside sqlite savepoints, so they nest in a caller's transaction.
 *
 * Trust: identities are trust-on-first-use with automatic acceptance of a changed
 * identity (what WhatsApp clients do); the new key replaces the stored one. */
#ifndef MIAW_WA_SIGNAL_STORE_H
#define MIAW_WA_SIGNAL_STORE_H
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <signal/signal_protocol.h>

#include "wa/sigcrypto.h"

/* Signal-layer return codes (beside the MIAW_E_* codes of miaw/plugin.h). */
#define MIAW_SIG_E_NO_SESSION -200     /* no session (msg) / no sender key (skmsg) */
#define MIAW_SIG_E_DUPLICATE -201      /* message already decrypted (replay) */
#define MIAW_SIG_E_INVALID -202        /* malformed, bad MAC/signature, wrong version */
#define MIAW_SIG_E_NO_PREKEY -203      /* pkmsg names a one-time/signed pre-key we lack */
#define MIAW_SIG_E_UNTRUSTED -204      /* identity rejected (not produced with TOFU) */
#define MIAW_SIG_E_BAD_KEY -205        /* a key in a bundle/message is not a valid key */
#define MIAW_SIG_E_NO_IDENTITY -206    /* the account has no own identity yet */

/* Readable name of a MIAW_SIG_E_* or MIAW_E_* code (static string). */
const char *miaw_sig_strerror(int rc);
/* 1 when a decrypt failure calls for a retry receipt to the sender (no session,
 * missing pre-key, invalid message), 0 otherwise (duplicates are dropped silently). */
int miaw_sig_error_wants_retry(int rc);

typedef struct miaw_sig_db miaw_sig_db;
typedef struct miaw_sig_store miaw_sig_store;

/* Wrap db: creates the sig_* tables (CREATE TABLE IF NOT EXISTS). 0 or MIAW_E_*. */
int miaw_sig_db_open(sqlite3 *db, miaw_sig_db **out);
/* Finalize the statements; the sqlite3 handle stays open. NULL allowed. */
void miaw_sig_db_close(miaw_sig_db *sdb);
sqlite3 *miaw_sig_db_handle(miaw_sig_db *sdb);
/* Delete every sig_* row of owner. 0 or MIAW_E_IO. */
int miaw_sig_db_purge(miaw_sig_db *sdb, const char *owner);

/* Open the account of owner (any string; copied). Works without an own identity yet
 * (see miaw_sig_generate_identity / miaw_sig_store_set_identity). 0 or MIAW_E_*. */
int miaw_sig_store_open(miaw_sig_db *sdb, const char *owner, miaw_sig_store **out);
/* Free the contexts and wipe cached secrets. NULL allowed. */
void miaw_sig_store_close(miaw_sig_store *s);
const char *miaw_sig_store_owner(const miaw_sig_store *s);
/* Borrowed handles for direct libsignal calls (valid until close). */
signal_context *miaw_sig_store_ctx(miaw_sig_store *s);
signal_protocol_store_context *miaw_sig_store_protocol(miaw_sig_store *s);
miaw_sig_db *miaw_sig_store_db(miaw_sig_store *s);

/* Own identity key pair (raw 32-byte keys) and registration id. set replaces them
 * (keeping the pre-key counter); get returns MIAW_SIG_E_NO_IDENTITY when unset. */
int miaw_sig_store_set_identity(miaw_sig_store *s, const miaw_keypair *identity, uint32_t reg_id);
int miaw_sig_store_get_identity(miaw_sig_store *s, miaw_keypair *identity, uint32_t *reg_id);

/* One-time pre-key / signed pre-key from raw keys (signature: 64-byte XEdDSA by the
 * identity over 05 || pub). Replaces a record with the same id. 0 or MIAW_E_*. */
int miaw_sig_store_put_prekey(miaw_sig_store *s, uint32_t id, const miaw_keypair *kp);
int miaw_sig_store_put_signed_prekey(miaw_sig_store *s, uint32_t id, const miaw_keypair *kp,
                                     const uint8_t sig[64], uint64_t timestamp_ms);
/* Raw key pair of a stored pre-key; MIAW_E_NOTFOUND if absent (e.g. used up). */
int miaw_sig_store_get_prekey(miaw_sig_store *s, uint32_t id, miaw_keypair *kp);
/* Number of one-time pre-keys held. >= 0, or MIAW_E_IO. */
int miaw_sig_store_count_prekeys(miaw_sig_store *s);
/* Next one-time pre-key id to hand out / current signed pre-key id (0 = none). */
int miaw_sig_store_counters(miaw_sig_store *s, uint32_t *next_prekey_id, uint32_t *spk_id);
int miaw_sig_store_set_counters(miaw_sig_store *s, uint32_t next_prekey_id, uint32_t spk_id);

/* Stored identity (raw 32 bytes) of a remote address. 0, MIAW_E_NOTFOUND or MIAW_E_IO. */
int miaw_sig_store_remote_identity(miaw_sig_store *s, const char *name, int32_t device,
                                   uint8_t pub[32]);
/* 1 if a session record exists for (name, device), 0 if not, < 0 on error. */
int miaw_sig_store_has_session(miaw_sig_store *s, const char *name, int32_t device);
/* Delete the session of (name, device) (e.g. to rebuild it from a fresh bundle). */
int miaw_sig_store_delete_session(miaw_sig_store *s, const char *name, int32_t device);
/* Delete the sender key of (group, name, device): the own one to rotate it after a
 * member left, a peer's to force a new distribution. */
int miaw_sig_store_delete_sender_key(miaw_sig_store *s, const char *group, const char *name,
                                     int32_t device);
#endif
