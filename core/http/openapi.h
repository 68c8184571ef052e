/* core/http/openapi.h - builds the OpenAPI 3.1 document from the live route table (core and
 * plugins) and the declared webhook events; serves it and the Swagger UI page/assets
 * (from swagger-ui-dist installed locally, never a CDN). */
#ifndef MIAW_OPENAPI_H
#define MIAW_OPENAPI_H
#include <jansson.h>

#include "base/config.h"
#include "bus/events.h"
#include "http/router.h"

/* new reference */
json_t *miaw_openapi_build(const miaw_router *rt, const miaw_bus *bus, const miaw_config *cfg);
/* openapi_extras.c: patches what routes cannot declare (non-JSON answers, query and header
 * parameters) into a built document */
void miaw_openapi_extras(json_t *doc);
/* registers GET /openapi.json (root and API), GET / and GET /docs/{file} */
int miaw_openapi_routes(miaw_router *rt, const miaw_bus *bus, const miaw_config *cfg, char *err, size_t errlen);
#endif
