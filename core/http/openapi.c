/* core/http/openapi.c - OpenAPI 3.1 generation and the docs routes (see openapi.h). */
#include "http/openapi.h"

#include "base/errors.h"
#include "http/http.h"
#include "base/owner.h"
#include "http/schema.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *error_envelope_schema(void)
{
    json_t *codes = json_array();
    for (int i = 0; i < MIAW_ERR__COUNT; i++) json_array_append_new(codes, json_string(miaw_err_code((miaw_err)i)));
    return json_pack("{s:s,s:[s,s],s:{s:{s:s,s:[b]},s:{s:s,s:[s,s,s],s:{s:{s:s,s:o},s:{s:s},s:{s:s}}}}}", "type",
                     "object", "required", "success", "error", "properties", "success", "type", "boolean", "enum", 0,
                     "error", "type", "object", "required", "code", "message", "details", "properties", "code", "type",
                     "string", "enum", codes, "message", "type", "string", "details", "type", "object");
}

static json_t *error_response(const char *desc)
{
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", desc, "content", "application/json", "schema", "$ref",
                     "#/components/schemas/ErrorEnvelope");
}

static json_t *success_response(const miaw_route_entry *e)
{
    json_t *data = json_object();
    json_t *schema = json_pack("{s:s,s:[s,s],s:{s:{s:s,s:[b]},s:o}}", "type", "object", "required", "success", "data",
                               "properties", "success", "type", "boolean", "enum", 1, "data", data);
    json_t *media = json_pack("{s:o}", "schema", schema);
    if (e->response_example) {
        json_t *ex = json_loads(e->response_example, JSON_DECODE_ANY, NULL);
        if (ex) json_object_set_new(media, "example", json_pack("{s:b,s:o}", "success", 1, "data", ex));
    }
    return json_pack("{s:s,s:{s:o}}", "description", "Success", "content", "application/json", media);
}

static void camel_op_id(const miaw_route_entry *e, char *out, size_t cap)
{
    size_t o = (size_t)snprintf(out, cap, "%s", e->owner ? miaw_owner_name(e->owner) : "core");
    o += (size_t)snprintf(out + o, cap - o, "_%s", e->method);
    for (size_t i = 0; i < e->nseg && o + 2 < cap; i++) {
        out[o++] = '_';
        for (const char *c = e->segs[i]; *c && o + 1 < cap; c++)
            if (*c != '{' && *c != '}') out[o++] = *c == '-' ? '_' : *c;
    }
    out[o] = 0;
}

static json_t *operation(const miaw_route_entry *e)
{
    json_t *op = json_object();
    char opid[256];
    if (e->operation_id) snprintf(opid, sizeof opid, "%s", e->operation_id);
    else camel_op_id(e, opid, sizeof opid);
    json_object_set_new(op, "operationId", json_string(opid));
    json_object_set_new(op, "summary", json_string(e->summary ? e->summary : e->path));
    if (e->description) json_object_set_new(op, "description", json_string(e->description));
    json_object_set_new(op, "tags", json_pack("[s]", e->tag ? e->tag : (e->owner ? miaw_owner_name(e->owner) : "Core")));
    if (e->owner)
        json_object_set_new(op, "x-plugin", json_pack("{s:s,s:s}", "name", miaw_owner_name(e->owner), "version",
                                                      miaw_owner_version(e->owner)));
    json_t *params = json_array();
    for (size_t i = 0; i < e->nseg; i++) {
        const char *s = e->segs[i];
        if (s[0] != '{') continue;
        json_array_append_new(params, json_pack("{s:s#,s:s,s:b,s:{s:s}}", "name", s + 1, (int)(strlen(s) - 2), "in",
                                                "path", "required", 1, "schema", "type", "string"));
    }
    if (json_array_size(params)) json_object_set_new(op, "parameters", params);
    else json_decref(params);
    if (e->has_body) {
        json_t *rb = json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content", "application/json", "schema",
                               miaw_schema_openapi(e->body));
        if (e->flags & MIAW_ROUTE_MULTIPART) /* the same fields as text parts, plus file parts */
            json_object_set_new(json_object_get(rb, "content"), "multipart/form-data",
                                json_pack("{s:o}", "schema", miaw_schema_openapi(e->body)));
        json_object_set_new(op, "requestBody", rb);
    }
    json_t *resp = json_object();
    int created = strcmp(e->method, "POST") == 0 && (strcmp(e->path, "/instances") == 0 || strcmp(e->path, "/keys") == 0);
    json_object_set_new(resp, created ? "201" : "200", success_response(e));
    if (e->has_body) {
        json_object_set_new(resp, "400", error_response("INVALID_REQUEST: the body failed validation; details.field names the field"));
        json_object_set_new(resp, "413", error_response("PAYLOAD_TOO_LARGE"));
    }
    if (!(e->flags & MIAW_ROUTE_PUBLIC)) {
        json_object_set_new(resp, "401", error_response("UNAUTHORIZED: missing or invalid API key"));
        json_object_set_new(resp, "403",
                            error_response((e->flags & MIAW_ROUTE_ADMIN) || !(e->flags & MIAW_ROUTE_INSTANCE)
                                               ? "FORBIDDEN: a scoped API key; this route needs the admin key"
                                               : "FORBIDDEN: a scoped API key without this instance, or without the "
                                                 "permission (GET: read; other methods: send)"));
        if (!(e->flags & MIAW_ROUTE_NO_RATELIMIT))
            json_object_set_new(resp, "429", error_response("RATE_LIMITED: over rate_limit.api_per_key_per_minute or "
                                                            "api_per_address_per_minute (when set), or an instance's "
                                                            "send pace; Retry-After gives the seconds to wait"));
    }
    if (e->flags & MIAW_ROUTE_INSTANCE) json_object_set_new(resp, "404", error_response("INSTANCE_NOT_FOUND"));
    json_object_set_new(resp, "500", error_response("Internal or WhatsApp error"));
    json_object_set_new(op, "responses", resp);
    if (e->flags & MIAW_ROUTE_PUBLIC) json_object_set_new(op, "security", json_array());
    return op;
}

