/* sim/session.h - what happens on a connection after the Noise handshake: registration vs
 * login from the ClientPayload, <success>/<failure>, stanza dispatch and the IQ services
 * of this slice (ping, passive, pre-key upload/count/digest, generic empty result), and
 * the helpers other modules use to build server stanzas. Owns no memory beyond a call.
 * The conn.c callbacks it implements are declared in conn.h. */
#ifndef MIAW_SIM_SESSION_H
#define MIAW_SIM_SESSION_H
#include "conn.h"

/* <iq type="result" id=<iq's id> from=JID(s.whatsapp.net)/>: a new root (caller frees). */
miaw_node *miaw_sim_iq_result(const miaw_node *iq);
/* Send <iq type="error" id from><error code text/></iq>. */
int miaw_sim_iq_error(miaw_sim_conn *c, const miaw_node *iq, int code, const char *text);
/* Send <stream:error code=code/> (code NULL = none) with an optional <conflict type/>
 * child, then close the connection. */
void miaw_sim_stream_error(miaw_sim_conn *c, const char *code, const char *conflict, const char *why);
#endif
