/* tests/tools/proto_codec.c - converts miaw's protobuf messages between wire bytes and JSON
 * for the interop tests, generically through the protobuf-c descriptors.
 *   proto_codec decode TYPE   stdin: wire bytes  -> stdout: JSON
 *   proto_codec encode TYPE   stdin: JSON        -> stdout: wire bytes
 *   proto_codec types                            -> the known TYPE names
 * JSON shape = protobufjs toObject({longs: String, bytes: String, enums: Number}): field
 * names as in the .proto, 64-bit integers as decimal strings, bytes as base64. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <protobuf-c/protobuf-c.h>

#include "wa_adv.pb-c.h"
#include "wa_client_payload.pb-c.h"
#include "wa_device_props.pb-c.h"
#include "wa_handshake.pb-c.h"
#include "wa_message.pb-c.h"

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
};

/* ------------------------------------------------------------------ to JSON */

static json_t *b64(const ProtobufCBinaryData *b)
{
    char *o = malloc(4 * ((b->len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)o, b->data, (int)b->len);
    json_t *j = json_string(o);
    free(o);
    return j;
}

static json_t *msg_to_json(const ProtobufCMessage *m);

static json_t *value_to_json(const ProtobufCFieldDescriptor *f, const void *p)
{
    char buf[32];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_ENUM:
        return json_integer(*(const int *)p);
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
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_STRING:
        return json_string(*(char *const *)p);
    case PROTOBUF_C_TYPE_BYTES:
        return b64((const ProtobufCBinaryData *)p);
    case PROTOBUF_C_TYPE_MESSAGE:
        return msg_to_json(*(ProtobufCMessage *const *)p);
    }
    return json_null();
}

static size_t type_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    default:
        return 4;
    }
}

static json_t *msg_to_json(const ProtobufCMessage *m)
{
    json_t *o = json_object();
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m;
        const void *p = base + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            if (!n) continue;
            json_t *a = json_array();
            const char *arr = *(char *const *)p;
            for (size_t k = 0; k < n; k++) json_array_append_new(a, value_to_json(f, arr + k * type_size(f->type)));
            json_object_set_new(o, f->name, a);
            continue;
        }
        int present;
        if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING)
            present = *(void *const *)p != NULL;
        else
            present = *(const protobuf_c_boolean *)(base + f->quantifier_offset);
        if (present) json_object_set_new(o, f->name, value_to_json(f, p));
    }
    return o;
}

/* ------------------------------------------------------------------ from JSON */

static int msg_from_json(const ProtobufCMessageDescriptor *d, json_t *j, ProtobufCMessage **out);

static int64_t jint(json_t *v)
{
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    if (json_is_real(v)) return (int64_t)json_real_value(v);
    return json_integer_value(v);
}

static int value_from_json(const ProtobufCFieldDescriptor *f, json_t *v, void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *(int32_t *)p = (int32_t)jint(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        *(int *)p = (int)jint(v);
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *(uint32_t *)p = (uint32_t)jint(v);
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *(int64_t *)p = jint(v);
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(uint64_t *)p = json_is_string(v) ? strtoull(json_string_value(v), NULL, 10) : (uint64_t)jint(v);
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *)p = (float)json_number_value(v);
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)p = json_number_value(v);
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)p = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_STRING:
        if (!json_is_string(v)) return -1;
        *(char **)p = strdup(json_string_value(v));
        return 0;
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(v)) return -1;
        const char *s = json_string_value(v);
        size_t sl = strlen(s);
        ProtobufCBinaryData *b = p;
        b->data = malloc(sl / 4 * 3 + 3);
        int n = EVP_DecodeBlock(b->data, (const unsigned char *)s, (int)sl);
        if (n < 0) return -1;
        if (sl >= 1 && s[sl - 1] == '=') n--;
        if (sl >= 2 && s[sl - 2] == '=') n--;
        b->len = (size_t)n;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return msg_from_json(f->descriptor, v, (ProtobufCMessage **)p);
    }
    return -1;
}

static int msg_from_json(const ProtobufCMessageDescriptor *d, json_t *j, ProtobufCMessage **out)
{
    if (!json_is_object(j)) return -1;
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    d->message_init(m);
    *out = m;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (!f) {
            fprintf(stderr, "unknown field %s.%s\n", d->name, key);
            return -1;
        }
        if (json_is_null(v)) continue;
        char *base = (char *)m;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (!json_is_array(v)) return -1;
            size_t n = json_array_size(v), sz = type_size(f->type);
            char *arr = calloc(n ? n : 1, sz);
            *(char **)(base + f->offset) = arr;
            *(size_t *)(base + f->quantifier_offset) = n;
            for (size_t k = 0; k < n; k++)
                if (value_from_json(f, json_array_get(v, k), arr + k * sz)) return -1;
            continue;
        }
        if (value_from_json(f, v, base + f->offset)) return -1;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING)
            *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ main */

static uint8_t *slurp(size_t *len)
{
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    size_t r;
    while ((r = fread(b + n, 1, cap - n, stdin)) > 0) {
        n += r;
        if (n == cap) b = realloc(b, cap *= 2);
    }
    *len = n;
    return b;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "types")) {
        for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++) puts(TYPES[i].name);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: proto_codec decode|encode TYPE\n");
        return 2;
    }
    const ProtobufCMessageDescriptor *d = NULL;
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (!strcmp(TYPES[i].name, argv[2])) d = TYPES[i].d;
    if (!d) {
        fprintf(stderr, "unknown type %s\n", argv[2]);
        return 2;
    }
    size_t len;
    uint8_t *in = slurp(&len);
    int rc = 1;
    if (!strcmp(argv[1], "decode")) {
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, in);
        if (!m) {
            fprintf(stderr, "not a valid %s\n", argv[2]);
        } else {
            json_t *j = msg_to_json(m);
            char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
            puts(s);
            free(s);
            json_decref(j);
            protobuf_c_message_free_unpacked(m, NULL);
            rc = 0;
        }
    } else if (!strcmp(argv[1], "encode")) {
        json_error_t err;
        json_t *j = json_loadb((const char *)in, len, 0, &err);
        ProtobufCMessage *m = NULL;
        if (!j || msg_from_json(d, j, &m) != 0) {
            fprintf(stderr, "bad JSON for %s\n", argv[2]);
        } else {
            size_t n = protobuf_c_message_get_packed_size(m);
            uint8_t *o = malloc(n ? n : 1);
            protobuf_c_message_pack(m, o);
            fwrite(o, 1, n, stdout);
            free(o);
            rc = 0;
        }
        if (m) protobuf_c_message_free_unpacked(m, NULL);
        json_decref(j);
    }
    free(in);
    return rc;
}
