/* tests/unit/test_instances_jsontext.c - miaw_instance_json_text (core/instances) is the
 * compact text of miaw_instance_json after every kind of change: state and reason through
 * the registry, the webhook config through its setter, and fields changed behind the
 * registry's back (webhookEvents appended in place, the flag, the url, the reason); the
 * text is reused (same pointer) while nothing it shows changed. */
#include "harness.h"

#include "base/config.h"
#include "base/storage.h"
#include "bus/events.h"
#include "instances/instances.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* 1 when the cached text is json_dumps(JSON_COMPACT) of a freshly built object */
static int text_is_current(miaw_instances *r, miaw_instance *in, const char **text)
{
    size_t n = 0;
    *text = miaw_instance_json_text(r, in, &n);
    if (!*text) return 0;
    json_t *o = miaw_instance_json(r, in);
    char *want = json_dumps(o, JSON_COMPACT);
    int same = want && strlen(want) == n && memcmp(want, *text, n) == 0 && (*text)[n] == 0;
    if (!same) fprintf(stderr, "stale:\n  cached: %.*s\n  now:    %s\n", (int)n, *text, want ? want : "(null)");
    free(want);
    json_decref(o);
    return same;
}

static void test_text_follows_changes(void)
{
    char dir[512], err[256] = "";
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/miaw-jsontext-XXXXXX", tmp && *tmp ? tmp : P_tmpdir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    miaw_config cfg;
    CU_ASSERT_EQUAL_FATAL(miaw_config_load(&cfg, NULL, err, sizeof err), 0);
    free(cfg.data_dir);
    cfg.data_dir = strdup(dir);
    miaw_storage db;
    CU_ASSERT_EQUAL_FATAL(miaw_storage_open(&db, dir, err, sizeof err), 0);
    CU_ASSERT_EQUAL_FATAL(miaw_storage_exec(&db, "INSERT INTO instances(id, created_at) VALUES('one', 1700000000000)"), 0);
    miaw_bus *bus = miaw_bus_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(bus);
    miaw_instances *r = miaw_instances_open(&cfg, &db, bus, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    miaw_instance *in = miaw_instances_find(r, "one");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);

    const char *t1, *t2;
    CU_ASSERT(text_is_current(r, in, &t1));
    CU_ASSERT(strstr(t1, "\"status\":\"disconnected\"") != NULL);
    CU_ASSERT(text_is_current(r, in, &t2));
    CU_ASSERT_PTR_EQUAL(t1, t2); /* nothing changed: the same text */

    miaw_instance_set_state(r, in, MIAW_ST_CONNECTING, "dialing");
    CU_ASSERT(text_is_current(r, in, &t1));
    CU_ASSERT(strstr(t1, "\"statusReason\":\"dialing\"") != NULL);
    miaw_instance_set_state(r, in, MIAW_ST_CONNECTING, "retry");
    CU_ASSERT(text_is_current(r, in, &t1));
    miaw_instance_set_state(r, in, MIAW_ST_CONNECTED, NULL);
    CU_ASSERT(text_is_current(r, in, &t1));
    CU_ASSERT(strstr(t1, "statusReason") == NULL);

    CU_ASSERT_EQUAL(miaw_instance_set_webhook(r, in, "http://127.0.0.1:9/hook", json_pack("[s]", "message"), 1), 0);
    CU_ASSERT(text_is_current(r, in, &t1));
    CU_ASSERT(strstr(t1, "\"webhookEvents\":[\"message\"]") != NULL);

    /* behind the registry's back */
    json_array_append_new(in->webhook_events, json_string("connection"));
    CU_ASSERT(text_is_current(r, in, &t1));
    CU_ASSERT(strstr(t1, "[\"message\",\"connection\"]") != NULL);
    json_array_set_new(in->webhook_events, 0, json_string("receipt"));
    CU_ASSERT(text_is_current(r, in, &t1));
    in->webhook_enabled = !in->webhook_enabled;
    CU_ASSERT(text_is_current(r, in, &t1));
    in->webhook_url[strlen(in->webhook_url) - 1] = 'x'; /* same pointer, other text */
    CU_ASSERT(text_is_current(r, in, &t1));
    free(in->webhook_url);
    in->webhook_url = NULL;
    CU_ASSERT(text_is_current(r, in, &t1));
    CU_ASSERT(strstr(t1, "\"webhookUrl\":null") != NULL);
    in->state_reason = strdup("set elsewhere");
    CU_ASSERT(text_is_current(r, in, &t1));
    in->created_ms += 1000;
    CU_ASSERT(text_is_current(r, in, &t1));
    CU_ASSERT(text_is_current(r, in, &t2));
    CU_ASSERT_PTR_EQUAL(t1, t2);

    miaw_instances_free(r);
    miaw_bus_free(bus);
    miaw_storage_close(&db);
    miaw_config_free(&cfg);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

MIAW_TESTS("instances_jsontext", MIAW_T(test_text_follows_changes))
