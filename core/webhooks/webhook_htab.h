/* core/webhooks/webhook_htab.h - a small string-keyed hash table for the webhook dispatcher's
 * lanes, hosts and per-instance stats. Owns its nodes and copies of the keys; values are
 * the caller's (miaw_wh_hfree passes each to fn, which may be NULL). */
#ifndef MIAW_WEBHOOK_HTAB_H
#define MIAW_WEBHOOK_HTAB_H
#include <stddef.h>

struct miaw_wh_hnode { char *key; void *val; struct miaw_wh_hnode *next; };
typedef struct { struct miaw_wh_hnode **b; size_t nb, n; } miaw_wh_htab; /* zero = empty */

void *miaw_wh_hget(miaw_wh_htab *t, const char *k);           /* NULL when absent */
int miaw_wh_hput(miaw_wh_htab *t, const char *k, void *v);    /* k copied; 0 or -1 */
void miaw_wh_hdel(miaw_wh_htab *t, const char *k);            /* the value is not freed */
void miaw_wh_hfree(miaw_wh_htab *t, void (*fn)(void *));
#endif
