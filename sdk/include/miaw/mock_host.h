/* miaw/mock_host.h - a mock plugin host for unit tests: a complete miaw_host_api (ABI 1.2,
 * and of 1.3 the files: req_upload, reply_file, fetch, and the chat history: msg_list,
 * chat_list; of 1.4 app-state sync: appstate_push / _subscribe / _unsubscribe / _sync /
 * _state) without a server, a network or WhatsApp, so a plugin's routes and event
 * handlers are tested as plain function calls. A test loads a plugin (a .so, or a descriptor compiled
 * into the test), calls its routes as the server would (route match, path and query
 * parameters, headers, body parsing and schema checks, MIAW_ASYNC, timeouts and aborts),
 * sends multipart forms with files, captures file answers, sees every engine call and
 * fetch the plugin made (msg_send, send_text, iq, stanza_send, media, fetch, appstate_push)
 * and completes each one when and how it chooses, scripts instances and stored messages,
 * emits core events and incoming stanzas, reads the events the plugin emitted, and drives
 * timers with a virtual clock. Implemented by sdk/mock/mock_host.c, which depends only on
 * jansson, libdl, libc and the SDK headers: compile it with your tests (installed under
 * <datadir>/miaw/sdk/mock) or link the in-tree static library miaw_mock_host.
 *
 * Behaviour follows the server: the same route matching (literal segments win), the same
 * envelopes and error codes, the same reply_status table and jid_normalize rules, the
 * same ABI rules for asynchronous calls (a callback runs exactly once, never inside the
 * call that started it, never after cancel or unload). The mock does not check API keys
 * or file permissions, and it cannot check a message against WAProto (see
 * miaw_mock_set_message_check). Misuses of the ABI by the plugin (answering a request
 * twice or after it was aborted, MIAW_ASYNC without req_suspend, a handler that returns
 * without answering, ...) are answered like the server does where it can and listed in
 * miaw_mock_violations.
 *
 * Ownership: the mock owns everything it creates. json_t returned as "borrowed" stays
 * valid until the mock is freed (records are only ever appended to) unless stated;
 * strings passed in are copied; JSON inputs are given as text and parsed (a parse error
 * is MIAW_E_INVAL and a line on stderr). Not thread-safe: one thread, like the server's
 * loop. */
#ifndef MIAW_MOCK_HOST_H
#define MIAW_MOCK_HOST_H

#include <jansson.h>
#include <miaw/plugin.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct miaw_mock miaw_mock;

/* The answer to one miaw_mock_call. Pass a zeroed (or cleared) struct; it is filled when
 * the request is answered, which for MIAW_ASYNC handlers is later: a pending reply must
 * stay where it is (not go out of scope) until it is answered, aborted, cleared or the
 * mock is freed. Free with miaw_mock_reply_clear. */
typedef struct miaw_mock_reply {
    int status;      /* HTTP status once answered; 0 while pending or when aborted unanswered */
    int pending;     /* 1 while a MIAW_ASYNC answer is awaited                               */
    int aborted;     /* the plugin's on_abort ran (miaw_mock_abort, a timeout, unload, free) */
    json_t *json;    /* the whole envelope {"success":...} once answered; owned              */
    char *text;      /* the envelope as compact JSON text; owned                             */
    struct miaw_req *req_; /* internal: the request while pending                            */
    /* since 1.3: an answer by reply_file (json and text stay NULL, except for a 416, which
     * has its envelope): {path, contentType, filename, disposition (the Content-Disposition
     * the server sends), flags, status, size (of the file), range: {from, length} (206
     * only)}; owned. body/body_len: the bytes the server would send (the range, or the
     * whole file up to 64 MiB; NULL beyond), NUL-terminated for convenience; owned. */
    json_t *file;
    char *body;
    size_t body_len;
    /* since 1.4: headers the plugin added with reply_header to a JSON answer, {name
     * (lowercase): value}, or NULL; owned. */
    json_t *headers;
} miaw_mock_reply;

/* ------------------------------------------------------------ the mock */
/* A new mock: no plugins, no instances, the virtual clock at 1735118400000 ms
 * (2024-12-25T09:20:00Z). NULL when out of memory. */
