/*
 * lk.h: a real livekit-server and the media join client, for scenario 0040
 * and the demo.
 *
 * The server is started with scripts/livekit-server.sh (built once into
 * .cache/livekit-1.13.5/server; CALLSIG_LIVEKIT_BIN overrides) on loopback
 * with the harness's LK_KEY and LK_SECRET; it is stopped when the test
 * process ends, even by a crash. Joins are made by tests/js/lk-join.mjs
 * (@livekit/rtc-node) from a JSON spec written with lk_spec_*.
 */
#ifndef CALLSIG_LK_H
#define CALLSIG_LK_H

#include <stdbool.h>
#include <stdint.h>

/** @returns the server binary, or NULL when it is not built. */
const char *lk_server_bin(void);

/** Starts a server in a new directory /tmp/callsig-livekit-XXXXXX; fails
 *  the test on any error. @returns its ws:// URL (static). */
const char *lk_server_start(void);
/** The directory of the server started (its log, the join spec). */
const char *lk_dir(void);
/** Stops the server and removes its directory (kept with CALLSIG_TEST_KEEP). */
void lk_server_stop(void);

/* ---- the join spec (see tests/js/lk-join.mjs) ---- */
/** Starts a spec for the running server; @p timeout_ms is scaled. */
void lk_spec_begin(int timeout_ms);
/** A check; @p expect is "join" or "refused". */
void lk_spec_check(const char *name, const char *expect);
/** A participant of the current "join" check; @p sees is NULL-terminated. */
void lk_spec_participant(const char *identity, const char *token,
                         const char *room, const char *const *sees);
/** The token of the current "refused" check. */
void lk_spec_refused(const char *identity, const char *token);
/** "not_seen_by" or "also_seen_by" of the current check (NULL-terminated). */
void lk_spec_list(const char *key, const char *const *ids);

/** Runs lk-join.mjs on the spec (its output in lk_dir()/join.log).
 *  @returns the RESULT lines (caller frees) and sets *@p okp and *@p msp. */
char *lk_spec_run(bool *okp, int64_t *msp);

#endif
