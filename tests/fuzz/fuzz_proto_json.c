/* tests/fuzz/fuzz_proto_json.c - libFuzzer target for core/wa/proto_json, with the input
 * read twice. As wire bytes of a Message: what decodes must give valid JSON that
 * miaw_pb_json_encode accepts, whose bytes decode to the same JSON and re-encode to the
 * same bytes. As JSON text: miaw_pb_json_encode must accept it or refuse it with a
 * message; accepted JSON gives bytes that decode and re-encode to the same bytes. Owns
 * nothing across runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "miaw/status.h"
#include "wa/proto_json.h"
#include "wa_message.pb-c.h"

static const ProtobufCMessageDescriptor *const D = &miaw__wa__message__descriptor;

/* JSON j (accepted by the encoder) -> bytes -> JSON must equal j and re-encode the same */
static void fixed_point(const json_t *j, const uint8_t *bytes, size_t len)
{
    json_t *again = miaw_pb_json_decode(D, bytes, len);
    if (!again || !json_equal(j, again)) abort();
    uint8_t *b2 = NULL;
    size_t l2 = 0;
    if (miaw_pb_json_encode(D, again, &b2, &l2, NULL, 0) != MIAW_OK) abort();
    if (l2 != len || memcmp(b2, bytes, len) != 0) abort();
    free(b2);
    json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    uint8_t *out = NULL;
    size_t olen = 0;

    /* wire bytes */
    json_t *j = miaw_pb_json_decode(D, data, size);
    if (j) {
        char *s = json_dumps(j, JSON_COMPACT);
        if (!s) abort(); /* valid UTF-8 only */
        free(s);
        if (miaw_pb_json_encode(D, j, &out, &olen, err, sizeof err) != MIAW_OK) {
            fprintf(stderr, "decoded JSON refused: %s\n", err);
            abort();
        }
        json_t *j2 = miaw_pb_json_decode(D, out, olen);
        if (!j2 || !json_equal(j, j2)) abort();
        fixed_point(j2, out, olen);
        json_decref(j2);
        free(out);
        json_decref(j);
    }

    /* JSON text */
    json_error_t jerr;
    j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j) return 0;
    err[0] = 0;
    out = NULL;
    int rc = miaw_pb_json_encode(D, j, &out, &olen, err, sizeof err);
    if (rc == MIAW_OK) {
        json_t *dec = miaw_pb_json_decode(D, out, olen);
        if (!dec) abort();
        uint8_t *o2 = NULL;
        size_t l2 = 0;
        if (miaw_pb_json_encode(D, dec, &o2, &l2, NULL, 0) != MIAW_OK) abort();
        if (l2 != olen || memcmp(o2, out, olen) != 0) abort(); /* JSON input: no lossy repair */
        fixed_point(dec, o2, l2);
        free(o2);
        json_decref(dec);
        free(out);
    } else if (rc != MIAW_E_INVAL || out || !err[0]) {
        abort();
    }
    json_decref(j);
    return 0;
}
