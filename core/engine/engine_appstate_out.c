/* core/engine/engine_appstate_out.c - outgoing app-state patches of an instance: the
 * check of a plugin's patch JSON (with a trial encoding, so a bad index or value is
 * refused at once with its path), the queue of patches, their encoding under the newest
 * key the phone shared, the upload IQ, a 409 conflict answered by a fetch and a new
 * encoding (3 tries), and the state stored once the server took the patch. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base/log.h"
#include "engine/engine_appstate.h"
#include "engine/engine_int.h"

/* ------------------------------------------------------------ outgoing */

int eas_push_encode(eng_as *as, as_push *p, uint8_t **out, size_t *out_len, char *err, size_t errlen,
                       const uint8_t *key_id, size_t key_id_len, const uint8_t key_data[32], miaw_as_state *st)
{
    json_t *muts = json_object_get(p->patch, "mutations");
    size_t n = json_array_size(muts), i;
    miaw_as_out *o = calloc(n ? n : 1, sizeof *o);
    json_t *m;
    if (!o) return MIAW_E_NOMEM;
    json_array_foreach(muts, i, m)
    {
        const char *op = json_string_value(json_object_get(m, "operation"));
        o[i].op = op && !strcmp(op, "remove") ? MIAW_AS_OP_REMOVE : MIAW_AS_OP_SET;
        o[i].index = json_object_get(m, "index");
        o[i].value = json_object_get(m, "value");
        json_t *v = json_object_get(m, "version");
        o[i].action_version = json_is_integer(v) ? (int32_t)json_integer_value(v) : 2;
    }
    miaw_as_ctx ctx = {.name = miaw_as_collections[p->ci]};
    int rc = miaw_as_encode_patch(&ctx, st, key_id, key_id_len, key_data, o, n, NULL, out, out_len);
    if (rc && err) snprintf(err, errlen, "%s", ctx.err[0] ? ctx.err : "the patch could not be encoded");
    free(o);
    (void)as;
    return rc;
}

static void push_done(eng_as *as, int status, const json_t *result, const char *detail)
{
    as_push *p = as->inflight;
    as->inflight = NULL;
    miaw_as_state_free(&as->next);
    if (p) {
        p->cb(status, result, detail, p->ud);
        eas_push_free(p);
    }
}

static void push_conflict(eng_as *as)
{
    as_push *p = as->inflight;
    as->inflight = NULL;
    miaw_as_state_free(&as->next);
    if (++p->tries >= MAX_PUSH_TRIES) {
        p->cb(MIAW_E_IO, NULL, "the collection kept changing on the server (409 conflict)", p->ud);
        eas_push_free(p);
        return;
    }
    p->next = as->q; /* again, first, after a fetch */
    as->q = p;
    as->fetch_mask |= 1u << p->ci;
}

static void on_push(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_as *as = ud;
    eng_inst *ei = as->ei;
    as->busy = 0;
    if (err == MIAW_E_GONE) return; /* eng_as_on_conn_lost fails it */
    if (err) {
        push_done(as, MIAW_E_TIMEOUT, NULL, "the server did not answer the patch");
        eas_kick(as);
        return;
    }
    int ci = as->inflight->ci;
    const miaw_node *sync = miaw_node_child(reply, "sync");
    const miaw_node *col = sync ? miaw_node_child(sync, "collection") : NULL;
    const miaw_node *er = miaw_node_attr_is(reply, "type", "error") ? miaw_node_child(reply, "error")
                          : col && miaw_node_child(col, "error") ? miaw_node_child(col, "error")
                                                                 : NULL;
    if (er || !miaw_node_attr_is(reply, "type", "result")) {
        const char *code = er ? miaw_node_attr(er, "code") : NULL;
        if (code && !strcmp(code, "409")) {
            MIAW_INFO("engine", "%s: app-state %s patch conflicts: fetching first", ei->id, miaw_as_collections[ci]);
            push_conflict(as);
        } else {
            char d[96];
            snprintf(d, sizeof d, "the server refused the patch (%s %s)", code ? code : "?",
                     er && miaw_node_attr(er, "text") ? miaw_node_attr(er, "text") : "");
            push_done(as, MIAW_E_IO, NULL, d);
        }
        eas_kick(as);
        return;
    }
    const char *name = miaw_as_collections[ci];
    if (eas_state_save(ei->e->db, ei->id, name, &as->st[ci], &as->next) != 0) {
        /* the server has it; our rows do not: sync the collection again */
        eas_resync(as, ci, "the state could not be saved");
    } else {
        miaw_as_state_free(&as->st[ci]);
        as->st[ci] = as->next;
        miaw_as_state_init(&as->next);
    }
    json_t *res = json_pack("{s:s,s:I}", "collection", name, "version", (json_int_t)as->st[ci].version);
    MIAW_INFO("engine", "%s: app-state %s patch sent, version %" PRIu64, ei->id, name, as->st[ci].version);
    push_done(as, MIAW_OK, res, NULL);
    json_decref(res);
    eas_kick(as);
}