miaw_mock *miaw_mock_new(void);
/* Aborts pending requests (their plugins' on_abort runs), unloads every plugin in reverse
 * load order and frees everything, including every json_t borrowed from the mock. */
void miaw_mock_free(miaw_mock *m);
/* The host table plugins get (borrowed, lives with the mock). */
const miaw_host_api *miaw_mock_api(miaw_mock *m);
/* Offer an older host: minor 0, 1, 2 or 3 shrinks the table (struct_size) to that ABI, so
 * MIAW_HOST_HAS is false for later members and plugins needing a later minor are refused
 * at load. Call before loading. MIAW_OK or MIAW_E_INVAL. */
int miaw_mock_set_abi_minor(miaw_mock *m, unsigned minor);
/* The virtual clock (what api->now_ms answers; with several mocks alive, the newest one
 * still alive). Only miaw_mock_run_timers moves it. */
int64_t miaw_mock_now(const miaw_mock *m);

/* ------------------------------------------------------------ plugins */
/* dlopen the plugin at path (RTLD_NOW | RTLD_LOCAL), check its descriptor like the server
 * (entry symbol, magic, ABI major, abi_minor_required, sizes, init/fini, a valid name,
 * equal to `name` when name is not NULL, not already loaded) and run init with
 * config_json (NULL = {}). Returns the plugin handle (owned by the mock), or NULL with the
 * reason in err; after a failed init everything the plugin registered is removed. */
miaw_plugin *miaw_mock_load(miaw_mock *m, const char *path, const char *name, const char *config_json, char *err,
                            size_t errlen);
/* The same for a descriptor compiled into the test (no dlopen). d must outlive the
 * plugin. */
miaw_plugin *miaw_mock_load_desc(miaw_mock *m, const miaw_plugin_desc *d, const char *config_json, char *err,
                                 size_t errlen);
/* Unload as the server does: pending requests of its routes are aborted (on_abort), fini
 * runs, then everything it had in flight is cancelled (a later completion returns
 * MIAW_E_GONE and calls nothing), its routes, event types, subscriptions and timers go,
 * and the library is closed. Its kv rows stay. */
void miaw_mock_unload(miaw_mock *m, miaw_plugin *p);
/* The state pointer the plugin's init returned (for plugins compiled into the test). */
void *miaw_mock_plugin_state(const miaw_plugin *p);
/* The plugin handle by name, or NULL. */
miaw_plugin *miaw_mock_plugin(miaw_mock *m, const char *name);
/* [{method, path, flags, plugin, timeoutMs}] of the routes registered; new reference. */
json_t *miaw_mock_routes(miaw_mock *m);

/* ------------------------------------------------------------ requests */
/* Call a route as the server would. method "GET", "POST", ...; path relative to the API
 * prefix ("/instances/i1/messages/text", an "/api/v1" prefix is accepted too), with an
 * optional "?query". body: the request body text or NULL. In order: 404 NOT_FOUND /
 * 405 METHOD_NOT_ALLOWED, 404 INSTANCE_NOT_FOUND (MIAW_ROUTE_INSTANCE and an instance
 * not put with miaw_mock_put_instance), then for routes with a body schema 413
 * PAYLOAD_TOO_LARGE (body_max, default 1 MiB), 415 / 400 for a body that is not JSON
 * (details {field:"body", line, column}), 400 INVALID_REQUEST with details.field for a
 * schema failure (types, required, nullable, non-empty, min/max, enum, pattern, uri,
 * items, props, strict), then the handler. A handler's negative return without an
 * answer, MIAW_ASYNC without req_suspend, or no answer at all are answered as the server
 * does. Returns reply->status: the HTTP status, or 0 while the answer is pending (the
 * plugin returned MIAW_ASYNC); it arrives in *reply when the plugin answers. MIAW_E_INVAL
 * for a NULL argument. */
