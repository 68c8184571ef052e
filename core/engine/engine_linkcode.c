/* core/engine/engine_linkcode.c - pairing an instance by phone-number code: the route POST
 * /instances/{instanceId}/pair-code {"phone"} -> {"code"}, companion_hello on the
 * registration connection once its pair-device refs arrived, the pairing ref in the
 * answer, then the phone's link_code_companion_reg notification answered with
 * companion_finish (new adv secret; restored when the phone refuses). pair-success, the
 * 515 restart and login then take the QR path in engine.c. Owns each instance's
 * link-code state (eng_inst.lc) and the HTTP request waiting for the code. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"
#include "http/http.h"
#include "base/log.h"
#include "wa/linkcode.h"

#define HELLO_TIMEOUT_MS 20000

typedef enum {
    LC_IDLE = 0,
    LC_WAIT_REFS, /* the request waits for a registration connection with refs */
    LC_HELLO,     /* companion_hello sent */
    LC_ISSUED,    /* the code is out; waiting for the phone's notification */
    LC_FINISH,    /* companion_finish sent */
    LC_DONE,      /* the server took companion_finish; pair-success follows */
} lc_stage;

struct eng_linkcode {
    lc_stage stage;
    miaw_req *req;           /* waiting for the code (NULL once answered or gone) */
    miaw_wa_linkcode lc;     /* code, ephemeral key, pairing ref */
    uint8_t old_adv[32];     /* adv secret before companion_finish */
};

static eng_linkcode *get_lc(eng_inst *ei)
{
    if (!ei->lc) ei->lc = calloc(1, sizeof *ei->lc);
    return ei->lc;
}

static void reset(eng_linkcode *l)
{
    miaw_wa_linkcode_clear(&l->lc);
    OPENSSL_cleanse(l->old_adv, sizeof l->old_adv);
    l->stage = LC_IDLE;
}

/* answer the waiting request with an error (if it is still there) */
static void fail_req(eng_linkcode *l, miaw_err e, json_t *details, const char *msg)
{
    miaw_req *q = l->req;
    l->req = NULL;
    if (q) miaw_req_reply_err(q, e, details, "%s", msg);
    else json_decref(details);
}

/* the phone refused companion_finish, or it never got there: the old adv secret again */
static void restore_adv(eng_inst *ei, eng_linkcode *l)
{
    if (l->stage == LC_FINISH && !ei->creds.paired) memcpy(ei->creds.adv_secret, l->old_adv, 32);
}

/* ------------------------------------------------------------ companion_hello */
static void on_hello(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_inst *ei = ud;
    eng_linkcode *l = ei->lc;
    if (!l || l->stage != LC_HELLO) return;
    if (err == MIAW_E_GONE) { /* the connection went: a new one brings new refs */
        l->stage = l->req ? LC_WAIT_REFS : LC_IDLE;
        return;
    }
    if (err) {
        fail_req(l, MIAW_ERR_TIMEOUT, NULL, "WhatsApp did not answer the code request in time");
        reset(l);
        return;
    }
    if (miaw_node_attr_is(reply, "type", "error")) {
        const miaw_node *e = miaw_node_child(reply, "error");
        const char *code = e ? miaw_node_attr(e, "code") : NULL, *text = e ? miaw_node_attr(e, "text") : NULL;
        char msg[160];
        snprintf(msg, sizeof msg, "WhatsApp refused a code for %s (%s %s)", l->lc.phone, code ? code : "?",
                 text ? text : "");
        MIAW_WARN("engine", "%s: %s", ei->id, msg);
        /* 400/404: the number is not one WhatsApp links (bad or not registered) */
        int bad = code && (!strcmp(code, "400") || !strcmp(code, "404"));
        json_t *d = json_pack("{s:s,s:s}", "code", code ? code : "", "text", text ? text : "");
        if (bad) json_object_set_new(d, "field", json_string("phone"));
        fail_req(l, bad ? MIAW_ERR_INVALID_REQUEST : MIAW_ERR_WHATSAPP_ERROR, d, msg);
        reset(l);
        return;
    }
    if (miaw_wa_linkcode_hello_reply(&l->lc, reply) != 0) {
        fail_req(l, MIAW_ERR_WHATSAPP_ERROR, NULL, "WhatsApp's answer to the code request has no pairing ref");
        reset(l);
        return;
    }
    l->stage = LC_ISSUED;
    char disp[MIAW_WA_LINKCODE_LEN + 2];
    miaw_wa_linkcode_display(l->lc.code, disp);
    MIAW_INFO("engine", "%s: pairing code issued for %s", ei->id, l->lc.phone);
    miaw_req *q = l->req;
    l->req = NULL;
    if (q) miaw_req_reply_data(q, 200, json_pack("{s:s,s:s,s:s}", "instanceId", ei->id, "code", disp, "phone", l->lc.phone));
}

