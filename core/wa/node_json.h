/* core/wa/node_json.h - binary XML nodes (miaw_node) <-> JSON, the shape plugins see
 * through the plugin ABI. Owns no state; every call builds a fresh result that the caller
 * owns (a json_t reference, or a node tree).
 *
 * Shape:
 *   {"tag": "iq",
 *    "attrs": {"to": {"jid": "s.whatsapp.net"}, "type": "get", "id": "abc"},
 *    "content": C}
 *   attrs   an object. A value is a string, {"jid": "<jid>"} for a JID-encoded value, or
 *           {"b64": "..."} for a value that is not valid UTF-8. A JID is written in
 *           miaw_jid_format's form ("15551234567:3@s.whatsapp.net", "@s.whatsapp.net");
 *           input takes miaw_jid_parse's form and also a bare server
 *           ("s.whatsapp.net", whatsmeow's way) for the server JID "@s.whatsapp.net".
 *           Input also takes integers and booleans (stored as their decimal / "true" /
 *           "false" strings). Optional on input; always present (maybe {}) on output.
 *   content absent (or null on input): no content; a string: string content;
 *           {"b64": "..."}: bytes (standard base64; input also takes the URL-safe
 *           alphabet and missing padding); {"jid": "..."}: JID content; an array of
 *           nodes: children ([] = an explicit empty list).
 *   Any other key of a node object is an error on input.
 *
 * Output of trees decoded from arbitrary wire bytes (never of trees built from JSON):
 * string content that is not valid UTF-8 is written as {"b64"} (the wire does not tell a
 * raw string from bytes anyway); a tag or key that is not valid UTF-8 has the bad
 * sequences replaced by U+FFFD; of duplicate attribute keys the last one wins; a JID
 * whose string form does not parse back (odd wire JIDs) is still written as that form.
 * Input limits: nesting depth <= MIAW_NODE_JSON_MAX_DEPTH (root = 0), at most
 * MIAW_NODE_JSON_MAX_CHILDREN children and MIAW_NODE_JSON_MAX_ATTRS attributes per node,
 * tags and keys non-empty without NUL characters, byte and string contents < 4 GiB: a
 * tree built from JSON always encodes (miaw_node_encode). */
#ifndef MIAW_WA_NODE_JSON_H
#define MIAW_WA_NODE_JSON_H
#include <stddef.h>

#include <jansson.h>

#include "node.h"

#define MIAW_NODE_JSON_MAX_DEPTH 32
#define MIAW_NODE_JSON_MAX_CHILDREN 4096
#define MIAW_NODE_JSON_MAX_ATTRS 4096

/* The JSON form of n (and its subtree). Returns a new reference (json_decref it), NULL
 * only when memory runs out (or n is NULL). n is not changed and stays the caller's. */
json_t *miaw_node_to_json(const miaw_node *n);

/* Build a new tree from JSON j (not changed, stays the caller's). Returns MIAW_OK with
 * *out a new root (free with miaw_node_free), or MIAW_E_INVAL with *out NULL and, when
 * err != NULL and errlen > 0, a NUL-terminated message in err naming the JSON path of the
 * fault: "content[2].attrs.to: not a valid JID", "tag: missing". MIAW_E_NOMEM when
 * memory runs out. */
int miaw_node_from_json(const json_t *j, miaw_node **out, char *err, size_t errlen);
#endif
