/* sim/directory.h - who is who on the simulated network: JIDs (phone number or LID, with
 * or without a device) resolved to accounts and devices, the usync service (devices
 * with key-index, lid, contact, status and the protocols answered empty), pre-key
 * bundle fetch (one-time pre-keys handed out once, low-count notifications) and the
 * device-list notifications sent when a companion is linked or unlinked.
 * Owns nothing beyond a call. Loop thread only. */
#ifndef MIAW_SIM_DIRECTORY_H
#define MIAW_SIM_DIRECTORY_H
#include "conn.h"

/* A JID resolved on the simulated network. */
typedef struct miaw_sim_addr {
    miaw_sim_account *account; /* borrowed */
    uint32_t device;           /* 0 = the phone (or a user JID without device) */
    int lid;                   /* named in the LID namespace */
    int has_device;            /* the JID carried a device part */
} miaw_sim_addr;

/* Resolve a JID of <phone>[:<dev>]@s.whatsapp.net or <lid>[:<dev>]@lid. 0, or
 * MIAW_E_NOTFOUND (unknown user or device; out->account is still set for an unknown
 * device of a known user) / MIAW_E_INVAL (not a user JID). */
int miaw_sim_resolve(miaw_sim *sim, const miaw_jid *j, miaw_sim_addr *out);
int miaw_sim_resolve_str(miaw_sim *sim, const char *jid, miaw_sim_addr *out);
/* The device record (companion or the phone's, id 0); NULL if unknown. */
miaw_sim_device *miaw_sim_addr_device(const miaw_sim_addr *ad);
/* "JID:<jid>" attribute value for (account, device) in the PN or LID namespace. */
void miaw_sim_jid_attr(const miaw_sim_account *a, uint32_t dev, int lid, char *buf, size_t cap);

/* <iq xmlns="usync" type="get">: answered (result or error). */
void miaw_sim_dir_usync(miaw_sim_conn *c, const miaw_node *iq);
/* <iq xmlns="encrypt" type="get"><key>…: the bundles. 1 if it was a key fetch. */
int miaw_sim_dir_key_fetch(miaw_sim_conn *c, const miaw_node *iq);
/* Pop one bundle for d (its current signed pre-key and the oldest unused one-time
 * pre-key, which is consumed) into parent's children (registration, type, identity,
 * skey, [key]). Sends the owner a low-count notification when needed. 0 or MIAW_E_*. */
int miaw_sim_dir_bundle(miaw_sim *sim, miaw_sim_account *a, miaw_sim_device *d, miaw_node *parent);

/* The account's device list changed (link/unlink): devices notifications to every
 * device on the network (PN and LID forms) and account_sync to the account's own. */
void miaw_sim_dir_devices_changed(miaw_sim *sim, miaw_sim_account *a, uint32_t changed_dev);

/* A companion leaves: notifications, stream error 401 device_removed on its live
 * connection, record removed. 0 or MIAW_E_NOTFOUND. */
int miaw_sim_dir_unlink(miaw_sim *sim, miaw_sim_account *a, uint32_t dev, const char *why);
#endif
