/* core/wa/proto_json.c - protobuf-c messages <-> protobufjs-shaped JSON through the
 * descriptors (see proto_json.h): the writer, the validating reader with JSON-path
 * errors, the wire depth check in front of protobuf-c's unpack, and the table of named
 * message types. Owns only the scratch memory of one call; results belong to the caller. */
#include "proto_json.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "miaw/status.h"
#include "wa_adv.pb-c.h"
#include "wa_client_payload.pb-c.h"
#include "wa_device_props.pb-c.h"
#include "wa_handshake.pb-c.h"
#include "wa_message.pb-c.h"
#include "wa_syncd.pb-c.h"

/* ------------------------------------------------------------------ type names */

static const struct {
    const char *name;
    const ProtobufCMessageDescriptor *d;
} TYPES[] = {
    {"HandshakeMessage", &miaw__wa__handshake_message__descriptor},
    {"CertChain", &miaw__wa__cert_chain__descriptor},
    {"CertChain.NoiseCertificate.Details", &miaw__wa__cert_chain__noise_certificate__details__descriptor},
    {"ClientPayload", &miaw__wa__client_payload__descriptor},
    {"DeviceProps", &miaw__wa__device_props__descriptor},
    {"ADVSignedDeviceIdentityHMAC", &miaw__wa__advsigned_device_identity_hmac__descriptor},
    {"ADVSignedDeviceIdentity", &miaw__wa__advsigned_device_identity__descriptor},
    {"ADVDeviceIdentity", &miaw__wa__advdevice_identity__descriptor},
    {"ADVKeyIndexList", &miaw__wa__advkey_index_list__descriptor},
    {"ADVSignedKeyIndexList", &miaw__wa__advsigned_key_index_list__descriptor},
    {"ClientPairingProps", &miaw__wa__client_pairing_props__descriptor},
    {"Message", &miaw__wa__message__descriptor},
    {"MessageKey", &miaw__wa__message_key__descriptor},
    {"ContextInfo", &miaw__wa__context_info__descriptor},
    {"MessageContextInfo", &miaw__wa__message_context_info__descriptor},
    {"DeviceListMetadata", &miaw__wa__device_list_metadata__descriptor},
    {"SyncActionValue", &miaw__wa__sync_action_value__descriptor},
    {"SyncActionData", &miaw__wa__sync_action_data__descriptor},
    {"SyncdPatch", &miaw__wa__syncd_patch__descriptor},
    {"SyncdSnapshot", &miaw__wa__syncd_snapshot__descriptor},
    {"SyncdMutations", &miaw__wa__syncd_mutations__descriptor},
    {"ExternalBlobReference", &miaw__wa__external_blob_reference__descriptor},
};
#define NTYPES (sizeof TYPES / sizeof TYPES[0])

const char *miaw_pb_type_name(size_t i)
{
    return i < NTYPES ? TYPES[i].name : NULL;
}

/* d's full name is q, or q is d's name without its package. */
static int name_is(const ProtobufCMessageDescriptor *d, const char *q)
{
    if (!strcmp(d->name, q)) return 1;
    size_t pl = d->package_name ? strlen(d->package_name) : 0;
    return pl && !strncmp(d->name, d->package_name, pl) && d->name[pl] == '.' && !strcmp(d->name + pl + 1, q);
}

#define SEEN_MAX 512

/* Depth-first through the message fields of d (each type once). */
static const ProtobufCMessageDescriptor *find_type(const ProtobufCMessageDescriptor *d, const char *q,
                                                   const ProtobufCMessageDescriptor **seen, size_t *nseen)
{
    if (name_is(d, q)) return d;
    for (size_t i = 0; i < *nseen; i++)
        if (seen[i] == d) return NULL;
    if (*nseen == SEEN_MAX) return NULL;
    seen[(*nseen)++] = d;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        const ProtobufCMessageDescriptor *r = find_type(f->descriptor, q, seen, nseen);
        if (r) return r;
    }
    return NULL;
}

