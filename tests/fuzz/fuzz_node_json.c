/* tests/fuzz/fuzz_node_json.c - libFuzzer target for core/wa/node_json: the input is JSON
 * text. What parses goes through miaw_node_from_json, which must accept it or refuse it
 * with a message. An accepted tree must survive JSON -> node unchanged, encode to wire
 * bytes, decode, and the decoded tree must survive JSON -> node unchanged and re-encode
 * to the same bytes. Owns nothing across runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "miaw/status.h"
#include "wa/node.h"
#include "wa/node_json.h"

/* n -> JSON (valid, dumpable) -> node, which must equal n; returns the copy */
static miaw_node *through_json(const miaw_node *n)
{
    json_t *j = miaw_node_to_json(n);
    if (!j) abort();
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) abort(); /* only valid UTF-8 may be in it */
    free(s);
    char err[256];
    miaw_node *back = NULL;
    if (miaw_node_from_json(j, &back, err, sizeof err) != MIAW_OK) {
        fprintf(stderr, "to_json output refused: %s\n", err);
        abort();
    }
    if (!miaw_node_equal(n, back)) abort();
    json_decref(j);
    return back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j) return 0;
    char err[256] = "";
    miaw_node *n = NULL;
    int rc = miaw_node_from_json(j, &n, err, sizeof err);
    json_decref(j);
    if (rc != MIAW_OK) {
        if (rc != MIAW_E_INVAL || n || !err[0]) abort(); /* refused with a reason */
        return 0;
    }
    miaw_node_free(through_json(n));
    uint8_t *enc = NULL, *enc2 = NULL;
    size_t elen = 0, elen2 = 0;
    if (miaw_node_encode(n, &enc, &elen) != 0) abort(); /* what JSON builds always encodes */
    miaw_node *d = NULL;
    if (miaw_node_decode(enc, elen, &d) != 0) abort();
    miaw_node *d2 = through_json(d);
    if (miaw_node_encode(d2, &enc2, &elen2) != 0) abort();
    if (elen2 != elen || memcmp(enc, enc2, elen) != 0) abort();
    free(enc);
    free(enc2);
    miaw_node_free(d2);
    miaw_node_free(d);
    miaw_node_free(n);
    return 0;
}
