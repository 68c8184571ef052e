/* core/webhooks/webhook_util.h - pure helpers of the webhook dispatcher: the request signature
 * (spec 5.3), event ids, the retry schedule (spec 5.4), URL checks and host keys, latency
 * percentiles. No I/O (event ids draw random bytes a block at a time, per thread);
 * unit-tested in tests/unit/test_webhook_util.c. */
#ifndef MIAW_WEBHOOK_UTIL_H
#define MIAW_WEBHOOK_UTIL_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* "sha256=" + hex(HMAC-SHA256(key = secret + timestamp, message = body)); out >= 72 */
void miaw_wh_sign(char out[72], const char *secret, const char *timestamp, const void *body, size_t len);
/* "evt_" + a 26-character ULID (48-bit ms time + 80 random bits, Crockford base32):
 * unique, sortable by creation time; out >= 31 */
int miaw_wh_event_id(char out[31], int64_t now_ms);
/* Number of attempts made before an event is dead-lettered. WEBHOOK_MAX_RETRIES is the
 * spec's "give up" row (6 = attempts 1-5 are made); at least 1. */
int miaw_wh_max_attempts(int max_retries);
/* Delay before attempt number `next_attempt` (2 = the first retry) in ms: the spec's
 * schedule 1, 5, 15, 60 units after attempts 1-4, then 60 units, where one unit is
 * retry_delay_ms (60000 = minutes). rnd in [0,1) adds +-10 % jitter. */
int64_t miaw_wh_retry_delay(int next_attempt, int retry_delay_ms, double rnd);
/* 1 when url is http:// or https:// with a non-empty host and no whitespace or control
 * characters; 0 otherwise. */
int miaw_wh_url_valid(const char *url);
/* "host:port" of an http(s) URL (lower-cased, default ports filled in) into out; 0 or -1 */
int miaw_wh_url_hostkey(const char *url, char *out, size_t cap);
/* {"p50","p99","samples"} of n samples multiplied by scale and rounded (p50/p99 null
 * when n is 0); v is not modified. New reference. */
json_t *miaw_wh_percentiles(const float *v, unsigned n, double scale);
#endif
