/* core/engine/engine.h - the protocol engine's instance side: one connection state machine per
 * instance on the server loop (connect -> Noise -> registration with QR codes, or login
 * -> connected), pairing, pre-key upload, keepalive, reconnects with jittered exponential
 * backoff under a global handshake rate limit, persistence of each instance's device
 * credentials in sqlite (tables wa_creds, wa_prekeys), the lifecycle routes of spec 4.4.1
 * (connect, disconnect, restart, status, qr, pair-code: pairing by phone-number code in
 * engine_linkcode.c) and the events qr, ready, connection,
 * disconnected, reconnecting, error; 1:1 text messaging (send with usync, pre-key fetch
 * and Signal sessions; receive, decrypt, store in chat storage, `message` event, then
 * receipt) and logout when the phone unlinks the device. Owns every per-instance engine state (reached through
 * miaw_instance.engine) and drops it, with the rows, on `instance.deleted`.
 *
 * Settings: the whatsapp.* keys of miaw.yaml (root_key, version, qr_first_ms, qr_next_ms,
 * qr_max, keepalive_ms, dead_ms, handshake_timeout_ms, backoff_min_ms, backoff_max_ms,
 * handshakes_per_sec, prekeys), overridden by WA_ROOT_KEY, WA_VERSION and MIAW_WA_<KEY>.
 *
 * Ownership: miaw_engine_new borrows loop, cfg, db, bus, instances and router (all must
 * outlive it) and registers its routes and subscriptions; miaw_engine_free drops every
 * connection and timer (handles close on the next loop turn: run the loop once more
 * before closing it). Loop thread only. */
#ifndef MIAW_ENGINE_H
#define MIAW_ENGINE_H
#include <jansson.h>
#include <uv.h>

#include "base/config.h"
#include "bus/events.h"
#include "instances/instances.h"
#include "http/router.h"
#include "base/storage.h"
#include "wa/conn.h"

typedef struct miaw_engine miaw_engine;

/* Timings and limits; zero fields take the defaults above (configuration applied by
 * miaw_engine_new when opts is NULL). */
typedef struct miaw_engine_opts {
    unsigned qr_first_ms, qr_next_ms, qr_max;
    unsigned keepalive_ms, dead_ms, handshake_timeout_ms;
    unsigned backoff_min_ms, backoff_max_ms;
    unsigned handshakes_per_sec;
    unsigned prekeys_initial, prekeys_refill, prekeys_min;
    uint32_t version[3];
    uint8_t root_pub[32];
    int has_root;
} miaw_engine_opts;

/* Fills o from the configuration (whatsapp.* keys, overridden by WA_* / MIAW_WA_* in the
 * environment). -1 with a message for a bad value. */
int miaw_engine_opts_from_config(miaw_engine_opts *o, const miaw_config *c, char *err, size_t errlen);

/* Creates the engine, its tables and routes, and schedules a connection for every paired
 * instance that was connected before (no new QR). opts NULL = from the environment.
 * NULL with a message on failure. */
miaw_engine *miaw_engine_new(uv_loop_t *loop, const miaw_config *cfg, miaw_storage *db, miaw_bus *bus,
                             miaw_instances *inst, miaw_router *rt, const miaw_engine_opts *opts, char *err,
                             size_t errlen);
void miaw_engine_free(miaw_engine *e);

/* Start connecting (idempotent while connecting or connected). 0 or MIAW_E_*. */
int miaw_engine_connect(miaw_engine *e, miaw_instance *in);
/* Drop the connection and stay disconnected (state disconnected, reason given). */
int miaw_engine_disconnect(miaw_engine *e, miaw_instance *in, const char *reason);
/* {instanceId, status, reason, paired, jid, lid, connectedAt, qr}; new reference. */
json_t *miaw_engine_status(miaw_engine *e, miaw_instance *in);
/* The current QR string (borrowed until the next engine event), or NULL. */
const char *miaw_engine_qr(miaw_engine *e, miaw_instance *in);

/* ---- messaging (engine_send.c) ---- */
/* Outcome of a send: err 0 with the message id and the server's timestamp (unix
 * seconds), or a MIAW_E_* code with a short reason (MIAW_E_STATE: not connected or the
 * connection dropped before the server's ack; MIAW_E_NOTFOUND: the recipient has no
 * devices; MIAW_E_TIMEOUT; MIAW_E_IO: the server refused it). Strings borrowed for the
 * call. Runs on the loop, never inside miaw_engine_send_text. */
typedef miaw_send_fn miaw_engine_send_cb; /* the plugin ABI's callback type (miaw/plugin.h) */

/* Send a 1:1 text message. to: a phone number (spaces, +, -, (, ), . are dropped; 5-20
 * digits, no leading 0) or a user JID (<digits>@s.whatsapp.net, @c.us, <lid>@lid).
 * quoted_id (optional): id of a stored message this one replies to. Returns 0 (cb runs
 * exactly once later, unless cancelled; *handle identifies the send) or MIAW_E_INVAL (bad
 * `to` or text; `field` names it) / MIAW_E_STATE (not connected), with a reason in err. */
int miaw_engine_send_text(miaw_engine *e, miaw_instance *in, const char *to, const char *text, const char *quoted_id,
                          miaw_engine_send_cb cb, void *udata, uint64_t *handle, const char **field, char *err,
                          size_t errlen);
/* An end-to-end send of a serialized (unpadded) Message to `to` (a phone number, user
 * or group JID; see miaw_jid_recipient), with the options of the plugin ABI (o may be
 * NULL) and extra children of the <message> stanza (borrowed, copied). As send_text:
 * 0 and cb later, or MIAW_E_INVAL (*field) / MIAW_E_STATE / MIAW_E_NOTSUP with err. */
int miaw_engine_send_msg(miaw_engine *e, miaw_instance *in, const char *to, const uint8_t *msg, size_t len,
                         const miaw_msg_opts *o, miaw_node **extra, size_t nextra, miaw_engine_send_cb cb,
                         void *udata, uint64_t *handle, const char **field, char *err, size_t errlen);
/* The caller is gone (e.g. the HTTP client left): cb will not run; the send goes on. */
void miaw_engine_send_cancel(miaw_engine *e, uint64_t handle);

/* Send an IQ on the instance's connection and get the reply (wa/conn.h semantics: iq is
 * taken in all cases; cb runs once unless this returns an error). MIAW_E_STATE when not
 * connected. */
int miaw_engine_iq(miaw_engine *e, miaw_instance *in, miaw_node *iq, unsigned timeout_ms, miaw_wa_iq_cb cb,
                   void *udata);

/* ---- unlinking (engine_auto.c) ---- */
/* ok 1 when the server removed the device (the instance is then logged out), 0 when not,
 * -1 when the engine is shutting down (do nothing more), with a short reason (borrowed) */
typedef void (*miaw_engine_unlink_cb)(void *ud, int ok, const char *why);
/* Asks WhatsApp to remove this companion device from the account (remove-companion-device
 * over the live connection). 0: cb runs exactly once later (also when the connection
 * drops first); MIAW_E_STATE: not connected and logged in (cb never runs); MIAW_E_NOMEM. */
int miaw_engine_unlink(miaw_engine *e, miaw_instance *in, miaw_engine_unlink_cb cb, void *ud);

/* ---- the engine as services for the plugin host (services.c) ---- */
struct miaw_engine_services;
void miaw_engine_services_fill(miaw_engine *e, struct miaw_engine_services *out);
#endif