const ProtobufCMessageDescriptor *miaw_pb_type(const char *name)
{
    if (!name || !*name) return NULL;
    for (size_t i = 0; i < NTYPES; i++)
        if (!strcmp(TYPES[i].name, name)) return TYPES[i].d;
    const ProtobufCMessageDescriptor *seen[SEEN_MAX];
    size_t nseen = 0;
    for (size_t i = 0; i < NTYPES; i++) {
        const ProtobufCMessageDescriptor *r = find_type(TYPES[i].d, name, seen, &nseen);
        if (r) return r;
    }
    return NULL;
}

/* ------------------------------------------------------------------ UTF-8, base64 */

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 when it is not one. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) return 0;
    return len;
}

/* A JSON string of s, each byte of a malformed UTF-8 sequence replaced by U+FFFD. */
static json_t *str_lossy(const char *s)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t n = strlen(s), i = 0, k;
    while (i < n && (k = utf8_seq(u + i, n - i))) i += k;
    if (i == n) return json_stringn_nocheck(s, n);
    if (n > (SIZE_MAX - 1) / 3) return NULL;
    char *b = malloc(3 * n + 1), *p = b;
    if (!b) return NULL;
    for (i = 0; i < n; i += k) {
        k = utf8_seq(u + i, n - i);
        if (k) {
            memcpy(p, u + i, k);
            p += k;
        } else {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
            k = 1;
        }
    }
    json_t *j = json_stringn_nocheck(b, (size_t)(p - b));
    free(b);
    return j;
}

static json_t *b64_json(const uint8_t *d, size_t n)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n > SIZE_MAX / 2) return NULL;
    char *o = malloc((n + 2) / 3 * 4 + 1), *p = o;
    if (!o) return NULL;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *p++ = A[v >> 18];
        *p++ = A[v >> 12 & 63];
        *p++ = A[v >> 6 & 63];
        *p++ = A[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
        *p++ = A[v >> 18];
        *p++ = A[v >> 12 & 63];
        *p++ = i + 1 < n ? A[v >> 6 & 63] : '=';
        *p++ = '=';
    }
    json_t *j = json_stringn_nocheck(o, (size_t)(p - o));
    free(o);
    return j;
}

static int b64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

/* Decode base64 (standard or URL-safe digits, padding optional but correct when given).
 * 0 with *out malloc'd (never NULL) and *out_len set; MIAW_E_INVAL or MIAW_E_NOMEM. */
static int b64_decode(const char *s, size_t n, uint8_t **out, size_t *out_len)
{
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (n % 4 == 1 || (pad && (n % 4 == 0 || n % 4 + pad != 4))) return MIAW_E_INVAL;
    size_t olen = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    uint8_t *b = malloc(olen ? olen : 1), *p = b;
    if (!b) return MIAW_E_NOMEM;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_digit((unsigned char)s[i]);
        if (v < 0) {
            free(b);
            return MIAW_E_INVAL;
        }
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *p++ = (uint8_t)(acc >> bits);
        }
    }
    *out = b;
    *out_len = (size_t)(p - b);
    return MIAW_OK;
}

/* ------------------------------------------------------------------ layout */

/* Bytes one element of a repeated field of type t takes (protobuf-c's C layout). */
static size_t elt_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default: /* the 32-bit integers and enums */
        return sizeof(uint32_t);
    }
}

#define MEMBER(m, off) ((char *)(m) + (off))
#define CMEMBER(m, off) ((const char *)(m) + (off))

