/* miaw/plugin.h - the stable plugin ABI of miaw: descriptor, host function table,
 * route and schema declarations, events. Self-contained C99: includes only miaw/status.h,
 * no other header of the project and none of h2o, sqlite, curl, OpenSSL or protobuf-c. jansson's json_t
 * is forward-declared; plugins link the shared libjansson.
 *
 * Ownership, everywhere in this header:
 *   - strings and structs passed *to* the host are copied by the host before the call
 *     returns (route tables, schemas, event declarations); the plugin may free them.
 *   - json_t passed to a function documented "stolen" becomes the host's; any other
 *     json_t argument is borrowed for the duration of the call.
 *   - json_t and strings handed *to* the plugin are borrowed until the callback returns
 *     (or, for requests, until the request is answered or aborted) unless stated.
 * Threads: every callback runs on the server's loop thread. Plugins write no locks. */
#ifndef MIAW_PLUGIN_H
#define MIAW_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- versions */
#define MIAW_ABI_MAJOR 1u /* must equal the host's; bumped only on breakage      */
#define MIAW_ABI_MINOR 4u /* additive changes; host minor must be >= required   */
#define MIAW_PLUGIN_MAGIC 0x6d696177u /* "miaw" */
#define MIAW_PLUGIN_ENTRY "miaw_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define MIAW_EXPORT __attribute__((visibility("default")))
#define MIAW_FMT(fmt, va) __attribute__((format(printf, fmt, va)))
#else
#define MIAW_EXPORT
#define MIAW_FMT(fmt, va)
#endif

/* ---------------------------------------------------------- opaque handles */
typedef struct miaw_plugin miaw_plugin; /* one per loaded plugin; host-owned   */
typedef struct miaw_req miaw_req;       /* one HTTP request; see req_suspend   */
#ifndef JANSSON_H
typedef struct json_t json_t;           /* jansson value                       */
#endif
typedef uint64_t miaw_id;               /* timers, subscriptions; 0 = none     */

#include "status.h" /* miaw/status.h: MIAW_OK, MIAW_E_*, MIAW_LOG_* */

/* ---------------------------------------------------------------- schemas */
#define MIAW_T_ANY 0u
#define MIAW_T_STRING 1u
#define MIAW_T_INTEGER 2u
#define MIAW_T_NUMBER 3u
#define MIAW_T_BOOLEAN 4u
#define MIAW_T_OBJECT 5u
#define MIAW_T_ARRAY 6u

#define MIAW_F_REQUIRED (1u << 0)
#define MIAW_F_NULLABLE (1u << 1)
#define MIAW_F_NONEMPTY (1u << 2)
#define MIAW_F_STRICT (1u << 3) /* object: unknown properties are an error */
#define MIAW_F_SECRET (1u << 4) /* never logged */
#define MIAW_F_HAS_MIN (1u << 5)
#define MIAW_F_HAS_MAX (1u << 6)

/* One field of a JSON object schema. Arrays of fields end with a zeroed entry
 * (name == NULL). min/max bound a number's value, or a string's / array's length. */
typedef struct miaw_field {
    const char *name;
    uint32_t type;                    /* MIAW_T_*                                  */
    uint32_t flags;                   /* MIAW_F_*                                  */
    int64_t min, max;
    const char *format;               /* "uri","date-time","phone","jid" or NULL   */
    const char *pattern;              /* POSIX extended regex, or NULL             */
    const char *const *enum_values;   /* NULL-terminated list of strings, or NULL  */
    const struct miaw_field *items;   /* arrays: one element schema (name unused)  */
    const struct miaw_field *props;   /* objects: zero-terminated property list    */
    const char *description;          /* OpenAPI                                   */
    const char *example;              /* JSON text, OpenAPI                        */
    /* since 1.1: append here */
} miaw_field;

/* ----------------------------------------------------------------- routes */
typedef int (*miaw_route_fn)(miaw_req *req, void *udata);             /* [loop] */
typedef void (*miaw_abort_fn)(miaw_req *req, int reason, void *udata); /* [loop] */

