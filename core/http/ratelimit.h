/* core/http/ratelimit.h - token buckets keyed by a string (an API key id, a client
 * address, an instance id): a pace in events per minute, a burst, and optionally a least
 * gap between two events. Memory is bounded: at most max_keys buckets; idle ones (full
 * again) are dropped first, and when every bucket is busy new keys share one overflow
 * bucket. Owns its buckets. Loop thread only (not thread-safe). */
#ifndef MIAW_RATELIMIT_H
#define MIAW_RATELIMIT_H
#include <stddef.h>
#include <stdint.h>

typedef struct miaw_ratelimit miaw_ratelimit;

/* per_minute 0 and min_gap_ms 0: nothing is ever refused. burst >= 1 (0 = per_minute) */
miaw_ratelimit *miaw_ratelimit_new(uint32_t per_minute, uint32_t burst, uint32_t min_gap_ms, size_t max_keys);
void miaw_ratelimit_free(miaw_ratelimit *rl);
/* takes one event for key at now_ms (monotonic): 0 when allowed, else how many ms until
 * it would be (>= 1; nothing taken) */
uint64_t miaw_ratelimit_take(miaw_ratelimit *rl, const char *key, uint64_t now_ms);
size_t miaw_ratelimit_keys(const miaw_ratelimit *rl);
#endif