/* Whether a non-repeated field is set, the way protobuf-c's packer decides it. */
static int field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const void *p = CMEMBER(m, f->offset);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)CMEMBER(m, f->quantifier_offset) == f->id;
    if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
        const void *ptr = *(const void *const *)p;
        if (!ptr || (f->label != PROTOBUF_C_LABEL_REQUIRED && ptr == f->default_value)) return 0;
        if (f->label == PROTOBUF_C_LABEL_NONE && f->type == PROTOBUF_C_TYPE_STRING) return *(const char *)ptr != 0;
        return 1;
    }
    if (f->label == PROTOBUF_C_LABEL_REQUIRED) return 1;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) return *(const protobuf_c_boolean *)CMEMBER(m, f->quantifier_offset);
    /* proto3 without presence: set when not zero */
    if (f->type == PROTOBUF_C_TYPE_BYTES) return ((const ProtobufCBinaryData *)p)->len != 0;
    static const uint8_t zero[8];
    return memcmp(p, zero, elt_size(f->type)) != 0;
}

/* ------------------------------------------------------------------ message -> JSON */

static json_t *msg_json(const ProtobufCMessage *m, int depth);

static json_t *num_json(double v)
{
    if (isnan(v)) return json_string("NaN");
    if (isinf(v)) return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static json_t *value_json(const ProtobufCFieldDescriptor *f, const void *p, int depth)
{
    char buf[32];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)p);
        return json_string(buf);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)p);
        return json_string(buf);
    case PROTOBUF_C_TYPE_FLOAT:
        return num_json(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return num_json(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        return str_lossy(s ? s : "");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        return b64_json(b->data, b->data ? b->len : 0);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
        return sub ? msg_json(sub, depth + 1) : json_object();
    }
    }
    return NULL;
}

static json_t *msg_json(const ProtobufCMessage *m, int depth)
{
    if (depth > MIAW_PB_JSON_MAX_DEPTH) return NULL;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    json_t *o = json_object();
    if (!o) return NULL;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        json_t *v;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)CMEMBER(m, f->quantifier_offset), sz = elt_size(f->type);
            const char *arr = *(const char *const *)CMEMBER(m, f->offset);
            if (!n || !arr) continue;
            if (!(v = json_array())) goto fail;
            for (size_t k = 0; k < n; k++) {
                if (json_array_append_new(v, value_json(f, arr + k * sz, depth))) {
                    json_decref(v);
                    goto fail;
                }
            }
        } else if (field_present(m, f)) {
            if (!(v = value_json(f, CMEMBER(m, f->offset), depth))) goto fail;
        } else {
            continue;
        }
        if (json_object_set_new_nocheck(o, f->name, v)) goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

json_t *miaw_pb_to_json(const ProtobufCMessage *m)
{
    return m ? msg_json(m, 0) : NULL;
}

/* ------------------------------------------------------------------ JSON -> message */

typedef struct {
    char *err;
    size_t errlen;
    size_t len;     /* of path */
    char path[512]; /* JSON path of the value being read ("" = the root) */
} pctx;

/* Append ".key" ("key" at the root) or "[i]"; returns the old length for path_pop. A
 * path too long for the buffer is cut. */
static size_t path_push(pctx *c, const char *key, size_t idx)
{
    size_t old = c->len;
    int w;
    if (key)
        w = snprintf(c->path + c->len, sizeof c->path - c->len, "%s%s", c->len ? "." : "", key);
    else
        w = snprintf(c->path + c->len, sizeof c->path - c->len, "[%zu]", idx);
    if (w > 0) c->len += (size_t)w;
    if (c->len >= sizeof c->path) c->len = sizeof c->path - 1;
    return old;
}

static void path_pop(pctx *c, size_t old)
{
    c->len = old;
    c->path[old] = '\0';
}

__attribute__((format(printf, 2, 3))) static int fail(pctx *c, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int w = snprintf(c->err, c->errlen, "%s: ", c->len ? c->path : "(root)");
        if (w >= 0 && (size_t)w < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + w, c->errlen - (size_t)w, fmt, ap);
            va_end(ap);
        }
    }
    return MIAW_E_INVAL;
}