void eng_linkcode_on_refs(eng_inst *ei)
{
    eng_linkcode *l = ei->lc;
    if (!l || l->stage != LC_WAIT_REFS || !ei->conn || ei->creds.paired) return;
    miaw_node *iq = miaw_wa_linkcode_hello_iq(&l->lc, ei->creds.noise.pub);
    l->stage = LC_HELLO;
    if (!iq || miaw_wa_conn_iq(ei->conn, iq, HELLO_TIMEOUT_MS, on_hello, ei) != 0) {
        fail_req(l, MIAW_ERR_INTERNAL, NULL, "cannot send the code request");
        reset(l);
    }
}

/* ------------------------------------------------------------ companion_finish */
static void on_finish(miaw_wa_conn *c, const miaw_node *reply, int err, void *ud)
{
    (void)c;
    eng_inst *ei = ud;
    eng_linkcode *l = ei->lc;
    if (!l || l->stage != LC_FINISH) return;
    if (!err && miaw_node_attr_is(reply, "type", "result")) {
        l->stage = LC_DONE;
        MIAW_INFO("engine", "%s: the phone accepted the pairing code; waiting for pair-success", ei->id);
        return;
    }
    restore_adv(ei, l);
    if (err == MIAW_E_GONE) {
        reset(l);
        return;
    }
    const miaw_node *e = reply ? miaw_node_child(reply, "error") : NULL;
    char reason[160];
    snprintf(reason, sizeof reason, "pairing by code refused: %s %s (was the code typed correctly?)",
             e && miaw_node_attr(e, "code") ? miaw_node_attr(e, "code") : err ? "timeout" : "?",
             e && miaw_node_attr(e, "text") ? miaw_node_attr(e, "text") : "");
    MIAW_WARN("engine", "%s: %s", ei->id, reason);
    eng_emit(ei, "error", json_pack("{s:s}", "error", reason));
    l->stage = LC_ISSUED; /* the phone may try again with the same code */
}

void eng_linkcode_on_notification(eng_inst *ei, const miaw_node *n)
{
    eng_linkcode *l = ei->lc;
    if (!l || l->stage != LC_ISSUED || ei->creds.paired || !ei->conn) {
        MIAW_WARN("engine", "%s: link_code_companion_reg notification without a code in use; ignored", ei->id);
        return;
    }
    uint8_t adv[32];
    miaw_node *iq = NULL;
    const char *why = NULL;
    if (miaw_wa_linkcode_finish(&l->lc, &ei->creds, n, adv, &iq, &why) != 0) {
        MIAW_WARN("engine", "%s: link_code_companion_reg notification refused: %s", ei->id, why ? why : "error");
        return;
    }
    memcpy(l->old_adv, ei->creds.adv_secret, 32);
    memcpy(ei->creds.adv_secret, adv, 32);
    OPENSSL_cleanse(adv, sizeof adv);
    l->stage = LC_FINISH;
    if (miaw_wa_conn_iq(ei->conn, iq, 0, on_finish, ei) != 0) {
        restore_adv(ei, l);
        l->stage = LC_ISSUED;
    }
}

/* ------------------------------------------------------------ lifecycle */
void eng_linkcode_on_conn_lost(eng_inst *ei)
{
    eng_linkcode *l = ei->lc;
    if (!l || l->stage == LC_IDLE || l->stage == LC_WAIT_REFS) return;
    /* a code belongs to the connection that asked for it */
    restore_adv(ei, l);
    if (l->req) l->stage = LC_WAIT_REFS;
    else reset(l);
}

void eng_linkcode_cancel(eng_inst *ei, const char *reason)
{
    eng_linkcode *l = ei->lc;
    if (!l) return;
    if (l->req) {
        char msg[200];
        snprintf(msg, sizeof msg, "the instance stopped before a code was issued: %s", reason);
        fail_req(l, MIAW_ERR_UNAVAILABLE, NULL, msg);
    }
    restore_adv(ei, l);
    reset(l);
}

void eng_linkcode_free(eng_inst *ei)
{
    if (!ei->lc) return;
    eng_linkcode_cancel(ei, "the instance went away");
    free(ei->lc);
    ei->lc = NULL;
}

/* ------------------------------------------------------------ the route */
static void on_abort(miaw_req *q, int reason, void *ud)
{
    (void)reason;
    eng_inst *ei = ud;
    eng_linkcode *l = ei->lc;
    if (!l || l->req != q) return;
    l->req = NULL;
    if (l->stage == LC_WAIT_REFS) reset(l); /* nobody would see the code any more */
}

