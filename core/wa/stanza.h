/* core/wa/stanza.h - the nodes of 1:1 messaging that are not Signal: usync device-list
 * queries and their answers, pre-key bundle fetches, the outgoing <message> stanza with
 * <participants>, and the acks and receipts a client sends back (protocol facts 6.3, 7.2,
 * 7.5, 8.3, 8.4, 11.3). Pure builders and readers: no I/O, no state.
 *
 * Ownership: returned nodes are new roots owned by the caller (miaw_node_free); nodes
 * passed in are borrowed. Parsed values are copied into caller-provided structs. */
#ifndef MIAW_WA_STANZA_H
#define MIAW_WA_STANZA_H
#include <stddef.h>
#include <stdint.h>

#include "wa/jid.h"
#include "wa/node.h"

#define MIAW_WA_MAX_DEVICES 64 /* devices kept per user from a usync answer */

/* <iq xmlns="usync" type="get" to=s.whatsapp.net><usync sid mode="query" context="message"
 * last="true" index="0"><query><devices version="2"/><lid/></query><list><user jid/>...
 * for n user JIDs (device parts dropped). NULL on a bad JID or allocation failure. */
miaw_node *miaw_wa_usync_devices_iq(const miaw_jid *users, size_t n, const char *sid);

typedef struct miaw_wa_usync_user {
    miaw_jid user;                          /* as answered, device 0, no device part */
    uint16_t devices[MIAW_WA_MAX_DEVICES];  /* device ids, 0 = the primary */
    size_t ndevices;
    char lid[MIAW_JID_STR_MAX];             /* "<lid>@lid" or "" */
} miaw_wa_usync_user;

/* Read the users of a usync result into out (at most max). Users without a parsable JID
 * are skipped; device ids above 255 are skipped. Returns the count, or MIAW_E_INVAL when
 * the answer is an error or has no usync/list. */
int miaw_wa_usync_devices_parse(const miaw_node *reply, miaw_wa_usync_user *out, size_t max);

/* <iq xmlns="encrypt" type="get" to=s.whatsapp.net><key><user jid reason="identity"/>...
 * for n device JIDs. NULL on allocation failure. */
miaw_node *miaw_wa_prekey_fetch_iq(const miaw_jid *devices, size_t n);

/* The enc of one device in an outgoing message. */
typedef struct miaw_wa_enc {
    miaw_jid to;           /* device JID */
    const char *type;      /* "pkmsg" or "msg" */
    const uint8_t *ct;     /* ciphertext (borrowed) */
    size_t ct_len;
} miaw_wa_enc;

/* <message id to=chat type><participants><to jid><enc v="2" type>ct</enc></to>...
 * </participants>[<device-identity>adv</device-identity>]</message>. device-identity is
 * added when adv is given and some enc is a pkmsg. NULL on failure. */
miaw_node *miaw_wa_message_stanza(const char *id, const miaw_jid *chat, const char *type, const miaw_wa_enc *encs,
                                  size_t n, const uint8_t *adv, size_t adv_len);

/* <ack class id to=<from> [participant] [recipient] [type] [error]> for a received
 * message/receipt/notification. type: copied when the stanza has one and cls is not
 * "message". error: NULL or a code. NULL on failure (no id/from). */
miaw_node *miaw_wa_ack_for(const miaw_node *stanza, const char *cls, const char *error);

/* <receipt id to=<from> [participant] [recipient] [type]> for a received message;
 * type NULL = delivered. NULL on failure. */
miaw_node *miaw_wa_receipt_for(const miaw_node *msg, const char *type);

/* Retry receipt for an undecryptable message (8.4): <receipt id to [participant]
 * [recipient] type="retry"><retry count id t v="1"/><registration>reg_id BE4</registration>
 * [keys]</receipt>. keys (optional) is copied in. NULL on failure. */
miaw_node *miaw_wa_retry_receipt(const miaw_node *msg, unsigned count, uint32_t reg_id, const miaw_node *keys);
#endif