static int nomem(pctx *c)
{
    if (c->err && c->errlen) snprintf(c->err, c->errlen, "out of memory");
    return MIAW_E_NOMEM;
}

/* Strict decimal: optional '-' (signed only), 1..20 digits, nothing else. */
static int parse_dec(const char *s, size_t n, int is_signed, uint64_t *mag, int *neg)
{
    *neg = 0;
    if (n && s[0] == '-' && is_signed) {
        *neg = 1;
        s++;
        n--;
    }
    if (n == 0 || n > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *mag = v;
    return 0;
}

static int get_i64(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    uint64_t mag;
    int neg;
    if (!json_is_string(v) || parse_dec(json_string_value(v), json_string_length(v), 1, &mag, &neg)) return -1;
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX) return -1;
    *out = !neg ? (int64_t)mag : mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    return 0;
}

static int get_u64(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) return -1;
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    int neg;
    if (!json_is_string(v) || parse_dec(json_string_value(v), json_string_length(v), 0, out, &neg)) return -1;
    return 0;
}

/* A JSON number, or "NaN" / "Infinity" / "-Infinity". */
static int get_double(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s) return -1;
    if (!strcmp(s, "NaN")) *out = NAN;
    else if (!strcmp(s, "Infinity")) *out = INFINITY;
    else if (!strcmp(s, "-Infinity")) *out = -INFINITY;
    else return -1;
    return 0;
}

static int msg_from(pctx *c, const ProtobufCMessageDescriptor *d, const json_t *j, ProtobufCMessage **out,
                    int depth);

/* Read one value of field f into p (a member, or an element of a repeated member). */
static int value_from(pctx *c, const ProtobufCFieldDescriptor *f, const json_t *v, void *p, int depth)
{
    json_int_t i;
    int64_t s64;
    uint64_t u64;
    double dv;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (!json_is_integer(v) || (i = json_integer_value(v)) < INT32_MIN || i > INT32_MAX)
            return fail(c, "expected a 32-bit integer");
        *(int32_t *)p = (int32_t)i;
        return MIAW_OK;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (!json_is_integer(v) || (i = json_integer_value(v)) < 0 || i > UINT32_MAX)
            return fail(c, "expected an unsigned 32-bit integer");
        *(uint32_t *)p = (uint32_t)i;
        return MIAW_OK;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        if (json_is_integer(v)) {
            if ((i = json_integer_value(v)) < INT32_MIN || i > INT32_MAX)
                return fail(c, "enum value out of the 32-bit range");
            *(int32_t *)p = (int32_t)i;
            return MIAW_OK;
        }
        if (!json_is_string(v)) return fail(c, "expected an enum number or value name (%s)", ed->name);
        const char *s = json_string_value(v);
        const ProtobufCEnumValue *ev =
            strlen(s) == json_string_length(v) ? protobuf_c_enum_descriptor_get_value_by_name(ed, s) : NULL;
        if (!ev) return fail(c, "\"%.64s\" is not a value of enum %s", s, ed->name);
        *(int32_t *)p = ev->value;
        return MIAW_OK;
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (get_i64(v, &s64)) return fail(c, "expected a 64-bit integer (a decimal string or a JSON integer)");
        *(int64_t *)p = s64;
        return MIAW_OK;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (get_u64(v, &u64))
            return fail(c, "expected an unsigned 64-bit integer (a decimal string or a JSON integer)");
        *(uint64_t *)p = u64;
        return MIAW_OK;
    case PROTOBUF_C_TYPE_FLOAT:
        if (get_double(v, &dv)) return fail(c, "expected a number");
        if (isfinite(dv) && fabs(dv) > FLT_MAX) return fail(c, "out of range for a float");
        *(float *)p = (float)dv;
        return MIAW_OK;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (get_double(v, &dv)) return fail(c, "expected a number");
        *(double *)p = dv;
        return MIAW_OK;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v)) return fail(c, "expected true or false");
        *(protobuf_c_boolean *)p = json_is_true(v);
        return MIAW_OK;
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v)) return fail(c, "expected a string");
        size_t n = json_string_length(v);
        if (memchr(json_string_value(v), 0, n)) return fail(c, "contains a NUL character");
        char *s = malloc(n + 1);
        if (!s) return nomem(c);
        memcpy(s, json_string_value(v), n + 1);
        *(char **)p = s;
        return MIAW_OK;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(v)) return fail(c, "expected a base64 string");
        uint8_t *b;
        size_t n;
        int rc = b64_decode(json_string_value(v), json_string_length(v), &b, &n);
        if (rc == MIAW_E_INVAL) return fail(c, "not valid base64");
        if (rc) return nomem(c);
        ((ProtobufCBinaryData *)p)->data = b;
        ((ProtobufCBinaryData *)p)->len = n;
        return MIAW_OK;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return msg_from(c, f->descriptor, v, (ProtobufCMessage **)p, depth + 1);
    }
    return fail(c, "field type not supported");
}

