/*
 * call.h: a call record in memory and the decisions taken on it.
 *
 * This module is pure: no I/O, no clock (times are passed in, unix ms), no
 * protobuf. The handler loads a record from the store, asks this module what
 * an action does to it, and writes the result back with one conditional
 * update (compare-and-set on `rev`). If the update loses a race the handler
 * reloads and asks again, so every decision here is taken on a fresh record.
 *
 * Rules (contract section 5):
 *   - the inviter is a participant with role inviter, state accepted from
 *     the start, left when they hang up or cancel;
 *   - a call ends when nobody is ringing and fewer than two participants are
 *     in it (state accepted), or when nobody is in it any more;
 *   - every state change appends exactly one event that carries what is
 *     needed to re-emit its outputs byte-identically on redelivery: the
 *     recipients of its notifications, the notification content, the reply
 *     code and the busy list.
 *
 * Ownership: a cs_call_t owns every string and buffer in it;
 * cs_call_destroy() frees them all.
 */
#ifndef CALLSIG_CALL_H
#define CALLSIG_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"

typedef enum cs_call_state_e {
        CS_CALL_RINGING = 0,
        CS_CALL_ACTIVE,
        CS_CALL_ENDED,
} cs_call_state_t;

typedef enum cs_end_reason_e {
        CS_END_NONE = 0,
        CS_END_CANCELLED,
        CS_END_REJECTED,
        CS_END_TIMEOUT,
        CS_END_HUNG_UP,
        CS_END_BUSY,
        CS_END_ROOM_FINISHED,
} cs_end_reason_t;

typedef enum cs_part_state_e {
        CS_PART_RINGING = 0,
        CS_PART_ACCEPTED,
        CS_PART_REJECTED,
        CS_PART_TIMEOUT,
        CS_PART_BUSY,
        CS_PART_CANCELLED,
        CS_PART_LEFT,
} cs_part_state_t;

typedef enum cs_event_type_e {
        CS_EV_INVITE = 0,
        CS_EV_ACCEPT,
        CS_EV_REJECT,
        CS_EV_CANCEL,
        CS_EV_HUNG_UP,
        CS_EV_TIMEOUT,
        CS_EV_BUSY,
        /* LiveKit room events (contract section 9); operationID = the
         * webhook event id. */
        CS_EV_ROOM_JOINED,
        CS_EV_ROOM_LEFT,
        CS_EV_ROOM_FINISHED,
} cs_event_type_t;

/* An owned vector of owned strings. */
typedef struct cs_strv_s {
        char **v;
        size_t cnt;
} cs_strv_t;

typedef struct cs_participant_s {
        char *user_id;
        bool inviter;            /* role inviter (else invitee) */
        cs_part_state_t state;
        int32_t platform_id;     /* the device that last acted */
        int64_t updated_at;      /* ms */
        int64_t ring_until;      /* ms; meaningful while ringing */
        uint8_t *meta;           /* serialized ParticipantMetaData or NULL */
        size_t meta_len;
        char *invited_by;        /* who added this invitee (NULL: inviter) */
        char *line_claim;        /* identity of the line claim this part
                                    holds (NULL: none, or an old record) */
        /* Presence in the LiveKit room (webhooks, contract section 9). */
        bool in_room;            /* inRoom */
        int64_t joined_room_at;  /* ms, 0 = absent */
        int64_t left_room_at;    /* ms, 0 = absent */
        int64_t room_session;    /* ms: the LiveKit session (joinedAt) of
                                    the last room event applied, 0 none */
} cs_participant_t;

typedef struct cs_event_s {
        cs_event_type_t type;
        char *user_id;           /* the acting user (timer: the inviter) */
        int32_t platform_id;
        char *operation_id;
        char *request;           /* request case that made it ("accept",
                                    ...; "timer" for the ring timer) */
        int64_t at;              /* ms */
        int32_t code;            /* reply errCode: 0, or 1006 for busy */
        /* What re-emits the operation's notifications on redelivery; kept
         * for the CS_CALL_REPLAY_EVENTS most recent events only. */
        bool replayable;
        cs_strv_t notify;        /* notification recipients, in order */
        cs_strv_t busy;          /* invite: invitees found busy */
        uint8_t *content;        /* notification content (SignalReq) */
        size_t content_len;
} cs_event_t;

