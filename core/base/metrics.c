/* core/base/metrics.c - the process-wide registry of Prometheus counters and histograms
 * (see metrics.h): the declared families, their series (found by their rendered label
 * string), and the text exposition. Gauges that are read at scrape time (instances by
 * state, queue depth, process figures) are not kept here: core/http/metrics.c computes
 * them. Owns every series (freed by miaw_metrics_free). */
#include "base/metrics.h"

#include "base/log.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 512    /* bytes of one series' rendered labels */
#define MAX_SERIES 2000   /* per family: beyond it new label sets are dropped */
#define MAX_BUCKETS 16

typedef enum { COUNTER, HISTOGRAM } kind;

typedef struct series {
    char *labels;                    /* `k="v",k2="v2"` or "" */
    double value;                    /* counter value, or histogram sum */
    unsigned long long count;        /* histogram: observations */
    unsigned long long b[MAX_BUCKETS]; /* histogram: per bucket (not cumulative) */
    struct series *next;             /* in creation order (the exposition) */
    struct series *hnext;            /* in its hash bucket */
    const struct family *fam;        /* its family */
} series;

#define HBUCKETS 256

typedef struct family {
    const char *name, *help;
    kind k;
    const double *bounds;            /* histogram upper bounds, ascending */
    size_t nb;
    series *head, *tail;
    size_t n;
    int warned;
    series *ht[HBUCKETS];            /* by FNV-1a of the label string */
} family;

static const double SEND_B[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double HOOK_B[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const double HTTP_B[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NB(a) (sizeof a / sizeof a[0])

static family FAMILIES[] = {
    {"miaw_messages_sent_total", "Messages sent and acknowledged by the WhatsApp server, by content type.", COUNTER,
     NULL, 0, NULL, NULL, 0, 0, {0}},
    {"miaw_messages_send_failed_total", "Sends that failed, by reason (not_found, not_connected, timeout, refused, other).",
     COUNTER, NULL, 0, NULL, NULL, 0, 0, {0}},
    {"miaw_messages_received_total", "New incoming messages stored and emitted, by content type and chat kind.",
     COUNTER, NULL, 0, NULL, NULL, 0, 0, {0}},
    {"miaw_message_send_duration_seconds", "Time from a send request to the server's acknowledgement.", HISTOGRAM,
     SEND_B, NB(SEND_B), NULL, NULL, 0, 0, {0}},
    {"miaw_reconnects_total", "Reconnection attempts scheduled after a lost or failed WhatsApp connection.", COUNTER,
     NULL, 0, NULL, NULL, 0, 0, {0}},
    {"miaw_webhook_deliveries_total", "Webhook delivery attempts by result (delivered, retry, dead).", COUNTER, NULL, 0,
     NULL, NULL, 0, 0, {0}},
    {"miaw_webhook_delivery_duration_seconds", "Duration of webhook delivery attempts.", HISTOGRAM, HOOK_B, NB(HOOK_B),
     NULL, NULL, 0, 0, {0}},
    {"miaw_http_requests_total", "HTTP requests answered, by method, route template and status.", COUNTER, NULL, 0,
     NULL, NULL, 0, 0, {0}},
    {"miaw_http_request_duration_seconds", "Time to answer HTTP requests, by method and route template.", HISTOGRAM,
     HTTP_B, NB(HTTP_B), NULL, NULL, 0, 0, {0}},
};
#define NFAM (sizeof FAMILIES / sizeof FAMILIES[0])

int miaw_metrics_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        size_t n = rep ? 2 : 1;
        if (o + n >= cap) return -1;
        if (rep) memcpy(out + o, rep, 2);
        else out[o] = *s;
        o += n;
    }
    if (o >= cap) return -1;
    out[o] = 0;
    return 0;
}

static family *find_family(const char *name, kind k)
{
    for (size_t i = 0; i < NFAM; i++)
        if (!strcmp(FAMILIES[i].name, name)) return FAMILIES[i].k == k ? &FAMILIES[i] : NULL;
    return NULL;
}

/* the series of f for the label pairs in ap, created on first use; NULL when dropped */
static series *get_series(family *f, va_list ap)
{
    char labels[MAX_LABELS], esc[MAX_LABELS];
    size_t o = 0;
    labels[0] = 0;
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        if (miaw_metrics_escape(v ? v : "", esc, sizeof esc) != 0) return NULL;
        int n = snprintf(labels + o, sizeof labels - o, "%s%s=\"%s\"", o ? "," : "", k, esc);
        if (n < 0 || (size_t)n >= sizeof labels - o) return NULL;
        o += (size_t)n;
    }
    uint32_t hv = 2166136261u;
    for (const char *p = labels; *p; p++) hv = (hv ^ (unsigned char)*p) * 16777619u;
    series **bucket = &f->ht[hv % HBUCKETS];
    for (series *s = *bucket; s; s = s->hnext)
        if (!strcmp(s->labels, labels)) return s;
    if (f->n >= MAX_SERIES) return NULL;
    series *s = calloc(1, sizeof *s);
    if (!s || !(s->labels = strdup(labels))) {
        free(s);
        return NULL;
    }
    s->fam = f;
    if (f->tail) f->tail->next = s;
    else f->head = s;
    f->tail = s;
    s->hnext = *bucket;
    *bucket = s;
    f->n++;
    return s;
}

