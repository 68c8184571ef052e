/* miaw/status.h - the status codes and log levels shared by the plugin ABI and the
 * core: every MIAW_E_* a host function or a callback reports. Self-contained C99, no
 * includes; core files that need only the codes include this, not the whole ABI. */
#ifndef MIAW_STATUS_H
#define MIAW_STATUS_H

#define MIAW_OK 0
#define MIAW_ASYNC 1 /* route handlers only: the reply comes later */
#define MIAW_E_INVAL -1
#define MIAW_E_NOMEM -2
#define MIAW_E_NOTFOUND -3
#define MIAW_E_EXIST -4
#define MIAW_E_STATE -5 /* wrong phase: registering after init, plugin stopping */
#define MIAW_E_GONE -6  /* request or instance went away */
#define MIAW_E_TIMEOUT -7
#define MIAW_E_NOTSUP -8
#define MIAW_E_LIMIT -9
#define MIAW_E_IO -10
#define MIAW_E_AUTH -11
#define MIAW_E_INTERNAL -12
#define MIAW_E_TOOBIG -13 /* since 1.3: too large (reply_status: 413 PAYLOAD_TOO_LARGE) */

#define MIAW_LOG_ERR 3
#define MIAW_LOG_WARN 4
#define MIAW_LOG_INFO 6
#define MIAW_LOG_DEBUG 7

#endif /* MIAW_STATUS_H */
