/* core/wa/proto_json.h - protobuf-c messages <-> JSON, generically through the protobuf-c
 * descriptors (any message of the .proto files in proto/), in the shape plugins see
 * through the plugin ABI; plus a depth-bounded unpack and the lookup of message types by
 * name. Owns no state: every result belongs to the caller.
 *
 * JSON shape = protobufjs toObject(m, {longs: String, bytes: String, enums: Number}):
 *   keys        the field names exactly as in the .proto (camelCase); unset optional
 *               fields and empty repeated fields are left out
 *   int32, sint32, sfixed32, uint32, fixed32          JSON integers
 *   int64, sint64, sfixed64, uint64, fixed64          decimal strings ("18446744073709551615")
 *   float, double   JSON numbers; NaN and the infinities as "NaN", "Infinity", "-Infinity"
 *   bool            true / false
 *   string          JSON strings (a wire string that is not valid UTF-8 has each bad byte
 *                   replaced by U+FFFD, as protobufjs does; a NUL ends it)
 *   bytes           standard base64 with padding
 *   enum            the number (unknown numbers kept as they are)
 *   repeated        arrays;  message: objects
 * Input (from_json / json_encode) takes the same shape and also: 64-bit integers as JSON
 * integers, enums by value name ("REVOKE"), base64 without padding or in the URL-safe
 * alphabet, null for "not set". It refuses, with the JSON path of the value in err
 * ("extendedTextMessage.contextInfo.stanzaIdd: unknown field",
 * "imageMessage.width: expected an unsigned 32-bit integer"): unknown keys, values of the
 * wrong type, numbers out of the field's range (32-bit fields take JSON integers only),
 * strings holding NUL characters, unknown enum names, two members of one oneof, missing
 * required fields, nesting deeper than MIAW_PB_JSON_MAX_DEPTH.
 * Fields unknown to our .proto subset that wire bytes carry (protobuf-c keeps them in
 * unknown_fields) are dropped on output: JSON -> bytes never re-creates them.
 * Depth: the root message is level 0; a message nested deeper than
 * MIAW_PB_JSON_MAX_DEPTH levels is refused by every function here. */
#ifndef MIAW_WA_PROTO_JSON_H
#define MIAW_WA_PROTO_JSON_H
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#define MIAW_PB_JSON_MAX_DEPTH 32

/* The JSON form of m (a new reference, json_decref it), or NULL when memory runs out or
 * m nests messages deeper than MIAW_PB_JSON_MAX_DEPTH. m stays the caller's. */
json_t *miaw_pb_to_json(const ProtobufCMessage *m);

/* A new message of type d built from j (not changed, stays the caller's). MIAW_OK with
 * *out set (free with protobuf_c_message_free_unpacked(*out, NULL)); MIAW_E_INVAL with
 * *out NULL and the JSON path of the fault in err (when err != NULL and errlen > 0,
 * always NUL-terminated); MIAW_E_NOMEM. */
int miaw_pb_from_json(const ProtobufCMessageDescriptor *d, const json_t *j, ProtobufCMessage **out,
                      char *err, size_t errlen);

/* JSON -> wire bytes of type d: *out malloc'd (the caller frees; non-NULL even when
 * *out_len is 0), *out_len its length. Same results as miaw_pb_from_json. */
int miaw_pb_json_encode(const ProtobufCMessageDescriptor *d, const json_t *j, uint8_t **out,
                        size_t *out_len, char *err, size_t errlen);

/* Wire bytes -> JSON (a new reference), or NULL when buf is not a message of type d
 * (malformed, missing required fields, nested too deep) or memory runs out. */
json_t *miaw_pb_json_decode(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len);

/* protobuf_c_message_unpack(d, NULL, len, buf) that first refuses bytes nesting messages
 * deeper than MIAW_PB_JSON_MAX_DEPTH (protobuf-c itself recurses without a bound). NULL or
 * a message to free with protobuf_c_message_free_unpacked(m, NULL). */
ProtobufCMessage *miaw_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len);

/* The descriptor of a message type by its name without the package: "Message",
 * "MessageKey", "ContextInfo", "MessageContextInfo", "DeviceListMetadata",
 * "HandshakeMessage", "CertChain", "ClientPayload", "DeviceProps",
 * "ADVSignedDeviceIdentity", ... and nested types reachable from those through their
 * fields ("Message.ExtendedTextMessage", "CertChain.NoiseCertificate.Details"). The full
 * name ("miaw.wa.Message") works too. NULL when unknown. Static data: never freed. */
const ProtobufCMessageDescriptor *miaw_pb_type(const char *name);

/* The i-th name of miaw_pb_type's own table (the names above, static strings; nested
 * types found through fields are not listed), NULL past the end:
 * for (i = 0; (s = miaw_pb_type_name(i)); i++). */
const char *miaw_pb_type_name(size_t i);
#endif
