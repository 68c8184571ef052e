/* core/engine/engine_send_group.c - messages to groups with Signal sender keys: the
 * group's participants (w:g2 metadata), their devices (usync), the sender-key
 * distribution message to every device that lacks it, one skmsg for all, and the
 * server's ack. */
#include <stdio.h>

#include "engine/engine_int.h"

int eng_send_group(miaw_engine *e, eng_inst *ei, const miaw_jid *group, const uint8_t *msg, size_t len,
                   const miaw_msg_opts *o, miaw_node **extra, size_t nextra, miaw_engine_send_cb cb, void *udata,
                   uint64_t *handle, char *err, size_t errlen)
{
    (void)e, (void)ei, (void)group, (void)msg, (void)len, (void)o, (void)extra, (void)nextra, (void)cb, (void)udata,
        (void)handle;
    snprintf(err, errlen, "sending to groups is not available yet");
    return MIAW_E_NOTSUP;
}