static json_t *webhook_op(const miaw_event_type *t)
{
    json_t *body = json_pack("{s:s,s:[s,s,s,s],s:{s:{s:s,s:s},s:{s:s},s:{s:s},s:{s:s}}}", "type", "object", "required",
                             "event", "instanceId", "timestamp", "data", "properties", "event", "type", "string", "const",
                             t->type, "instanceId", "type", "string", "timestamp", "type", "integer", "data", "type",
                             "object");
    json_t *headers = json_array();
    const char *h[][2] = {{"X-Miaw-Instance", "instance id"},
                          {"X-Miaw-Event", "event name"},
                          {"X-Miaw-Event-Id", "unique per event, equal on every retry"},
                          {"X-Miaw-Timestamp", "ms since epoch, part of the signing key"},
                          {"X-Miaw-Signature", "sha256=hex(HMAC-SHA256(secret + timestamp, body))"}};
    for (size_t i = 0; i < 5; i++)
        json_array_append_new(headers, json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", h[i][0], "in", "header",
                                                 "description", h[i][1], "schema", "type", "string"));
    return json_pack("{s:{s:s,s:s,s:o,s:{s:b,s:{s:{s:o}}},s:{s:{s:s}}}}", "post", "summary", t->type, "description",
                     *t->description ? t->description : t->type, "parameters", headers, "requestBody", "required", 1,
                     "content", "application/json", "schema", body, "responses", "2XX", "description",
                     "Delivered; any other status is retried");
}

json_t *miaw_openapi_build(const miaw_router *rt, const miaw_bus *bus, const miaw_config *cfg)
{
    char server[1024], root[1024];
    snprintf(server, sizeof server, "%s%s", cfg->base_path, cfg->api_prefix);
    snprintf(root, sizeof root, "%s", *cfg->base_path ? cfg->base_path : "/");
    json_t *paths = json_object();
    /* pass 0: API routes; pass 1: root routes whose path text is not an API path too
     * (those, like /health, are documented once, under the API server) */
    for (int pass = 0; pass < 2; pass++)
        for (const miaw_route_entry *e = rt->head; e; e = e->next) {
            int is_root = (e->flags & MIAW_ROUTE_ROOT) != 0;
            if (is_root != pass) continue;
            json_t *item = json_object_get(paths, e->path);
            if (item && is_root && !json_object_get(item, "servers")) continue;
            if (!item) {
                item = json_object();
                json_object_set_new(paths, e->path, item);
                if (is_root) json_object_set_new(item, "servers", json_pack("[{s:s}]", "url", root));
            }
            char m[8];
            size_t i = 0;
            for (; e->method[i] && i < 7; i++) m[i] = (char)(e->method[i] | 0x20);
            m[i] = 0;
            json_object_set_new(item, m, operation(e));
        }
    json_t *hooks = json_object();
    for (const miaw_event_type *t = miaw_bus_types(bus); t; t = t->next)
        if (t->flags & MIAW_EVENT_F_WEBHOOK) json_object_set_new(hooks, t->type, webhook_op(t));
    json_t *codes = json_array();
    for (int i = 0; i < MIAW_ERR__COUNT; i++)
        json_array_append_new(codes, json_pack("{s:s,s:i,s:s}", "code", miaw_err_code((miaw_err)i), "status",
                                               miaw_err_status((miaw_err)i), "description",
                                               miaw_err_description((miaw_err)i)));
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s,s:o},s:[{s:s}],s:[{s:[]},{s:[]}],s:o,s:o,s:{s:{s:{s:s,s:s},s:{s:s,s:s,s:s},s:{s:s,s:s}},s:{s:o}}}",
        "openapi", "3.1.0", "info", "title", "miaw API", "version", MIAW_VERSION, "description",
        "Self-hosted WhatsApp gateway. Every JSON response is an envelope: {success:true,data} or "
        "{success:false,error:{code,message,details}}. Authenticate with `Authorization: Bearer KEY` or `X-API-Key: KEY`.",
        "x-error-codes", codes, "servers", "url", server, "security", "bearerAuth", "apiKeyHeader", "paths", paths,
        "webhooks", hooks, "components", "securitySchemes", "bearerAuth", "type", "http", "scheme", "bearer",
        "apiKeyHeader", "type", "apiKey", "in", "header", "name", "X-API-Key", "basicAuth", "type", "http", "scheme",
        "basic", "schemas", "ErrorEnvelope", error_envelope_schema());
    if (doc) miaw_openapi_extras(doc);
    return doc;
}