void eas_send_push(eng_as *as)
{
    eng_inst *ei = as->ei;
    as_push *p = as->q;
    as->q = p->next;
    p->next = NULL;
    as->inflight = p;
    uint8_t kid[MIAW_AS_KEY_ID_MAX], kd[32], *b = NULL;
    size_t kl = 0, bl = 0;
    char err[200];
    miaw_as_state *st = eas_coll(as, p->ci);
    if (eas_key_latest(ei->e->db, ei->id, kid, &kl, kd) != 0) {
        push_done(as, MIAW_E_STATE, NULL, "no app-state key received from the phone yet");
        return;
    }
    int rc = miaw_as_state_copy(&as->next, st);
    if (!rc) rc = eas_push_encode(as, p, &b, &bl, err, sizeof err, kid, kl, kd, &as->next);
    OPENSSL_cleanse(kd, sizeof kd);
    if (rc) {
        push_done(as, rc == MIAW_E_INVAL ? MIAW_E_INVAL : MIAW_E_INTERNAL, NULL, err);
        return;
    }
    miaw_node *iq = miaw_node_newv("iq", "to", "JID:@s.whatsapp.net", "type", "set", "xmlns", "w:sync:app:state", NULL);
    miaw_node *sync = iq ? miaw_node_add(iq, "sync") : NULL;
    miaw_node *col = sync ? miaw_node_addv(sync, "collection", "name", miaw_as_collections[p->ci], "return_snapshot",
                                           "false", NULL)
                          : NULL;
    miaw_node *pn = col ? miaw_node_add(col, "patch") : NULL;
    if (!pn || miaw_node_set_attrf(col, "version", "%" PRIu64, st->version) || miaw_node_set_bytes(pn, b, bl)) {
        free(b);
        miaw_node_free(iq);
        push_done(as, MIAW_E_NOMEM, NULL, "out of memory");
        return;
    }
    free(b);
    as->busy = 1;
    if (miaw_wa_conn_iq(ei->conn, iq, 0, on_push, as) != 0) {
        as->busy = 0;
        push_done(as, MIAW_E_STATE, NULL, "the connection closed");
    }
}

/* ------------------------------------------------------------ services */

static int bad(const char **field, const char *f, char *err, size_t errlen, const char *msg)
{
    if (field) *field = f;
    snprintf(err, errlen, "%s", msg);
    return MIAW_E_INVAL;
}

static void on_kick_timer(uv_timer_t *t)
{
    eas_kick(t->data);
}

int eng_as_push(eng_inst *ei, const json_t *patch, eng_as_push_cb cb, void *ud, const char **field, char *err,
                size_t errlen)
{
    if (field) *field = NULL;
    if (!json_is_object(patch) || !cb) return bad(field, NULL, err, errlen, "the patch must be a JSON object");
    int ci = eas_coll_index(json_string_value(json_object_get(patch, "collection")));
    json_t *muts = json_object_get(patch, "mutations");
    if (ci < 0)
        return bad(field, "collection", err, errlen,
                   "collection must be critical_block, critical_unblock_low, regular_high, regular_low or regular");
    if (!json_is_array(muts) || !json_array_size(muts) || json_array_size(muts) > MAX_MUTATIONS)
        return bad(field, "mutations", err, errlen, "mutations must be an array of 1 to 100 mutations");
    size_t i;
    json_t *m;
    json_array_foreach(muts, i, m)
    {
        const char *op = json_string_value(json_object_get(m, "operation"));
        json_t *v = json_object_get(m, "version");
        if (!json_is_object(m) || !op || (strcmp(op, "set") && strcmp(op, "remove")) ||
            (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX))) {
            snprintf(err, errlen, "mutations[%zu]: operation must be \"set\" or \"remove\" (version an int32)", i);
            if (field) *field = "mutations";
            return MIAW_E_INVAL;
        }
    }
    /* a trial encoding under a throw-away key: index and value errors now, with their path */
    as_push trial = {.patch = (json_t *)patch, .ci = ci};
    miaw_as_state tmp;
    miaw_as_state_init(&tmp);
    static const uint8_t zk[32], zid[1];
    uint8_t *b = NULL;
    size_t bl = 0;
    int rc = eas_push_encode(NULL, &trial, &b, &bl, err, errlen, zid, 1, zk, &tmp);
    free(b);
    miaw_as_state_free(&tmp);
    if (rc) {
        if (field) *field = "mutations";
        return rc;
    }
    if (!ei->conn || !ei->logged_in) return snprintf(err, errlen, "the instance is not connected"), MIAW_E_STATE;
    uint8_t kid[MIAW_AS_KEY_ID_MAX], kd[32];
    size_t kl = 0;
    rc = eas_key_latest(ei->e->db, ei->id, kid, &kl, kd);
    OPENSSL_cleanse(kd, sizeof kd);
    if (rc) return snprintf(err, errlen, "no app-state key received from the phone yet"), MIAW_E_STATE;
    eng_as *as = eas_get(ei);
    as_push *p = as ? calloc(1, sizeof *p) : NULL;
    json_t *copy = p ? json_deep_copy(patch) : NULL;
    if (!copy) {
        free(p);
        return snprintf(err, errlen, "out of memory"), MIAW_E_NOMEM;
    }
    p->patch = copy;
    p->ci = ci;
    p->cb = cb;
    p->ud = ud;
    as_push **pp = &as->q;
    while (*pp) pp = &(*pp)->next;
    *pp = p;
    /* started from the loop, never inside this call: cb must not run before it returns */
    if (!as->kick_timer && (as->kick_timer = malloc(sizeof *as->kick_timer))) {
        uv_timer_init(ei->e->loop, as->kick_timer);
        as->kick_timer->data = as;
    }
    if (as->kick_timer) uv_timer_start(as->kick_timer, on_kick_timer, 0, 0);
    return MIAW_OK;
}