/* A command that named the call and was refused: kept in the record so
 * that its redelivery is refused the same way (contract section 5). */
typedef struct cs_refusal_s {
        char *user_id;           /* sendID */
        char *operation_id;
        char *request;           /* request case name */
        int32_t code;            /* the reply's errCode */
        char *msg;               /* the reply's errMsg */
        int64_t at;              /* ms */
} cs_refusal_t;

typedef struct cs_call_s {
        char *room_id;
        cs_call_state_t state;
        cs_end_reason_t end_reason;
        char *inviter_user_id;
        char *group_id;          /* "" for 1:1 calls */
        char *media_type;
        char *custom_data;
        int32_t session_type;
        int32_t platform_id;     /* the inviting device */
        int32_t timeout_s;       /* effective ring timeout of the invite */
        int64_t created_at;      /* ms */
        int64_t deadline;        /* ms: created_at + timeout */
        int64_t accepted_at;     /* ms, 0 = absent */
        int64_t ended_at;        /* ms, 0 = absent */
        cs_participant_t *parts;
        size_t part_cnt;
        cs_event_t *events;
        size_t event_cnt;
        size_t stored_event_cnt; /* events already in the store */
        int64_t events_dropped;  /* older events no longer in the record */
        char *group_claim;       /* identity of the group line claim */
        int64_t rev;             /* compare-and-set revision */
        /* Timer outbox: the operationID of a timer event whose
         * notifications are not yet acknowledged by Kafka, and when its
         * delivery was last started (ms). NULL when none. */
        char *pending_timer_op;
        int64_t pending_timer_at;
        /* The record is the first place a redelivery is looked up
         * (`opsInRecord`, written by callsig since issue 8): every command
         * applied to it is among its events or, once trimmed away, in the
         * ledger, and the refusals of commands that named it are in
         * `refusals` (CS_CALL_KEEP_REFUSALS at most; the ledger after
         * that). false for records written before: the ledger is asked. */
        bool ops_in_record;
        cs_refusal_t *refusals;
        size_t refusal_cnt;
} cs_call_t;

/* The record keeps this many most recent events (the one that ended the
 * call is always the last), and the notification payload of a redelivery
 * only for the most recent CS_CALL_REPLAY_EVENTS of them. */
#define CS_CALL_KEEP_EVENTS 64
#define CS_CALL_REPLAY_EVENTS 8
/* Refusals a record keeps (never trimmed: later ones go to the ledger), and
 * the longest operationID a kept refusal may have (longer: the ledger), so
 * that a record stays bounded (errMsg is one of callsig's own short texts). */
#define CS_CALL_KEEP_REFUSALS 64
#define CS_CALL_REFUSAL_ID_MAX 256

/* What an action did, for the handler to carry out after the update. */
typedef struct cs_effect_s {
        cs_err_t code;           /* CS_OK or a reply code */
        const char *why;         /* static text for errMsg when code != 0 */
        cs_event_t *event;       /* the appended event (owned by the call),
                                    NULL when nothing changed */
        cs_strv_t release;       /* users whose line ends now */
        bool release_group;      /* the call ended: the group line ends */
} cs_effect_t;

/* An action of a user on an existing call. */
typedef struct cs_action_s {
        cs_event_type_t type;      /* ACCEPT, REJECT, CANCEL or HUNG_UP */
        const char *user_id;
        int32_t platform_id;
        const char *operation_id;
        int64_t now;               /* ms */
        const uint8_t *meta;       /* ParticipantMetaData bytes or NULL */
        size_t meta_len;
} cs_action_t;

/* ---- names as stored in MongoDB ---- */
const char *cs_call_state_name(cs_call_state_t state);
const char *cs_end_reason_name(cs_end_reason_t reason);
const char *cs_part_state_name(cs_part_state_t state);
const char *cs_event_type_name(cs_event_type_t type);
bool cs_call_state_parse(const char *name, cs_call_state_t *statep);
bool cs_end_reason_parse(const char *name, cs_end_reason_t *reasonp);
bool cs_part_state_parse(const char *name, cs_part_state_t *statep);
bool cs_event_type_parse(const char *name, cs_event_type_t *typep);

