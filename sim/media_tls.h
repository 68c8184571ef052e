/* sim/media_tls.h - the HTTPS side of miaw-sim's media host: its own certificate
 * authority (EC P-256, made at the first start and kept as <state-dir>/media-ca.pem and
 * media-ca.key, a new one per run without a state directory), a leaf certificate for
 * 127.0.0.1, ::1, localhost and the listen address signed by it at every start, and the
 * TLS listener (h2o, HTTP/1.1) whose requests go to media.c, except /ws/chat: the chat
 * WebSocket over TLS (wss://), the same sessions as the plain listener's. Also the control routes
 * GET /sim/media-ca (the CA as PEM, for NODE_EXTRA_CA_CERTS or an https.Agent) and
 * GET /sim/media (host and store counters).
 *
 * Ownership: module state for the process lifetime (the listener, SSL_CTX, CA PEM);
 * nothing is handed out except borrowed strings. Loop thread only. */
#ifndef MIAW_SIM_MEDIA_TLS_H
#define MIAW_SIM_MEDIA_TLS_H
#include <h2o.h>

#include "sim.h"

/* Load or make the CA, make the leaf and listen on `listen` ("HOST:PORT"; NULL = the
 * main host, port main_port + 1 when free, else any free port). On success the media
 * host ("127.0.0.1:<port>") is published through miaw_sim_media_set_host. 0, or
 * MIAW_E_* with a message in err. Call after miaw_sim_media_open. */
int miaw_sim_media_tls_start(miaw_sim *sim, uv_loop_t *loop, const char *listen, const char *main_host,
                             int main_port, char *err, size_t errcap);
/* The CA certificate (PEM, borrowed; "" before start). */
const char *miaw_sim_media_ca_pem(void);
/* The port the media listener is bound to (0 before start). */
int miaw_sim_media_port(void);
/* GET /sim/media-ca and GET /sim/media: answered, 1; any other path: 0. */
int miaw_sim_media_control(miaw_sim *sim, h2o_req_t *req);
#endif
