/* core/server.h - `miaw serve`: wires config, storage, secrets, event bus, instance
 * registry, plugin host, docs and the HTTP front on one libuv loop, and runs it until
 * SIGINT/SIGTERM. Owns all of them for the process lifetime. */
#ifndef MIAW_SERVER_H
#define MIAW_SERVER_H
#include "base/config.h"

/* cfg is borrowed; returns the process exit code */
int miaw_server_run(miaw_config *cfg);
#endif
