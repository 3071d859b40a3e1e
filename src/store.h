/*
 * store.h: MongoDB persistence of callsig (libmongoc).
 *
 * Collections in the configured database:
 *   calls       one document per call, _id = roomID (contract section 7).
 *               Every change is one update_one filtered on {_id, rev}:
 *               a compare-and-set, so two workers racing on one call can
 *               never both win. pendingTimer/pendingTimerAt hold the
 *               timer event whose notifications are not yet delivered.
 *   lines       one document per busy line, _id = "user:<userID>" or
 *               "group:<groupID>", {roomID, at}. The unique _id is the
 *               atomic claim that makes busy lines hold across workers.
 *   operations  refused operationIDs with their reply code, so that a
 *               redelivered refused command is answered the same way;
 *               removed by a TTL index after signal.operation_retention.
 *
 * Errors: CS_ERR_TRANSIENT for anything that may pass (network, server
 * selection, primary changes, unknown server errors), CS_ERR_UNDECODABLE for
 * errors that repeating the same command can never fix (document too large,
 * bad value), CS_ERR_RACE when a conditional update or insert lost.
 *
 * @locality any thread: the store holds a mongoc client pool and every call
 * pops its own client.
 */
#ifndef CALLSIG_STORE_H
#define CALLSIG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "common.h"
#include "err.h"

typedef struct cs_store_s cs_store_t;

/**
 * Creates a store for @p uri and @p database. Does not connect yet.
 * @returns the store (caller destroys) or NULL with the reason in @p errstr
 *          (invalid URI).
 */
cs_store_t *cs_store_new(const char *uri, const char *database,
                         char *errstr, size_t errstr_size) CS_WUR;

/** Frees @p store; NULL is accepted. */
void cs_store_destroy(cs_store_t *store);

/** Routes libmongoc's own log lines into cs_log (call once, at start-up). */
void cs_store_route_logs(void);

/** Pings the server and creates the indexes (idempotent). */
cs_err_t cs_store_init(cs_store_t *store, char *errstr,
                       size_t errstr_size) CS_WUR;

/**
 * Loads call @p room_id. @p callp gets the call (caller destroys) or NULL
 * if there is no such call (still CS_OK).
 */
cs_err_t cs_store_load_call(cs_store_t *store, const char *room_id,
                            cs_call_t **callp, char *errstr,
                            size_t errstr_size) CS_WUR;

/** Loads the live call of @p group_id, or NULL if none (CS_OK). */
cs_err_t cs_store_load_group_call(cs_store_t *store, const char *group_id,
                                  cs_call_t **callp, char *errstr,
                                  size_t errstr_size) CS_WUR;

/**
 * Inserts a new call (rev 1). @returns CS_ERR_RACE if a call with that
 * roomID exists. On CS_OK call->rev and call->stored_event_cnt are updated.
 */
cs_err_t cs_store_insert_call(cs_store_t *store, cs_call_t *call,
                              char *errstr, size_t errstr_size) CS_WUR;

/**
 * Writes the changed call if the stored rev still equals call->rev: state,
 * endReason, participants, acceptedAt, endedAt are set, the events after
 * call->stored_event_cnt are appended, rev is incremented.
 * @returns CS_ERR_RACE if the record changed meanwhile (reload and redo).
 */
cs_err_t cs_store_update_call(cs_store_t *store, cs_call_t *call,
                              char *errstr, size_t errstr_size) CS_WUR;

/** Collects up to @p limit roomIDs of live calls with a participant ringing
 *  past its deadline at @p now (ms), or with a timer outbox entry whose
 *  delivery started before @p stale_before (ms). */
cs_err_t cs_store_find_due(cs_store_t *store, int64_t now,
                           int64_t stale_before, size_t limit,
                           cs_strv_t *room_ids, char *errstr,
                           size_t errstr_size) CS_WUR;

/** Empties the timer outbox of @p room_id if it still holds
 *  @p operation_id (its notifications were acknowledged); bumps rev. */
cs_err_t cs_store_clear_pending_timer(cs_store_t *store, const char *room_id,
                                      const char *operation_id, char *errstr,
                                      size_t errstr_size) CS_WUR;

/**
 * Claims line @p line_id for @p room_id at @p now.
 * @param holderp   NULL if the line is now held for @p room_id (newly or
 *                  already); otherwise the roomID holding it (caller frees).
 * @param sincep    when the other holder claimed it (ms), if any.
 */
cs_err_t cs_store_claim_line(cs_store_t *store, const char *line_id,
                             const char *room_id, int64_t now,
                             char **holderp, int64_t *sincep, char *errstr,
                             size_t errstr_size) CS_WUR;

/** Moves line @p line_id from @p old_room_id (a stale claim) to @p room_id
 *  if it is still held by @p old_room_id. @p tookp says whether it moved. */
cs_err_t cs_store_takeover_line(cs_store_t *store, const char *line_id,
                                const char *old_room_id, const char *room_id,
                                int64_t now, bool *tookp, char *errstr,
                                size_t errstr_size) CS_WUR;

/** Releases line @p line_id if it is held for @p room_id. */
cs_err_t cs_store_release_line(cs_store_t *store, const char *line_id,
                               const char *room_id, char *errstr,
                               size_t errstr_size) CS_WUR;

/** Looks up a refused operation. @p msgp gets the errMsg (caller frees). */
cs_err_t cs_store_get_refusal(cs_store_t *store, const char *operation_id,
                              bool *foundp, int32_t *codep, char **msgp,
                              char *errstr, size_t errstr_size) CS_WUR;

/** Remembers a refused operation until now + @p retention_s. An existing
 *  record for the same operationID is kept as it is. */
cs_err_t cs_store_put_refusal(cs_store_t *store, const char *operation_id,
                              const char *send_id, const char *request,
                              int32_t code, const char *msg, int64_t now,
                              int64_t retention_s, char *errstr,
                              size_t errstr_size) CS_WUR;

#endif
