/* tests/unit/test_base_metrics.c - the metrics registry (base/metrics.c): counters by
 * label set, label value escaping, histogram buckets (cumulative, +Inf = _count, _sum),
 * undeclared families and oversized labels dropped, the exposition text exactly, and the
 * printf buffer growing past its first size. */
#include "harness.h"

#include "base/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(void)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    CU_ASSERT_EQUAL_FATAL(miaw_metrics_render(&buf, &len, &cap), 0);
    CU_ASSERT_EQUAL(strlen(buf), len);
    return buf;
}

static void test_counters_and_escaping(void)
{
    miaw_metrics_free();
    miaw_metric_add("miaw_messages_sent_total", 1, "type", "text", NULL);
    miaw_metric_add("miaw_messages_sent_total", 2, "type", "text", NULL);
    miaw_metric_add("miaw_messages_sent_total", 1, "type", "im\"a\\ge\n", NULL);
    miaw_metric_add("miaw_reconnects_total", 1, NULL);
    miaw_metric_add("miaw_reconnects_total", 0.5, NULL);
    char *t = render();
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "# HELP miaw_messages_sent_total "));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "# TYPE miaw_messages_sent_total counter\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nmiaw_messages_sent_total{type=\"text\"} 3\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nmiaw_messages_sent_total{type=\"im\\\"a\\\\ge\\n\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nmiaw_reconnects_total 1.5\n"));
    CU_ASSERT_PTR_NULL(strstr(t, "miaw_messages_received_total{")); /* no series yet: HELP/TYPE only */
    free(t);
    miaw_metrics_free();
    t = render();
    CU_ASSERT_PTR_NULL(strstr(t, "miaw_messages_sent_total{"));
    free(t);
}

static void test_many_series(void)
{
    miaw_metrics_free();
    char route[32];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 400; i++) {
            snprintf(route, sizeof route, "/r%d", i);
            miaw_metric_add("miaw_http_requests_total", 1, "method", "GET", "route", route, "status", "200", NULL);
        }
    char *t = render();
    int lines = 0;
    for (const char *p = t; (p = strstr(p, "\nmiaw_http_requests_total{")); p++) lines++;
    CU_ASSERT_EQUAL(lines, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nmiaw_http_requests_total{method=\"GET\",route=\"/r0\",status=\"200\"} 3\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nmiaw_http_requests_total{method=\"GET\",route=\"/r399\",status=\"200\"} 3\n"));
    /* creation order is kept */
    CU_ASSERT_TRUE(strstr(t, "route=\"/r1\"") < strstr(t, "route=\"/r2\""));
    free(t);
    miaw_metrics_free();
}

static void test_histogram(void)
{
    miaw_metrics_free();
    /* buckets of miaw_message_send_duration_seconds: .05 .1 .25 .5 1 2.5 5 10 30 */
    double obs[] = {0.01, 0.05, 0.2, 3, 100};
    for (size_t i = 0; i < 5; i++) miaw_metric_observe("miaw_message_send_duration_seconds", obs[i], NULL);
    miaw_metric_observe("miaw_http_request_duration_seconds", 0.002, "method", "GET", "route", "/a", NULL);
    char *t = render();
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "# TYPE miaw_message_send_duration_seconds histogram\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"0.05\"} 2\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"0.1\"} 2\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"0.25\"} 3\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"0.5\"} 3\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"1\"} 3\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"2.5\"} 3\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"5\"} 4\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"10\"} 4\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"30\"} 4\n"
                                     "miaw_message_send_duration_seconds_bucket{le=\"+Inf\"} 5\n"
                                     "miaw_message_send_duration_seconds_sum 103.26000000000001\n"
                                     "miaw_message_send_duration_seconds_count 5\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "miaw_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.001\"} 0\n"
                                     "miaw_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\",le=\"0.005\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "miaw_http_request_duration_seconds_count{method=\"GET\",route=\"/a\"} 1\n"));
    free(t);
    miaw_metrics_free();
}

