/* core/base/metrics.h - a small process-wide registry of Prometheus counters and
 * histograms that the engine, webhooks and HTTP code bump with one-line calls, and its
 * text exposition (format 0.0.4). The families are declared in metrics.c (name, help,
 * buckets); a series is created on first use from its label pairs. Single-threaded (the
 * loop). Owns every family's series; miaw_metrics_free releases them. */
#ifndef MIAW_METRICS_H
#define MIAW_METRICS_H
#include <stddef.h>

/* Adds v to the counter `name` (a declared family) for the labels given as
 * NULL-terminated name, value string pairs: miaw_metric_add("miaw_x_total", 1, "type",
 * "text", NULL). Values are escaped; an undeclared family or a label value that does
 * not fit (512 bytes of labels) is dropped with one warning. */
void miaw_metric_add(const char *name, double v, ...) __attribute__((sentinel));
/* Records one observation v (seconds, for the *_seconds families) in histogram `name`. */
void miaw_metric_observe(const char *name, double v, ...) __attribute__((sentinel));

/* A series found once and bumped many times (a hot path: no label formatting or lookup
 * per call). The handle belongs to the registry and is valid until miaw_metrics_free;
 * NULL when the series was dropped (the calls below then do nothing). histogram: 0 for a
 * counter family, 1 for a histogram family. */
typedef struct miaw_metric_series miaw_metric_series;
miaw_metric_series *miaw_metric_series_get(const char *name, int histogram, ...) __attribute__((sentinel));
void miaw_metric_series_add(miaw_metric_series *s, double v);       /* counters */
void miaw_metric_series_observe(miaw_metric_series *s, double v);   /* histograms */
/* Changes at every miaw_metrics_free: a handle kept from another generation is gone. */
unsigned miaw_metrics_generation(void);

/* The exposition of every declared family (HELP, TYPE, samples; histograms with their
 * cumulative _bucket{le}, _sum and _count) appended to *buf (malloc'd, grown; *len
 * bytes, NUL-terminated). 0 or -1 (out of memory; *buf freed and NULL). */
int miaw_metrics_render(char **buf, size_t *len, size_t *cap);
/* Appends printf-style text to the same kind of buffer; 0 or -1 as above. */
int miaw_metrics_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes s as a Prometheus label value (\\, \" and \n escaped) into out; -1 if it does not fit. */
int miaw_metrics_escape(const char *s, char *out, size_t cap);
/* Forgets every series (end of the process, tests). */
void miaw_metrics_free(void);
#endif
