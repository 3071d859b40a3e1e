/*
 * handler_int.h: what the handler's files share (not a public interface).
 *
 *   handler.c          entry points, the ledger of operations, lookups
 *   handler_change.c   invite, accept, reject, cancel, hang-up
 *   handler_lines.c    busy lines: claims with an identity, releases
 *   handler_content.c  replies, tokens, notification content
 *   handler_timer.c    ring timeouts and the timer outbox
 *   handler_room.c     LiveKit room events (webhooks)
 *   handler_custom.c   custom signals (peer-to-peer calls)
 *   handler_read.c     the v3 RtcService read methods
 *
 * @locality the worker thread, like the handler.
 */
#ifndef CALLSIG_HANDLER_INT_H
#define CALLSIG_HANDLER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "codec.h"
#include "config.h"
#include "handler.h"
#include "ratelimit.h"
#include "roomsvc.h"
#include "store.h"

/* Conditional-update attempts before a command gives up (1009). */
#define HD_MAX_RACE_ATTEMPTS 8
/* Largest request (serialized SignalReq / RtcRequest) accepted; bounds call
 * records. */
#define HD_MAX_REQUEST_BYTES 32768
/* Largest invitation customData accepted, bytes; bounds call records. */
#define HD_MAX_CUSTOM_DATA 8192
/* Longest userID, roomID or groupID accepted (LiveKit's own limit). */
#define HD_MAX_ID_BYTES 256
/* (call, sender) pairs whose custom-signal rate one worker tracks. */
#define HD_CUSTOM_RATE_PAIRS 65536
/* Room for "user:" / "group:" and a NUL around an ID. */
#define HD_LINE_ID_SIZE (HD_MAX_ID_BYTES + 16)
/* Room for a claim identity: "c-" + 32 hex digits + NUL. */
#define HD_CLAIM_SIZE 40

struct cs_handler_s {
        const cs_config_t *conf;
        cs_store_t *store;
        uint8_t room_key[16];  /* keys generated roomIDs and claim IDs */
        cs_strv_t timer_skip;  /* calls the timer cannot change: skipped */
        int64_t timer_skip_until; /* ms: when the skip list is retried */
        uint64_t timer_failures;  /* calls the timer could not change */
        cs_roomsvc_t *roomsvc;    /* LiveKit room enforcement; NULL: off */
        cs_ratelimit_t *custom_rate; /* custom signals per sender and call */
        cs_dialect_t dialect;     /* openim.protocol: what it speaks */
};

/* ---- handler.c ---- */

/** A plain ID: 1..HD_MAX_ID_BYTES bytes, no control characters. */
bool hd_valid_id(const char *id);
/** @returns true if @p user_id is a valid ID that names a push topic. */
bool hd_user_has_topic(const cs_handler_t *h, const char *user_id);
/** Answers @p cmd with @p code and records the refusal in the ledger.
 *  CS_ERR_RACE: the pair was recorded meanwhile: handle the command again. */
cs_err_t hd_refuse(cs_handler_t *h, cs_outbox_t *out, const cs_command_t *cmd,
                   cs_err_t code, const char *msg, int64_t now, char *errstr,
                   size_t errstr_size);
/** hd_refuse() for a lookup of a live call: @p code CS_ERR_NOT_FOUND says
 *  @p not_found, any other "sender is not in this call". */
cs_err_t hd_refuse_lookup(cs_handler_t *h, cs_outbox_t *out,
                          const cs_command_t *cmd, cs_err_t code,
                          const char *not_found, int64_t now, char *errstr,
                          size_t errstr_size);
/** Answers @p cmd from the ledger when it holds (sendID, operationID):
 *  *@p foundp says whether it did. */
cs_err_t hd_answer_from_ledger(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                               cs_outbox_t *out, bool *foundp, char *errstr,
                               size_t errstr_size);
/** Answers @p cmd if @p call knows its pair from a command of another
 *  request case (1001); *@p donep says whether it did. */
void hd_answer_reused(cs_handler_t *h, cs_outbox_t *out, const cs_command_t *cmd,
                      const cs_call_t *call, bool *donep);
/** Records that @p cmd changed @p room_id (after the write; failures are
 *  logged: the call record still identifies the operation). Only for a
 *  record that does not keep its operations (!ops_in_record). */
void hd_record_applied(cs_handler_t *h, const cs_command_t *cmd,
                       const char *room_id, int32_t code, int64_t now);
