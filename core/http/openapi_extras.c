/* core/http/openapi_extras.c - what the route table cannot say about a few routes, patched
 * into the generated OpenAPI document (miaw_openapi_extras, called by openapi.c): GET
 * /metrics answers Prometheus text and takes the API key or the metrics token, GET /events
 * answers text/event-stream with its filters and Last-Event-ID, DELETE /instances/{id} takes
 * ?keepSession, GET /dashboard serves HTML. Owns nothing. */
#include "http/openapi.h"

#include <string.h>

static json_t *error_ref(const char *desc)
{
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", desc, "content", "application/json", "schema", "$ref",
                     "#/components/schemas/ErrorEnvelope");
}

static json_t *query_param(const char *name, const char *in, const char *desc, const char *type)
{
    return json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", name, "in", in, "required", 0, "description", desc,
                     "schema", "type", type);
}

/* replaces the 200 answer of op by one of content type ct with a string schema */
static void text_answer(json_t *op, const char *ct, const char *desc, const char *example)
{
    json_t *resp = json_object_get(op, "responses");
    if (!resp) return;
    json_t *media = json_pack("{s:{s:s}}", "schema", "type", "string");
    if (example) json_object_set_new(media, "example", json_string(example));
    json_object_set_new(resp, "200", json_pack("{s:s,s:{s:o}}", "description", desc, "content", ct, media));
}

static void add_param(json_t *op, json_t *p)
{
    json_t *a = json_object_get(op, "parameters");
    if (!a) json_object_set_new(op, "parameters", a = json_array());
    json_array_append_new(a, p);
}

void miaw_openapi_extras(json_t *doc)
{
    json_t *paths = json_object_get(doc, "paths");
    json_t *op = json_object_get(json_object_get(paths, "/metrics"), "get");
    if (op) {
        text_answer(op, "text/plain; version=0.0.4", "Prometheus text exposition",
                    "# HELP miaw_instances Instances by connection state.\n# TYPE miaw_instances gauge\n"
                    "miaw_instances{state=\"connected\"} 1\n");
        json_object_set_new(op, "security", json_pack("[{s:[]},{s:[]}]", "bearerAuth", "apiKeyHeader"));
        json_object_set_new(json_object_get(op, "responses"), "401",
                            error_ref("UNAUTHORIZED: neither the API key nor the metrics token"));
    }
    op = json_object_get(json_object_get(paths, "/events"), "get");
    if (op) {
        text_answer(op, "text/event-stream", "An endless stream of events",
                    "id: 42\nevent: message\ndata: {\"event\":\"message\",\"instanceId\":\"my-bot-1\",\"timestamp\":"
                    "1735118400000,\"data\":{\"id\":\"3EB0...\",\"text\":\"hi\"}}\n\n");
        add_param(op, query_param("instanceId", "query", "only these instances (comma-separated ids)", "string"));
        add_param(op, query_param("events", "query", "only these event types (comma-separated)", "string"));
        add_param(op, query_param("Last-Event-ID", "header", "resume after this event id (replayed from the outbox)",
                                  "string"));
        add_param(op, query_param("lastEventId", "query", "as the Last-Event-ID header", "string"));
        json_t *resp = json_object_get(op, "responses");
        json_object_set_new(resp, "400", error_ref("INVALID_REQUEST: a bad filter or Last-Event-ID"));
        json_object_set_new(resp, "404", error_ref("INSTANCE_NOT_FOUND: a filtered instance does not exist"));
        json_object_set_new(resp, "503", error_ref("SERVICE_UNAVAILABLE: server.events_max_clients streams are open"));
        json_object_set_new(resp, "101", json_pack("{s:s}", "description",
                                                   "WebSocket variant (HTTP/1.1 Upgrade: websocket): one text frame "
                                                   "per event, {id, event, data}"));
    }
    op = json_object_get(json_object_get(paths, "/instances/{instanceId}"), "delete");
    if (op) {
        json_t *p = query_param("keepSession", "query",
                                "true: do not unlink the device from the phone (it stays among its linked devices)",
                                "boolean");
        add_param(op, p);
        json_object_set_new(json_object_get(op, "responses"), "400", error_ref("INVALID_REQUEST: keepSession is not a boolean"));
    }
    op = json_object_get(json_object_get(paths, "/instances/{instanceId}/logout"), "post");
    if (op) {
        json_t *resp = json_object_get(op, "responses");
        json_object_set_new(resp, "409", error_ref("CONFLICT: the instance is not paired"));
        json_object_set_new(resp, "502", error_ref("WHATSAPP_ERROR: the server refused or did not answer the unlink"));
        json_object_set_new(resp, "503", error_ref("INSTANCE_NOT_CONNECTED: paired but not connected"));
    }
    op = json_object_get(json_object_get(paths, "/dashboard"), "get");
    if (op) text_answer(op, "text/html", "The dashboard page", NULL);
}
