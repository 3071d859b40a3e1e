/*
 * store.h: MongoDB persistence of callsig (libmongoc).
 *
 * Collections in the configured database:
 *   calls       one document per call, _id = roomID (contract section 7).
 *               Every change is one update_one filtered on {_id, rev}:
 *               a compare-and-set, so two workers racing on one call can
 *               never both win. pendingTimer/pendingTimerAt hold the
 *               timer event whose notifications are not yet delivered.
 *               Records written since issue 8 carry opsInRecord: true and
 *               keep the refusals of commands that named them (refusals,
 *               at most CS_CALL_KEEP_REFUSALS, appended with $push and
 *               rev + 1); see `operations`.
 *   lines       one document per busy line, _id = "user:<userID>" or
 *               "group:<groupID>", {roomID, claim, at}. The unique _id is
 *               the atomic claim that makes busy lines hold across
 *               workers; `claim` is the claim's identity, stored with the
 *               participant (lineClaim) or the call (groupClaim) in the
 *               same conditional update that places them in the call.
 *   operations  the ledger: one entry per (sendID, operationID) refused
 *               without a call record to keep it, or applied to a record
 *               that does not keep its operations (written before issue 8),
 *               or whose event a trim drops; with the reply code, so that
 *               a redelivery is recognised and answered the same way;
 *               removed by a TTL index after signal.operation_retention.
 *               Records written since issue 8 (opsInRecord) keep their
 *               applied operations as events and the refusals of commands
 *               that named them in `refusals`.
 *
 * Errors: CS_ERR_TRANSIENT for anything that may pass (network, server
 * selection, primary changes, unknown server errors), CS_ERR_PERMANENT for
 * errors that repeating the same command can never fix (document too large,
 * bad value), CS_ERR_UNDECODABLE for a call record that cannot be read,
 * CS_ERR_RACE when a conditional update or insert lost. cs_store_init
 * returns CS_ERR_FATAL for what only an operator can fix (an index that
 * exists with other options).
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
#include "request.h"
#include "common.h"
#include "config.h"
#include "err.h"

typedef struct cs_store_s cs_store_t;

/**
 * Creates a store for @p conf's mongodb.uri (with callsig's defaults, see
 * clientconf.h) and mongodb.database. Does not connect yet.
 * @returns the store (caller destroys) or NULL with the reason in @p errstr
 *          (invalid URI).
 */
cs_store_t *cs_store_new(const cs_config_t *conf, char *errstr,
                         size_t errstr_size) CS_WUR;

/** Frees @p store; NULL is accepted. */
void cs_store_destroy(cs_store_t *store);

/** Routes libmongoc's own log lines into cs_log (call once, at start-up). */
void cs_store_route_logs(void);

/** Pings the server and creates the indexes (idempotent). CS_ERR_FATAL:
 *  retrying cannot help (an index exists with other options). */
cs_err_t cs_store_init(cs_store_t *store, char *errstr,
                       size_t errstr_size) CS_WUR;

