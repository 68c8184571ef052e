/* core/wa/node_int.h - internals the node modules share (node.c, node_read.c,
 * node_encode.c, node_decode.c); not for other callers. Owns the arena type: every tree's
 * nodes, attributes, strings and buffers live in one arena, created with the root
 * (miaw_node_new, miaw_node_clone, miaw_node_decode) and freed whole with it
 * (miaw_node_free). Arena memory is never freed piecemeal. */
#ifndef MIAW_WA_NODE_INT_H
#define MIAW_WA_NODE_INT_H
#include <stddef.h>

#include "node.h"

typedef struct miaw_arena_block {
    struct miaw_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} miaw_arena_block;

struct miaw_arena {
    miaw_arena_block *head;
    size_t next_cap;
};

/* A new empty arena (free with miaw_arena_free), or NULL. */
struct miaw_arena *miaw_arena_new(void);
/* Free the arena and every block it holds; NULL allowed. */
void miaw_arena_free(struct miaw_arena *a);
/* The slow path of miaw_arena_alloc: size is already rounded to a multiple of 16. */
void *miaw_arena_alloc_block(struct miaw_arena *a, size_t size);
/* Copy of s[0..len) plus a NUL in the arena, or NULL. */
char *miaw_arena_strndup(struct miaw_arena *a, const void *s, size_t len);

/* size bytes (16-aligned) owned by the arena, or NULL. Inline: the decoder calls it for
 * every node and string. */
static inline void *miaw_arena_alloc(struct miaw_arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0) size = 16;
    miaw_arena_block *h = a->head;
    if (h && h->cap - h->used >= size) {
        void *p = h->data + h->used;
        h->used += size;
        return p;
    }
    return miaw_arena_alloc_block(a, size);
}
#endif
