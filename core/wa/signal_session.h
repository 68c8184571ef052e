/* core/wa/signal_session.h - 1:1 Signal sessions per device address: building a session
 * from a fetched pre-key bundle (X3DH), encrypting to pkmsg/msg, decrypting both, with
 * failures mapped to MIAW_SIG_E_* codes (signal_store.h) the engine turns into retry
 * receipts. Owns nothing beyond each call.
 *
 * Addresses (protocol facts 7.3, Appendix A; local storage keys, never on the wire):
 * name = the JID's user, or "<user>_<domain>" when the JID's domain type is not 0
 * (LIDs: "<lid>_1", hosted: "_128", hosted LID: "_129"); device id = the JID's device
 * (0 when absent). Baileys' string form of an address is "<name>.<device>". */
#ifndef MIAW_WA_SIGNAL_SESSION_H
#define MIAW_WA_SIGNAL_SESSION_H
#include <stddef.h>
#include <stdint.h>

#include "wa/jid.h"
#include "wa/signal_keys.h"
#include "wa/signal_store.h"

typedef struct miaw_sig_addr {
    char name[MIAW_JID_USER_MAX + 8];
    int32_t device;
} miaw_sig_addr;

/* The <enc type> of a ciphertext. */
typedef enum {
    MIAW_SIG_PKMSG = 1, /* PreKeySignalMessage ("pkmsg") */
    MIAW_SIG_MSG = 2,   /* SignalMessage ("msg") */
    MIAW_SIG_SKMSG = 3, /* SenderKeyMessage ("skmsg", groups: signal_group.h) */
} miaw_sig_type;

/* "pkmsg" / "msg" / "skmsg"; NULL for anything else. */
const char *miaw_sig_type_name(int type);
/* The type for an <enc type> value, or 0 when unknown. */
int miaw_sig_type_parse(const char *s);

/* Address of a device JID. 0, or MIAW_E_INVAL (no user, name too long). */
int miaw_sig_addr_from_jid(const miaw_jid *j, miaw_sig_addr *out);
int miaw_sig_addr_parse(const char *jid, miaw_sig_addr *out);
int miaw_sig_addr_set(miaw_sig_addr *a, const char *name, int32_t device);
/* "<name>.<device>" into buf (64 + name bytes is always enough). Length or < 0. */
int miaw_sig_addr_format(const miaw_sig_addr *a, char *buf, size_t cap);

/* Build (or replace) the session with addr from a fetched bundle. Verifies the signed
 * pre-key signature. 0, MIAW_SIG_E_BAD_KEY (bad key or signature), MIAW_SIG_E_UNTRUSTED,
 * MIAW_SIG_E_NO_IDENTITY, MIAW_E_*. */
int miaw_sig_session_from_bundle(miaw_sig_store *s, const miaw_sig_addr *addr,
                                 const miaw_sig_bundle *b);

/* Encrypt plaintext (already padded: wamsg.h) for addr. *type gets MIAW_SIG_PKMSG until
 * the peer has answered, then MIAW_SIG_MSG. *out malloc'd (caller frees).
 * 0, MIAW_SIG_E_NO_SESSION (fetch a bundle first) or MIAW_E_*. */
int miaw_sig_encrypt(miaw_sig_store *s, const miaw_sig_addr *addr, const uint8_t *pt, size_t len,
                     int *type, uint8_t **out, size_t *out_len);

/* Decrypt a pkmsg or msg from addr. *out malloc'd (caller frees; still padded).
 * 0, or MIAW_SIG_E_DUPLICATE (already seen: drop), MIAW_SIG_E_NO_SESSION (msg without
 * a session), MIAW_SIG_E_NO_PREKEY (pkmsg for a pre-key we no longer hold),
 * MIAW_SIG_E_INVALID (garbage, bad MAC, wrong version), MIAW_SIG_E_BAD_KEY,
 * MIAW_SIG_E_NO_IDENTITY, MIAW_E_INVAL (unknown type), MIAW_E_*. No state changes on
 * failure. */
int miaw_sig_decrypt(miaw_sig_store *s, const miaw_sig_addr *addr, int type, const uint8_t *ct,
                     size_t len, uint8_t **out, size_t *out_len);

/* Map a libsignal SG_ERR_* code to MIAW_SIG_E_* / MIAW_E_* (0 stays 0). */
int miaw_sig_map_error(int sg_rc);
/* The bytes of b copied into *out (malloc'd, caller frees). 0 or MIAW_E_NOMEM. */
int miaw_sig_take(signal_buffer *b, uint8_t **out, size_t *out_len);
/* A decryption (1:1 or group) changes the store only when it succeeds: begin opens a
 * savepoint (0 or MIAW_E_IO); end gets the decryption's result (mapped) and plaintext:
 * on success pt is copied into *out and the changes kept, on failure rolled back; it
 * returns the final result (MIAW_E_IO when the savepoint cannot be released). Call end
 * exactly once after a begin that returned 0. */
int miaw_sig_decrypt_begin(miaw_sig_store *s);
int miaw_sig_decrypt_end(miaw_sig_store *s, int rc, signal_buffer *pt, uint8_t **out, size_t *out_len);
#endif
