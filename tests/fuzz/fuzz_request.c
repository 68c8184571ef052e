/* tests/fuzz/fuzz_request.c - libFuzzer target for what the HTTP pipeline does with
 * network bytes before a handler runs: router matching of the path (percent-decoding,
 * segment splitting), JSON body parsing + schema validation, and the early gate's parse
 * of a raw HTTP/1.x request head (core/http/early.c). First input byte picks the part;
 * the rest is the path, the body or the raw request. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_int.h"
#include "http/router.h"
#include "http/schema.h"

static int noop(miaw_req *r, void *u) { (void)r; (void)u; return 0; }

static const char *const KINDS[] = {"text", "image", NULL};
static const miaw_field INNER[] = {{.name = "lat", .type = MIAW_T_NUMBER, .flags = MIAW_F_REQUIRED | MIAW_F_HAS_MIN, .min = -90}, {0}};
static const miaw_field BODY[] = {
    {.name = "instanceId", .type = MIAW_T_STRING, .pattern = "^[A-Za-z0-9_-]{1,64}$"},
    {.name = "kind", .type = MIAW_T_STRING, .enum_values = KINDS},
    {.name = "tags", .type = MIAW_T_ARRAY, .flags = MIAW_F_HAS_MAX, .max = 4,
     .items = &(const miaw_field){.name = "t", .type = MIAW_T_STRING, .flags = MIAW_F_NONEMPTY}},
    {.name = "loc", .type = MIAW_T_OBJECT, .flags = MIAW_F_STRICT | MIAW_F_NULLABLE, .props = INNER},
    {.name = "url", .type = MIAW_T_STRING, .format = "uri"},
    {0},
};

static miaw_router rt;

static void setup(void)
{
    static int done;
    if (done) return;
    done = 1;
    const char *paths[] = {"/instances", "/instances/{instanceId}", "/instances/{instanceId}/groups/{groupJid}",
                           "/instances/{instanceId}/groups/join/{code}", "/health"};
    char err[256];
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        miaw_route r = {MIAW_ROUTE_INIT, .method = "GET", .path = paths[i], .handler = noop};
        miaw_router_add(&rt, &r, 0, NULL, err, sizeof err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1) return 0;
    if ((data[0] & 5) == 4) {
        /* an exact-size copy, so reading past the end is caught */
        char *raw = malloc(size - 1 ? size - 1 : 1);
        memcpy(raw, data + 1, size - 1);
        miaw_early_head eh;
        int hl = miaw_http_early_parse(raw, size - 1, &eh);
        if (hl < 0 || (size_t)hl > size - 1 || (hl && eh.body_seen != size - 1 - (size_t)hl)) abort();
        if (strlen(eh.method) >= sizeof eh.method || strlen(eh.path) >= sizeof eh.path || strlen(eh.authz) >= sizeof eh.authz)
            abort();
        /* the quick look never misses a head whose full parse finds a body's framing */
        int maybe = miaw_http_early_framing(raw, size - 1);
        if (hl > 0 && (eh.has_cl || eh.chunked) && !maybe) abort();
        free(raw);
        return 0;
    }
    if (data[0] & 1) {
        char path[2048];
        size_t n = size - 1 < sizeof path - 1 ? size - 1 : sizeof path - 1;
        memcpy(path, data + 1, n);
        path[n] = 0;
        miaw_route_match m;
        char allow[64];
        int st = miaw_router_match(&rt, (data[0] & 2) ? "GET" : "POST", path, 0, &m, allow, sizeof allow);
        if (st == 200)
            for (size_t i = 0; i < m.nparams; i++)
                if (strlen(m.values[i]) >= sizeof m.values[i] || strchr(m.values[i], '/')) abort();
    } else {
        json_error_t je;
        json_t *b = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
        if (b) {
            char f[256], msg[512];
            miaw_schema_validate(BODY, (data[0] & 2) != 0, b, f, sizeof f, msg, sizeof msg);
            json_decref(b);
        }
    }
    return 0;
}