static void test_dropped(void)
{
    miaw_metrics_free();
    miaw_metric_add("miaw_no_such_total", 1, NULL);                        /* undeclared */
    miaw_metric_add("miaw_message_send_duration_seconds", 1, NULL);         /* a histogram, not a counter */
    miaw_metric_observe("miaw_messages_sent_total", 1, NULL);               /* a counter, not a histogram */
    char big[700];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    miaw_metric_add("miaw_messages_sent_total", 1, "type", big, NULL);      /* labels too long */
    char *t = render();
    CU_ASSERT_PTR_NULL(strstr(t, "miaw_no_such_total"));
    CU_ASSERT_PTR_NULL(strstr(t, "miaw_messages_sent_total{"));
    CU_ASSERT_PTR_NULL(strstr(t, "miaw_message_send_duration_seconds_count"));
    free(t);
    miaw_metrics_free();
}

/* series handles: the same series as the one-line calls, kind-checked, gone with the
 * registry's generation */
static void test_series_handles(void)
{
    miaw_metrics_free();
    unsigned gen = miaw_metrics_generation();
    miaw_metric_series *c = miaw_metric_series_get("miaw_http_requests_total", 0, "method", "GET", "route", "/x",
                                                   "status", "200", NULL);
    miaw_metric_series *h = miaw_metric_series_get("miaw_http_request_duration_seconds", 1, "method", "GET", "route",
                                                   "/x", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_PTR_NULL(miaw_metric_series_get("miaw_http_requests_total", 1, NULL)); /* a counter, not a histogram */
    CU_ASSERT_PTR_NULL(miaw_metric_series_get("miaw_nothing_total", 0, NULL));
    for (int i = 0; i < 3; i++) miaw_metric_series_add(c, 1);
    miaw_metric_add("miaw_http_requests_total", 1, "method", "GET", "route", "/x", "status", "200", NULL);
    miaw_metric_series_observe(h, 0.002);
    miaw_metric_series_observe(h, 0.02);
    miaw_metric_series_add(h, 5);      /* not a counter: ignored */
    miaw_metric_series_observe(c, 1);  /* not a histogram: ignored */
    miaw_metric_series_add(NULL, 1);   /* a dropped series: nothing */
    miaw_metric_series_observe(NULL, 1);
    char *t = render();
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "\nmiaw_http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 4\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "miaw_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.005\"} 1\n"
                                     "miaw_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.01\"} 1\n"
                                     "miaw_http_request_duration_seconds_bucket{method=\"GET\",route=\"/x\",le=\"0.025\"} 2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "miaw_http_request_duration_seconds_count{method=\"GET\",route=\"/x\"} 2\n"));
    free(t);
    miaw_metrics_free();
    CU_ASSERT_NOT_EQUAL(miaw_metrics_generation(), gen);
}

static void test_escape_and_printf(void)
{
    char out[8];
    CU_ASSERT_EQUAL(miaw_metrics_escape("a\"b", out, sizeof out), 0);
    CU_ASSERT_STRING_EQUAL(out, "a\\\"b");
    CU_ASSERT_EQUAL(miaw_metrics_escape("12345678", out, sizeof out), -1); /* no room for the NUL */
    CU_ASSERT_EQUAL(miaw_metrics_escape("\\\\\\\\", out, sizeof out), -1);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (int i = 0; i < 5000; i++) CU_ASSERT_EQUAL_FATAL(miaw_metrics_printf(&buf, &len, &cap, "line %d\n", i), 0);
    CU_ASSERT_TRUE(cap > 16384);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\nline 4999\n"));
    CU_ASSERT_EQUAL(strlen(buf), len);
    free(buf);
}

MIAW_TESTS("base_metrics", MIAW_T(test_counters_and_escaping), MIAW_T(test_many_series), MIAW_T(test_histogram), MIAW_T(test_dropped),
           MIAW_T(test_series_handles), MIAW_T(test_escape_and_printf))