/** @returns true if @p cmd is older than signal.command_max_age at @p now. */
bool hd_is_expired(const cs_handler_t *h, const cs_command_t *cmd, int64_t now);
/** @returns true (and answers 1008) if @p cmd is older than
 *  signal.command_max_age at @p now. */
bool hd_expired(cs_handler_t *h, cs_outbox_t *out, const cs_command_t *cmd,
                int64_t now);

/* ---- handler_change.c ---- */

cs_err_t hd_do_invite(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                      cs_outbox_t *out, char *errstr, size_t errstr_size);
cs_err_t hd_do_action(cs_handler_t *h, cs_command_t *cmd,
                      cs_event_type_t type, int64_t now, cs_outbox_t *out,
                      char *errstr, size_t errstr_size);
/**
 * Refuses @p cmd, which named @p call (NULL: none), with @p code. The
 * ledger is written first (its unique key decides between two copies of
 * one pair, whatever call they name; the loser answers what it holds),
 * then the refusal is kept in the record too when it can be
 * (cs_call_can_keep_refusal), so that the record alone answers for its
 * pairs. The record showing the pair applied meanwhile (the same command
 * on another worker) is answered from the record.
 */
cs_err_t hd_refuse_in(cs_handler_t *h, cs_outbox_t *out, cs_command_t *cmd,
                      const cs_call_t *call, cs_err_t code, const char *msg,
                      int64_t now, char *errstr, size_t errstr_size);
/**
 * Answers a redelivery of @p cmd, applied before to @p call (NULL: the
 * record is gone) as @p ev (NULL: the event left the record): the reply
 * with @p code (a token freshly minted while the sender may still join),
 * the event's notifications again byte-identical while the record keeps
 * them, and lines of users no longer in the call released.
 */
cs_err_t hd_replay(cs_handler_t *h, cs_command_t *cmd, const cs_call_t *call,
                   const cs_event_t *ev, int32_t code, int64_t now,
                   cs_outbox_t *out, char *errstr, size_t errstr_size);

/* ---- handler_lines.c ---- */

/** The identity of a claim of line (@p kind, @p id) for @p room_id made by
 *  @p cmd: the same for a retry or a redelivery of the command. */
void hd_claim_id(const cs_handler_t *h, const char *room_id, const char *kind,
                 const char *id, const char *sender, const char *operation_id,
                 char out[HD_CLAIM_SIZE]);
/**
 * Holds line (@p kind, @p id) for @p room_id under @p claim. *busyp says
 * whether someone else holds it: a user live in the holding call (for a
 * group line: a live call holding it), or a claim younger than the grace
 * whose call may not be written yet. Older claims that hold nothing are
 * taken over, by their identity.
 */
cs_err_t hd_hold_line(cs_handler_t *h, const char *kind, const char *id,
                      const char *room_id, const char *claim, int64_t now,
                      bool *busyp, char *errstr, size_t errstr_size);
/* One line of a batch claim (hd_claim_lines). */
typedef struct hd_line_s {
        const char *kind;           /* "user" or "group" */
        const char *id;             /* userID or groupID */
        char claim[HD_CLAIM_SIZE];  /* the identity to hold it under */
        bool settle;                /* in: taken by someone else: decide
                                       busy or take over (else leave it) */
        bool held;                  /* out: held under claim now */
        bool fresh;                 /* out: held, and nothing of ours held
                                       it before (a takeover too) */
        bool busy;                  /* out: settled as busy */
} hd_line_t;

/**
 * Claims @p lines for @p room_id in one insertMany (and one find of the
 * holders of those taken). A line taken by someone else is settled as
 * hd_hold_line() does when its `settle` is set (busy, or a stale claim
 * taken over), else left not held.
 */
cs_err_t hd_claim_lines(cs_handler_t *h, const char *room_id, hd_line_t *lines,
                        size_t n, int64_t now, char *errstr,
                        size_t errstr_size);
/** Releases line (@p kind, @p id) if still held under @p claim (NULL or
 *  "": a claim written without identity). */
cs_err_t hd_release_line(cs_handler_t *h, const char *kind, const char *id,
                         const char *claim, char *errstr, size_t errstr_size);
/** Releases the lines @p eff ends, each by the claim the call recorded.
 *  Failures are logged, never returned: a line left held is taken over
 *  once its grace has passed. */
void hd_release_effect(cs_handler_t *h, const cs_call_t *call,
                       const cs_effect_t *eff);
/** Releases every line of @p call whose user is no longer live in it, and
 *  the group line of an ended call (a redelivery does not know the
 *  effect). Failures are logged. */
