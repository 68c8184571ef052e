/* core/wa/appstate.h - WhatsApp app-state sync (syncd) patches and snapshots: the state
 * of one collection (version, LTHash, index MAC -> value MAC), the decoding of patches
 * and snapshots with every MAC checked (patch MAC, value MACs, index MACs, and the
 * snapshot MAC of the resulting LTHash), and the encoding of outgoing patches from
 * mutations given as JSON. Network input only through the bounded protobuf unpack. Keys
 * come from a caller's lookup function; no I/O, no globals.
 *
 * Ownership: a miaw_as_state owns its entry array (miaw_as_state_free). Decoders never
 * change the state they are given unless the whole patch/snapshot verified. Mutation
 * records handed to the callback are borrowed for the duration of the call only.
 * Buffers returned through uint8_t ** are malloc'd and belong to the caller. */
#ifndef MIAW_WA_APPSTATE_H
#define MIAW_WA_APPSTATE_H
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "wa/appstate_crypto.h"

#define MIAW_AS_KEY_ID_MAX 64
#define MIAW_AS_MAX_MUTATIONS 50000 /* per patch or snapshot */
#define MIAW_AS_INDEX_MAX 4096      /* bytes of an index JSON */

/* the five collections a companion syncs, in the order it fetches them */
extern const char *const miaw_as_collections[5];
/* 1 if name is one of them */
int miaw_as_collection_valid(const char *name);

typedef struct miaw_as_entry {
    uint8_t index_mac[MIAW_AS_MAC_LEN];
    uint8_t value_mac[MIAW_AS_MAC_LEN];
} miaw_as_entry;

typedef struct miaw_as_state {
    uint64_t version;
    uint8_t hash[MIAW_AS_HASH_LEN];
    miaw_as_entry *ents; /* sorted by index_mac; owned */
    size_t n, cap;
} miaw_as_state;

void miaw_as_state_init(miaw_as_state *st);
void miaw_as_state_free(miaw_as_state *st); /* and re-init */
/* dst (initialised, its old entries freed) = a deep copy of src. 0 or MIAW_E_NOMEM. */
int miaw_as_state_copy(miaw_as_state *dst, const miaw_as_state *src);
/* the value MAC stored for index_mac (borrowed), or NULL */
const uint8_t *miaw_as_state_get(const miaw_as_state *st, const uint8_t index_mac[MIAW_AS_MAC_LEN]);
int miaw_as_state_put(miaw_as_state *st, const uint8_t index_mac[MIAW_AS_MAC_LEN],
                      const uint8_t value_mac[MIAW_AS_MAC_LEN]);
void miaw_as_state_del(miaw_as_state *st, const uint8_t index_mac[MIAW_AS_MAC_LEN]);
/* apply one mutation's MACs to the LTHash and the map, as every client does: SET
 * subtracts the previous value MAC of the index (if any) and adds the new one; REMOVE
 * subtracts the previous one and forgets the index (nothing when it was unknown) */
int miaw_as_state_mix(miaw_as_state *st, int op, const uint8_t index_mac[MIAW_AS_MAC_LEN],
                      const uint8_t value_mac[MIAW_AS_MAC_LEN]);

/* Look up the 32-byte key data of an app-state sync key id. Return 0 with key_data
 * filled, or MIAW_E_NOTFOUND. */
typedef int (*miaw_as_key_fn)(void *ud, const uint8_t *key_id, size_t key_id_len, uint8_t key_data[32]);

typedef struct miaw_as_mutation {
    int op;                 /* MIAW_AS_OP_SET / _REMOVE */
    const char *index;      /* the index JSON text, e.g. ["contact","1555@s.whatsapp.net"] */
    json_t *index_json;     /* parsed (an array), or NULL when the text is not JSON */
    json_t *value;          /* SyncActionValue in protobufjs shape (an object) */
    int64_t timestamp;      /* value.timestamp (ms since epoch; 0 if absent) */
    int32_t action_version; /* SyncActionData.version */
    uint8_t index_mac[MIAW_AS_MAC_LEN];
    uint8_t value_mac[MIAW_AS_MAC_LEN];
} miaw_as_mutation;

/* Called for each verified mutation, in patch order, after the whole patch verified. */
typedef void (*miaw_as_mut_fn)(void *ud, const char *collection, const miaw_as_mutation *m);

typedef struct miaw_as_ctx {
    const char *name; /* the collection */
    miaw_as_key_fn key_fn;
    void *key_ud;
    miaw_as_mut_fn mut_fn; /* may be NULL */
    void *mut_ud;
    /* out: a description of the failure, and the key id that was missing */
    char err[200];
    uint8_t missing_key[MIAW_AS_KEY_ID_MAX];
    size_t missing_key_len;
} miaw_as_ctx;

/* Facts of a patch without decoding it: its version (0 if it has none) and, when its
 * mutations are stored as media, the ExternalBlobReference as protobufjs JSON (*ext, a
 * new reference; NULL when inline). 0 or MIAW_E_INVAL (not a SyncdPatch). */
int miaw_as_patch_peek(const uint8_t *buf, size_t len, uint64_t *version, json_t **ext);

/* Decode and verify one patch against st, then apply it. default_version is used when
 * the patch carries no version. ext/ext_len: the downloaded SyncdMutations when the
 * patch's mutations are external (NULL otherwise). Results: 0 (st advanced, mutations
 * delivered); MIAW_E_EXIST (the patch is not newer than st: ignored); MIAW_E_NOTFOUND (a
 * key is missing: ctx->missing_key); MIAW_E_AUTH (a MAC or the LTHash does not match:
 * the collection needs a full resync); MIAW_E_INVAL (malformed); MIAW_E_NOMEM. st is
 * unchanged on every error. */
int miaw_as_decode_patch(miaw_as_ctx *ctx, miaw_as_state *st, const uint8_t *buf, size_t len,
                         uint64_t default_version, const uint8_t *ext, size_t ext_len);

/* Decode and verify a snapshot (SyncdSnapshot bytes): on success st is replaced by the
 * snapshot's state and every record is delivered as a SET mutation. Same results. */
int miaw_as_decode_snapshot(miaw_as_ctx *ctx, miaw_as_state *st, const uint8_t *buf, size_t len);

/* One outgoing mutation. */
typedef struct miaw_as_out {
    int op;              /* MIAW_AS_OP_SET / _REMOVE */
    const json_t *index; /* a JSON array of strings */
    const json_t *value; /* SyncActionValue in protobufjs shape (an object) */
    int32_t action_version;
} miaw_as_out;

/* Encode n mutations as one patch of collection ctx->name under key (key_id, key_data)
 * on top of st; on success *out is the SyncdPatch bytes and st is the state after it
 * (version + 1). iv_seed NULL = random IVs (tests give fixed IVs: 16 bytes per
 * mutation). 0; MIAW_E_INVAL (bad index/value: ctx->err says why); MIAW_E_NOMEM;
 * MIAW_E_INTERNAL. st is unchanged on error. */
int miaw_as_encode_patch(miaw_as_ctx *ctx, miaw_as_state *st, const uint8_t *key_id, size_t key_id_len,
                         const uint8_t key_data[32], const miaw_as_out *muts, size_t n, const uint8_t *ivs,
                         uint8_t **out, size_t *out_len);
#endif
