/* plugins/contacts/contacts.h - shared state of the "contacts" plugin (spec 4.4.3): its
 * configuration, per-instance records (number-check cache, rate-limit bucket, contacts
 * known from push names) and the node helpers the route modules share.
 *
 * Ownership: one ct_state per loaded plugin (contacts.c allocates it in init and frees it
 * in fini, with every ct_inst). Strings read from nodes (miaw/node_util.h) are borrowed from the node;
 * json_t results documented "new" are the caller's. Loop thread only. */
#ifndef MIAW_PLUGIN_CONTACTS_H
#define MIAW_PLUGIN_CONTACTS_H
#include <jansson.h>
#include <miaw/node_util.h> /* miaw_jnode_attr, _child, _text, _bytes */
#include <miaw/plugin.h>
#include <stddef.h>
#include <stdint.h>

#define CT_BATCH_MAX 500        /* phones per check-batch call */
#define CT_KNOWN_MAX 10000      /* contacts remembered per instance */

typedef struct ct_inst {
    char id[128];
    json_t *cache;       /* digits -> {"e": exists, "j": jid, "l": lid|null, "t": ms stored} */
    double tokens;       /* rate-limit bucket: numbers that may be asked now */
    int64_t refill_ms;   /* when tokens was last brought up to date */
    json_t *known;       /* jid -> {jid, phone, pushName, lastSeen[, name, firstName]}; NULL until loaded */
    int known_dirty;
    struct ct_inst *next;
} ct_inst;

typedef struct ct_state {
    miaw_plugin *self;
    const miaw_host_api *api;
    ct_inst *insts;
    uint32_t cache_ttl_s;     /* config cache_ttl_s (default 3600)                */
    uint32_t cache_max;       /* config cache_max: numbers cached per instance    */
    uint32_t rate_per_minute; /* config rate_per_minute: numbers asked per minute */
    uint32_t rate_burst;      /* config rate_burst: bucket size (>= 500)          */
    uint32_t chunk;           /* config usync_chunk: numbers per usync query      */
    uint64_t usync_queries;   /* usync queries sent for checks (all instances)    */
    uint64_t numbers_asked;
} ct_state;

/* contacts.c */
ct_inst *ct_inst_get(ct_state *st, const char *id); /* created on first use; NULL: no memory */
/* Take n numbers from the bucket: 0, or the whole seconds to wait (>= 1) when it is short. */
int64_t ct_rate_take(ct_state *st, ct_inst *in, size_t n);
/* The known contact jid (borrowed, NULL when unknown). */
const json_t *ct_known_get(ct_state *st, ct_inst *in, const char *jid);
int ct_known_register(ct_state *st, char *err, size_t n);
/* The known-contacts map of an instance (borrowed; loaded from kv on first use) and the
 * mark that it changed (flushed to kv by the timer). */
json_t *ct_known_map(ct_state *st, ct_inst *in);
void ct_known_touch(ct_inst *in);

/* node helpers (node.c) */
/* The business name of a usync <verified_name> node (its VerifiedNameCertificate's
 * details.verifiedName) as a new string, or NULL. */
json_t *ct_verified_name(const json_t *verified_name_node);
/* "+1 (555) 123-4567", "15551234567@s.whatsapp.net" or "…@c.us" -> digits (5..20, no leading
 * zero) into out. 0, or -1 with *why (static) */
int ct_phone_digits(const char *in, char *out, size_t cap, const char **why);
/* A user JID from a path parameter (phone number, PN or LID JID): 0 or -1 (groups and
 * anything else). */
int ct_user_jid(ct_state *st, const char *in, char *out, size_t cap);
/* An IQ error reply into the API's error (404 -> NOT_FOUND, 401 -> FORBIDDEN...). */
void ct_reply_iq_error(ct_state *st, miaw_req *req, int status, const json_t *reply, const char *detail,
                       const char *what);

/* route modules */
int ct_check_register(ct_state *st, char *err, size_t n);
int ct_info_register(ct_state *st, char *err, size_t n);
int ct_block_register(ct_state *st, char *err, size_t n);
int ct_saved_register(ct_state *st, char *err, size_t n); /* saved.c: needs ABI 1.4 (app-state) */
#endif