/* ------------------------------------------------------------------ routes */
struct docs_ctx { const miaw_router *rt; const miaw_bus *bus; const miaw_config *cfg; };
static struct docs_ctx g_docs;

static int h_openapi(miaw_req *q, void *ud)
{
    struct docs_ctx *d = ud;
    json_t *doc = miaw_openapi_build(d->rt, d->bus, d->cfg);
    char *txt = json_dumps(doc, JSON_INDENT(1));
    json_decref(doc);
    miaw_req_reply_raw(q, 200, "application/json; charset=utf-8", txt, strlen(txt), "no-cache");
    free(txt);
    return MIAW_OK;
}

static const char *UI_HTML =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>miaw API</title>"
    "<link rel=\"stylesheet\" href=\"docs/swagger-ui.css\"></head><body><div id=\"swagger-ui\"></div>"
    "<script src=\"docs/swagger-ui-bundle.js\"></script>"
    "<script src=\"docs/swagger-init.js\"></script></body></html>";
static const char *UI_INIT =
    "window.ui = SwaggerUIBundle({url: 'openapi.json', dom_id: '#swagger-ui', deepLinking: true,"
    " persistAuthorization: true});";

static int h_ui(miaw_req *q, void *ud)
{
    (void)ud;
    /* the page uses relative asset paths; make sure the browser's base ends with '/' */
    miaw_req_reply_raw(q, 200, "text/html; charset=utf-8", UI_HTML, strlen(UI_HTML), "no-cache");
    return MIAW_OK;
}

static int h_asset(miaw_req *q, void *ud)
{
    struct docs_ctx *d = ud;
    const char *f = miaw_req_param(q, "file");
    static const char *allowed[][2] = {{"swagger-ui.css", "text/css"},
                                       {"swagger-ui-bundle.js", "application/javascript"},
                                       {"favicon-32x32.png", "image/png"}};
    if (strcmp(f, "swagger-init.js") == 0) {
        miaw_req_reply_raw(q, 200, "application/javascript", UI_INIT, strlen(UI_INIT), "no-cache");
        return MIAW_OK;
    }
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (strcmp(f, allowed[i][0]) != 0) continue;
        char path[4096], *data = NULL;
        size_t len = 0;
        snprintf(path, sizeof path, "%s/%s", d->cfg->docs_dir, f);
        if (miaw_read_file(path, &data, &len) != 0)
            return miaw_req_reply_err(q, MIAW_ERR_UNAVAILABLE, NULL,
                                      "Swagger UI assets are not installed (server.docs_dir: %s)", d->cfg->docs_dir),
                   MIAW_OK;
        miaw_req_reply_raw(q, 200, allowed[i][1], data, len, "public, max-age=3600");
        free(data);
        return MIAW_OK;
    }
    miaw_req_reply_err(q, MIAW_ERR_NOT_FOUND, NULL, "no such documentation asset");
    return MIAW_OK;
}

int miaw_openapi_routes(miaw_router *rt, const miaw_bus *bus, const miaw_config *cfg, char *err, size_t errlen)
{
    g_docs = (struct docs_ctx){rt, bus, cfg};
    const miaw_route api = {MIAW_ROUTE_INIT, .method = "GET", .path = "/openapi.json", .flags = MIAW_ROUTE_PUBLIC,
                            .handler = h_openapi, .udata = &g_docs, .operation_id = "getOpenApi",
                            .summary = "This OpenAPI document", .tag = "Docs"};
    const miaw_route ui = {MIAW_ROUTE_INIT, .method = "GET", .path = "/", .flags = MIAW_ROUTE_PUBLIC, .handler = h_ui,
                           .udata = &g_docs, .operation_id = "getDocs", .summary = "API documentation (Swagger UI)",
                           .tag = "Docs"};
    const miaw_route asset = {MIAW_ROUTE_INIT, .method = "GET", .path = "/docs/{file}", .flags = MIAW_ROUTE_PUBLIC,
                              .handler = h_asset, .udata = &g_docs, .operation_id = "getDocsAsset",
                              .summary = "Swagger UI asset", .tag = "Docs"};
    if (miaw_router_add(rt, &api, MIAW_ROUTE_ROOT, NULL, err, errlen) != 0) return -1;
    miaw_route api2 = api;
    api2.operation_id = "getOpenApiUnderPrefix";
    if (miaw_router_add(rt, &api2, 0, NULL, err, errlen) != 0) return -1;
    if (miaw_router_add(rt, &ui, MIAW_ROUTE_ROOT, NULL, err, errlen) != 0) return -1;
    return miaw_router_add(rt, &asset, MIAW_ROUTE_ROOT, NULL, err, errlen);
}
