/* core/wa/signal_group.c - sender keys over libsignal-protocol-c's group session
 * builder and group cipher: own SKDM, received SKDMs, skmsg encrypt/decrypt (decrypt
 * inside a savepoint so failures leave the store untouched). */
#include "wa/signal_group.h"

#include <stdlib.h>
#include <string.h>

#include <signal/group_cipher.h>
#include <signal/group_session_builder.h>
#include <signal/protocol.h>

#include "miaw/status.h"

static int key_name(const char *group, const miaw_sig_addr *a, signal_protocol_sender_key_name *out)
{
    if (!group || !*group || !a || !a->name[0]) return MIAW_E_INVAL;
    out->group_id = group;
    out->group_id_len = strlen(group);
    out->sender.name = a->name;
    out->sender.name_len = strlen(a->name);
    out->sender.device_id = a->device;
    return 0;
}

int miaw_sig_group_skdm(miaw_sig_store *s, const char *group, const miaw_sig_addr *self,
                        uint8_t **out, size_t *out_len)
{
    signal_protocol_sender_key_name name;
    int rc = key_name(group, self, &name);
    if (rc) return rc;
    group_session_builder *b = NULL;
    sender_key_distribution_message *skdm = NULL;
    rc = miaw_sig_map_error(group_session_builder_create(&b, miaw_sig_store_protocol(s), miaw_sig_store_ctx(s)));
    if (rc == 0) rc = miaw_sig_map_error(group_session_builder_create_session(b, &skdm, &name));
    if (rc == 0) rc = miaw_sig_take(ciphertext_message_get_serialized((ciphertext_message *)skdm), out, out_len);
    SIGNAL_UNREF(skdm);
    if (b) group_session_builder_free(b);
    return rc;
}

int miaw_sig_group_rotate(miaw_sig_store *s, const char *group, const miaw_sig_addr *self)
{
    if (!group || !self) return MIAW_E_INVAL;
    return miaw_sig_store_delete_sender_key(s, group, self->name, self->device);
}

int miaw_sig_group_process_skdm(miaw_sig_store *s, const char *group, const miaw_sig_addr *sender,
                                const uint8_t *skdm, size_t len)
{
    signal_protocol_sender_key_name name;
    int rc = key_name(group, sender, &name);
    if (rc) return rc;
    if (!skdm || !len) return MIAW_SIG_E_INVALID;
    group_session_builder *b = NULL;
    sender_key_distribution_message *m = NULL;
    rc = miaw_sig_map_error(sender_key_distribution_message_deserialize(&m, skdm, len, miaw_sig_store_ctx(s)));
    if (rc == 0)
        rc = miaw_sig_map_error(group_session_builder_create(&b, miaw_sig_store_protocol(s), miaw_sig_store_ctx(s)));
    if (rc == 0) rc = miaw_sig_map_error(group_session_builder_process_session(b, &name, m));
    SIGNAL_UNREF(m);
    if (b) group_session_builder_free(b);
    return rc;
}

static int encrypt_once(miaw_sig_store *s, const signal_protocol_sender_key_name *name,
                        const uint8_t *pt, size_t len, uint8_t **out, size_t *out_len)
{
    group_cipher *c = NULL;
    ciphertext_message *m = NULL;
    int rc = miaw_sig_map_error(group_cipher_create(&c, miaw_sig_store_protocol(s), name, miaw_sig_store_ctx(s)));
    if (rc == 0) rc = miaw_sig_map_error(group_cipher_encrypt(c, pt, len, &m));
    if (rc == 0) rc = miaw_sig_take(ciphertext_message_get_serialized(m), out, out_len);
    SIGNAL_UNREF(m);
    if (c) group_cipher_free(c);
    return rc;
}

int miaw_sig_group_encrypt(miaw_sig_store *s, const char *group, const miaw_sig_addr *self,
                           const uint8_t *pt, size_t len, uint8_t **out, size_t *out_len)
{
    signal_protocol_sender_key_name name;
    int rc = key_name(group, self, &name);
    if (rc) return rc;
    rc = encrypt_once(s, &name, pt, len, out, out_len);
    if (rc != MIAW_SIG_E_NO_SESSION) return rc;
    uint8_t *skdm = NULL;
    size_t n = 0;
    rc = miaw_sig_group_skdm(s, group, self, &skdm, &n); /* creates the sender key */
    free(skdm);
    return rc ? rc : encrypt_once(s, &name, pt, len, out, out_len);
}

int miaw_sig_group_decrypt(miaw_sig_store *s, const char *group, const miaw_sig_addr *sender,
                           const uint8_t *ct, size_t len, uint8_t **out, size_t *out_len)
{
    signal_protocol_sender_key_name name;
    int rc = key_name(group, sender, &name);
    if (rc) return rc;
    if (!ct || !len) return MIAW_SIG_E_INVALID;
    sender_key_message *m = NULL;
    group_cipher *c = NULL;
    signal_buffer *pt = NULL;
    rc = miaw_sig_map_error(sender_key_message_deserialize(&m, ct, len, miaw_sig_store_ctx(s)));
    if (rc == 0)
        rc = miaw_sig_map_error(group_cipher_create(&c, miaw_sig_store_protocol(s), &name, miaw_sig_store_ctx(s)));
    if (rc == 0) rc = miaw_sig_decrypt_begin(s);
    if (rc == 0) {
        rc = miaw_sig_map_error(group_cipher_decrypt(c, m, NULL, &pt));
        rc = miaw_sig_decrypt_end(s, rc, pt, out, out_len);
    }
    signal_buffer_bzero_free(pt);
    if (c) group_cipher_free(c);
    SIGNAL_UNREF(m);
    return rc;
}
