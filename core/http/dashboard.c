/* core/http/dashboard.c - the web dashboard's routes (see dashboard.h): GET /dashboard
 * (index.html), GET /dashboard/{file} for the allowed files, streamed from
 * server.dashboard_dir, and env.js generated from the configuration; a strict
 * Content-Security-Policy (only this origin: no CDN, no inline script), no framing. */
#include "http/dashboard.h"

#include "base/log.h"
#include "http/http.h"
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const miaw_config *g_cfg;

static const char *const FILES[][2] = {
    {"index.html", "text/html; charset=utf-8"},
    {"app.js", "application/javascript; charset=utf-8"},
    {"style.css", "text/css; charset=utf-8"},
};

static void security_headers(miaw_req *q)
{
    miaw_http_add_header(q, "content-security-policy",
                         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                         "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    miaw_http_add_header(q, "x-frame-options", "DENY");
    miaw_http_add_header(q, "referrer-policy", "no-referrer");
}

static int serve(miaw_req *q, const char *name)
{
    for (size_t i = 0; i < sizeof FILES / sizeof FILES[0]; i++) {
        if (strcmp(name, FILES[i][0]) != 0) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", g_cfg->dashboard_dir, name);
        security_headers(q);
        int rc = miaw_req_reply_file(q, 200, path, FILES[i][1], NULL, 0);
        if (rc == MIAW_E_NOTFOUND)
            return miaw_req_reply_err(q, MIAW_ERR_UNAVAILABLE, NULL,
                                      "the dashboard files are not installed (server.dashboard_dir: %s)",
                                      g_cfg->dashboard_dir),
                   MIAW_OK;
        return rc == MIAW_OK ? MIAW_OK : rc;
    }
    return miaw_req_reply_err(q, MIAW_ERR_NOT_FOUND, NULL, "no such dashboard file"), MIAW_OK;
}

static int h_index(miaw_req *q, void *ud)
{
    (void)ud;
    return serve(q, "index.html");
}

static int h_file(miaw_req *q, void *ud)
{
    (void)ud;
    const char *f = miaw_req_param(q, "file");
    if (strcmp(f, "env.js") == 0) {
        json_t *env = json_pack("{s:s,s:s}", "basePath", g_cfg->base_path, "apiPrefix", g_cfg->api_prefix);
        char *j = json_dumps(env, JSON_COMPACT);
        json_decref(env);
        char buf[2048];
        int n = snprintf(buf, sizeof buf, "window.MIAW_ENV = %s;\n", j ? j : "{}");
        free(j);
        security_headers(q);
        miaw_req_reply_raw(q, 200, "application/javascript; charset=utf-8", buf,
                           n > 0 && (size_t)n < sizeof buf ? (size_t)n : 0, "no-cache");
        return MIAW_OK;
    }
    return serve(q, f);
}

int miaw_dashboard_routes(miaw_router *rt, const miaw_config *cfg, char *err, size_t errlen)
{
    g_cfg = cfg;
    const miaw_route index = {
        MIAW_ROUTE_INIT, .method = "GET", .path = "/dashboard", .flags = MIAW_ROUTE_PUBLIC, .handler = h_index,
        .operation_id = "getDashboard", .summary = "Web dashboard",
        .description = "The web dashboard (HTML; its files from server.dashboard_dir, no CDN). It signs in with the "
                       "API key, kept in page memory only, and uses this API: instances with live states, create, "
                       "delete, connect by QR or phone-number code, live events, webhook deliveries with retry, a "
                       "test message.",
        .tag = "Docs"};
    const miaw_route file = {MIAW_ROUTE_INIT, .method = "GET", .path = "/dashboard/{file}",
                             .flags = MIAW_ROUTE_PUBLIC, .handler = h_file, .operation_id = "getDashboardAsset",
                             .summary = "Web dashboard asset (index.html, app.js, style.css, env.js)", .tag = "Docs"};
    if (miaw_router_add(rt, &index, MIAW_ROUTE_ROOT, NULL, err, errlen) != 0) return -1;
    return miaw_router_add(rt, &file, MIAW_ROUTE_ROOT, NULL, err, errlen);
}
