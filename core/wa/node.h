/* core/wa/node.h - binary XML nodes ("WABinary"): the tree type, building and reading it,
 * the encoder and decoder (token dictionaries, packed strings, JIDs, zlib frames) and a
 * readable text form for logs. Owns the node trees and their memory (one arena per tree).
 *
 * Ownership: a tree is created by miaw_node_new, miaw_node_clone or miaw_node_decode and
 * freed, whole, by miaw_node_free on its root. Every node, attribute, string and byte
 * buffer of the tree lives in the root's arena: pointers returned by the accessors stay
 * valid until the root is freed (a replaced value's old memory is kept until then too).
 * Every input string or buffer passed in is copied; callers keep ownership of theirs.
 * Buffers returned through `uint8_t **out` / `char **out` are malloc'd: the caller frees.
 * A tree is not thread-safe; use it from one thread at a time. */
#ifndef MIAW_WA_NODE_H
#define MIAW_WA_NODE_H
#include <stddef.h>
#include <stdint.h>

#include "jid.h"

/* Wire tag bytes (section 4.2 of the protocol facts). */
enum {
    MIAW_TAG_LIST_EMPTY = 0,
    MIAW_TAG_DICTIONARY_0 = 236, /* ..239: double-byte dictionaries 0..3 */
    MIAW_TAG_INTEROP_JID = 245,
    MIAW_TAG_FB_JID = 246,
    MIAW_TAG_AD_JID = 247,
    MIAW_TAG_LIST_8 = 248,
    MIAW_TAG_LIST_16 = 249,
    MIAW_TAG_JID_PAIR = 250,
    MIAW_TAG_HEX_8 = 251,
    MIAW_TAG_BINARY_8 = 252,
    MIAW_TAG_BINARY_20 = 253,
    MIAW_TAG_BINARY_32 = 254,
    MIAW_TAG_NIBBLE_8 = 255,
};
#define MIAW_NODE_PACKED_MAX 127
#define MIAW_NODE_FLAG_COMPRESSED 0x02
#define MIAW_NODE_MAX_DEPTH 64                /* nesting of nodes accepted by the decoder */
#define MIAW_NODE_MAX_INFLATE (32u << 20)     /* bytes a compressed frame may inflate to */

typedef enum {
    MIAW_CONTENT_NONE = 0,  /* no content */
    MIAW_CONTENT_LIST = 1,  /* child nodes (possibly zero: an explicit empty list) */
    MIAW_CONTENT_BYTES = 2, /* raw bytes (BINARY_8/20/32 on the wire) */
    MIAW_CONTENT_STRING = 3,/* a string written with a token / packed / raw encoding */
    MIAW_CONTENT_JID = 4,   /* a JID */
} miaw_content_type;

typedef struct miaw_node miaw_node;

/* An attribute. key and str are NUL-terminated (str may hold NULs too: len is the truth).
 * For a JID value, jid is set and str holds its string form (miaw_jid_format). */
typedef struct miaw_attr {
    const char *key;
    const char *str;
    uint32_t len;
    const miaw_jid *jid; /* NULL for a plain string value */
} miaw_attr;

/* Read the fields freely; change them only through the functions below. */
struct miaw_node {
    struct miaw_arena *arena; /* the tree's arena (shared by all its nodes) */
    miaw_node *parent;        /* NULL for a root */
    const char *tag;
    miaw_attr *attrs;
    uint32_t nattrs, attrs_cap;
    uint8_t content_type; /* miaw_content_type */
    /* LIST */
    miaw_node **children;
    uint32_t nchildren, children_cap;
    /* BYTES and STRING (NUL-terminated after len bytes) */
    const uint8_t *data;
    size_t data_len;
    /* JID (data/data_len then hold its string form) */
    const miaw_jid *jid;
};

/* ------------------------------------------------------------------ building */
/* New root node with its own arena. NULL on allocation failure or empty/NULL tag. */
miaw_node *miaw_node_new(const char *tag);
/* New root with attributes from a NULL-terminated list of key, value string pairs:
 * miaw_node_newv("iq", "id", "1", "type", "get", NULL). A value of the form
 * "JID:<jid string>" is parsed and stored as a JID. NULL on failure. */
miaw_node *miaw_node_newv(const char *tag, ...) __attribute__((sentinel));
/* Append a new child (content becomes LIST). Returns it (owned by the tree) or NULL. */
miaw_node *miaw_node_add(miaw_node *parent, const char *tag);
/* Same, with attribute pairs as in miaw_node_newv. */
miaw_node *miaw_node_addv(miaw_node *parent, const char *tag, ...) __attribute__((sentinel));
/* Append a deep copy of src (from any tree) as a child of parent. */
miaw_node *miaw_node_add_copy(miaw_node *parent, const miaw_node *src);
/* Deep copy of src as a new root. */
miaw_node *miaw_node_clone(const miaw_node *src);
/* Free the tree n belongs to. n must be a root (parent == NULL); NULL is allowed. */
void miaw_node_free(miaw_node *root);

