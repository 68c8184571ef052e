/* tests/tools/appstate.c - miaw's app-state codec (core/wa/appstate*.c) on the command
 * line, for the interop test against Baileys (tests/interop/appstate_baileys.test.mjs).
 * One JSON document on stdin, one on stdout; bytes in hex.
 *   appstate decode NAME  {"keys": {"<keyIdHex>": "<keyDataHex>"}, "state": STATE?,
 *                          "patches": ["<SyncdPatch hex>", ...], "snapshot": "<hex>"?}
 *        -> {"ok": true, "state": STATE, "mutations": [{"operation","index","value"}]}
 *           or {"ok": false, "error": "...", "code": n, "state": <state before the failing patch>}
 *        (a snapshot, when given, is decoded first and replaces the state)
 *   appstate encode NAME  {"keyId": hex, "keyData": hex, "state": STATE?,
 *                          "mutations": [{"operation","index","value","version"?}]}
 *        -> {"ok": true, "patch": hex, "state": STATE}
 * STATE = {"version": n, "hash": hex (128 bytes), "map": {"<indexMacHex>": "<valueMacHex>"}}
 * Exit status: 0 answered (ok or not), 2 usage or unreadable input. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miaw/status.h"
#include "wa/appstate.h"

static int unhex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    size_t l = s ? strlen(s) : 0;
    if (!s || l % 2 || l / 2 > cap) return -1;
    for (size_t i = 0; i < l / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    *n = l / 2;
    return 0;
}

static char *hex(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; s && i < n; i++) sprintf(s + 2 * i, "%02x", b[i]);
    if (s) s[2 * n] = 0;
    return s;
}

static json_t *state_json(const miaw_as_state *st)
{
    json_t *map = json_object();
    for (size_t i = 0; i < st->n; i++) {
        char *k = hex(st->ents[i].index_mac, 32), *v = hex(st->ents[i].value_mac, 32);
        json_object_set_new(map, k, json_string(v));
        free(k);
        free(v);
    }
    char *h = hex(st->hash, MIAW_AS_HASH_LEN);
    json_t *j = json_pack("{s:I,s:s,s:o}", "version", (json_int_t)st->version, "hash", h, "map", map);
    free(h);
    return j;
}

static int state_from(const json_t *j, miaw_as_state *st)
{
    if (!j) return 0;
    size_t n;
    st->version = (uint64_t)json_integer_value(json_object_get(j, "version"));
    if (unhex(json_string_value(json_object_get(j, "hash")), st->hash, MIAW_AS_HASH_LEN, &n) || n != MIAW_AS_HASH_LEN)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(j, "map"), k, v)
    {
        uint8_t im[32], vm[32];
        size_t a, b;
        if (unhex(k, im, 32, &a) || unhex(json_string_value(v), vm, 32, &b) || a != 32 || b != 32) return -1;
        if (miaw_as_state_put(st, im, vm)) return -1;
    }
    return 0;
}

static const json_t *KEYS;

static int key_fn(void *ud, const uint8_t *id, size_t len, uint8_t kd[32])
{
    (void)ud;
    char *h = hex(id, len);
    const char *v = json_string_value(json_object_get(KEYS, h));
    free(h);
    size_t n;
    return v && !unhex(v, kd, 32, &n) && n == 32 ? MIAW_OK : MIAW_E_NOTFOUND;
}

static void on_mut(void *ud, const char *coll, const miaw_as_mutation *m)
{
    (void)coll;
    json_array_append_new(ud, json_pack("{s:s,s:O?,s:s,s:O}", "operation", m->op == MIAW_AS_OP_REMOVE ? "remove" : "set",
                                        "index", m->index_json, "indexText", m->index, "value", m->value));
}

static json_t *decode(const char *name, const json_t *in)
{
    miaw_as_state st;
    miaw_as_state_init(&st);
    json_t *muts = json_array();
    KEYS = json_object_get(in, "keys");
    miaw_as_ctx c = {.name = name, .key_fn = key_fn, .mut_fn = on_mut, .mut_ud = muts};
    int rc = state_from(json_object_get(in, "state"), &st) ? MIAW_E_INVAL : MIAW_OK;
    if (rc) snprintf(c.err, sizeof c.err, "bad input state");
    static uint8_t buf[1 << 20];
    size_t n;
    const char *snap = json_string_value(json_object_get(in, "snapshot"));
    if (!rc && snap) {
        if (unhex(snap, buf, sizeof buf, &n)) rc = MIAW_E_INVAL;
        else rc = miaw_as_decode_snapshot(&c, &st, buf, n);
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(in, "patches"), i, p)
    {
        if (rc) break;
        if (unhex(json_string_value(p), buf, sizeof buf, &n)) rc = MIAW_E_INVAL;
        else rc = miaw_as_decode_patch(&c, &st, buf, n, st.version + 1, NULL, 0);
    }
    json_t *out = rc ? json_pack("{s:b,s:s,s:i,s:o,s:o}", "ok", 0, "error", c.err, "code", rc, "state", state_json(&st),
                                 "mutations", muts)
                     : json_pack("{s:b,s:o,s:o}", "ok", 1, "state", state_json(&st), "mutations", muts);
    miaw_as_state_free(&st);
    return out;
}

static json_t *encode(const char *name, const json_t *in)
{
    miaw_as_state st;
    miaw_as_state_init(&st);
    uint8_t kid[64], kd[32], *patch = NULL;
    size_t kl = 0, dl = 0, pl = 0;
    miaw_as_ctx c = {.name = name};
    json_t *muts = json_object_get(in, "mutations");
    size_t n = json_array_size(muts), i;
    miaw_as_out *o = calloc(n ? n : 1, sizeof *o);
    json_t *m;
    json_array_foreach(muts, i, m)
    {
        const char *op = json_string_value(json_object_get(m, "operation"));
        o[i].op = op && !strcmp(op, "remove") ? MIAW_AS_OP_REMOVE : MIAW_AS_OP_SET;
        o[i].index = json_object_get(m, "index");
        o[i].value = json_object_get(m, "value");
        json_t *v = json_object_get(m, "version");
        o[i].action_version = v ? (int32_t)json_integer_value(v) : 2;
    }
    int rc = unhex(json_string_value(json_object_get(in, "keyId")), kid, sizeof kid, &kl) ||
                     unhex(json_string_value(json_object_get(in, "keyData")), kd, 32, &dl) || dl != 32 ||
                     state_from(json_object_get(in, "state"), &st)
                 ? MIAW_E_INVAL
                 : miaw_as_encode_patch(&c, &st, kid, kl, kd, o, n, NULL, &patch, &pl);
    json_t *out;
    if (rc) {
        out = json_pack("{s:b,s:s,s:i}", "ok", 0, "error", c.err[0] ? c.err : "bad input", "code", rc);
    } else {
        char *h = hex(patch, pl);
        out = json_pack("{s:b,s:s,s:o}", "ok", 1, "patch", h, "state", state_json(&st));
        free(h);
    }
    free(patch);
    free(o);
    miaw_as_state_free(&st);
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "decode") && strcmp(argv[1], "encode"))) {
        fprintf(stderr, "usage: appstate decode|encode COLLECTION < input.json\n");
        return 2;
    }
    json_error_t je;
    json_t *in = json_loadf(stdin, 0, &je);
    if (!json_is_object(in)) {
        fprintf(stderr, "input: %s\n", je.text);
        json_decref(in);
        return 2;
    }
    json_t *out = !strcmp(argv[1], "decode") ? decode(argv[2], in) : encode(argv[2], in);
    json_dumpf(out, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(out);
    json_decref(in);
    return 0;
}
