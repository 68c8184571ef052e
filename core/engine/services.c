/* core/engine/services.c - the engine as the plugin host's services table
 * (plugins/services.h): instance lookup by id, IQs and stanzas on an instance's
 * connection, generic end-to-end sends, stored messages, app-state sync (outgoing
 * patches, fetches, state, and the tap of incoming mutations), and the tap through which
 * every incoming stanza reaches plugins' subscriptions. Owns nothing: each function borrows the
 * engine and hands ownership of nodes as plugins/services.h says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_appstate.h"
#include "engine/engine_int.h"
#include "engine/media.h"

static miaw_instance *find(miaw_engine *e, const char *id) { return id ? miaw_instances_find(e->inst, id) : NULL; }

typedef struct iq_call {
    miaw_engine *e;
    char inst[65];
    miaw_node *watched; /* a copy of a group-changing IQ (eng_group_iq_watch), or NULL */
    miaw_svc_iq_cb cb;
    void *udata;
} iq_call;

static void on_iq(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    iq_call *k = ud;
    int st = err;
    if (!err && reply && miaw_node_attr_is(reply, "type", "error")) st = MIAW_E_IO;
    else if (err == MIAW_E_GONE) st = MIAW_E_STATE;
    else if (err && err != MIAW_E_TIMEOUT) st = MIAW_E_STATE;
    if (st == 0 && k->watched) { /* our own group change: the engine's group state follows */
        miaw_instance *in = miaw_instances_find(k->e->inst, k->inst);
        if (in && in->engine) eng_group_after_own_iq(in->engine, k->watched);
    }
    miaw_node_free(k->watched);
    k->cb(st, st == MIAW_E_TIMEOUT || st == MIAW_E_STATE ? NULL : reply, k->udata);
    free(k);
}

static int s_iq(void *ctx, const char *instance_id, miaw_node *iq, unsigned timeout_ms, miaw_svc_iq_cb cb,
                void *udata)
{
    miaw_engine *e = ctx;
    miaw_instance *in = find(e, instance_id);
    if (!in) {
        miaw_node_free(iq);
        return MIAW_E_NOTFOUND;
    }
    iq_call *k = calloc(1, sizeof *k);
    if (!k) {
        miaw_node_free(iq);
        return MIAW_E_NOMEM;
    }
    k->e = e;
    snprintf(k->inst, sizeof k->inst, "%s", instance_id);
    k->watched = eng_group_iq_watch(iq) ? miaw_node_clone(iq) : NULL;
    k->cb = cb;
    k->udata = udata;
    miaw_node_del_attr(iq, "id"); /* the connection numbers its IQs */
    int rc = miaw_engine_iq(e, in, iq, timeout_ms, on_iq, k); /* takes iq */
    if (rc) {
        miaw_node_free(k->watched);
        free(k);
    }
    return rc ? MIAW_E_STATE : 0;
}

static int s_stanza_send(void *ctx, const char *instance_id, miaw_node *n)
{
    miaw_engine *e = ctx;
    miaw_instance *in = find(e, instance_id);
    eng_inst *ei = in ? in->engine : NULL;
    int rc = !in ? MIAW_E_NOTFOUND : !ei || !ei->logged_in ? MIAW_E_STATE : eng_send_node(ei, n);
    miaw_node_free(n);
    return rc;
}

static int s_msg_send(void *ctx, const char *instance_id, const char *to, const uint8_t *msg, size_t len,
                      const miaw_msg_opts *opts, miaw_node **extra, size_t nextra, miaw_send_fn cb, void *udata,
                      uint64_t *handle, const char **field, char *err, size_t errlen)
{
    miaw_engine *e = ctx;
    miaw_instance *in = find(e, instance_id);
    *field = NULL;
    if (!in) return snprintf(err, errlen, "instance '%s' not found", instance_id), MIAW_E_NOTFOUND;
    return miaw_engine_send_msg(e, in, to, msg, len, opts, extra, nextra, cb, udata, handle, field, err, errlen);
}