void hd_release_finished(cs_handler_t *h, const cs_call_t *call);

/* ---- handler_content.c ---- */

/* The lists of an invitation built from a call record (freed with
 * hd_free_invitation_lists). */
typedef struct inv_lists_s {
        char **invitees;
        char **busy;
} inv_lists_t;

/** Lends a const string to a struct that only reads it. */
char *hd_lend(const char *s);
/** Adds the reply to @p cmd: @p code, @p msg (NULL: the code's text), the
 *  payload @p r (NULL: the matching case, empty). */
void hd_add_reply(cs_handler_t *h, cs_outbox_t *out, const cs_command_t *cmd,
                  cs_err_t code, const char *msg, const cs_reply_t *r);
/** A reply with the request's reply case and an empty payload. */
void hd_add_error_reply(cs_handler_t *h, cs_outbox_t *out,
                        const cs_command_t *cmd, cs_err_t code,
                        const char *msg);
/** A token for @p user_id in @p room_id, named after what @p pm (NULL:
 *  nothing) says about the user; NULL on failure (reason in errstr). */
char *hd_mint(cs_handler_t *h, const char *user_id, const char *room_id,
              const cs_participant_info_t *pm, int64_t now, char *errstr,
              size_t errstr_size);
/** The participant info of @p cmd's request, or NULL. */
const cs_participant_info_t *hd_participant_of(const cs_command_t *cmd);
/** The invitation as the call record knows it. Arrays point into the call
 *  and into @p lists. */
void hd_invitation_from_call(const cs_call_t *call, cs_invitation_t *inv,
                             inv_lists_t *lists);
void hd_free_invitation_lists(inv_lists_t *lists);
/** The members of @p call whose state is @p a or @p b (and in the room
 *  when @p in_room), with their metadata; free the array. */
cs_member_t *hd_members(const cs_call_t *call, cs_part_state_t a,
                        cs_part_state_t b, bool in_room, size_t *cntp);
void hd_set_content(cs_event_t *ev, uint8_t *buf, size_t len);
/** Adds the notifications of @p ev to @p out (none once the record no
 *  longer keeps its payload). */
void hd_emit_event(cs_handler_t *h, const cs_call_t *call,
                   const cs_event_t *ev, cs_outbox_t *out);

/* ---- handler_custom.c ---- */

/* One custom signal, whatever the dialect. Pointers borrowed. */
typedef struct cs_custom_signal_s {
        const char *sender;       /* sendID */
        int32_t platform_id;      /* the sender's device */
        const char *operation_id;
        int64_t sent_at;          /* unix ms, 0 unknown */
        const char *room_id;
        size_t custom_info_len;   /* bytes of customInfo */
        const char *const *recv_user_ids; /* empty: everyone else */
        size_t recv_cnt;
        /* Notification content (SignalSendCustomSignalReq {roomID,
         * customInfo}), NULL when customInfo is too long to be relayed. */
        const uint8_t *content;
        size_t content_len;
        cs_dialect_t dialect;      /* the layout of the notifications */
} cs_custom_signal_t;

/**
 * Relays @p sig (contract section 11): checks it, fills @p out with one
 * 1605 notification per recipient (nothing when refused) and sets *@p codep
 * (and *@p msgp, static) to the reply's code. The caller adds the reply.
 * @returns CS_OK, or CS_ERR_TRANSIENT when the call record could not be
 *          read (nothing in @p out from here).
 */
cs_err_t hd_relay_custom(cs_handler_t *h, const cs_custom_signal_t *sig,
                         int64_t now, cs_outbox_t *out, cs_err_t *codep,
                         const char **msgp, char *errstr, size_t errstr_size);
/** sendCustomSignal: checks @p cmd, relays it and answers. */
cs_err_t hd_do_custom(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                      cs_outbox_t *out, char *errstr, size_t errstr_size);
/* ---- handler_read.c ---- */

/** The v3 RtcService read methods (getRooms, invitation info, start-app
 *  lookup, records, deleteSignalRecords). */
cs_err_t hd_do_read(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                    cs_outbox_t *out, char *errstr, size_t errstr_size);

/* ---- handler_room.c ---- */

/** Removes @p identity from LiveKit room @p room: it joined without being
 *  an accepted participant of the call. For now it only logs (info); the
 *  RoomService call belongs here. */
void hd_room_remove_participant(cs_handler_t *h, const char *room,
                                const char *identity);

#endif
