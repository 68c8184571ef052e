/* plugins/contacts/node.c - reading WhatsApp's answers as JSON nodes (attributes that are
 * strings or JIDs, children by tag, text content that is a string or base64 bytes),
 * phone-number and JID parsing of request input, and the one mapping from IQ errors to
 * the API's errors. Pure functions: owns nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contacts.h"

#include <miaw/node_util.h>

/* the length-delimited field `num` of a protobuf message: 0 with *at and *n set, else -1 */
static int pb_field(const uint8_t *b, size_t len, unsigned num, const uint8_t **at, size_t *n)
{
    size_t i = 0;
    while (i < len) {
        uint64_t key = 0, v = 0;
        for (int sh = 0; i < len && sh < 64; sh += 7) {
            key |= (uint64_t)(b[i] & 0x7f) << sh;
            if (!(b[i++] & 0x80)) break;
        }
        unsigned wt = (unsigned)(key & 7);
        if (wt == 0) {
            while (i < len && (b[i++] & 0x80)) {}
        } else if (wt == 1 || wt == 5) {
            i += wt == 1 ? 8 : 4;
        } else if (wt == 2) {
            for (int sh = 0; i < len && sh < 64; sh += 7) {
                v |= (uint64_t)(b[i] & 0x7f) << sh;
                if (!(b[i++] & 0x80)) break;
            }
            if (v > len - i) return -1;
            if ((key >> 3) == num) {
                *at = b + i;
                *n = (size_t)v;
                return 0;
            }
            i += (size_t)v;
        } else {
            return -1;
        }
    }
    return -1;
}

json_t *ct_verified_name(const json_t *vn)
{
    size_t len = 0, dn, nn;
    uint8_t *cert = vn ? miaw_jnode_bytes(vn, &len) : NULL;
    const uint8_t *details, *name;
    json_t *r = NULL;
    /* VerifiedNameCertificate{details = 1} -> Details{verifiedName = 4} */
    if (cert && !pb_field(cert, len, 1, &details, &dn) && !pb_field(details, dn, 4, &name, &nn) && nn)
        r = json_stringn((const char *)name, nn); /* NULL when not UTF-8 */
    free(cert);
    return r;
}

int ct_phone_digits(const char *in, char *out, size_t cap, const char **why)
{
    size_t o = 0, len = in ? strlen(in) : 0;
    const char *at = in ? strchr(in, '@') : NULL;
    if (at && strcmp(at, "@s.whatsapp.net") && strcmp(at, "@c.us")) {
        *why = "not a phone number or phone-number JID";
        return -1;
    }
    if (at) len = (size_t)(at - in);
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (ch >= '0' && ch <= '9') {
            if (o + 1 >= cap || o >= 20) {
                *why = "too many digits (at most 20)";
                return -1;
            }
            out[o++] = ch;
        } else if (!(ch == ' ' || ch == '-' || ch == '(' || ch == ')' || ch == '.' || (ch == '+' && o == 0))) {
            *why = "a phone number has digits with the country code, and only spaces + - ( ) . besides";
            return -1;
        }
    }
    out[o] = 0;
    if (o < 5) {
        *why = "too few digits (at least 5, with the country code)";
        return -1;
    }
    if (out[0] == '0') {
        *why = "starts with 0: give the number with its country code";
        return -1;
    }
    return 0;
}

int ct_user_jid(ct_state *st, const char *in, char *out, size_t cap)
{
    if (!in || !*in || st->api->jid_normalize(in, out, cap) != MIAW_OK) return -1;
    const char *at = strchr(out, '@');
    if (!at || (strcmp(at, "@s.whatsapp.net") && strcmp(at, "@lid"))) return -1;
    char *colon = strchr(out, ':'); /* a device JID names its user */
    if (colon && colon < at) memmove(colon, at, strlen(at) + 1);
    return 0;
}

void ct_reply_iq_error(ct_state *st, miaw_req *req, int status, const json_t *reply, const char *detail,
                       const char *what)
{
    const json_t *e = miaw_jnode_child(reply, "error");
    const char *code = e ? miaw_jnode_attr(e, "code") : NULL;
    if (status == MIAW_E_IO && code && !strcmp(code, "404"))
        st->api->reply_status(req, MIAW_E_NOTFOUND, NULL, "%s: not found", what);
    else if (status == MIAW_E_IO && code && (!strcmp(code, "401") || !strcmp(code, "403")))
        st->api->reply_error(req, 403, "FORBIDDEN", "%s: not allowed (%s)", what, detail ? detail : code);
    else if (status == MIAW_E_IO && code && (!strcmp(code, "400") || !strcmp(code, "406")))
        st->api->reply_status(req, MIAW_E_INVAL, NULL, "%s: WhatsApp refused it (%s)", what, detail ? detail : code);
    else st->api->reply_status(req, status, NULL, "%s: %s", what, detail ? detail : "failed");
}