int miaw_mock_call(miaw_mock *m, const char *method, const char *path, const char *body, miaw_mock_reply *reply);
/* The same with request headers: a NULL-terminated list of "Name: value" strings. */
int miaw_mock_call_h(miaw_mock *m, const char *method, const char *path, const char *const *headers,
                     const char *body, miaw_mock_reply *reply);
/* The client of a pending request leaves: the plugin's on_abort(req, MIAW_E_GONE) runs and
 * the request is dead (reply: pending 0, aborted 1, status 0). MIAW_E_STATE when reply is
 * not pending. */
int miaw_mock_abort(miaw_mock *m, miaw_mock_reply *reply);
/* The route's timeout passes now: the mock answers 504 TIMEOUT, then on_abort(req,
 * MIAW_E_TIMEOUT) runs. (miaw_mock_run_timers does this by itself when the virtual clock
 * passes the route's timeout_ms, default 30 s.) MIAW_E_STATE when reply is not pending. */
int miaw_mock_timeout(miaw_mock *m, miaw_mock_reply *reply);
/* One part of a multipart/form-data request (miaw_mock_call_multipart): a text part
 * (value set) or a file part (value NULL: data/len, and optionally the client's filename
 * and Content-Type). */
typedef struct miaw_mock_part {
    const char *name;
    const char *value;        /* a text part's text, NUL-terminated; NULL for a file part */
    const void *data;         /* a file part's bytes */
    size_t len;
    const char *filename;     /* as the client named the file, or NULL */
    const char *content_type; /* the part's declared type, or NULL */
} miaw_mock_part;
/* Call a route with a multipart/form-data body, as the server does for routes flagged
 * MIAW_ROUTE_MULTIPART (others answer 415): 413 when the parts (counted about as encoded)
 * pass body_max; 400 INVALID_REQUEST naming the part for a name given twice or a text part
 * that is not UTF-8; text parts become string fields of the body, coerced to the schema's
 * integer, number, boolean, object or array when their text is JSON of that type, then
 * the body schema as for JSON (400 with details.field); file parts go to temporary files
 * (0600, under $TMPDIR or /tmp) that req_upload hands out and that are removed when the
 * request is answered or aborted (req_upload after the answer is a violation). A file
 * part with an empty filename and no bytes (an empty file input) is skipped. headers as
 * for miaw_mock_call_h (its Content-Type is not needed). Returns as miaw_mock_call. A
 * multipart body given as text to miaw_mock_call on a multipart route is refused (400). */
int miaw_mock_call_multipart(miaw_mock *m, const char *method, const char *path, const char *const *headers,
                             const miaw_mock_part *parts, size_t nparts, miaw_mock_reply *reply);
/* Frees what the reply holds and zeroes it; a pending request then answers nowhere. */
void miaw_mock_reply_clear(miaw_mock_reply *reply);
/* error.code of an error envelope, or NULL (borrowed from reply->json). */
const char *miaw_mock_reply_code(const miaw_mock_reply *reply);

/* ------------------------------------------------------------ JSON helpers for tests */
/* The value at a dotted path with [index] steps ("error.details.field",
 * "message.extendedTextMessage.contextInfo.stanzaId", "content[0].tag"), or NULL.
 * Borrowed from j. */
const json_t *miaw_mock_get(const json_t *j, const char *path);
/* Its string value, or NULL when absent or not a string. */
const char *miaw_mock_str(const json_t *j, const char *path);

/* ------------------------------------------------------------ instances and messages */
/* Create or replace an instance: json is its API object (instance_get answers a copy);
 * NULL = {}. instanceId is set to id, and "status" to "connected" when absent. An
 * instance whose "status" is not "connected" ("qr", "disconnected"...) is known but not
 * connected: msg_send, send_text, iq, stanza_send and media calls answer MIAW_E_STATE.
 * MIAW_OK or MIAW_E_INVAL. */
int miaw_mock_put_instance(miaw_mock *m, const char *id, const char *json);
/* Set an instance's "status" to "connected" or "disconnected". MIAW_E_NOTFOUND if unknown. */
int miaw_mock_set_connected(miaw_mock *m, const char *id, int connected);
/* Remove an instance with its kv rows and stored messages (no event is emitted: emit
 * "instance.deleted" yourself when the plugin should see it). */
