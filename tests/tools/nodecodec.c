/* tests/tools/nodecodec.c - a stdin/stdout front end to the binary node codec for the
 * interop tests. One request per line, one JSON answer per line:
 *   D <hex frame>   decode (flag byte first) -> {"ok":true,"node":N,"hex":<re-encoded>}
 *   E <json N>      encode -> {"ok":true,"hex":<frame with flag byte 0>}
 *   T <hex frame>   decode -> {"ok":true,"text":<text form>}
 * N is {"tag":s,"attrs":[[k,v],...],"content":C}. A value v or a JID content is a string or
 * {"jid":s} (miaw_jid_parse form); decoded JIDs come back as {"jid":{...fields}}. C is
 * absent (no content), an array of N, {"bytes":hex}, {"string":s} or {"jid":...}.
 * Errors: {"ok":false,"err":code}. Two more requests speak the plugin ABI's node JSON
 * (core/wa/node_json.h, {"tag","attrs":{k:v},"content"}) instead:
 *   J <node json>   miaw_node_from_json + encode -> {"ok":true,"hex":<frame>}, or
 *                   {"ok":false,"err":code,"msg":<JSON path: reason>}
 *   N <hex frame>   decode + miaw_node_to_json -> {"ok":true,"node":<node json>}
 * Owns nothing beyond one request at a time. */
#include <jansson.h>
#include <miaw/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wa/node.h"
#include "wa/node_json.h"

static char *to_hex(const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = d[p[i] >> 4];
        s[2 * i + 1] = d[p[i] & 15];
    }
    s[2 * n] = 0;
    return s;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static uint8_t *from_hex(const char *s, size_t n, size_t *out)
{
    if (n % 2) return NULL;
    uint8_t *b = malloc(n / 2 + 1);
    if (!b) return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
        if (h < 0 || l < 0) {
            free(b);
            return NULL;
        }
        b[i] = (uint8_t)(h << 4 | l);
    }
    *out = n / 2;
    return b;
}

static const char *kind_name(int k)
{
    static const char *names[] = {"pair", "ad", "fb", "interop"};
    return k >= 0 && k <= 3 ? names[k] : "?";
}

static json_t *jid_json(const miaw_jid *j, const char *s)
{
    return json_pack("{s:{s:s,s:s,s:s,s:i,s:i,s:i,s:s}}", "jid", "s", s, "user", j->user, "server",
                     j->server, "device", (int)j->device, "agent", (int)j->agent, "integrator",
                     (int)j->integrator, "kind", kind_name(j->kind));
}

static json_t *node_json(const miaw_node *n)
{
    json_t *o = json_object(), *attrs = json_array();
    json_object_set_new(o, "tag", json_string_nocheck(n->tag));
    for (uint32_t i = 0; i < n->nattrs; i++) {
        const miaw_attr *a = &n->attrs[i];
        json_t *v = a->jid ? jid_json(a->jid, a->str) : json_stringn_nocheck(a->str, a->len);
        json_array_append_new(attrs, json_pack("[s,o]", a->key, v));
    }
    json_object_set_new(o, "attrs", attrs);
    switch (n->content_type) {
    case MIAW_CONTENT_LIST: {
        json_t *arr = json_array();
        for (uint32_t i = 0; i < n->nchildren; i++) json_array_append_new(arr, node_json(n->children[i]));
        json_object_set_new(o, "content", arr);
        break;
    }
    case MIAW_CONTENT_BYTES: {
        char *h = to_hex(n->data, n->data_len);
        json_object_set_new(o, "content", json_pack("{s:s}", "bytes", h ? h : ""));
        free(h);
        break;
    }
    case MIAW_CONTENT_STRING:
        json_object_set_new(o, "content",
                            json_pack("{s:o}", "string", json_stringn_nocheck((const char *)n->data, n->data_len)));
        break;
    case MIAW_CONTENT_JID:
        json_object_set_new(o, "content", jid_json(n->jid, (const char *)n->data));
        break;
    default:
        break;
    }
    return o;
}

