/* core/http/dashboard.h - the web dashboard at {base_path}/dashboard: its static files
 * (index.html, app.js, style.css from server.dashboard_dir) and a generated env.js telling
 * the page where the API is. The files are public (they hold no data); everything the page
 * shows comes from the API with the key the user types in, kept in page memory only.
 * Owns nothing; cfg borrowed (outlives the routes). */
#ifndef MIAW_DASHBOARD_H
#define MIAW_DASHBOARD_H
#include <stddef.h>

#include "base/config.h"
#include "http/router.h"

int miaw_dashboard_routes(miaw_router *rt, const miaw_config *cfg, char *err, size_t errlen);
#endif