int miaw_mock_del_instance(miaw_mock *m, const char *instance_id);
/* Store a message msg_get answers for (instance_id, message_id): json in msg_get's shape
 * {id, chat, sender, fromMe, timestamp, type, status, pushName, text, quotedId, message}
 * (id is set to message_id). The instance need not exist yet, but msg_get answers NULL
 * for an unknown instance. A send completed with MIAW_OK is stored too (unless
 * MIAW_MSG_F_NO_STORE), as {id, chat, fromMe: true, timestamp, type, status: "sent",
 * message}. */
int miaw_mock_put_message(miaw_mock *m, const char *instance_id, const char *message_id, const char *json);

/* Chat history (ABI 1.3 msg_list / chat_list). Every call is recorded, in call order:
 * {service ("msg_list" or "chat_list"), plugin, instance, query (a copy of what the plugin
 * passed; {} for NULL)} (borrowed array). A call answers the next scripted answer of its
 * service (miaw_mock_script_list), whatever its query; without one, the mock answers from
 * the instance's stored messages (miaw_mock_put_message, completed sends) as the server
 * does: NULL for an unknown instance; the query checked ({error, field} for an unknown key,
 * a wrong type, limit outside 1..200, since after until, a cursor not from the mock);
 * msg_list {messages, next} filtered by chat (normalized), type, fromMe, since, until
 * (unix seconds, inclusive), newest first (timestamp, then the most recently stored);
 * chat_list {chats: [{jid, isGroup, lastMessage, unreadCount (not fromMe, status not
 * read/played), messageCount}], next}, most recent first. At most limit (default 50)
 * items; next is "mock:<offset>" while more are left, else null. */
const json_t *miaw_mock_lists(miaw_mock *m);
/* The next call of service ("msg_list" or "chat_list") by any plugin answers a copy of
 * answer_json ("null": NULL, as for an unknown instance). Several apply in order.
 * MIAW_OK or MIAW_E_INVAL. */
int miaw_mock_script_list(miaw_mock *m, const char *service, const char *answer_json);

/* Optional WAProto check of msg_send's JSON message (the mock knows no .proto): return
 * MIAW_OK, or MIAW_E_INVAL with the failing path inside the message in path ("" for the
 * whole message, "extendedTextMessage.text") and a message in err; msg_send then answers
 * MIAW_E_INVAL with *field "message.<path>". In-tree tests can plug the server's encoder. */
typedef int (*miaw_mock_message_check_fn)(const json_t *message, char *path, size_t pathlen, char *err,
                                          size_t errlen, void *udata);
void miaw_mock_set_message_check(miaw_mock *m, miaw_mock_message_check_fn fn, void *udata);

/* ------------------------------------------------------------ engine calls */
/* Every asynchronous call a plugin made, in call order, as records (borrowed arrays; a
 * record's index is its i below). Each record has "handle", "plugin", "instance" and
 * "state": "pending", "done" (completed: "result" holds what the callback got) or
 * "cancelled" (api->cancel, send_cancel, or unload).
 *   sends: msg_send {kind:"msg_send", to, jid (normalized), id (opts.message_id or a
 *          generated one), message (the JSON given) | bytes (base64 of the bytes given),
 *          opts: {messageId, type, edit, nodes, timeoutMs, flags} (present when opts was
 *          given)}; send_text (ABI 1.1) {kind:"send_text", to, jid, id, text, quotedId}.
 *   iqs:   {node (as given, with attrs.id set by the host and attrs.to defaulted to
 *          {"jid":"s.whatsapp.net"}), timeoutMs}.
 *   media: {kind:"upload", mediaType, path | length + data (base64 of the bytes)} or
 *          {kind:"download", mediaType, media, path | chunk: true}.
 * stanzas: stanza_send calls (synchronous, no state): {plugin, instance, node}. */