#define MIAW_ROUTE_AUTH 0u          /* default: API key required */
#define MIAW_ROUTE_PUBLIC (1u << 0) /* no API key                */
#define MIAW_ROUTE_MULTIPART (1u << 2) /* since 1.3: multipart/form-data is accepted too:
                                         file parts are spooled to temporary files (see
                                         req_upload), text parts become the body's string
                                         fields (typed when .body says integer, number,
                                         boolean, object or array and the text is JSON of
                                         it), validated by .body like JSON; body_max
                                         bounds the whole request */
#define MIAW_ROUTE_INSTANCE (1u << 1) /* path has {instanceId}; the host answers 404
                                         INSTANCE_NOT_FOUND before the handler when
                                         the instance does not exist               */

/* A route, relative to the API base path (default /api/v1), e.g.
 * "/instances/{instanceId}/hello". Path parameters are written {name}. */
typedef struct miaw_route {
    uint32_t struct_size, field_size; /* set by MIAW_ROUTE_INIT */
    uint32_t flags;                   /* MIAW_ROUTE_*           */
    const char *method;               /* "GET","POST","PUT","PATCH","DELETE" */
    const char *path;
    miaw_route_fn handler;
    void *udata;
    const miaw_field *body;           /* request body properties; NULL = no body read */
    uint64_t body_max;                /* bytes; 0 = host default                    */
    uint32_t timeout_ms;              /* for MIAW_ASYNC; 0 = host default (30 s)    */
    const char *operation_id, *summary, *description, *tag;
    const char *response_example;     /* JSON text of `data` on success, or NULL     */
    /* since 1.1: append here */
} miaw_route;

#define MIAW_ROUTE_INIT .struct_size = sizeof(miaw_route), .field_size = sizeof(miaw_field)

/* ----------------------------------------------------------------- events */
/* Event names are lowercase [a-z0-9_.]; the spec's webhook events are plain names
 * ("message", "qr", ...). Only the declaring plugin (or the core) emits a type. */
#define MIAW_EVENT_F_WEBHOOK (1u << 0) /* delivered to webhooks                  */

typedef struct miaw_event {
    uint32_t struct_size;
    const char *type;
    const char *source;      /* emitting plugin name, or "core"           */
    const char *instance_id; /* NULL when not tied to an instance         */
    uint64_t id;             /* unique, increasing within the process     */
    int64_t ts_ms;
    const json_t *data;      /* borrowed; json_incref to keep             */
} miaw_event;

typedef struct miaw_event_decl {
    uint32_t struct_size;
    const char *type;
    uint32_t flags;           /* MIAW_EVENT_F_* */
    const char *description;  /* OpenAPI webhooks section */
} miaw_event_decl;

typedef void (*miaw_event_fn)(const miaw_event *ev, void *udata); /* [loop] */
typedef void (*miaw_timer_fn)(miaw_id timer, void *udata);        /* [loop] */

/* since 1.1: the outcome of a message send. status MIAW_OK with the message id and the
 * server's timestamp (unix seconds), or MIAW_E_STATE (not connected, or the connection
 * closed before the server acknowledged), MIAW_E_NOTFOUND (the recipient has no
 * WhatsApp devices), MIAW_E_TIMEOUT, MIAW_E_IO (the server refused it) with a short
 * human-readable detail. Strings are borrowed for the call. */
typedef void (*miaw_send_fn)(int status, const char *message_id, int64_t timestamp_s, const char *detail,
                             void *udata); /* [loop] */

/* ------------------------------------------------- 1.2: engine services
 * Nodes as JSON (one shape everywhere in the ABI, see sdk/README.md):
 *   {"tag":"iq","attrs":{"to":{"jid":"s.whatsapp.net"},"type":"get","xmlns":"w:g2"},
 *    "content": "text" | {"b64":"..."} | {"jid":"..."} | [ child nodes ]}
 * An attribute value is a string or {"jid":"..."}: the binary encoding tells JIDs from
 * strings. No "content" = no content; [] = an empty child list.
 * Messages as JSON: WAProto.Message in protobufjs' toObject shape (field names of the
 * .proto, 64-bit integers as decimal strings, bytes as base64, enums as numbers or
 * names); an unknown key is an error naming its path. */

