/* tests/tools/proto_codec.c - command-line front end of core/wa/proto_json for the interop
 * tests: converts miaw's protobuf messages between wire bytes and JSON.
 *   proto_codec decode TYPE   stdin: wire bytes  -> stdout: JSON (one line, keys sorted)
 *   proto_codec encode TYPE   stdin: JSON        -> stdout: wire bytes
 *   proto_codec types                            -> the known TYPE names, one a line
 * TYPE: a name miaw_pb_type knows ("Message", "Message.ExtendedTextMessage", ...). JSON
 * shape: see proto_json.h (protobufjs toObject with longs and bytes as strings, enums as
 * numbers). Exit 0 on success, 1 for bad input (reason on stderr), 2 for bad usage.
 * Owns its stdin buffer only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wa/proto_json.h"

static uint8_t *slurp(size_t *len)
{
    size_t cap = 4096, n = 0, r;
    uint8_t *b = malloc(cap);
    if (!b) return NULL;
    while ((r = fread(b + n, 1, cap - n, stdin)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                return NULL;
            }
            b = nb;
        }
    }
    *len = n;
    return b;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "types")) {
        const char *s;
        for (size_t i = 0; (s = miaw_pb_type_name(i)); i++) puts(s);
        return 0;
    }
    if (argc != 3 || (strcmp(argv[1], "decode") && strcmp(argv[1], "encode"))) {
        fprintf(stderr, "usage: proto_codec decode|encode TYPE | proto_codec types\n");
        return 2;
    }
    const ProtobufCMessageDescriptor *d = miaw_pb_type(argv[2]);
    if (!d) {
        fprintf(stderr, "unknown type %s\n", argv[2]);
        return 2;
    }
    size_t len;
    uint8_t *in = slurp(&len);
    if (!in) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int rc = 1;
    if (!strcmp(argv[1], "decode")) {
        json_t *j = miaw_pb_json_decode(d, in, len);
        char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
        if (!s) {
            fprintf(stderr, "not a valid %s\n", argv[2]);
        } else {
            puts(s);
            rc = 0;
        }
        free(s);
        json_decref(j);
    } else {
        json_error_t jerr;
        char err[512];
        uint8_t *out = NULL;
        size_t olen = 0;
        json_t *j = json_loadb((const char *)in, len, 0, &jerr);
        if (!j) {
            fprintf(stderr, "bad JSON for %s: %s (line %d)\n", argv[2], jerr.text, jerr.line);
        } else if (miaw_pb_json_encode(d, j, &out, &olen, err, sizeof err) != 0) {
            fprintf(stderr, "bad JSON for %s: %s\n", argv[2], err);
        } else if (fwrite(out, 1, olen, stdout) == olen && fflush(stdout) == 0) {
            rc = 0;
        }
        free(out);
        json_decref(j);
    }
    free(in);
    return rc;
}