static int repeated_from(pctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const json_t *v,
                         int depth)
{
    if (!json_is_array(v)) return fail(c, "expected an array");
    size_t n = json_array_size(v), sz = elt_size(f->type);
    if (!n) return MIAW_OK;
    size_t *count = (size_t *)MEMBER(m, f->quantifier_offset);
    char **arr = (char **)MEMBER(m, f->offset);
    if (*arr) return fail(c, "set twice"); /* not reachable from a JSON object */
    if (!(*arr = calloc(n, sz))) return nomem(c);
    for (size_t k = 0; k < n; k++) {
        size_t old = path_push(c, NULL, k);
        const json_t *e = json_array_get(v, k);
        int rc = json_is_null(e) ? fail(c, "null in an array") : value_from(c, f, e, *arr + k * sz, depth);
        path_pop(c, old);
        if (rc) return rc;
        *count = k + 1; /* the message frees what is counted */
    }
    return MIAW_OK;
}

static int field_from(pctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, const json_t *v, int depth)
{
    if (f->label == PROTOBUF_C_LABEL_REPEATED) return repeated_from(c, m, f, v, depth);
    uint32_t *qcase = (uint32_t *)MEMBER(m, f->quantifier_offset);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF && *qcase && *qcase != f->id) {
        const ProtobufCFieldDescriptor *o = protobuf_c_message_descriptor_get_field(m->descriptor, *qcase);
        return fail(c, "only one field of a oneof may be set (%s is)", o ? o->name : "another");
    }
    int rc = value_from(c, f, v, MEMBER(m, f->offset), depth);
    if (rc) return rc;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        *qcase = f->id;
    else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
             f->type != PROTOBUF_C_TYPE_STRING)
        *(protobuf_c_boolean *)MEMBER(m, f->quantifier_offset) = 1;
    return MIAW_OK;
}

/* Build *out (a new message of type d) from j. On failure *out is NULL and whatever was
 * built is freed. */
static int msg_from(pctx *c, const ProtobufCMessageDescriptor *d, const json_t *j, ProtobufCMessage **out,
                    int depth)
{
    *out = NULL;
    if (!json_is_object(j)) return fail(c, "expected an object (%s)", d->name);
    if (depth > MIAW_PB_JSON_MAX_DEPTH)
        return fail(c, "messages nested deeper than %d levels", MIAW_PB_JSON_MAX_DEPTH);
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    if (!m) return nomem(c);
    protobuf_c_message_init(d, m);
    int rc = MIAW_OK;
    for (void *it = json_object_iter((json_t *)j); it && !rc; it = json_object_iter_next((json_t *)j, it)) {
        const char *key = json_object_iter_key(it);
        const json_t *v = json_object_iter_value(it);
        const ProtobufCFieldDescriptor *f = strlen(key) == json_object_iter_key_len(it)
                                                ? protobuf_c_message_descriptor_get_field_by_name(d, key)
                                                : NULL;
        size_t old = path_push(c, key, 0);
        if (!f)
            rc = fail(c, "unknown field");
        else if (!json_is_null(v))
            rc = field_from(c, m, f, v, depth);
        path_pop(c, old);
    }
    for (unsigned i = 0; i < d->n_fields && !rc; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->label == PROTOBUF_C_LABEL_REQUIRED && !field_present(m, f)) {
            size_t old = path_push(c, f->name, 0);
            rc = fail(c, "missing (a required field)");
            path_pop(c, old);
        }
    }
    if (rc) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    *out = m;
    return MIAW_OK;
}