/* The reply to an IQ: status MIAW_OK with the <iq type="result"> node; MIAW_E_IO when
 * the server answered type="error" (reply is that node; detail "<code> <text>");
 * MIAW_E_TIMEOUT; MIAW_E_STATE (the connection closed first). reply may be NULL on
 * errors. Borrowed for the call. */
typedef void (*miaw_iq_fn)(int status, const json_t *reply, const char *detail, void *udata); /* [loop] */

/* An incoming stanza matching a subscription, as a JSON node, after the core handled and
 * acknowledged it. Borrowed for the call. */
typedef void (*miaw_stanza_fn)(const char *instance_id, const json_t *node, void *udata); /* [loop] */

/* What a stanza subscription matches; NULL fields match anything. */
typedef struct miaw_stanza_filter {
    uint32_t struct_size; /* sizeof(miaw_stanza_filter) */
    const char *tag;      /* "notification", "presence", "chatstate", "receipt", "call", "ib", "message", ... */
    const char *type;     /* the "type" attribute */
    const char *xmlns;    /* the "xmlns" attribute */
    const char *child;    /* the first child's tag */
} miaw_stanza_filter;

/* Options of msg_send; a NULL pointer = all defaults. */
typedef struct miaw_msg_opts {
    uint32_t struct_size;   /* sizeof(miaw_msg_opts) */
    const char *message_id; /* NULL = a fresh WhatsApp-style id */
    const char *type;       /* the stanza's "type": "text" (default), "media", "reaction", "poll" */
    const char *edit;       /* the stanza's "edit" attribute ("1" edit, "7" revoke, "8" admin revoke) or NULL */
    const json_t *nodes;    /* JSON array of extra child nodes of <message> (<meta>, <biz>...), borrowed */
    uint32_t timeout_ms;    /* 0 = 45 s */
    uint32_t flags;         /* MIAW_MSG_F_* */
} miaw_msg_opts;
#define MIAW_MSG_F_NO_STORE (1u << 0) /* do not keep the message in chat storage */

/* The outcome of a media transfer. upload, MIAW_OK: result = the fields a media message
 * needs, as WAProto JSON: {url, directPath, mediaKey, fileSha256, fileEncSha256 (base64),
 * fileLength, mediaKeyTimestamp (decimal strings)}. download, MIAW_OK: result =
 * {fileLength}. Errors: MIAW_E_STATE (not connected), MIAW_E_GONE (the server no longer
 * has the blob), MIAW_E_IO (transfer failed, or a hash / MAC check failed: nothing of
 * the file is kept), MIAW_E_TIMEOUT. result is borrowed for the call, NULL on errors. */
typedef void (*miaw_media_fn)(int status, const json_t *result, const char *detail, void *udata); /* [loop] */
/* Decrypted bytes of a download, in order. The hash and MAC checks cover the whole file,
 * so the final verdict is the miaw_media_fn status that follows: a consumer that must not
 * act on unverified bytes keeps them aside until then. Return 0 to go on, non-zero to
 * stop (the download then ends with MIAW_E_INTERNAL, detail "stopped by the plugin"). */
typedef int (*miaw_media_chunk_fn)(const void *data, size_t len, void *udata); /* [loop] */

/* ------------------------------------------------- 1.3: files, fetches, history */
/* A file part of a multipart request (MIAW_ROUTE_MULTIPART). Strings borrowed until the
 * request is answered; the file is removed by the host when the request ends. */
typedef struct miaw_upload {
    uint32_t struct_size;     /* set by the caller: sizeof(miaw_upload) */
    const char *path;         /* the part's bytes, in a temporary file */
    const char *filename;     /* as the client named it, or NULL */
    const char *content_type; /* the part's declared type, or NULL */
    uint64_t size;
} miaw_upload;

