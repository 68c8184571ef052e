/* core/plugins/plugin_int.h - internals shared by plugin_host.c (loading, the 1.0 host
 * functions, the host table) and plugin_wa.c (the 1.1/1.2 WhatsApp engine services:
 * calls in flight, stanza subscriptions). Not a public interface. */
#ifndef MIAW_PLUGIN_INT_H
#define MIAW_PLUGIN_INT_H
#include "base/owner.h"
#include "plugins/plugin_host.h"

struct ptimer;
struct pcall;
struct psub;
struct pas_sub;
struct pcall;

struct miaw_plugin {
    miaw_owner own; /* first: name and version for the router, bus and OpenAPI */
    char *name, *version, *description, *path;
    void *dl;
    const miaw_plugin_desc *desc;
    void *state;
    int in_init, initialized;
    uint16_t abi_minor;
    miaw_plugin_host *host;
    struct ptimer *timers;
    miaw_id next_timer;
    struct pcall *calls; /* asynchronous engine calls in flight (plugin_wa.c) */
    struct miaw_plugin *next;
};

struct miaw_plugin_host {
    miaw_plugin_services svc;
    struct miaw_plugin *plugins;
    struct psub *subs;   /* stanza subscriptions of every plugin (plugin_wa.c) */
    miaw_id next_call;   /* handles of asynchronous calls and subscriptions */
    struct miaw_httpc *httpc; /* fetch's client, made on first use (plugin_wa.c) */
    struct pas_sub *as_subs;  /* app-state subscriptions of every plugin (plugin_appstate.c) */
};

/* ---- plugin_wa.c: host functions of ABI 1.1 and 1.2 ---- */
int pw_send_text(miaw_plugin *p, const char *instance_id, const char *to, const char *text, const char *quoted_id,
                 miaw_send_fn cb, void *udata, miaw_id *handle, const char **field, char *err, size_t errlen);
void pw_send_cancel(miaw_plugin *p, miaw_id handle);
int pw_iq(miaw_plugin *p, const char *instance_id, const json_t *node, uint32_t timeout_ms, miaw_iq_fn cb,
          void *udata, miaw_id *handle, char *err, size_t errlen);
int pw_stanza_send(miaw_plugin *p, const char *instance_id, const json_t *node, char *err, size_t errlen);
int pw_stanza_subscribe(miaw_plugin *p, const miaw_stanza_filter *f, miaw_stanza_fn fn, void *udata,
                        miaw_id *out);
int pw_msg_send(miaw_plugin *p, const char *instance_id, const char *to, const json_t *message, const void *bytes,
                size_t len, const miaw_msg_opts *opts, miaw_send_fn cb, void *udata, miaw_id *handle,
                const char **field, char *err, size_t errlen);
json_t *pw_msg_get(miaw_plugin *p, const char *instance_id, const char *message_id);
/* 1.3 chat history: the engine's answer, NULL without an engine or for an unknown instance */
json_t *pw_msg_list(miaw_plugin *p, const char *instance_id, const json_t *query);
json_t *pw_chat_list(miaw_plugin *p, const char *instance_id, const json_t *query);
void pw_cancel(miaw_plugin *p, miaw_id handle);
int pw_media_upload(miaw_plugin *p, const char *instance_id, const char *media_type, const void *data, size_t len,
                    const char *path, miaw_media_fn cb, void *udata, miaw_id *handle, char *err, size_t errlen);
int pw_media_download(miaw_plugin *p, const char *instance_id, const char *media_type, const json_t *media,
                      const char *path, miaw_media_chunk_fn chunk, miaw_media_fn cb, void *udata, miaw_id *handle,
                      char *err, size_t errlen);
int pw_reply_status(miaw_req *r, int status, const char *field, const char *fmt, ...) MIAW_FMT(4, 5);
int pw_jid_normalize(const char *to, char *out, size_t outlen);
/* 1.3 fetch: a URL to a temporary file under <data_dir>/tmp */
int pw_fetch(miaw_plugin *p, const char *url, const miaw_fetch_opts *opts, miaw_fetch_fn cb, void *udata,
             miaw_id *handle, char *err, size_t errlen);
/* at host free, after every plugin unloaded: fetch's client */
void pw_host_free(miaw_plugin_host *h);
/* unload: cancels every call of p (no callback afterwards) and drops its subscriptions */
void pw_unload(struct miaw_plugin *p);
/* the engine's tap: dispatches a stanza to matching subscriptions */
void pw_tap(void *host, const char *instance_id, const miaw_node *n);

/* ---- plugin_appstate.c: host functions of ABI 1.4 (app-state sync) ---- */
int pas_push(miaw_plugin *p, const char *instance_id, const json_t *patch, miaw_appstate_push_fn cb, void *udata,
             miaw_id *handle, const char **field, char *err, size_t errlen);
int pas_subscribe(miaw_plugin *p, const char *collection, miaw_appstate_fn fn, void *udata, miaw_id *out);
int pas_unsubscribe(miaw_plugin *p, miaw_id sub);
int pas_sync(miaw_plugin *p, const char *instance_id, const char *collection, int full, char *err, size_t errlen);
json_t *pas_state(miaw_plugin *p, const char *instance_id);
/* unload: p's subscriptions go (its pushes are call records: pw_unload) */
void pas_unload(miaw_plugin *p);
/* plugin_wa.c: an app-state push's call record, in p's list of calls (cancel and unload
 * detach it like an IQ's; the engine answers every accepted push once). *id gets the
 * handle. NULL when out of memory. */
struct pcall *pw_call_appstate(struct miaw_plugin *p, miaw_appstate_push_fn cb, void *udata, miaw_id *id);
/* the engine's answer: frees c, then calls back unless cancelled or unloaded */
void pw_call_appstate_done(struct pcall *c, int status, const json_t *result, const char *detail);
/* a call the engine refused at once: freed without a callback */
void pw_call_drop(struct pcall *c);
/* the engine's app-state tap: dispatches a mutation to matching subscriptions */
void pas_tap(void *host, const char *instance_id, const json_t *mutation);
#endif
