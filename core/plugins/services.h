/* core/plugins/services.h - what the plugin host needs from the WhatsApp engine, as a
 * table of functions the server fills in (core/server.c) from the engine's
 * (engine/services.c). The plugin host reaches the engine only through this table, so
 * core/plugins does not depend on core/engine (layers: tests/check_layers.sh).
 *
 * Nodes cross this table as miaw_node (the plugin host converts to and from the ABI's
 * JSON). Ownership: a miaw_node passed in is taken by the callee in every case; nodes
 * handed to callbacks are borrowed for the call. Every callback runs on the loop, never
 * inside the call that started it. Loop thread only. */
#ifndef MIAW_PLUGIN_SERVICES_H
#define MIAW_PLUGIN_SERVICES_H
#include <jansson.h>
#include <miaw/plugin.h>
#include <stdint.h>

#include "wa/node.h"

/* err: MIAW_OK with reply (type=result), MIAW_E_IO with reply (type=error),
 * MIAW_E_TIMEOUT or MIAW_E_STATE with reply NULL */
typedef void (*miaw_svc_iq_cb)(int err, const miaw_node *reply, void *udata);
/* app-state sync (ABI 1.4): a verified incoming mutation {collection, operation, index,
 * value, timestamp, version} (borrowed), and the outcome of an outgoing patch
 * (MIAW_OK + {collection, version}, or an error with detail; result borrowed) */
typedef void (*miaw_svc_appstate_fn)(void *udata, const char *instance_id, const json_t *mutation);
typedef void (*miaw_svc_appstate_cb)(int status, const json_t *result, const char *detail, void *udata);
/* an incoming stanza after the engine handled and acknowledged it */
typedef void (*miaw_svc_tap_fn)(void *udata, const char *instance_id, const miaw_node *n);

typedef struct miaw_engine_services {
    void *ctx; /* the engine */
    /* iq is taken. 0 (cb runs once later) or MIAW_E_NOTFOUND / MIAW_E_STATE / MIAW_E_INVAL. */
    int (*iq)(void *ctx, const char *instance_id, miaw_node *iq, unsigned timeout_ms, miaw_svc_iq_cb cb,
              void *udata);
    /* n is taken. 0 or MIAW_E_NOTFOUND / MIAW_E_STATE. */
    int (*stanza_send)(void *ctx, const char *instance_id, miaw_node *n);
    /* An end-to-end send of a serialized Message (unpadded) to `to` (phone number, user
     * or group JID). 0 (cb runs once later unless cancelled; *handle names it) or an
     * error with *field and err. */
    int (*msg_send)(void *ctx, const char *instance_id, const char *to, const uint8_t *msg, size_t len,
                    const miaw_msg_opts *opts, miaw_node **extra, size_t nextra, miaw_send_fn cb, void *udata,
                    uint64_t *handle, const char **field, char *err, size_t errlen);
    /* the 1.1 text send, on top of msg_send */
    int (*send_text)(void *ctx, const char *instance_id, const char *to, const char *text, const char *quoted_id,
                     miaw_send_fn cb, void *udata, uint64_t *handle, const char **field, char *err, size_t errlen);
    void (*send_cancel)(void *ctx, uint64_t handle);
    /* a stored message: {id, chat, sender, fromMe, timestamp, type, status, raw bytes}
     * as JSON with "message" decoded (new reference) or NULL */
    json_t *(*msg_get)(void *ctx, const char *instance_id, const char *message_id);
    /* Media transfers (plugin ABI media_upload / media_download semantics; cb runs once
     * later unless cancelled, *handle names the transfer). NULL = not available. */
    int (*media_upload)(void *ctx, const char *instance_id, const char *media_type, const void *data, size_t len,
                        const char *path, miaw_media_fn cb, void *udata, uint64_t *handle, char *err,
                        size_t errlen);
    int (*media_download)(void *ctx, const char *instance_id, const char *media_type, const json_t *media,
                          const char *path, miaw_media_chunk_fn chunk, miaw_media_fn cb, void *udata,
                          uint64_t *handle, char *err, size_t errlen);
    /* cb (and chunk) will not run; the transfer stops and its temporary files go */
    void (*media_cancel)(void *ctx, uint64_t handle);
    /* the engine calls fn for every stanza (after its own handling); set by the host */
    void (*set_tap)(void *ctx, miaw_svc_tap_fn fn, void *udata);
    /* chat history (plugin ABI msg_list / chat_list): the answer as a new reference, or
     * NULL for an unknown instance. NULL members = not available. */
    json_t *(*msg_list)(void *ctx, const char *instance_id, const json_t *query);
    json_t *(*chat_list)(void *ctx, const char *instance_id, const json_t *query);
    /* App-state sync. push: an outgoing patch (JSON {collection, mutations}, borrowed); 0
     * and cb runs exactly once later (also when the instance goes away: MIAW_E_GONE), or
     * MIAW_E_NOTFOUND / MIAW_E_STATE / MIAW_E_INVAL (*field, err) and no callback. sync:
     * fetch a collection (NULL = all) now, full = from scratch. state: {keys,
     * collections, pending} (new reference) or NULL for an unknown instance. The tap gets
     * every verified incoming mutation. NULL members = not available. */
    int (*appstate_push)(void *ctx, const char *instance_id, const json_t *patch, miaw_svc_appstate_cb cb,
                         void *udata, const char **field, char *err, size_t errlen);
    int (*appstate_sync)(void *ctx, const char *instance_id, const char *collection, int full, char *err,
                         size_t errlen);
    json_t *(*appstate_state)(void *ctx, const char *instance_id);
    void (*set_appstate_tap)(void *ctx, miaw_svc_appstate_fn fn, void *udata);
} miaw_engine_services;
#endif
