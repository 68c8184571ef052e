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
    /* protocol messages and reactions: the message they are about */
    int proto_type;          /* protocolMessage.type (MIAW_WA_PROTO_*), -1 for other kinds */
    char *target_id;         /* key.id of the protocolMessage / reactionMessage, or NULL */
    char *target_chat;       /* key.remoteJid (as the sender saw it), or NULL */
    char *target_participant; /* key.participant, or NULL */
    int target_from_me;      /* key.fromMe (from the sender's point of view) */
    uint8_t *edited;         /* MESSAGE_EDIT: editedMessage re-serialized (text: its text) */
    size_t edited_len;
    int64_t edit_ts_ms;      /* protocolMessage.timestampMs, 0 when absent */
} miaw_wa_content;

/* protocolMessage.type values the engine acts on (WAProto numbers) */
#define MIAW_WA_PROTO_REVOKE 0
#define MIAW_WA_PROTO_MESSAGE_EDIT 14

/* Parse a serialized Message (unpadded). 0, or MIAW_E_INVAL for bytes that are not a
 * Message (out is then cleared). Unwraps deviceSentMessage, ephemeral, viewOnce,
 * documentWithCaption and edited (whatsmeow's edit) wrappers. contactMessage and
 * contactsArrayMessage are both MIAW_WA_CONTENT_CONTACT (text: the display name). */
int miaw_wa_content_parse(const uint8_t *msg, size_t len, miaw_wa_content *out);
void miaw_wa_content_clear(miaw_wa_content *c);
/* The stored message orig (serialized Message; may be empty) after an edit whose
 * editedMessage is `edited`: the edited content kind's fields replace the original's
 * (a caption or text changes, media keys, the quote and mentions stay); a text edit of
 * a media message replaces its caption; another kind replaces the content. The
 * messageContextInfo of orig stays. *out malloc'd. 0, MIAW_E_INVAL (not Messages),
 * MIAW_E_NOMEM. */
int miaw_wa_apply_edit(const uint8_t *orig, size_t orig_len, const uint8_t *edited, size_t edited_len, uint8_t **out,
                       size_t *out_len);

/* The `mediatype` attribute WhatsApp puts on the <enc> of a message carrying media
 * (facts 7.5): "image", "video", "gif", "ptt", "audio", "document", "sticker", "vcard",
 * "url" (a text with a link preview), looking through the view-once / ephemeral /
 * document-with-caption wrappers; NULL for anything else or bytes that are not a
 * Message. Static strings. */
const char *miaw_wa_enc_mediatype(const uint8_t *msg, size_t len);

/* "text", "image", ... "unknown" (static). */
const char *miaw_wa_content_type_name(miaw_wa_content_type t);
#endif