/* Options of fetch; NULL = defaults. */
typedef struct miaw_fetch_opts {
    uint32_t struct_size;   /* sizeof(miaw_fetch_opts) */
    uint64_t max_bytes;     /* 0 = 100 MiB; larger bodies fail with MIAW_E_LIMIT */
    uint32_t timeout_ms;    /* whole transfer; 0 = 60 s */
    uint32_t max_redirects; /* 0 = 3 */
} miaw_fetch_opts;
/* The outcome of a fetch: MIAW_OK with path = a temporary file that is now the plugin's
 * (unlink or rename it when done), the server's content type (or NULL) and the size;
 * MIAW_E_INVAL (not http/https, or a redirect to anything else), MIAW_E_LIMIT (too
 * large), MIAW_E_TIMEOUT, MIAW_E_IO (unreachable, or an HTTP error: detail has the status).
 * Strings borrowed for the call. */
typedef void (*miaw_fetch_fn)(int status, const char *path, const char *content_type, uint64_t size,
                              const char *detail, void *udata); /* [loop] */

#define MIAW_FILE_F_ATTACHMENT (1u << 0) /* Content-Disposition: attachment (else inline) */
#define MIAW_FILE_F_UNLINK (1u << 1)     /* remove the file: its name goes at once, its bytes
                                            once sent (or when the client left) */

/* ------------------------------------------------- 1.4: app-state sync (syncd)
 * WhatsApp keeps settings, contacts and chat states (archive, pin, mute, read, labels...)
 * in five app-state collections ("critical_block", "critical_unblock_low",
 * "regular_high", "regular_low", "regular") that every device of the account syncs. The
 * host does the keys, LTHash and MACs; plugins see mutations as JSON:
 *   {"collection": "regular_high", "operation": "set" | "remove",
 *    "index": ["contact", "15551234567@s.whatsapp.net"],
 *    "value": <WAProto.SyncActionValue in protobufjs shape, e.g.
 *              {"timestamp": "1700000000000", "contactAction": {"fullName": "Ada"}}>,
 *    "timestamp": <value.timestamp as an integer, ms>, "version": <collection version>}
 * See sdk/README.md for the indexes and values of common actions. */
/* A verified incoming mutation (another device of the account made it), borrowed for
 * the call. */
typedef void (*miaw_appstate_fn)(const char *instance_id, const json_t *mutation, void *udata); /* [loop] */
/* The outcome of appstate_push: MIAW_OK with result {collection, version} (the server
 * took the patch); MIAW_E_STATE (the connection closed first, or no app-state key),
 * MIAW_E_IO (the server refused it, or it conflicted 3 times), MIAW_E_TIMEOUT,
 * MIAW_E_GONE (the instance went away). result borrowed, NULL on errors. */
typedef void (*miaw_appstate_push_fn)(int status, const json_t *result, const char *detail, void *udata); /* [loop] */

