/* core/wa/nodetext.c - the readable text form of a node tree (for logs and debugging).
 * Owns nothing beyond the string it returns to the caller. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "node.h"

typedef struct {
    char *p;
    size_t len, cap;
    int err;
} tbuf;

static void tb_put(tbuf *b, const char *s, size_t n)
{
    if (b->err) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->err = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void tb_str(tbuf *b, const char *s)
{
    tb_put(b, s, strlen(s));
}

static void tb_fmt(tbuf *b, const char *fmt, unsigned long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, fmt, v);
    if (n > 0) tb_put(b, tmp, (size_t)n);
}

/* Quoted string with escapes for ", \, control bytes and (byte-wise) invalid UTF-8 is
 * not checked: bytes >= 0x80 are passed through. */
static void tb_quoted(tbuf *b, const char *s, size_t n)
{
    tb_put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            tb_put(b, e, 2);
        } else if (c == '\n') {
            tb_put(b, "\\n", 2);
        } else if (c < 0x20 || c == 0x7f) {
            tb_fmt(b, "\\x%02llx", c);
        } else {
            tb_put(b, (const char *)&c, 1);
        }
    }
    tb_put(b, "\"", 1);
}

static void tb_indent(tbuf *b, int indent, int level)
{
    tb_put(b, "\n", 1);
    for (int i = 0; i < indent * level; i++) tb_put(b, " ", 1);
}

static void text_node(tbuf *b, const miaw_node *n, size_t max_bytes, int indent, int level)
{
    tb_put(b, "<", 1);
    tb_str(b, n->tag);
    for (uint32_t i = 0; i < n->nattrs; i++) {
        const miaw_attr *a = &n->attrs[i];
        tb_put(b, " ", 1);
        tb_str(b, a->key);
        tb_put(b, "=", 1);
        if (a->jid)
            tb_put(b, a->str, a->len);
        else
            tb_quoted(b, a->str, a->len);
    }
    switch (n->content_type) {
    case MIAW_CONTENT_NONE:
        tb_put(b, "/>", 2);
        return;
    case MIAW_CONTENT_LIST:
        tb_put(b, ">", 1);
        for (uint32_t i = 0; i < n->nchildren; i++) {
            if (indent > 0) tb_indent(b, indent, level + 1);
            text_node(b, n->children[i], max_bytes, indent, level + 1);
        }
        if (indent > 0 && n->nchildren) tb_indent(b, indent, level);
        break;
    case MIAW_CONTENT_BYTES: {
        size_t show = n->data_len;
        if (max_bytes && show > max_bytes) show = max_bytes;
        tb_fmt(b, "><!bytes %llu: ", n->data_len);
        for (size_t i = 0; i < show; i++) tb_fmt(b, "%02llx", n->data[i]);
        if (show < n->data_len) tb_put(b, "...", 3);
        tb_put(b, ">", 1);
        break;
    }
    case MIAW_CONTENT_STRING:
        tb_put(b, ">", 1);
        tb_quoted(b, (const char *)n->data, n->data_len);
        break;
    case MIAW_CONTENT_JID:
        tb_put(b, ">", 1);
        tb_put(b, (const char *)n->data, n->data_len);
        break;
    }
    tb_put(b, "</", 2);
    tb_str(b, n->tag);
    tb_put(b, ">", 1);
}

char *miaw_node_to_text(const miaw_node *n, size_t max_bytes, int indent)
{
    if (!n) return NULL;
    tbuf b = {0};
    text_node(&b, n, max_bytes, indent, 0);
    if (b.err) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

void miaw_node_log(int level, const char *component, const char *prefix, const miaw_node *n)
{
    if (level > miaw_log_level()) return;
    char *t = miaw_node_to_text(n, 64, 0);
    miaw_log(level, component, "%s %s", prefix ? prefix : "", t ? t : "(node)");
    free(t);
}