/* Set (replace, or append if new) an attribute. Returns 0 or MIAW_E_INVAL / MIAW_E_NOMEM. */
int miaw_node_set_attr(miaw_node *n, const char *key, const char *value);
int miaw_node_set_attrn(miaw_node *n, const char *key, const char *value, size_t len);
int miaw_node_set_attrf(miaw_node *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int miaw_node_set_jid(miaw_node *n, const char *key, const miaw_jid *jid);
/* Parse jid_str (miaw_jid_parse) and set it as a JID value. */
int miaw_node_set_jid_str(miaw_node *n, const char *key, const char *jid_str);
/* Remove an attribute. 0 if removed, MIAW_E_NOTFOUND if absent. */
int miaw_node_del_attr(miaw_node *n, const char *key);

/* Content. Setting bytes/string/JID drops existing children from the node (they stay in
 * the arena until the tree is freed). */
int miaw_node_set_bytes(miaw_node *n, const void *data, size_t len);
int miaw_node_set_string(miaw_node *n, const char *s);
int miaw_node_set_stringn(miaw_node *n, const char *s, size_t len);
int miaw_node_set_content_jid(miaw_node *n, const miaw_jid *jid);
/* Make the content an empty child list (encoded as LIST_EMPTY), or clear it entirely. */
void miaw_node_set_empty_list(miaw_node *n);
void miaw_node_clear_content(miaw_node *n);
/* Detach child i from n (it stays in the arena, unreachable). */
int miaw_node_remove_child(miaw_node *n, uint32_t i);

/* ------------------------------------------------------------------ reading */
/* Value of attribute key as a string (JIDs in string form), or NULL if absent. */
const char *miaw_node_attr(const miaw_node *n, const char *key);
/* Same, with the byte length in *len. */
const char *miaw_node_attrn(const miaw_node *n, const char *key, size_t *len);
/* The attribute entry, or NULL. */
const miaw_attr *miaw_node_attr_get(const miaw_node *n, const char *key);
/* The JID value of key: a JID-encoded value, or a string value that parses as a JID.
 * 0 and *out set, MIAW_E_NOTFOUND if absent, MIAW_E_INVAL if not a JID. */
int miaw_node_attr_jid(const miaw_node *n, const char *key, miaw_jid *out);
/* Unsigned decimal attribute value. 0, MIAW_E_NOTFOUND or MIAW_E_INVAL. */
int miaw_node_attr_u64(const miaw_node *n, const char *key, uint64_t *out);
/* 1 if attribute key equals value exactly, else 0. */
int miaw_node_attr_is(const miaw_node *n, const char *key, const char *value);

/* First child with the given tag, or NULL. */
miaw_node *miaw_node_child(const miaw_node *n, const char *tag);
/* Next child after `after` (a child of n) with that tag, or NULL: iterate all <tag>s with
 * for (c = miaw_node_child(n, t); c; c = miaw_node_next(n, c, t)). tag NULL = any. */
miaw_node *miaw_node_next(const miaw_node *n, const miaw_node *after, const char *tag);
/* Follow a path of tags: miaw_node_path(n, "usync", "list", "user", NULL). */
miaw_node *miaw_node_path(const miaw_node *n, ...) __attribute__((sentinel));
/* Child count / child i (NULL when out of range). */
uint32_t miaw_node_count(const miaw_node *n);
miaw_node *miaw_node_child_at(const miaw_node *n, uint32_t i);
/* BYTES or STRING content (NUL-terminated; *len set), or NULL for other content. */
const uint8_t *miaw_node_bytes(const miaw_node *n, size_t *len);

/* Structural equality: tags, attribute sets (order ignored, JID vs string compared by
 * type and value), content type and content. 1 when equal. */
int miaw_node_equal(const miaw_node *a, const miaw_node *b);

/* ------------------------------------------------------------------ wire */
/* Encode n into a malloc'd buffer *out (*out_len bytes) that starts with the flag byte 0
 * (uncompressed), ready to be a frame's plaintext. Returns 0, MIAW_E_INVAL (a node that
 * cannot be written: empty tag, > 65535 list entries) or MIAW_E_NOMEM. */
int miaw_node_encode(const miaw_node *n, uint8_t **out, size_t *out_len);
/* Same without the flag byte. */
int miaw_node_encode_raw(const miaw_node *n, uint8_t **out, size_t *out_len);

/* Decode a frame plaintext: flag byte, then the node (zlib-inflated first when
 * flag & MIAW_NODE_FLAG_COMPRESSED). Never reads outside buf[0..len). The whole buffer must
 * be consumed. Returns 0 and *out (a new root, free with miaw_node_free), or MIAW_E_INVAL
 * (malformed, trailing bytes, too deep), MIAW_E_LIMIT (inflates beyond
 * MIAW_NODE_MAX_INFLATE) or MIAW_E_NOMEM. */
int miaw_node_decode(const uint8_t *buf, size_t len, miaw_node **out);
/* Decode a node with no flag byte. */
int miaw_node_decode_raw(const uint8_t *buf, size_t len, miaw_node **out);

/* ------------------------------------------------------------------ text */
/* XML-like text: <iq id="1" to=@s.whatsapp.net><ping/></iq>. JID attributes are written
 * unquoted, strings quoted with \" \\ \n and \xNN escapes, bytes content as
 * <!bytes N: hex>. Byte contents longer than max_bytes (0 = no limit) are cut, with
 * "..." after the shown part. indent > 0 puts children on their own lines.
 * Returns a malloc'd NUL-terminated string (caller frees) or NULL. */
char *miaw_node_to_text(const miaw_node *n, size_t max_bytes, int indent);
/* Log n at level (core/log.h) as "<prefix> <text>", bytes cut at 64. */
void miaw_node_log(int level, const char *component, const char *prefix, const miaw_node *n);
#endif
