/* core/webhooks/webhook_htab.c - string-keyed chained hash table of the webhook dispatcher (see
 * webhook_htab.h): FNV-1a, doubling at load factor 1. */
#include "webhooks/webhook_htab.h"

#include <stdlib.h>
#include <string.h>

static size_t hkey(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void *miaw_wh_hget(miaw_wh_htab *t, const char *k)
{
    if (!t->nb) return NULL;
    for (struct miaw_wh_hnode *n = t->b[hkey(k) % t->nb]; n; n = n->next)
        if (strcmp(n->key, k) == 0) return n->val;
    return NULL;
}

int miaw_wh_hput(miaw_wh_htab *t, const char *k, void *v)
{
    if (t->n >= t->nb) { /* grow, load factor 1 */
        size_t nb = t->nb ? t->nb * 2 : 64;
        struct miaw_wh_hnode **b = calloc(nb, sizeof *b);
        if (!b) return -1;
        for (size_t i = 0; i < t->nb; i++)
            while (t->b[i]) {
                struct miaw_wh_hnode *n = t->b[i];
                t->b[i] = n->next;
                n->next = b[hkey(n->key) % nb];
                b[hkey(n->key) % nb] = n;
            }
        free(t->b);
        t->b = b;
        t->nb = nb;
    }
    struct miaw_wh_hnode *n = malloc(sizeof *n);
    if (!n || !(n->key = strdup(k))) {
        free(n);
        return -1;
    }
    n->val = v;
    n->next = t->b[hkey(k) % t->nb];
    t->b[hkey(k) % t->nb] = n;
    t->n++;
    return 0;
}

void miaw_wh_hdel(miaw_wh_htab *t, const char *k)
{
    if (!t->nb) return;
    for (struct miaw_wh_hnode **pp = &t->b[hkey(k) % t->nb]; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->key, k) == 0) {
            struct miaw_wh_hnode *n = *pp;
            *pp = n->next;
            free(n->key);
            free(n);
            t->n--;
            return;
        }
}

void miaw_wh_hfree(miaw_wh_htab *t, void (*fn)(void *))
{
    for (size_t i = 0; i < t->nb; i++)
        while (t->b[i]) {
            struct miaw_wh_hnode *n = t->b[i];
            t->b[i] = n->next;
            if (fn) fn(n->val);
            free(n->key);
            free(n);
        }
    free(t->b);
    memset(t, 0, sizeof *t);
}