/* ---- string vectors ---- */
void cs_strv_add(cs_strv_t *sv, const char *s);
bool cs_strv_has(const cs_strv_t *sv, const char *s);
void cs_strv_clear(cs_strv_t *sv);

/* ---- construction ---- */

/**
 * Creates a ringing call whose only participant is the inviter (accepted).
 * @returns a new call owned by the caller (never NULL).
 */
cs_call_t *cs_call_new(const char *room_id, const char *inviter_user_id,
                       int32_t platform_id, const char *group_id,
                       const char *media_type, const char *custom_data,
                       int32_t session_type, int32_t timeout_s, int64_t now,
                       const uint8_t *inviter_meta, size_t inviter_meta_len);

/** Frees @p call and everything in it; NULL is accepted. */
void cs_call_destroy(cs_call_t *call);

/** Appends a participant (strings and meta are copied). */
cs_participant_t *cs_call_add_participant(cs_call_t *call,
                                          const char *user_id, bool inviter,
                                          cs_part_state_t state,
                                          int32_t platform_id, int64_t now);

/** Appends an event (strings copied; @p request may be NULL, set later);
 *  @returns it, owned by the call. */
cs_event_t *cs_call_add_event(cs_call_t *call, cs_event_type_t type,
                              const char *user_id, int32_t platform_id,
                              const char *operation_id, int64_t at);

/** Replaces a participant's line claim identity (copied; NULL clears). */
void cs_participant_set_claim(cs_participant_t *part, const char *claim);

/** Stores @p meta as the participant's metadata, or nothing when it is
 *  longer than CS_CALL_META_MAX (the record stays bounded). */
void cs_participant_set_meta(cs_participant_t *part, const uint8_t *meta,
                             size_t len);

/* Largest participant metadata kept in a record, bytes. */
#define CS_CALL_META_MAX 1024

/** Frees what the effect owns (not the event, which the call owns). */
void cs_effect_clear(cs_effect_t *eff);

/* ---- queries ---- */

/** @returns the participant entry of @p user_id or NULL. */
cs_participant_t *cs_call_find(const cs_call_t *call, const char *user_id);

/** @returns the event of (@p user_id, @p operation_id) or NULL: the
 *  identity of an operation is the pair, never the operationID alone. */
cs_event_t *cs_call_find_op(const cs_call_t *call, const char *user_id,
                            const char *operation_id);

/** @returns the kept refusal of (@p user_id, @p operation_id) or NULL. */
cs_refusal_t *cs_call_find_refusal(const cs_call_t *call, const char *user_id,
                                   const char *operation_id);

/** Appends a refusal (strings copied; @p msg NULL reads as "");
 *  @returns it, owned by the call. */
cs_refusal_t *cs_call_add_refusal(cs_call_t *call, const char *user_id,
                                  const char *operation_id,
                                  const char *request, int32_t code,
                                  const char *msg, int64_t at);

/** @returns true if the record can keep the refusal of a command with
 *  @p operation_id (a record written since issue 8, with room left, the ID
 *  within CS_CALL_REFUSAL_ID_MAX). */
bool cs_call_can_keep_refusal(const cs_call_t *call, const char *operation_id);

/** @returns true if the record alone says whether a command with
 *  @p operation_id that names it is known: a record written since issue 8
 *  that never dropped an event nor filled its refusals, and an ID it would
 *  keep. Otherwise a pair the record does not show may be in the ledger. */
bool cs_call_knows_op(const cs_call_t *call, const char *operation_id);

/** Drops the oldest events beyond CS_CALL_KEEP_EVENTS (counting them in
 *  events_dropped) and the replay payload of all but the most recent
 *  CS_CALL_REPLAY_EVENTS. */
void cs_call_trim_events(cs_call_t *call);

/** @returns true while the call is ringing or active. */
bool cs_call_is_live(const cs_call_t *call);

/** @returns true if @p user_id's part in the call is live: the call is live
 *  and the user is ringing or accepted in it. This is what holds a line. */
bool cs_call_user_is_live(const cs_call_t *call, const char *user_id);

/** @returns the earliest ring_until of a ringing participant, or 0. */
int64_t cs_call_next_ring_deadline(const cs_call_t *call);

/* ---- decisions ---- */

