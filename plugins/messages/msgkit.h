/* plugins/messages/msgkit.h - pure helpers of the message actions and kinds (actions.c,
 * kinds.c, events.c): vCard 3.0 text, phone digits, the reaction emoji check, the
 * forwarded copy of a stored message, mentions, receipt types, and the webhook events
 * derived from the core's `message` event. jansson and libc only, no plugin API and no
 * state, so unit tests compile msgkit.c directly.
 * Ownership: char * and json_t * results are new (free / json_decref); arguments are
 * borrowed. */
#ifndef MIAW_PLUGIN_MSGKIT_H
#define MIAW_PLUGIN_MSGKIT_H
#include <jansson.h>
#include <stddef.h>

#define MK_PHONE_MAX 21 /* 20 digits + NUL */

/* The digits of a phone number written with its country code ("+1 (555) 123-4567"):
 * spaces, + - ( ) . allowed; 5-20 digits, no leading zero. 0, or -1. */
int mk_phone_digits(const char *in, char out[MK_PHONE_MAX]);

/* One contact of a card: name required, phone (as for mk_phone_digits) required, org
 * and email optional (NULL). */
typedef struct mk_contact {
    const char *name, *phone, *org, *email;
} mk_contact;

/* A vCard 3.0 (RFC 2426) for c: BEGIN, VERSION, N (the name split at its last space
 * into given and family names), FN, ORG, EMAIL;type=INTERNET, TEL;type=CELL;type=VOICE;
 * waid=<digits>:+<digits> (how WhatsApp links a card to an account), END. Lines end
 * with CRLF, text values escape \ , ; and line breaks, lines are folded at 75 octets
 * (never inside a UTF-8 sequence). malloc'd; NULL for a bad phone, an empty name or no
 * memory. */
char *mk_vcard(const mk_contact *c);

/* 1 when s may be sent as a reaction: "" (removes one), or one emoji (sequence): at
 * most 64 bytes of emoji code points (pictographs, symbols, regional indicators, ZWJ,
 * variation selectors, skin tones, tags, keycaps of 0-9 # *), no letters or spaces. */
int mk_is_emoji(const char *s);

/* The Message JSON that forwards the stored message m (msg_get's "message"): the
 * content kind's object with contextInfo {isForwarded: true, forwardingScore: previous
 * + 1} instead of any reply or mention context (a conversation becomes an
 * extendedTextMessage), without messageContextInfo (the sender adds a fresh secret).
 * *stanza_type "text" or "media". New reference, or NULL with *why: nothing that can be
 * forwarded (reactions, protocol messages, view-once media, unknown kinds). */
json_t *mk_forward(const json_t *m, const char **stanza_type, const char **why);

/* Adds contextInfo.mentionedJid = jids (an array of user JIDs, borrowed) to a text
 * Message JSON msg (conversation becomes extendedTextMessage). 0, or -1 when msg holds
 * no text. */
int mk_add_mentions(json_t *msg, const json_t *jids);

/* The message_ack status of a <receipt type>: NULL/absent and "inactive" -> "delivery",
 * "read", "read-self" -> "read", "played", "played-self" -> "played"; NULL for the
 * others (retry, sender, peer_msg, hist_sync, server-error, ...). */
const char *mk_receipt_status(const char *type);
/* The rank of an ack status ("server" 1, "delivery" 2, "read" 3, "played" 4; 0 unknown). */
int mk_ack_rank(const char *status);

/* The action event carried by the data of a core `message` event (its raw Message):
 * message_reaction {messageId, chat, from, fromMe, isGroup, emoji, reactionId,
 * timestamp}, message_delete {messageId, chat, from, fromMe, isGroup, participant,
 * protocolMessageId, timestamp} or message_edit {messageId, chat, from, fromMe, isGroup,
 * text, message, editedAt, protocolMessageId}. *type names it. New reference, or NULL
 * when the message is none of these. */
json_t *mk_action_event(const json_t *data, const char **type);

/* The user-JID part of a JID string ("15551234567:3@s.whatsapp.net" ->
 * "15551234567@s.whatsapp.net") into out; 0, or -1 when it does not fit / is not a JID. */
int mk_user_jid(const char *jid, char *out, size_t cap);
#endif