/* Fill node n from JSON; 0 or an error code. */
static int json_node(miaw_node *n, json_t *j, int depth)
{
    if (depth > MIAW_NODE_MAX_DEPTH) return MIAW_E_LIMIT;
    json_t *attrs = json_object_get(j, "attrs"), *c = json_object_get(j, "content");
    size_t i;
    json_t *pair;
    json_array_foreach(attrs, i, pair) {
        const char *k = json_string_value(json_array_get(pair, 0));
        json_t *v = json_array_get(pair, 1);
        int rc;
        if (!k) return MIAW_E_INVAL;
        if (json_is_string(v))
            rc = miaw_node_set_attrn(n, k, json_string_value(v), json_string_length(v));
        else if (json_is_string(json_object_get(v, "jid")))
            rc = miaw_node_set_jid_str(n, k, json_string_value(json_object_get(v, "jid")));
        else
            rc = MIAW_E_INVAL;
        if (rc) return rc;
    }
    if (!c) return 0;
    if (json_is_array(c)) {
        miaw_node_set_empty_list(n);
        json_t *child;
        json_array_foreach(c, i, child) {
            const char *tag = json_string_value(json_object_get(child, "tag"));
            miaw_node *cn = miaw_node_add(n, tag);
            if (!cn) return MIAW_E_INVAL;
            int rc = json_node(cn, child, depth + 1);
            if (rc) return rc;
        }
        return 0;
    }
    json_t *v;
    if ((v = json_object_get(c, "bytes"))) {
        size_t len;
        uint8_t *b = from_hex(json_string_value(v), json_string_length(v), &len);
        if (!b) return MIAW_E_INVAL;
        int rc = miaw_node_set_bytes(n, b, len);
        free(b);
        return rc;
    }
    if ((v = json_object_get(c, "string")))
        return miaw_node_set_stringn(n, json_string_value(v), json_string_length(v));
    if ((v = json_object_get(c, "jid"))) {
        miaw_jid jid;
        if (miaw_jid_parse(&jid, json_string_value(v))) return MIAW_E_INVAL;
        return miaw_node_set_content_jid(n, &jid);
    }
    return MIAW_E_INVAL;
}

static void answer(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);
    fputs(s ? s : "{\"ok\":false,\"err\":-2}", stdout);
    fputc('\n', stdout);
    free(s);
    json_decref(o);
}

static void fail(int code)
{
    answer(json_pack("{s:b,s:i}", "ok", 0, "err", code));
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len < 2) continue;
        char op = line[0];
        const char *arg = line + 2;
        if (op == 'J') {
            json_error_t jerr;
            json_t *j = json_loads(arg, 0, &jerr);
            char msg[512] = "";
            miaw_node *n = NULL;
            int rc = j ? miaw_node_from_json(j, &n, msg, sizeof msg) : MIAW_E_INVAL;
            if (!j) snprintf(msg, sizeof msg, "bad JSON: %s", jerr.text);
            uint8_t *enc = NULL;
            size_t elen = 0;
            if (!rc) rc = miaw_node_encode(n, &enc, &elen);
            if (rc) {
                answer(json_pack("{s:b,s:i,s:s}", "ok", 0, "err", rc, "msg", msg));
            } else {
                char *h = to_hex(enc, elen);
                answer(json_pack("{s:b,s:s}", "ok", 1, "hex", h ? h : ""));
                free(h);
            }
            free(enc);
            miaw_node_free(n);
            json_decref(j);
        } else if (op == 'N') {
            size_t blen;
            uint8_t *buf = from_hex(arg, strlen(arg), &blen);
            miaw_node *n = NULL;
            int rc = buf ? miaw_node_decode(buf, blen, &n) : MIAW_E_INVAL;
            free(buf);
            json_t *nj = rc ? NULL : miaw_node_to_json(n);
            if (rc)
                fail(rc);
            else if (!nj)
                fail(MIAW_E_NOMEM);
            else
                answer(json_pack("{s:b,s:o}", "ok", 1, "node", nj));
            miaw_node_free(n);
        } else if (op == 'D' || op == 'T') {
            size_t blen;
            uint8_t *buf = from_hex(arg, strlen(arg), &blen);
            miaw_node *n = NULL;
            int rc = buf ? miaw_node_decode(buf, blen, &n) : MIAW_E_INVAL;
            free(buf);
            if (rc) {
                fail(rc);
                continue;
            }
            if (op == 'T') {
                char *t = miaw_node_to_text(n, 0, 0);
                answer(json_pack("{s:b,s:s}", "ok", 1, "text", t ? t : ""));
                free(t);
            } else {
                uint8_t *enc;
                size_t elen;
                rc = miaw_node_encode(n, &enc, &elen);
                if (rc) {
                    fail(rc);
                } else {
                    char *h = to_hex(enc, elen);
                    answer(json_pack("{s:b,s:o,s:s}", "ok", 1, "node", node_json(n), "hex", h));
                    free(h);
                    free(enc);
                }
            }
            miaw_node_free(n);
        } else if (op == 'E') {
            json_error_t err;
            json_t *j = json_loads(arg, 0, &err);
            const char *tag = json_string_value(json_object_get(j, "tag"));
            miaw_node *n = tag ? miaw_node_new(tag) : NULL;
            int rc = n ? json_node(n, j, 0) : MIAW_E_INVAL;
            uint8_t *enc = NULL;
            size_t elen = 0;
            if (!rc) rc = miaw_node_encode(n, &enc, &elen);
            if (rc) {
                fail(rc);
            } else {
                char *h = to_hex(enc, elen);
                answer(json_pack("{s:b,s:s}", "ok", 1, "hex", h));
                free(h);
            }
            free(enc);
            miaw_node_free(n);
            json_decref(j);
        } else {
            fail(MIAW_E_INVAL);
        }
        fflush(stdout);
    }
    free(line);
    return 0;
}
