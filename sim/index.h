/* sim/index.h - lookups that must not scan every account: accounts by phone number and by
 * LID (hash tables chained through the accounts), and each account's watchers (the
 * accounts whose devices fetched its device list, who get its device-list notifications).
 *
 * Ownership: the bucket arrays belong to miaw_sim, the watcher sets to their account;
 * entries are borrowed account pointers (accounts are never removed while the simulator
 * runs). Freed by miaw_sim_index_free / miaw_sim_watchers_free. Loop thread only. */
#ifndef MIAW_SIM_INDEX_H
#define MIAW_SIM_INDEX_H
#include "sim.h"

/* Index a new account under its phone and its LID. 0 or MIAW_E_NOMEM (not indexed). */
int miaw_sim_index_add(miaw_sim *sim, miaw_sim_account *a);
/* Change a's LID (index updated). lid must fit a->lid. */
void miaw_sim_index_set_lid(miaw_sim *sim, miaw_sim_account *a, const char *lid);
/* Account by phone number (which == 0) or by LID user (which == 1); NULL if none. */
miaw_sim_account *miaw_sim_index_find(const miaw_sim *sim, int which, const char *key);
void miaw_sim_index_free(miaw_sim *sim);

/* Remember that w fetched a's device list (no-op when w is NULL or already there).
 * 0 or MIAW_E_NOMEM. */
int miaw_sim_watch(miaw_sim_account *a, miaw_sim_account *w);
/* Calls fn for each watcher of a (each once, in no particular order). */
void miaw_sim_watchers_each(miaw_sim_account *a, void (*fn)(miaw_sim_account *w, void *ud), void *ud);
void miaw_sim_watchers_free(miaw_sim_account *a);
#endif
