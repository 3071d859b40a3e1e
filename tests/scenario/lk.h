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
/** Exits the test with ctest's skip code 77 when livekit-server is not
 *  built, or fails it when CALLSIG_TEST_REQUIRE_LIVEKIT is set. */
void lk_require_server(void);

/** Starts a server in a new directory /tmp/callsig-livekit-XXXXXX; fails
 *  the test on any error. @returns its ws:// URL (static). */
const char *lk_server_start(void);
/** The same, with LiveKit's webhook pointed at @p webhook_url (NULL:
 *  none). */
const char *lk_server_start_webhook(const char *webhook_url);
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

/* ---- sessions: participants that stay while the test acts ----
 *
 * A session is one lk-join.mjs "session" check run in the background: each
 * participant connects and stays until lk_sess_leave() (or, added with
 * @p until_disconnected, until the server disconnects it). Its event lines
 * are read while it runs. */
typedef struct lk_sess_s lk_sess_t;

/** A new session named @p name (its files in lk_dir()); @p timeout_ms
 *  (scaled) bounds the whole run. */
lk_sess_t *lk_sess_new(const char *name, int timeout_ms);
void lk_sess_add(lk_sess_t *sess, const char *identity, const char *token,
                 const char *room, bool until_disconnected);
/** Starts lk-join.mjs in the background. */
void lk_sess_start(lk_sess_t *sess);
/** Tells @p identity (added without until_disconnected) to leave. */
void lk_sess_leave(lk_sess_t *sess, const char *identity);
/** Waits until an event line with "event" = @p event and "identity" =
 *  @p identity (and "other" = @p other unless NULL) was written; fails the
 *  test after @p timeout_ms (scaled). @returns the line's JSON text
 *  (caller frees). */
char *lk_sess_wait(lk_sess_t *sess, const char *event, const char *identity,
                   const char *other, int timeout_ms);
/** @returns the line like that if one was written so far (caller frees),
 *  else NULL. */
char *lk_sess_find(lk_sess_t *sess, const char *event, const char *identity,
                   const char *other);
/** Waits for lk-join.mjs to exit, frees @p sess; @returns true if every
 *  participant ended as it was told to. *@p resultp (if not NULL) gets
 *  every RESULT line (caller frees). */
bool lk_sess_end(lk_sess_t *sess, char **resultp);

#endif