/* "+1 (555) 123-4567" -> "15551234567"; 0 or -1 */
static int sanitize_phone(const char *in, char out[24])
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            if (n >= 20) return -1;
            out[n++] = *p;
        } else if (!strchr(" +-().", *p)) return -1;
    }
    out[n] = 0;
    return n < 5 || out[0] == '0' ? -1 : 0;
}

static int h_pair_code(miaw_req *q, void *ud)
{
    miaw_engine *e = ud;
    miaw_instance *in = miaw_instances_find(e->inst, miaw_req_param(q, "instanceId"));
    const char *phone = json_string_value(json_object_get(miaw_req_body(q), "phone"));
    char digits[24];
    if (!phone || sanitize_phone(phone, digits) != 0)
        return miaw_req_reply_err(q, MIAW_ERR_INVALID_REQUEST, json_pack("{s:s}", "field", "phone"),
                                  "'phone' must be the account's phone number with country code (5-20 digits, "
                                  "no leading 0; spaces, +, -, (, ) and . allowed)"),
               MIAW_OK;
    eng_inst *ei = eng_get(e, in);
    eng_linkcode *l = ei ? get_lc(ei) : NULL;
    if (!l) return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "out of memory"), MIAW_OK;
    miaw_wa_creds tmp;
    int paired = 0;
    if (ei->have_creds) paired = ei->creds.paired;
    else if (eng_store_load(e->db, in->id, &tmp, NULL) == 1) {
        paired = tmp.paired;
        miaw_wa_creds_clear(&tmp);
    }
    if (paired)
        return miaw_req_reply_err(q, MIAW_ERR_CONFLICT, json_pack("{s:s}", "status", miaw_inst_state_name(in->state)),
                                  "instance '%s' is already paired", in->id),
               MIAW_OK;
    if (l->req || l->stage == LC_HELLO || l->stage == LC_FINISH || l->stage == LC_DONE)
        return miaw_req_reply_err(q, MIAW_ERR_CONFLICT, NULL, "a pairing code for '%s' is being requested or checked",
                                  in->id),
               MIAW_OK;
    reset(l); /* a new code replaces one issued before */
    if (miaw_wa_linkcode_start(&l->lc, digits, NULL) != 0)
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot create a pairing code"), MIAW_OK;
    if (miaw_req_suspend(q, on_abort, ei) != MIAW_OK) {
        reset(l);
        return miaw_req_reply_err(q, MIAW_ERR_INTERNAL, NULL, "cannot wait for the code"), MIAW_OK;
    }
    l->req = q;
    l->stage = LC_WAIT_REFS;
    if (!ei->want && miaw_engine_connect(e, in) != 0) {
        fail_req(l, MIAW_ERR_INTERNAL, NULL, "cannot start connecting");
        reset(l);
        return MIAW_ASYNC;
    }
    if (ei->nrefs && miaw_wa_conn_is_open(ei->conn)) eng_linkcode_on_refs(ei); /* refs already here */
    return MIAW_ASYNC;
}

static const miaw_field PAIR_CODE_BODY[] = {
    {.name = "phone", .type = MIAW_T_STRING, .flags = MIAW_F_REQUIRED | MIAW_F_NONEMPTY | MIAW_F_HAS_MAX, .max = 32,
     .description = "The phone number of the WhatsApp account to link, with country code.",
     .example = "\"+1 555 123 4567\""},
    {0},
};

int eng_linkcode_routes(miaw_engine *e, miaw_router *rt, char *err, size_t errlen)
{
    const miaw_route r = {
        MIAW_ROUTE_INIT, .method = "POST", .path = "/instances/{instanceId}/pair-code", .flags = MIAW_ROUTE_INSTANCE,
        .handler = h_pair_code, .udata = e, .body = PAIR_CODE_BODY, .operation_id = "requestPairingCode",
        .summary = "Pair by phone-number code",
        .description = "Connects if needed and asks WhatsApp for an 8-character code (shown as XXXX-XXXX) to type "
                       "on the phone under Linked devices > Link with phone number instead. The code belongs to the "
                       "current registration connection: it is valid while QR codes rotate. Pairing then ends like "
                       "a QR scan (`ready` event). 409 when already paired or a code request is in progress.",
        .tag = "Instances",
        .response_example = "{\"instanceId\":\"my-bot-1\",\"code\":\"ABCD-1234\",\"phone\":\"15551234567\"}"};
    return miaw_router_add(rt, &r, 0, NULL, err, errlen);
}