/* ------------------------------------------------------------- host table */
typedef struct miaw_host_api {
    uint32_t struct_size;
    uint16_t abi_major, abi_minor;
    const char *server_version;

    /* 1.0 [loop] */
    void (*log)(miaw_plugin *p, int level, const char *fmt, ...) MIAW_FMT(3, 4);
    int64_t (*now_ms)(void);

    /* 1.0 [loop, inside init only; MIAW_E_STATE elsewhere]. errbuf gets a message. */
    int (*route_add)(miaw_plugin *p, const miaw_route *r, char *errbuf, size_t errlen);
    int (*event_declare)(miaw_plugin *p, const miaw_event_decl *d, char *errbuf, size_t errlen);
    /* pattern: exact type, "prefix*" or "*". The subscription ends at unload. */
    int (*event_subscribe)(miaw_plugin *p, const char *pattern, miaw_event_fn fn, void *udata,
                           miaw_id *out);

    /* 1.0 [loop] requests. Strings are borrowed until the request is answered. */
    const char *(*req_param)(miaw_req *r, const char *name);  /* path parameter   */
    const char *(*req_query)(miaw_req *r, const char *name);  /* first value      */
    const char *(*req_header)(miaw_req *r, const char *name); /* case-insensitive */
    const json_t *(*req_body)(miaw_req *r);                   /* schema-validated */
    const char *(*req_id)(miaw_req *r);
    /* Keep the request past the handler's return; the handler then returns MIAW_ASYNC.
     * on_abort runs (and the handle dies) if the client leaves or the route's timeout
     * passes (the host has then answered 504). A handle that was not suspended dies when
     * the handler returns; a suspended one when it is answered or aborted. */
    int (*req_suspend)(miaw_req *r, miaw_abort_fn on_abort, void *udata);
    /* Answer once. data is stolen and wrapped as {"success":true,"data":...}. */
    int (*reply_json)(miaw_req *r, int http_status, json_t *data);
    /* {"success":false,"error":{"code","message"}}; code from the spec's table. */
    int (*reply_error)(miaw_req *r, int http_status, const char *code, const char *fmt, ...)
        MIAW_FMT(4, 5);

    /* 1.0 [loop] events. data is stolen. MIAW_E_NOTFOUND for an undeclared type. */
    int (*event_emit)(miaw_plugin *p, const char *type, const char *instance_id, json_t *data);
    int (*event_unsubscribe)(miaw_plugin *p, miaw_id sub);

    /* 1.0 [loop] instances: a new reference to the instance object of the API, or NULL. */
    json_t *(*instance_get)(miaw_plugin *p, const char *instance_id);

    /* 1.0 [loop] per-plugin key/value storage, scoped by instance ("" = global). The
     * rows go when the instance is deleted. kv_get returns a new reference or NULL. */
    json_t *(*kv_get)(miaw_plugin *p, const char *instance_id, const char *key);
    int (*kv_put)(miaw_plugin *p, const char *instance_id, const char *key, json_t *value);
    int (*kv_del)(miaw_plugin *p, const char *instance_id, const char *key);

    /* 1.0 [loop] timers; cancelled at unload. repeat_ms 0 = one shot. */
    int (*timer_start)(miaw_plugin *p, uint32_t delay_ms, uint32_t repeat_ms, miaw_timer_fn fn,
                       void *udata, miaw_id *out);
    int (*timer_stop)(miaw_plugin *p, miaw_id timer);

    /* 1.1 [loop] messaging through an instance's WhatsApp connection.
     * send_text: a 1:1 text to `to` (a phone number, digits with country code, spaces and
     * + - ( ) . allowed; or a user JID), optionally replying to the stored message
     * quoted_id. MIAW_OK: cb runs exactly once later, never inside this call (unless
     * send_cancel), *handle (optional) names the send. Otherwise no callback and errbuf
     * says why: MIAW_E_INVAL (a bad argument; *field, optional, names it: "to", "text"),
     * MIAW_E_STATE (the instance is not connected), MIAW_E_NOTFOUND (no such instance).
     * send_cancel: the caller is gone (e.g. its request was aborted): cb will not run,
     * the message is still sent. */
    int (*send_text)(miaw_plugin *p, const char *instance_id, const char *to, const char *text,
                     const char *quoted_id, miaw_send_fn cb, void *udata, miaw_id *handle,
                     const char **field, char *errbuf, size_t errlen);
    void (*send_cancel)(miaw_plugin *p, miaw_id handle);

    /* since 1.2: the WhatsApp engine as generic services. [loop] Every asynchronous call
     * returns MIAW_OK and a handle (optional out): its callback then runs exactly once,
     * later, never inside the call, unless the handle is cancelled (cancel) or the plugin
     * unloads: everything a plugin has in flight is cancelled at unload and no callback
     * of it runs afterwards. Otherwise the call returns an error, no callback runs, and
     * errbuf says why. Instance errors: MIAW_E_NOTFOUND (no such instance),
     * MIAW_E_STATE (not connected). */

    /* Send an <iq> (a JSON node; the host sets "id", and "to" defaults to
     * s.whatsapp.net) and get the reply. timeout_ms 0 = 20 s. MIAW_E_INVAL for a node
     * that is not an iq or cannot be encoded (errbuf names the JSON path). */
    int (*iq)(miaw_plugin *p, const char *instance_id, const json_t *node, uint32_t timeout_ms, miaw_iq_fn cb,
              void *udata, miaw_id *handle, char *errbuf, size_t errlen);
    /* Send a stanza with no answer (presence, chatstate, receipt, ...). */
    int (*stanza_send)(miaw_plugin *p, const char *instance_id, const json_t *node, char *errbuf, size_t errlen);
    /* [init only] Get incoming stanzas that match f, for every instance, after the core
     * acknowledged them. Ends at unload. */
    int (*stanza_subscribe)(miaw_plugin *p, const miaw_stanza_filter *f, miaw_stanza_fn fn, void *udata,
                            miaw_id *out);
    /* End-to-end encrypted send of a WAProto.Message to `to` (a phone number, a user JID
     * or a group JID), given as JSON (message, borrowed) or as serialized bytes (message
     * NULL, bytes/len). The host does usync, sessions, Signal, sender keys in groups, the
     * copies for the account's own devices, padding and the server's ack; cb gets
     * {messageId, timestamp} (miaw_send_fn). MIAW_E_INVAL with *field ("to", "message",
     * "message.<path>") for bad input. */
    int (*msg_send)(miaw_plugin *p, const char *instance_id, const char *to, const json_t *message,
                    const void *bytes, size_t len, const miaw_msg_opts *opts, miaw_send_fn cb, void *udata,
                    miaw_id *handle, const char **field, char *errbuf, size_t errlen);
    /* A stored message by id: a new reference to {id, chat, sender, fromMe, timestamp,
     * type, status, message: <WAProto.Message JSON or null>} or NULL when unknown. */
    json_t *(*msg_get)(miaw_plugin *p, const char *instance_id, const char *message_id);
    /* Cancel an asynchronous call (iq, msg_send, send_text, media_*): its callback will not run.
     * An IQ's reply is ignored; a message is still sent. Unknown handles are ignored. */
    void (*cancel)(miaw_plugin *p, miaw_id handle);
    /* Answer a request with the error envelope for a status code, once for every plugin:
     * MIAW_E_INVAL 400 INVALID_REQUEST (field, if given, goes to error.details.field),
     * MIAW_E_NOTFOUND 404 NOT_FOUND, MIAW_E_EXIST 409 CONFLICT, MIAW_E_STATE 503
     * INSTANCE_NOT_CONNECTED, MIAW_E_TIMEOUT 504 TIMEOUT, MIAW_E_LIMIT 429 RATE_LIMITED,
     * MIAW_E_TOOBIG (since 1.3) 413 PAYLOAD_TOO_LARGE (field to error.details.field too),
     * MIAW_E_AUTH 401, MIAW_E_IO 500 WHATSAPP_ERROR, others 500 INTERNAL_ERROR. */
    int (*reply_status)(miaw_req *r, int status, const char *field, const char *fmt, ...) MIAW_FMT(4, 5);
    /* Normalize a recipient: a phone number (digits with country code; spaces + - ( ) .
     * allowed), a user JID (@s.whatsapp.net, @c.us, @lid) or a group JID (@g.us) into
     * its JID string. MIAW_OK, or MIAW_E_INVAL. */
    int (*jid_normalize)(const char *to, char *out, size_t outlen);

    /* Upload a file for a media message: media_type "image", "video", "audio", "ptt",
     * "document", "sticker" or "thumbnail-*" picks WhatsApp's key info and upload path;
     * the bytes come from data/len (copied) or, data NULL, from the file at path
     * (streamed, bounded memory). The host encrypts (AES-CBC + HMAC, keys from a fresh
     * mediaKey), gets the media hosts (media_conn), uploads over HTTPS (retrying across
     * hosts) and answers the fields of the message. */
    int (*media_upload)(miaw_plugin *p, const char *instance_id, const char *media_type, const void *data,
                        size_t len, const char *path, miaw_media_fn cb, void *udata, miaw_id *handle,
                        char *errbuf, size_t errlen);
    /* Download and decrypt the media of a message: media = the media message's JSON (e.g.
     * the imageMessage object: directPath or url, mediaKey, fileEncSha256, fileSha256,
     * fileLength). To the file at path (written to a temporary name and renamed only when
     * every check passed) or, path NULL, to chunk. Memory stays bounded. */
    int (*media_download)(miaw_plugin *p, const char *instance_id, const char *media_type, const json_t *media,
                          const char *path, miaw_media_chunk_fn chunk, miaw_media_fn cb, void *udata,
                          miaw_id *handle, char *errbuf, size_t errlen);

    /* since 1.3 [loop] */
    /* The file part `name` of a multipart request (route flag MIAW_ROUTE_MULTIPART):
     * MIAW_OK and *out filled, or MIAW_E_NOTFOUND (no such part, or not multipart);
     * MIAW_E_INVAL when out->struct_size is too small. */
    int (*req_upload)(miaw_req *r, const char *name, miaw_upload *out);
    /* Answer with a file, streamed (bounded memory): Content-Type, Content-Length,
     * Content-Disposition (filename, inline or attachment), Accept-Ranges, and single
     * byte ranges of a GET (206, or 416 for an unsatisfiable range). status is used
     * when no range applies (normally 200). MIAW_E_NOTFOUND when the file cannot be
     * opened, MIAW_E_INVAL for unknown flags or a content type with control characters
     * (in both cases nothing was answered: answer another way). */
    int (*reply_file)(miaw_req *r, int status, const char *path, const char *content_type, const char *filename,
                      uint32_t flags);
    /* Download an http(s) URL to a temporary file (libcurl on the loop; the host refuses
     * other schemes, bounds size, time and redirects). Asynchronous, like msg_send: cancel
     * (and unload) stop the transfer and remove the file. The host does not yet refuse
     * private or loopback addresses. */
    int (*fetch)(miaw_plugin *p, const char *url, const miaw_fetch_opts *opts, miaw_fetch_fn cb, void *udata,
                 miaw_id *handle, char *errbuf, size_t errlen);
    /* Chat storage, newest first. query (borrowed, NULL = {}): {chat, before (a cursor
     * from a previous answer), limit (1..200, default 50), type, fromMe, since, until
     * (unix seconds)}. Answer (new reference): {messages: [msg_get's shape], next: cursor
     * or null}; NULL for an unknown instance. MIAW_E_INVAL cases answer {error: "..."}. */
    json_t *(*msg_list)(miaw_plugin *p, const char *instance_id, const json_t *query);
    /* The chats of an instance, most recent first. query: {limit, before}. Answer: {chats:
     * [{jid, isGroup, lastMessage (msg_get's shape), unreadCount, messageCount}], next}. */
    json_t *(*chat_list)(miaw_plugin *p, const char *instance_id, const json_t *query);

    /* since 1.4: append below only */
    /* [loop] Add a header to the answer this request gets next (reply_json, reply_error,
     * reply_status, reply_file), e.g. Retry-After with a 429. name: an HTTP token, at most
     * 64 bytes; value: at most 1024 bytes, no control characters. Headers the host writes
     * itself (content-type, content-length, content-range, content-disposition,
     * transfer-encoding, connection, x-request-id, cache-control, set-cookie) and more
     * than 16 per request are refused: MIAW_E_INVAL. MIAW_E_GONE when the request was
     * answered or aborted. Check with MIAW_HOST_HAS(api, reply_header). */
    int (*reply_header)(miaw_req *r, const char *name, const char *value);
    /* 1.4: app-state sync [loop] */
    /* Push one patch: patch (borrowed) = {"collection": "<one of the five>", "mutations":
     * [{"operation": "set" | "remove", "index": [strings, at least one], "value":
     * SyncActionValue JSON, "version": action version (int, default 2)}, ...]} (1 to 100
     * mutations). The host encodes, encrypts (AES-CBC) and MACs them under the newest
     * app-state key the phone shared, sends them as the collection's next version
     * (fetching first and re-making the patch on a 409 conflict) and advances the stored
     * state. Asynchronous like msg_send (cancel stops the callback only: the patch may
     * still be sent). MIAW_E_INVAL with *field ("collection", "mutations") and errbuf
     * ("mutation 0: value: contactAction.fullNam: unknown field"); MIAW_E_NOTFOUND;
     * MIAW_E_STATE (not connected, or no app-state key received from the phone yet). */
    int (*appstate_push)(miaw_plugin *p, const char *instance_id, const json_t *patch, miaw_appstate_push_fn cb,
                         void *udata, miaw_id *handle, const char **field, char *errbuf, size_t errlen);
    /* Get every verified incoming mutation of collection (NULL = all five), for every
     * instance, from now on; mutations the plugin itself pushed are not echoed. Ends at
     * unload or with appstate_unsubscribe. MIAW_E_INVAL for an unknown collection. */
    int (*appstate_subscribe)(miaw_plugin *p, const char *collection, miaw_appstate_fn fn, void *udata,
                              miaw_id *out);
    int (*appstate_unsubscribe)(miaw_plugin *p, miaw_id sub);
    /* Fetch collection (NULL = all) from the server now; full != 0 forgets the local
     * state first (a full resync: every record comes again as a "set" mutation).
     * MIAW_E_INVAL (unknown collection), MIAW_E_NOTFOUND, MIAW_E_STATE. */
    int (*appstate_sync)(miaw_plugin *p, const char *instance_id, const char *collection, int full, char *errbuf,
                         size_t errlen);
    /* The app-state of an instance (new reference): {"keys": n, "pending": n,
     * "collections": {"<name>": {"version", "hash" (LTHash, hex), "entries", "status":
     * "synced" | "blocked" (a key is missing) | "error"[, "error": "..."]}}}; NULL for an
     * unknown instance. */
    json_t *(*appstate_state)(miaw_plugin *p, const char *instance_id);

    /* since 1.5: append below only */
} miaw_host_api;