/** Pings the server (readiness checks; any thread). */
cs_err_t cs_store_ping(cs_store_t *store, char *errstr,
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

/** Reads a call record from its BSON bytes (@p data, @p len) as
 *  cs_store_load_call() does: NULL if it is not a call. For tests and
 *  tools. */
cs_call_t *cs_store_decode_call(const uint8_t *data, size_t len);

/**
 * Inserts a new call (rev 1). @returns CS_ERR_RACE if a call with that
 * roomID exists. On CS_OK call->rev and call->stored_event_cnt are updated.
 */
cs_err_t cs_store_insert_call(cs_store_t *store, cs_call_t *call,
                              char *errstr, size_t errstr_size) CS_WUR;

/**
 * Writes the changed call if the stored rev still equals call->rev: state,
 * endReason, participants, acceptedAt, endedAt and the events (trimmed to
 * the most recent, see cs_call_trim_events) are set, rev is incremented.
 * @returns CS_ERR_RACE if the record changed meanwhile (reload and redo).
 */
cs_err_t cs_store_update_call(cs_store_t *store, cs_call_t *call,
                              char *errstr, size_t errstr_size) CS_WUR;

/**
 * Appends @p ref to the refusals of call @p room_id and bumps rev, unless the
 * record meanwhile shows the pair applied (an event), keeps
 * CS_CALL_KEEP_REFUSALS already, or is gone: *@p keptp says whether it was
 * kept. Bumping rev makes a change decided on the revision before (the
 * same command applied by another worker) lose its compare-and-set and
 * find the refusal.
 */
cs_err_t cs_store_add_refusal(cs_store_t *store, const char *room_id,
                              const cs_refusal_t *ref, bool *keptp,
                              char *errstr, size_t errstr_size) CS_WUR;

/** Collects up to @p limit roomIDs the ring timer must look at, leaving
 *  out those in @p skip (may be NULL): first calls whose timer outbox
 *  delivery started before @p stale_before (ms), oldest first, then live
 *  calls with a participant ringing past its deadline at @p now (ms), by
 *  their earliest deadline. */
cs_err_t cs_store_find_due(cs_store_t *store, int64_t now,
                           int64_t stale_before, const cs_strv_t *skip,
                           size_t limit, cs_strv_t *room_ids, char *errstr,
                           size_t errstr_size) CS_WUR;

/** Empties the timer outbox of @p room_id if it still holds
 *  @p operation_id (its notifications were acknowledged); bumps rev. */
cs_err_t cs_store_clear_pending_timer(cs_store_t *store, const char *room_id,
                                      const char *operation_id, char *errstr,
                                      size_t errstr_size) CS_WUR;

/* Who holds a line: the call and the identity of the claim ("" for a line
 * written without one), and since when (ms). Strings owned. */
typedef struct cs_line_holder_s {
        char *room_id;
        char *claim;
        int64_t since;
} cs_line_holder_t;

void cs_line_holder_clear(cs_line_holder_t *holder);

/**
 * Claims line @p line_id for @p room_id under the identity @p claim at
 * @p now. @p holder is left empty (room_id NULL) when the line is now held
 * under @p claim (newly, or already: a retry); otherwise it says who holds
 * it (caller clears).
 */
cs_err_t cs_store_claim_line(cs_store_t *store, const char *line_id,
                             const char *room_id, const char *claim,
                             int64_t now, cs_line_holder_t *holder,
                             char *errstr, size_t errstr_size) CS_WUR;

/**
 * Claims the @p n lines @p line_ids[i] for @p room_id under @p claims[i]
 * at @p now in one unordered insertMany, then reads the holders of those
 * already taken in one find. Per line: @p holders[i] is left empty when the
 * line is now held under its claim, and @p fresh[i] says it was inserted
 * by this call (nothing held it); otherwise @p holders[i] says who holds it
 * (caller clears each).
 */
cs_err_t cs_store_claim_lines(cs_store_t *store, size_t n,
                              const char *const *line_ids, const char *room_id,
                              const char *const *claims, int64_t now,
                              bool *fresh, cs_line_holder_t *holders,
                              char *errstr, size_t errstr_size) CS_WUR;

/** Moves line @p line_id to (@p room_id, @p claim) if it is still held under
 *  @p old_claim. @p tookp says whether it moved. */
cs_err_t cs_store_takeover_line(cs_store_t *store, const char *line_id,
                                const char *old_claim, const char *room_id,
                                const char *claim, int64_t now, bool *tookp,
                                char *errstr, size_t errstr_size) CS_WUR;

/** Releases each line @p line_ids[i] still held under @p claims[i] ("" for
 *  none), @p n of them, in one round trip (a deleteMany of the pairs); what
 *  another claim holds by now stays. */
cs_err_t cs_store_release_lines(cs_store_t *store, const char *const *line_ids,
                                const char *const *claims, size_t n,
                                char *errstr, size_t errstr_size) CS_WUR;

/** Releases line @p line_id if it is still held under @p claim: a late
 *  release never frees a newer claim. */
cs_err_t cs_store_release_line(cs_store_t *store, const char *line_id,
                               const char *claim, char *errstr,
                               size_t errstr_size) CS_WUR;

/* One entry of the ledger of operations: what a (sendID, operationID) got,
 * so that a redelivery is recognised and answered the same way. Strings
 * owned (cs_op_record_clear). */
typedef struct cs_op_record_s {
        char *request;   /* the request case name */
        char *room_id;   /* applied: the call it changed; else NULL */
        int32_t code;    /* the reply's errCode */
        char *msg;       /* the reply's errMsg */
        bool applied;    /* true: a change of room_id; false: refused */
} cs_op_record_t;

void cs_op_record_clear(cs_op_record_t *rec);

/** Looks up the ledger entry of (@p send_id, @p operation_id). */
cs_err_t cs_store_get_op(cs_store_t *store, const char *send_id,
                         const char *operation_id, bool *foundp,
                         cs_op_record_t *rec, char *errstr,
                         size_t errstr_size) CS_WUR;

/** Records the outcome of (@p send_id, @p operation_id) until now +
 *  @p retention_s. @returns CS_ERR_RACE if the pair is already recorded
 *  (look it up again: the stored outcome stands). */
cs_err_t cs_store_put_op(cs_store_t *store, const char *send_id,
                         const char *operation_id, const cs_op_record_t *rec,
                         int64_t now, int64_t retention_s, char *errstr,
                         size_t errstr_size) CS_WUR;

/* ---- read paths of the v3 RtcService (contract section 12) ---- */

/* An owned list of calls. */
typedef struct cs_call_list_s {
        cs_call_t **v;
        size_t cnt;
} cs_call_list_t;

void cs_call_list_clear(cs_call_list_t *calls);

/** Appends the calls whose roomID is one of @p ids (one query, `_id`
 *  index), in no particular order. */
cs_err_t cs_store_load_calls(cs_store_t *store, char *const *ids, size_t n,
                             cs_call_list_t *calls, char *errstr,
                             size_t errstr_size);

/**
 * The newest live call in which @p user_id is a ringing invitee whose ring
 * deadline is after @p now, or *callp NULL. One round trip on the
 * user_ringing index (participants.userID, .state, .ringUntil): only the
 * user's ringing entries are examined, however long their history.
 */
cs_err_t cs_store_load_pending_invite(cs_store_t *store, const char *user_id,
                                      int64_t now, cs_call_t **callp,
                                      char *errstr, size_t errstr_size);

/* Longest a history query may run (maxTimeMS), ms. */
#define CS_STORE_HISTORY_MAX_MS 3000

/**
 * One page of @p user_id's call history, newest first: calls they took part
 * in (participants.userID) and did not hide (hiddenFor), narrowed by @p q;
 * @p skip calls skipped, at most @p limit returned, on the user_calls index
 * (participants.userID, createdAt). *totalp = the number of matches,
 * counted up to @p count_max. CS_ERR_INVALID when MongoDB stopped it at
 * CS_STORE_HISTORY_MAX_MS (the query is too broad: narrow the time range).
 */
cs_err_t cs_store_user_history(cs_store_t *store, const char *user_id,
                               const cs_records_query_t *q, int64_t skip,
                               int64_t limit, int64_t count_max,
                               cs_call_list_t *calls, int64_t *totalp,
                               char *errstr, size_t errstr_size);

/** Adds @p user_id to `hiddenFor` of the ended calls among @p ids that the
 *  user took part in ($addToSet: idempotent; the records stay). */
cs_err_t cs_store_hide_calls(cs_store_t *store, const char *user_id,
                             char *const *ids, size_t n, char *errstr,
                             size_t errstr_size);

#endif
