/* core/wa/msgcontent.h - the end-to-end payload of a message (the Message protobuf that
 * Signal encrypts): building text messages (conversation, or extendedText with a quoted
 * reply), the DeviceSentMessage wrapper for the sender's own devices, reading a received
 * payload into a flat summary and WhatsApp-style message ids (protocol facts 7.6, 8.2,
 * 13.3). Padding lives in wamsg.h. Pure functions, no state.
 *
 * Ownership: buffers returned through `uint8_t **out` are malloc'd (the caller frees);
 * a miaw_wa_content owns its strings (free with miaw_wa_content_clear). */
#ifndef MIAW_WA_MSGCONTENT_H
#define MIAW_WA_MSGCONTENT_H
#include <stddef.h>
#include <stdint.h>

/* Message id: "3EB0" + 18 uppercase hex digits (22 chars) from SHA-256 of the time, the
 * own user and randomness. buf must hold MIAW_WA_MSGID_MAX bytes. 0 or MIAW_E_*. */
#define MIAW_WA_MSGID_MAX 23
int miaw_wa_message_id(const char *own_user, uint64_t unix_s, char buf[MIAW_WA_MSGID_MAX]);

/* A quoted message for a reply (all fields optional except id). */
typedef struct miaw_wa_quote {
    const char *id;          /* stanzaId of the quoted message */
    const char *participant; /* its author's user JID */
    const char *text;        /* its text, shown in the reply bubble (NULL = none) */
} miaw_wa_quote;

/* Message{conversation} or, with a quote, Message{extendedTextMessage{text,
 * contextInfo{stanzaId, participant, quotedMessage{conversation}}}}, plus
 * messageContextInfo with a fresh 32-byte messageSecret. 0 or MIAW_E_*. */
int miaw_wa_text_message(const char *text, const miaw_wa_quote *quote, uint8_t **out, size_t *out_len);

/* Message{deviceSentMessage{destinationJid, message}} around a serialized Message
 * (the copy for the sender's own other devices), keeping its messageContextInfo at the
 * top level. 0, MIAW_E_INVAL (msg is not a Message) or MIAW_E_NOMEM. */
int miaw_wa_dsm_wrap(const char *destination_jid, const uint8_t *msg, size_t len, uint8_t **out,
                     size_t *out_len);

/* What a received payload says, flattened for events and storage. */
typedef enum {
    MIAW_WA_CONTENT_UNKNOWN = 0, /* no field this engine understands */
    MIAW_WA_CONTENT_TEXT,        /* conversation or extendedTextMessage */
    MIAW_WA_CONTENT_IMAGE,
    MIAW_WA_CONTENT_VIDEO,
    MIAW_WA_CONTENT_AUDIO,
    MIAW_WA_CONTENT_DOCUMENT,
    MIAW_WA_CONTENT_STICKER,
    MIAW_WA_CONTENT_CONTACT,
    MIAW_WA_CONTENT_LOCATION,
    MIAW_WA_CONTENT_REACTION,
    MIAW_WA_CONTENT_PROTOCOL,    /* protocolMessage (revoke, edit, key share, history...) */
    MIAW_WA_CONTENT_SKDM_ONLY,   /* only a sender-key distribution (no user content) */
} miaw_wa_content_type;

typedef struct miaw_wa_content {
    miaw_wa_content_type type;
    char *text;              /* text or caption, or NULL */
    char *quoted_id;         /* contextInfo.stanzaId, or NULL */
    char *quoted_participant;
    char *dsm_destination;   /* set when the payload was a DeviceSentMessage (unwrapped) */
    uint8_t *inner;          /* the (unwrapped) Message re-serialized, for storage */
    size_t inner_len;
} miaw_wa_content;

/* Parse a serialized Message (unpadded). 0, or MIAW_E_INVAL for bytes that are not a
 * Message (out is then cleared). Unwraps deviceSentMessage, ephemeral, viewOnce and
 * documentWithCaption wrappers. */
int miaw_wa_content_parse(const uint8_t *msg, size_t len, miaw_wa_content *out);
void miaw_wa_content_clear(miaw_wa_content *c);
/* "text", "image", ... "unknown" (static). */
const char *miaw_wa_content_type_name(miaw_wa_content_type t);
#endif
