/* core/webhooks/webhook_curl.h - libcurl's multi interface driven by the libuv loop, for the
 * webhook dispatcher: one uv_poll handle per socket curl uses, for a connection kept
 * while curl parks it idle in its cache and closed by curl's close-socket callback before
 * the descriptor is closed, for another socket (the resolver's) closed when curl stops
 * watching it (so the loop never watches a closed or reused descriptor), one uv_timer
 * for curl's timeouts, the poll handles found by descriptor. Finished transfers
 * are reported to the owner's callback.
 * Ownership: owns the multi handle, the timer and the poll handles; the easy handles stay
 * the caller's (it adds and removes them here and cleans them up itself). Loop thread
 * only. */
#ifndef MIAW_WEBHOOK_CURL_H
#define MIAW_WEBHOOK_CURL_H
#include <curl/curl.h>
#include <uv.h>

typedef struct miaw_wh_curl miaw_wh_curl;

/* a transfer finished (curl's CURLMSG_DONE). easy is still in the multi; the callback
 * may remove it (miaw_wh_curl_remove) and reuse or clean it up. Called from the loop's
 * callbacks and from miaw_wh_curl_run, never from miaw_wh_curl_add or _remove. */
typedef void (*miaw_wh_curl_done_fn)(void *ud, CURL *easy, CURLcode result);

/* loop borrowed (must outlive the glue); maxconnects: CURLMOPT_MAXCONNECTS, the idle
 * connections curl keeps in its cache; done and ud: the finished-transfer callback (ud
 * borrowed). Initialises libcurl globally on first use. NULL on failure. */
miaw_wh_curl *miaw_wh_curl_new(uv_loop_t *loop, long maxconnects, miaw_wh_curl_done_fn done, void *ud);
/* closes every poll handle in the table, then cleans up the multi handle (curl closes the
 * cached connections' sockets), then closes the timer. Easy handles must have been
 * removed first. The memory of the uv handles is released by their close callbacks on
 * the next loop run. NULL is a no-op. */
void miaw_wh_curl_free(miaw_wh_curl *c);
/* hands a configured easy handle to curl: sets its close-socket callback (every
 * connection curl opens for it then closes its poll handle first; do not set
 * CURLOPT_CLOSESOCKETFUNCTION yourself) and adds it to the multi. The transfer starts on
 * curl's timer (next loop turn) or at miaw_wh_curl_run. 0, or -1 (not added). */
int miaw_wh_curl_add(miaw_wh_curl *c, CURL *easy);
/* takes an easy handle out of the multi (finished or not; one never added is ignored);
 * its connection, if kept, parks in the multi's cache */
void miaw_wh_curl_remove(miaw_wh_curl *c, CURL *easy);
/* lets curl do now what its timer would do on the next loop turn (e.g. send the requests
 * just added) and reports the transfers that finished meanwhile */
void miaw_wh_curl_run(miaw_wh_curl *c);
#endif