static void dropped(family *f, const char *name)
{
    if (!f) {
        MIAW_WARN("metrics", "undeclared metric %s (or of another type)", name);
        return;
    }
    if (!f->warned) MIAW_WARN("metrics", "%s: a series was dropped (labels too long or too many series)", f->name);
    f->warned = 1;
}

void miaw_metric_add(const char *name, double v, ...)
{
    family *f = find_family(name, COUNTER);
    series *s = NULL;
    if (f) {
        va_list ap;
        va_start(ap, v);
        s = get_series(f, ap);
        va_end(ap);
    }
    if (!s) return dropped(f, name);
    s->value += v;
}

/* one observation into a histogram series (non-finite values are not counted) */
static void hist_add(series *s, double v)
{
    const family *f = s->fam;
    if (!isfinite(v)) return;
    size_t i = 0;
    while (i < f->nb && v > f->bounds[i]) i++;
    s->b[i]++; /* i == nb: only +Inf */
    s->count++;
    s->value += v;
}

void miaw_metric_observe(const char *name, double v, ...)
{
    family *f = find_family(name, HISTOGRAM);
    series *s = NULL;
    if (f) {
        va_list ap;
        va_start(ap, v);
        s = get_series(f, ap);
        va_end(ap);
    }
    if (!s) return dropped(f, name);
    hist_add(s, v);
}

miaw_metric_series *miaw_metric_series_get(const char *name, int histogram, ...)
{
    family *f = find_family(name, histogram ? HISTOGRAM : COUNTER);
    series *s = NULL;
    if (f) {
        va_list ap;
        va_start(ap, histogram);
        s = get_series(f, ap);
        va_end(ap);
    }
    if (!s) dropped(f, name);
    return (miaw_metric_series *)s;
}

void miaw_metric_series_add(miaw_metric_series *ms, double v)
{
    series *s = (series *)ms;
    if (s && s->fam->k == COUNTER) s->value += v;
}

void miaw_metric_series_observe(miaw_metric_series *ms, double v)
{
    series *s = (series *)ms;
    if (s && s->fam->k == HISTOGRAM) hist_add(s, v);
}

/* ------------------------------------------------------------ exposition */
int miaw_metrics_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = *buf ? *cap - *len : 0;
        int n = room ? vsnprintf(*buf + *len, room, fmt, ap) : -2;
        va_end(ap);
        if (n == -1) break;
        if (n >= 0 && (size_t)n < room) {
            *len += (size_t)n;
            return 0;
        }
        size_t want = (*cap ? *cap * 2 : 16384) + (n > 0 ? (size_t)n : 0);
        char *nb = realloc(*buf, want);
        if (!nb) break;
        *buf = nb;
        *cap = want;
    }
    free(*buf);
    *buf = NULL;
    *len = *cap = 0;
    return -1;
}

/* a sample value: integers without a fraction, others with enough digits to round-trip */
static void fmt_value(double v, char out[40])
{
    if (v == floor(v) && fabs(v) < 1e15) snprintf(out, 40, "%.0f", v);
    else snprintf(out, 40, "%.17g", v);
}

int miaw_metrics_render(char **buf, size_t *len, size_t *cap)
{
    char val[40];
    for (size_t i = 0; i < NFAM; i++) {
        family *f = &FAMILIES[i];
        if (miaw_metrics_printf(buf, len, cap, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                                f->k == COUNTER ? "counter" : "histogram"))
            return -1;
        for (series *s = f->head; s; s = s->next) {
            const char *sep = *s->labels ? "," : "";
            if (f->k == COUNTER) {
                fmt_value(s->value, val);
                if (miaw_metrics_printf(buf, len, cap, "%s%s%s%s %s\n", f->name, *s->labels ? "{" : "", s->labels,
                                        *s->labels ? "}" : "", val))
                    return -1;
                continue;
            }
            unsigned long long cum = 0;
            for (size_t b = 0; b <= f->nb; b++) {
                cum += s->b[b];
                char le[40];
                if (b < f->nb) snprintf(le, sizeof le, "%g", f->bounds[b]);
                else snprintf(le, sizeof le, "+Inf");
                if (miaw_metrics_printf(buf, len, cap, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels, sep, le,
                                        cum))
                    return -1;
            }
            fmt_value(s->value, val);
            const char *lo = *s->labels ? "{" : "", *lc = *s->labels ? "}" : "";
            if (miaw_metrics_printf(buf, len, cap, "%s_sum%s%s%s %s\n%s_count%s%s%s %llu\n", f->name, lo, s->labels,
                                    lc, val, f->name, lo, s->labels, lc, s->count))
                return -1;
        }
    }
    return 0;
}

static unsigned g_generation; /* miaw_metrics_free calls: handles from before are gone */

unsigned miaw_metrics_generation(void) { return g_generation; }

void miaw_metrics_free(void)
{
    g_generation++;
    for (size_t i = 0; i < NFAM; i++) {
        family *f = &FAMILIES[i];
        for (series *s = f->head, *n; s; s = n) {
            n = s->next;
            free(s->labels);
            free(s);
        }
        f->head = f->tail = NULL;
        memset(f->ht, 0, sizeof f->ht);
        f->n = 0;
        f->warned = 0;
    }
}
