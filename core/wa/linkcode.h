/* core/wa/linkcode.h - pairing by phone-number code ("link code", facts section 5.6):
 * the 8-character code in WhatsApp's base32, the PBKDF2 key that wraps each side's
 * ephemeral key (salt || iv || AES-256-CTR), the key bundle (HKDF + AES-256-GCM), the adv
 * secret derivation, and the companion's stanzas (companion_hello, companion_finish).
 * Both roles use it: the engine (companion) and miaw-sim's phone (primary). No I/O.
 *
 * Ownership: nodes returned belong to the caller (miaw_node_free); a miaw_wa_linkcode is
 * a plain struct owned by its holder, wiped and its ref freed by miaw_wa_linkcode_clear.
 * Byte outputs go to caller buffers of the sizes below. */
#ifndef MIAW_WA_LINKCODE_H
#define MIAW_WA_LINKCODE_H
#include <stddef.h>
#include <stdint.h>

#include "wa/node.h"
#include "wa/pairing.h"
#include "wa/sigcrypto.h"

#define MIAW_WA_LINKCODE_LEN 8              /* code characters */
#define MIAW_WA_LINKCODE_ITERATIONS (2 << 16) /* PBKDF2-HMAC-SHA256 rounds */
#define MIAW_WA_LINKCODE_WRAPPED_LEN 80     /* salt(32) || iv(16) || CTR(pub)(32) */
#define MIAW_WA_LINKCODE_BUNDLE_PLAIN 96    /* companion identity || primary identity || random */
#define MIAW_WA_LINKCODE_BUNDLE_LEN (32 + 12 + MIAW_WA_LINKCODE_BUNDLE_PLAIN + 16)
#define MIAW_WA_LINKCODE_ALPHABET "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
/* what the companion tells the phone it is (whatsmeow: "Browser (OS)", server-checked) */
#define MIAW_WA_LINKCODE_PLATFORM_DISPLAY "Chrome (Linux)"

/* ---- the code ---- */
/* Five bytes as eight alphabet characters (big-endian bit order) + NUL. */
void miaw_wa_linkcode_encode(const uint8_t raw[5], char code[MIAW_WA_LINKCODE_LEN + 1]);
/* A fresh random code. 0 or MIAW_E_INTERNAL. */
int miaw_wa_linkcode_generate(char code[MIAW_WA_LINKCODE_LEN + 1]);
/* What a user typed ("abcd-efgh", "ABCD EFGH", "ABCDEFGH") -> 8 upper-case characters.
 * Letters and digits only (WhatsApp's alphabet, or any for codes chosen by the client);
 * one '-' or ' ' allowed between the halves. 0 or MIAW_E_INVAL. */
int miaw_wa_linkcode_normalize(const char *in, char code[MIAW_WA_LINKCODE_LEN + 1]);
/* "ABCD-EFGH", as WhatsApp shows it. */
void miaw_wa_linkcode_display(const char *code, char out[MIAW_WA_LINKCODE_LEN + 2]);

/* ---- crypto ---- */
/* PBKDF2-HMAC-SHA256(code, salt, 131072 rounds) -> 32 bytes. */
int miaw_wa_linkcode_key(const char *code, const uint8_t salt[32], uint8_t key[32]);
/* salt || iv || AES-256-CTR(key(code, salt), iv, pub). salt_iv: 48 bytes to use, or NULL
 * for random ones. 0 or MIAW_E_*. */
int miaw_wa_linkcode_wrap(const char *code, const uint8_t pub[32], const uint8_t *salt_iv,
                          uint8_t out[MIAW_WA_LINKCODE_WRAPPED_LEN]);
/* The inverse. CTR has no integrity: a wrong code yields another key, found out only
 * when the key bundle does not open. */
int miaw_wa_linkcode_unwrap(const char *code, const uint8_t in[MIAW_WA_LINKCODE_WRAPPED_LEN], uint8_t pub[32]);
/* salt(32) || nonce(12) || AES-256-GCM(HKDF(shared, salt, "link_code_pairing_key_bundle_
 * encryption_key"), nonce, companion_identity || primary_identity || random). salt_nonce:
 * 44 bytes, or NULL for random ones. */
int miaw_wa_linkcode_bundle_seal(const uint8_t shared[32], const uint8_t companion_identity[32],
                                 const uint8_t primary_identity[32], const uint8_t random[32],
                                 const uint8_t *salt_nonce, uint8_t out[MIAW_WA_LINKCODE_BUNDLE_LEN]);
/* Opens a bundle into plain[96]. MIAW_E_AUTH when it does not authenticate (the two
 * sides used different codes), MIAW_E_INVAL for a wrong length. */
int miaw_wa_linkcode_bundle_open(const uint8_t shared[32], const uint8_t *in, size_t len,
                                 uint8_t plain[MIAW_WA_LINKCODE_BUNDLE_PLAIN]);
/* HKDF-SHA256(ephemeral_shared || identity_shared || random, no salt, "adv_secret"). */
int miaw_wa_linkcode_adv_secret(const uint8_t eph_shared[32], const uint8_t identity_shared[32],
                                const uint8_t random[32], uint8_t out[32]);

/* ---- the companion's side ---- */
typedef struct miaw_wa_linkcode {
    char phone[24];                        /* digits of the account's phone number */
    char code[MIAW_WA_LINKCODE_LEN + 1];
    miaw_keypair eph;                      /* companion ephemeral key */
    uint8_t wrapped[MIAW_WA_LINKCODE_WRAPPED_LEN];
    uint8_t *ref;                          /* link_code_pairing_ref from the server (malloc'd) */
    size_t ref_len;
} miaw_wa_linkcode;

/* New code and ephemeral key for phone (digits only, 5-20, checked). code: a chosen
 * code (normalized form) or NULL for a random one. 0, MIAW_E_INVAL or MIAW_E_INTERNAL. */
int miaw_wa_linkcode_start(miaw_wa_linkcode *lc, const char *phone, const char *code);
void miaw_wa_linkcode_clear(miaw_wa_linkcode *lc);

/* <iq xmlns="md" type="set" to=s.whatsapp.net><link_code_companion_reg jid stage=
 * "companion_hello" should_show_push_notification="true"> with the wrapped ephemeral
 * key, the Noise public key, platform id "1" and display, nonce 00. No id (the
 * connection assigns one). NULL on allocation failure. */
miaw_node *miaw_wa_linkcode_hello_iq(const miaw_wa_linkcode *lc, const uint8_t noise_pub[32]);
/* The hello's answer: takes link_code_pairing_ref into lc->ref. 0, or MIAW_E_INVAL when
 * the reply is an error or has no ref. */
int miaw_wa_linkcode_hello_reply(miaw_wa_linkcode *lc, const miaw_node *reply);
/* The <notification type="link_code_companion_reg"> sent once the code was typed on the
 * phone: checks the ref, unwraps the phone's ephemeral key, seals the key bundle, derives
 * the new adv secret into adv_secret and builds the companion_finish IQ in *iq. 0, or
 * MIAW_E_INVAL (malformed, other ref) / MIAW_E_AUTH (bad key) with *why. */
int miaw_wa_linkcode_finish(const miaw_wa_linkcode *lc, const miaw_wa_creds *creds, const miaw_node *notification,
                            uint8_t adv_secret[32], miaw_node **iq, const char **why);
#endif