const json_t *miaw_mock_sends(miaw_mock *m);
const json_t *miaw_mock_iqs(miaw_mock *m);
const json_t *miaw_mock_media(miaw_mock *m);
/* fetch calls (ABI 1.3), as records like the others (no "instance"): {kind: "fetch", url,
 * maxBytes, timeoutMs, maxRedirects (the defaults filled in: 100 MiB, 60 s, 3)}. A URL
 * that is not http(s) is refused in the call with MIAW_E_INVAL and not recorded. */
const json_t *miaw_mock_fetches(miaw_mock *m);
const json_t *miaw_mock_stanzas(miaw_mock *m);

/* Complete send i (msg_send or send_text) with status and, for MIAW_OK, the message id
 * (NULL = the record's id) and the server timestamp in seconds (0 = the virtual clock);
 * detail (NULL = a default text for errors) goes to the callback. Returns MIAW_OK when the
 * callback ran, MIAW_E_GONE when the call was cancelled (nothing runs: the ABI's rule),
 * MIAW_E_STATE when it was already completed, MIAW_E_NOTFOUND for no such i. */
int miaw_mock_complete_send(miaw_mock *m, size_t i, int status, const char *message_id, int64_t timestamp_s,
                            const char *detail);
/* Complete IQ i: status MIAW_OK with reply_json (NULL = <iq type="result"> with the
 * request's id and from s.whatsapp.net), MIAW_E_IO with the type="error" node (detail NULL
 * = "<code> <text>" of its <error> child), MIAW_E_TIMEOUT or MIAW_E_STATE (reply NULL).
 * Returns as miaw_mock_complete_send. */
int miaw_mock_complete_iq(miaw_mock *m, size_t i, int status, const char *reply_json, const char *detail);
/* Complete media call i. MIAW_OK: result_json, NULL = plausible fields (upload: url,
 * directPath, mediaKey, fileSha256, fileEncSha256, fileLength, mediaKeyTimestamp; download:
 * {fileLength} of the bytes fed); a download to a path is renamed from "<path>.part" to
 * path. Errors: result NULL, a download's part file is removed. Returns as above. */
int miaw_mock_complete_media(miaw_mock *m, size_t i, int status, const char *result_json, const char *detail);
/* Feed decrypted bytes to download i: to its chunk callback, or appended to "<path>.part".
 * MIAW_OK; MIAW_E_INTERNAL when the chunk callback returned non-zero (the download then
 * ended: its callback ran with MIAW_E_INTERNAL "stopped by the plugin"); MIAW_E_GONE,
 * MIAW_E_STATE, MIAW_E_NOTFOUND, MIAW_E_IO as above or for a write error. */
int miaw_mock_media_feed(miaw_mock *m, size_t i, const void *data, size_t len);

/* Complete fetch i. MIAW_OK: data/len become a new temporary file (0600, $TMPDIR or
 * /tmp) handed to the callback with content_type (NULL = none) and len; the file is then
 * the plugin's, as with the server. len above the call's max_bytes completes it with
 * MIAW_E_LIMIT instead, as the host would. Errors (MIAW_E_IO with detail "HTTP 404",
 * MIAW_E_LIMIT, MIAW_E_TIMEOUT, MIAW_E_INVAL): no file; detail NULL = the host's default
 * text. The virtual clock completes a fetch with MIAW_E_TIMEOUT at its timeout. Returns
 * as miaw_mock_complete_send; MIAW_E_IO when the file cannot be written. */
int miaw_mock_complete_fetch(miaw_mock *m, size_t i, int status, const void *data, size_t len,
                             const char *content_type, const char *detail);

/* Script a refusal: the next call of service ("msg_send", "send_text", "iq",
 * "stanza_send", "media_upload", "media_download", "fetch") by any plugin returns status (a
 * negative MIAW_E_*) with *field (msg_send/send_text; NULL = none) and err (NULL = a
 * default text), once its own argument checks passed, as if the engine refused it. Several
 * refusals of one service apply in order. MIAW_OK or MIAW_E_INVAL. */
int miaw_mock_refuse(miaw_mock *m, const char *service, int status, const char *field, const char *err);

