/* core/http/ratelimit.c - keyed token buckets (see ratelimit.h). Tokens are counted in
 * thousandths so that a pace of a few events per minute refills smoothly; a bucket holds
 * `burst` tokens and gains per_minute per 60 s. A chained hash table of 1024 slots. */
#include "http/ratelimit.h"

#include <stdlib.h>
#include <string.h>

#define SLOTS 1024
#define KEY_MAX 96

typedef struct bucket {
    char key[KEY_MAX];
    uint64_t milli;   /* tokens x 1000 at `at` */
    uint64_t at;      /* ms of the last refill */
    uint64_t last;    /* ms of the last event taken (min gap) */
    int used;         /* an event was ever taken */
    struct bucket *next;
} bucket;

struct miaw_ratelimit {
    uint32_t per_minute, burst, gap;
    size_t max_keys, n;
    bucket *slot[SLOTS];
    bucket overflow;
};

miaw_ratelimit *miaw_ratelimit_new(uint32_t per_minute, uint32_t burst, uint32_t min_gap_ms, size_t max_keys)
{
    miaw_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return NULL;
    rl->per_minute = per_minute;
    rl->burst = burst ? burst : (per_minute ? per_minute : 1);
    rl->gap = min_gap_ms;
    rl->max_keys = max_keys ? max_keys : 10000;
    rl->overflow.milli = (uint64_t)rl->burst * 1000;
    return rl;
}

void miaw_ratelimit_free(miaw_ratelimit *rl)
{
    if (!rl) return;
    for (size_t i = 0; i < SLOTS; i++)
        while (rl->slot[i]) {
            bucket *b = rl->slot[i];
            rl->slot[i] = b->next;
            free(b);
        }
    free(rl);
}

size_t miaw_ratelimit_keys(const miaw_ratelimit *rl) { return rl ? rl->n : 0; }

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void refill(const miaw_ratelimit *rl, bucket *b, uint64_t now)
{
    uint64_t cap = (uint64_t)rl->burst * 1000;
    if (now > b->at && rl->per_minute) {
        /* per_minute tokens per 60000 ms = per_minute/60 milli-tokens per ms */
        uint64_t add = (now - b->at) * rl->per_minute / 60;
        b->milli = b->milli + add > cap ? cap : b->milli + add;
    }
    if (now > b->at) b->at = now;
}

/* drops every bucket that is full again and past its gap: it holds no information */
static void sweep(miaw_ratelimit *rl, uint64_t now)
{
    uint64_t cap = (uint64_t)rl->burst * 1000;
    for (size_t i = 0; i < SLOTS; i++) {
        bucket **pp = &rl->slot[i];
        while (*pp) {
            bucket *b = *pp;
            refill(rl, b, now);
            if (b->milli >= cap && now - b->last >= rl->gap) {
                *pp = b->next;
                free(b);
                rl->n--;
            } else {
                pp = &b->next;
            }
        }
    }
}

uint64_t miaw_ratelimit_take(miaw_ratelimit *rl, const char *key, uint64_t now)
{
    if (!rl || (!rl->per_minute && !rl->gap)) return 0;
    char k[KEY_MAX];
    size_t kl = strlen(key);
    if (kl >= KEY_MAX) kl = KEY_MAX - 1;
    memcpy(k, key, kl);
    k[kl] = 0;
    uint32_t s = hash(k) % SLOTS;
    bucket *b = rl->slot[s];
    while (b && strcmp(b->key, k) != 0) b = b->next;
    if (!b) {
        if (rl->n >= rl->max_keys) sweep(rl, now);
        if (rl->n >= rl->max_keys) {
            b = &rl->overflow; /* every bucket busy: new keys share one */
        } else {
            b = calloc(1, sizeof *b);
            if (!b) return 1000;
            memcpy(b->key, k, kl + 1);
            b->milli = (uint64_t)rl->burst * 1000;
            b->at = now;
            b->next = rl->slot[s];
            rl->slot[s] = b;
            rl->n++;
        }
    }
    refill(rl, b, now);
    if (rl->gap && b->used && now - b->last < rl->gap) return rl->gap - (now - b->last);
    if (rl->per_minute) {
        if (b->milli < 1000) {
            uint64_t need = 1000 - b->milli;
            uint64_t ms = (need * 60 + rl->per_minute - 1) / rl->per_minute;
            return ms ? ms : 1;
        }
        b->milli -= 1000;
    }
    b->last = now;
    b->used = 1;
    return 0;
}