static int s_send_text(void *ctx, const char *instance_id, const char *to, const char *text, const char *quoted_id,
                       miaw_send_fn cb, void *udata, uint64_t *handle, const char **field, char *err, size_t errlen)
{
    miaw_engine *e = ctx;
    miaw_instance *in = find(e, instance_id);
    *field = NULL;
    if (!in) return snprintf(err, errlen, "instance '%s' not found", instance_id), MIAW_E_NOTFOUND;
    return miaw_engine_send_text(e, in, to, text, quoted_id, cb, udata, handle, field, err, errlen);
}

static void s_send_cancel(void *ctx, uint64_t handle) { miaw_engine_send_cancel(ctx, handle); }

static json_t *s_msg_get(void *ctx, const char *instance_id, const char *message_id)
{
    miaw_engine *e = ctx;
    return find(e, instance_id) ? eng_chat_get(e, instance_id, message_id) : NULL;
}

static json_t *s_msg_list(void *ctx, const char *instance_id, const json_t *query)
{
    miaw_engine *e = ctx;
    return find(e, instance_id) ? eng_hist_msg_list(e->db, instance_id, query) : NULL;
}

static json_t *s_chat_list(void *ctx, const char *instance_id, const json_t *query)
{
    miaw_engine *e = ctx;
    return find(e, instance_id) ? eng_hist_chat_list(e->db, instance_id, query) : NULL;
}

static void s_set_tap(void *ctx, miaw_svc_tap_fn fn, void *udata)
{
    miaw_engine *e = ctx;
    e->tap = fn;
    e->tap_ud = udata;
}

/* ------------------------------------------------------------ app-state sync */
static int s_as_push(void *ctx, const char *instance_id, const json_t *patch, miaw_svc_appstate_cb cb, void *udata,
                     const char **field, char *err, size_t errlen)
{
    miaw_instance *in = find(ctx, instance_id);
    if (!in) return snprintf(err, errlen, "no such instance"), MIAW_E_NOTFOUND;
    if (!in->engine) return snprintf(err, errlen, "the instance is not connected"), MIAW_E_STATE;
    return eng_as_push(in->engine, patch, cb, udata, field, err, errlen);
}

static int s_as_sync(void *ctx, const char *instance_id, const char *collection, int full, char *err, size_t errlen)
{
    miaw_instance *in = find(ctx, instance_id);
    if (!in) return snprintf(err, errlen, "no such instance"), MIAW_E_NOTFOUND;
    int rc = in->engine ? eng_as_sync(in->engine, collection, full) : MIAW_E_STATE;
    if (rc == MIAW_E_INVAL) snprintf(err, errlen, "unknown app-state collection");
    else if (rc == MIAW_E_STATE) snprintf(err, errlen, "the instance is not connected");
    return rc;
}

static json_t *s_as_state(void *ctx, const char *instance_id)
{
    miaw_engine *e = ctx;
    miaw_instance *in = find(e, instance_id);
    return in ? eng_as_state_json(e->db, instance_id, in->engine) : NULL;
}

static void s_set_as_tap(void *ctx, miaw_svc_appstate_fn fn, void *udata)
{
    miaw_engine *e = ctx;
    e->as_tap = fn;
    e->as_tap_ud = udata;
}

void miaw_engine_services_fill(miaw_engine *e, miaw_engine_services *out)
{
    *out = (miaw_engine_services){.ctx = e,
                                  .iq = s_iq,
                                  .stanza_send = s_stanza_send,
                                  .msg_send = s_msg_send,
                                  .send_text = s_send_text,
                                  .send_cancel = s_send_cancel,
                                  .msg_get = s_msg_get,
                                  .media_upload = eng_media_upload,
                                  .media_download = eng_media_download,
                                  .media_cancel = eng_media_cancel,
                                  .set_tap = s_set_tap,
                                  .msg_list = s_msg_list,
                                  .chat_list = s_chat_list,
                                  .appstate_push = s_as_push,
                                  .appstate_sync = s_as_sync,
                                  .appstate_state = s_as_state,
                                  .set_appstate_tap = s_set_as_tap};
}