/* ------------------------------------------------------------ events and stanzas */
/* Emit an event as the core ("source": "core"), e.g. "message", "instance.deleted", to
 * every matching subscription (exact, "prefix*", "*") in subscription order. data_json
 * NULL = {}. Events emitted while subscribers run are queued and delivered after, in
 * order, as the server's bus does. Returns the number of handler calls made, or
 * MIAW_E_INVAL. */
int miaw_mock_emit(miaw_mock *m, const char *type, const char *instance_id, const char *data_json);
/* The events the plugins emitted with event_emit, in emit order: {id, type, source,
 * instanceId (or null), tsMs, data}. Borrowed. */
const json_t *miaw_mock_events(miaw_mock *m);
/* An incoming stanza (a JSON node) on instance_id, handed to every stanza subscription
 * whose filter matches (tag, type and xmlns attributes, first child's tag). Returns the
 * number of subscriptions called, or MIAW_E_INVAL for a node that is not an object with a
 * string "tag". */
int miaw_mock_deliver(miaw_mock *m, const char *instance_id, const char *node_json);

/* ------------------------------------------------------------ app-state (ABI 1.4) */
/* appstate_push and appstate_sync calls, in call order: {kind: "appstate_push", handle,
 * plugin, instance, patch, state ("pending" | "done" | "cancelled"), result} or {kind:
 * "appstate_sync", plugin, instance, collection (or absent), full}. Borrowed. A push is
 * checked as the server checks it before encoding (collection, 1-100 mutations with
 * operation "set"/"remove", a non-empty index of strings, an object value); the value
 * itself is not checked against WAProto here. */
const json_t *miaw_mock_appstate_calls(miaw_mock *m);
/* Complete the i-th appstate_push (counting pushes only). MIAW_OK: the collection's
 * version (per instance, from 0) goes up by one and the callback gets {collection,
 * version}; else the status with detail (NULL = a default). MIAW_E_NOTFOUND, MIAW_E_STATE
 * (already done) or MIAW_E_GONE (cancelled). */
int miaw_mock_complete_appstate(miaw_mock *m, size_t i, int status, const char *detail);
/* An incoming app-state mutation (JSON {collection, operation, index, value, timestamp,
 * version}) for instance_id, handed to every matching appstate_subscribe subscription.
 * The number of callbacks run, or MIAW_E_INVAL. */
int miaw_mock_appstate_deliver(miaw_mock *m, const char *instance_id, const char *mutation_json);

/* ------------------------------------------------------------ timers, kv, logs */
/* Move the virtual clock forward by advance_ms, firing in time order every plugin timer
 * that falls due (repeating ones as often as they fall due), and the deadlines of pending
 * requests (504 + on_abort), IQs (MIAW_E_TIMEOUT, default 20 s), sends (MIAW_E_TIMEOUT,
 * default 45 s) and fetches (MIAW_E_TIMEOUT, default 60 s). advance_ms 0 fires what is due now (a timer started with delay 0).
 * Returns the number of callbacks run. */
int miaw_mock_run_timers(miaw_mock *m, uint64_t advance_ms);
/* The number of plugin timers running. */
size_t miaw_mock_timer_count(const miaw_mock *m);
/* The kv row of plugin `plugin` (instance NULL or "" = global): borrowed (valid until
 * the row changes) or NULL. */
const json_t *miaw_mock_kv(miaw_mock *m, const char *plugin, const char *instance_id, const char *key);
/* Preload a kv row; json NULL deletes it. MIAW_OK or MIAW_E_INVAL. */
int miaw_mock_kv_put(miaw_mock *m, const char *plugin, const char *instance_id, const char *key, const char *json);
/* The lines plugins logged: {level, plugin, message}. Also printed to stderr when the
 * environment has MIAW_MOCK_VERBOSE. Borrowed. */
const json_t *miaw_mock_logs(miaw_mock *m);
/* ABI misuses the mock saw, as strings (each also printed to stderr). Borrowed; an empty
 * array is what a correct plugin leaves. */
const json_t *miaw_mock_violations(miaw_mock *m);

#ifdef __cplusplus
}
#endif
#endif /* MIAW_MOCK_HOST_H */
