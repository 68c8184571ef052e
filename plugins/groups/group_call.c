/* plugins/groups/group_call.c - one HTTP request served by a chain of w:g2 IQs: a
 * grp_call holds the suspended request, the IQ in flight and what the steps collect;
 * each IQ reply runs the route's step, an IQ failure is answered through the one error
 * mapping (group_meta.c). Owns the grp_call: freed when the request is answered or
 * aborted (the IQ in flight is then cancelled, so no callback runs after). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

json_t *grp_node(const char *tag, json_t *attrs, json_t *content)
{
    json_t *n = json_pack("{s:s}", "tag", tag);
    if (attrs) json_object_set_new(n, "attrs", attrs);
    if (content) json_object_set_new(n, "content", content);
    return n;
}

int grp_path(miaw_plugin_base *b, miaw_req *req, char *group, size_t n)
{
    if (grp_parse_jid(b->api->req_param(req, "groupJid"), group, n) == MIAW_OK) return MIAW_OK;
    b->api->reply_status(req, MIAW_E_INVAL, "groupJid", "not a group JID (expected <id>@g.us)");
    return MIAW_E_INVAL;
}

static void call_free(grp_call *c)
{
    json_decref(c->body);
    json_decref(c->acc);
    free(c);
}

static void on_abort(miaw_req *req, int reason, void *ud)
{
    (void)req;
    (void)reason;
    grp_call *c = ud;
    if (c->h) c->b->api->cancel(c->b->self, c->h);
    call_free(c);
}

grp_call *grp_call_new(miaw_plugin_base *b, miaw_req *req, int ctx, grp_step_fn step)
{
    grp_call *c = calloc(1, sizeof *c);
    if (!c) {
        b->api->reply_status(req, MIAW_E_NOMEM, NULL, "out of memory");
        return NULL;
    }
    c->b = b;
    c->req = req;
    c->ctx = ctx;
    c->step = step;
    snprintf(c->inst, sizeof c->inst, "%s", b->api->req_param(req, "instanceId"));
    const json_t *body = b->api->req_body(req);
    c->body = body ? json_deep_copy(body) : NULL;
    return c;
}

void grp_call_done(grp_call *c, int http, json_t *data)
{
    c->b->api->reply_json(c->req, http, data);
    call_free(c);
}

void grp_call_fail(grp_call *c, int http, const char *code, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (field && http == 400) c->b->api->reply_status(c->req, MIAW_E_INVAL, field, "%s", msg);
    else c->b->api->reply_error(c->req, http, code, "%s", msg);
    call_free(c);
}

void grp_call_fail_iq(grp_call *c, int status, const char *detail)
{
    grp_err e;
    grp_map_error(status, detail, c->ctx, &e);
    grp_call_fail(c, e.http, e.code, e.field, "%s", e.message);
}

static void on_iq(int status, const json_t *reply, const char *detail, void *ud)
{
    grp_call *c = ud;
    c->h = 0;
    if (status != MIAW_OK) {
        if (c->on_error && c->on_error(c, status, reply, detail)) return;
        grp_call_fail_iq(c, status, detail);
        return;
    }
    c->step(c, reply);
}

int grp_call_iq(grp_call *c, const char *type, const char *to, json_t *child)
{
    char err[256] = "";
    json_t *iq = json_pack("{s:s,s:{s:s,s:s,s:{s:s}},s:[o]}", "tag", "iq", "attrs", "xmlns", "w:g2", "type", type, "to",
                           "jid", to, "content", child);
    int rc = iq ? c->b->api->iq(c->b->self, c->inst, iq, 0, on_iq, c, &c->h, err, sizeof err) : MIAW_E_NOMEM;
    json_decref(iq);
    if (rc == MIAW_OK) return MIAW_OK;
    c->b->api->reply_status(c->req, rc, NULL, "%s", err[0] ? err : "the request could not be sent");
    call_free(c);
    return rc;
}

int grp_call_start(grp_call *c, int rc)
{
    if (rc != MIAW_OK) return MIAW_OK; /* answered */
    c->b->api->req_suspend(c->req, on_abort, c);
    return MIAW_ASYNC;
}