/**
 * Adds invitees to a new call or a live call the inviting user is in.
 * Users in @p busy become participants in state busy (their line is held by
 * another call); the others ring until now + timeout_s.
 *
 * On a new call (only the inviter in it) where every invitee is busy, the
 * call ends with reason busy, the event is BUSY with code 1006 and the
 * inviter's line is released.
 *
 * Errors (call unchanged): 1002 the sender is not in the call, 1004 the call
 * is not live, 1001 an invitee is already ringing or accepted in it or the
 * call would exceed @p max_invitees invitees.
 *
 * @param invitees  the requested invitees, validated by the caller (unique,
 *                  not the sender).
 * @param eff       filled; eff->event gets notify (non-busy invitees, then
 *                  the sender) and busy filled in.
 */
void cs_call_invite(cs_call_t *call, const char *sender, int32_t platform_id,
                    const char *operation_id, const cs_strv_t *invitees,
                    const cs_strv_t *busy, int32_t timeout_s,
                    size_t max_invitees, int64_t now, cs_effect_t *eff);

/**
 * Checks whether @p sender may add @p invitees to @p call without changing
 * it: 1002 the sender is not in the call, 1004 the call is not live, 1001 an
 * invitee is already ringing or accepted in it or the call would exceed
 * @p max_invitees invitees. Sets eff->code and eff->why.
 */
void cs_call_check_invite(const cs_call_t *call, const char *sender,
                          const cs_strv_t *invitees, size_t max_invitees,
                          cs_effect_t *eff);

/**
 * Applies accept, reject, cancel or hang-up by @p act->user_id.
 * On success the event is appended with its recipients and the effect says
 * which lines end. A hang-up by the inviter while the call is still ringing
 * is a cancel (event CANCEL).
 */
void cs_call_act(cs_call_t *call, const cs_action_t *act, cs_effect_t *eff);

/**
 * Times out every participant ringing past its deadline at @p now.
 * @returns false if nobody was due (call unchanged, @p eff empty). On true
 *          a TIMEOUT event by the inviter is appended, whose recipients are
 *          the timed-out invitees then the inviter.
 */
bool cs_call_expire(cs_call_t *call, const char *operation_id, int64_t now,
                    cs_effect_t *eff);

/* What a room presence event did (cs_call_room_presence()). */
typedef enum cs_presence_e {
        CS_PRESENCE_APPLIED = 0, /* the participant's presence changed */
        CS_PRESENCE_STALE,       /* older than what the record knows */
        CS_PRESENCE_STRANGER,    /* joined: not an accepted participant */
        CS_PRESENCE_NOT_LIVE,    /* the call has ended */
} cs_presence_t;

/**
 * Applies a LiveKit participant_joined (@p joined) or participant_left /
 * participant_connection_aborted of @p identity to @p call. @p session is
 * the LiveKit session the event belongs to (the participant's joinedAt, ms;
 * events of one session share it, a rejoin has a later one), @p at when it
 * happened (ms). Events may come in any order: a joined is applied only
 * for a session later than the last one applied, a left for that session
 * or a later one, so a left that overtook its joined keeps the participant
 * out. A joined marks only an accepted participant in; a left marks any
 * participant out. On CS_PRESENCE_APPLIED an event (@p operation_id) is
 * appended, by @p identity, whose recipients are the other accepted
 * participants (content left to the caller).
 */
cs_presence_t cs_call_room_presence(cs_call_t *call, const char *identity,
                                    bool joined, int64_t session, int64_t at,
                                    const char *operation_id,
                                    cs_effect_t *eff);

/**
 * LiveKit finished the room: a live call ends (room_finished), ringing
 * invitees are cancelled, everyone in it leaves, its lines are released.
 * The ROOM_FINISHED event is by the inviter; its recipients are the
 * invitees that were ringing (content left to the caller).
 * @returns false (call unchanged) when the call is no longer live.
 */
bool cs_call_room_finish(cs_call_t *call, const char *operation_id,
                         int64_t now, cs_effect_t *eff);

/**
 * Who may read the call: getTokenByRoomID needs a live call (else 1003) in
 * which the user is listed and did not reject (else 1002);
 * getRoomByGroupID needs the user listed (else 1002).
 */
cs_err_t cs_call_check_token(const cs_call_t *call, const char *user_id);
cs_err_t cs_call_check_room_lookup(const cs_call_t *call, const char *user_id);

#endif