#define MIAW_HOST_HAS(api, member) \
    (offsetof(miaw_host_api, member) < (api)->struct_size && (api)->member != NULL)

/* ------------------------------------------------------------- descriptor */
typedef struct miaw_plugin_desc {
    uint32_t magic;               /* MIAW_PLUGIN_MAGIC                       */
    uint16_t abi_major, abi_minor; /* as compiled                            */
    uint16_t abi_minor_required;  /* lowest host minor this plugin runs on   */
    uint16_t pad0;
    uint32_t struct_size;         /* sizeof(miaw_plugin_desc) as compiled    */
    uint32_t route_size;          /* sizeof(miaw_route) as compiled          */
    uint32_t field_size;          /* sizeof(miaw_field) as compiled          */
    uint32_t host_api_size;       /* sizeof(miaw_host_api) as compiled       */
    const char *name;             /* [a-z][a-z0-9_]{0,30}                    */
    const char *version, *description;

    /* config: the plugin's section of miaw.yaml as JSON (borrowed, may be an empty
     * object). Return MIAW_OK, or an error with a message in errbuf: the host then
     * removes everything the plugin registered and unloads it. */
    int (*init)(miaw_plugin *self, const miaw_host_api *api, const json_t *config,
                void **state, char *errbuf, size_t errlen);
    void (*fini)(void *state);    /* required; frees state */
    /* since 1.1: append here */
} miaw_plugin_desc;

#define MIAW_PLUGIN_DESC_INIT                                                          \
    .magic = MIAW_PLUGIN_MAGIC, .abi_major = MIAW_ABI_MAJOR, .abi_minor = MIAW_ABI_MINOR, \
    .struct_size = sizeof(miaw_plugin_desc), /* abi_minor_required: 0 unless set */    \
    .route_size = sizeof(miaw_route), .field_size = sizeof(miaw_field),                \
    .host_api_size = sizeof(miaw_host_api)

/* The one symbol a plugin exports. */
MIAW_EXPORT const miaw_plugin_desc *miaw_plugin_entry(void);
typedef const miaw_plugin_desc *(*miaw_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* MIAW_PLUGIN_H */