int miaw_pb_from_json(const ProtobufCMessageDescriptor *d, const json_t *j, ProtobufCMessage **out,
                      char *err, size_t errlen)
{
    pctx c = {.err = err, .errlen = errlen};
    if (err && errlen) err[0] = '\0';
    if (!out) return MIAW_E_INVAL;
    *out = NULL;
    if (!d) return fail(&c, "no message type");
    return msg_from(&c, d, j, out, 0);
}

int miaw_pb_json_encode(const ProtobufCMessageDescriptor *d, const json_t *j, uint8_t **out,
                        size_t *out_len, char *err, size_t errlen)
{
    if (!out || !out_len) return MIAW_E_INVAL;
    *out = NULL;
    *out_len = 0;
    ProtobufCMessage *m;
    int rc = miaw_pb_from_json(d, j, &m, err, errlen);
    if (rc) return rc;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    if (!b) {
        protobuf_c_message_free_unpacked(m, NULL);
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return MIAW_E_NOMEM;
    }
    *out_len = protobuf_c_message_pack(m, b);
    *out = b;
    protobuf_c_message_free_unpacked(m, NULL);
    return MIAW_OK;
}

/* ------------------------------------------------------------------ wire */

static int varint(const uint8_t *p, size_t len, size_t *i, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && *i < len; shift += 7) {
        uint8_t b = p[(*i)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* -1 when a message of type d in p[0..len) nests messages deeper than the limit; 0
 * otherwise. Malformed bytes end the scan of their level with 0: protobuf-c refuses
 * them anyway. Each byte is looked at once, the recursion is bounded by the limit. */
static int too_deep(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len, int depth)
{
    if (depth > MIAW_PB_JSON_MAX_DEPTH) return -1;
    size_t i = 0;
    uint64_t key, n;
    while (i < len) {
        if (varint(p, len, &i, &key)) return 0;
        switch (key & 7) {
        case 0:
            if (varint(p, len, &i, &n)) return 0;
            break;
        case 1:
            if (len - i < 8) return 0;
            i += 8;
            break;
        case 5:
            if (len - i < 4) return 0;
            i += 4;
            break;
        case 2: {
            if (varint(p, len, &i, &n) || n > len - i) return 0;
            const ProtobufCFieldDescriptor *f =
                (key >> 3) <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3)) : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE && too_deep(f->descriptor, p + i, (size_t)n, depth + 1))
                return -1;
            i += (size_t)n;
            break;
        }
        default: /* groups: protobuf-c does not take them */
            return 0;
        }
    }
    return 0;
}

ProtobufCMessage *miaw_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len)
{
    if (!d || (!buf && len)) return NULL;
    static const uint8_t empty[1];
    if (!buf) buf = empty;
    if (too_deep(d, buf, len, 0)) return NULL;
    return protobuf_c_message_unpack(d, NULL, len, buf);
}

json_t *miaw_pb_json_decode(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len)
{
    ProtobufCMessage *m = miaw_pb_unpack(d, buf, len);
    if (!m) return NULL;
    json_t *j = msg_json(m, 0);
    protobuf_c_message_free_unpacked(m, NULL);
    return j;
}
