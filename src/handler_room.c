/*
 * handler_room.c: LiveKit room events (contract section 9).
 *
 * A verified webhook body arrives on topics.livekit_events (keyed by the
 * room name, so it shares a partition with the room's commands). Effects
 * on the live call whose roomID is the room name:
 *   participant_joined                 the participant is in the room;
 *                                      case 8 to the other accepted ones
 *   participant_left, ..._aborted      out of the room; case 9 likewise
 *   room_finished                      the call ends (room_finished);
 *                                      ringing invitees get a cancel
 * Each applied event is one event in the call record (type room_joined,
 * room_left or room_finished, operationID = the LiveKit event id), written
 * with the change in one conditional update: an event id found in the
 * record is a duplicate, whose notifications are emitted again
 * byte-identical. Order does not matter (cs_call_room_presence() keeps a
 * late joined from undoing a left); events of rooms that are not live calls
 * change nothing.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "handler_int.h"
#include "log.h"
#include "metrics.h"

/* What the worker needs of a webhook body. Strings borrowed from the JSON. */
typedef struct room_event_s {
        const char *type;
        const char *id;
        const char *room;
        const char *identity;  /* participant_* only */
        int64_t created_ms;    /* createdAt, 0 unknown */
        int64_t session_ms;    /* participant.joinedAtMs (or joinedAt), 0 */
} room_event_t;

/* protojson writes int64 as a string; accept a number too. */
static int64_t json_int64(const json_t *v) {
        if (json_is_integer(v))
                return (int64_t)json_integer_value(v);
        if (json_is_string(v))
                return strtoll(json_string_value(v), NULL, 10);
        return 0;
}

static const char *json_str(const json_t *obj, const char *key) {
        const char *s = json_string_value(json_object_get(obj, key));
        return s ? s : "";
}

void hd_room_remove_participant(cs_handler_t *h, const char *room,
                                const char *identity) {
        cs_log(CS_LOG_INFO, "ROOM",
               "room %s: %s joined but is not an accepted participant; "
               "removing it from the room", room, identity);
        cs_roomsvc_remove(h->roomsvc, room, identity);
}

/* Presence content describing the room now: the accepted participants in
 * it (contract section 9; v3 sends it as 1602 / 1603). */
static uint8_t *pack_presence(cs_handler_t *h, const cs_call_t *call,
                              bool joined, size_t *lenp) {
        cs_room_view_t room = {0};
        inv_lists_t lists;
        hd_invitation_from_call(call, &room.inv, &lists);
        cs_member_t *members = hd_members(call, CS_PART_ACCEPTED, CS_PART_ACCEPTED,
                                          true, &room.member_cnt);
        room.members = members;
        uint8_t *buf = cs_codec_pack_presence(h->dialect, joined, &room, lenp);
        hd_free_invitation_lists(&lists);
        free(members);
        return buf;
}

/* The room event of @p call with LiveKit id @p id, or NULL. */
static const cs_event_t *find_room_event(const cs_call_t *call, const char *id) {
        for (size_t i = 0; i < call->event_cnt; i++) {
                const cs_event_t *ev = &call->events[i];
                if ((ev->type == CS_EV_ROOM_JOINED || ev->type == CS_EV_ROOM_LEFT ||
                     ev->type == CS_EV_ROOM_FINISHED) &&
                    !strcmp(ev->operation_id, id))
                        return ev;
        }
        return NULL;
}

/* One attempt at applying @p e to @p call. *outcomep says what it did. */
static cs_err_t apply(cs_handler_t *h, cs_call_t *call, const room_event_t *e,
                      int64_t now, cs_outbox_t *out, cs_room_outcome_t *outcomep,
                      char *errstr, size_t errstr_size) {
        cs_effect_t eff = {0};
        cs_err_t err = CS_OK;
        const cs_event_t *done = find_room_event(call, e->id);
        if (done) {
                /* Applied before (a redelivery, or LiveKit sent it twice):
                 * its notifications again, byte-identical. */
                hd_emit_event(h, call, done, out);
                *outcomep = CS_ROOM_DUPLICATE;
                return CS_OK;
        }
        *outcomep = CS_ROOM_IGNORED;
        int64_t at = e->created_ms ? e->created_ms : now;
        if (!strcmp(e->type, "room_finished")) {
                if (!cs_call_room_finish(call, e->id, now, &eff))
                        return CS_OK;
                cs_invitation_t inv;
                inv_lists_t lists;
                size_t len;
                hd_invitation_from_call(call, &inv, &lists);
                uint8_t *buf = cs_codec_pack_cancel(h->dialect, call->inviter_user_id,
                                                    &inv, NULL, &len);
                hd_free_invitation_lists(&lists);
                hd_set_content(eff.event, buf, len);
        } else {
                bool joined = !strcmp(e->type, "participant_joined");
                int64_t session = e->session_ms ? e->session_ms : at;
                cs_presence_t p = cs_call_room_presence(call, e->identity, joined,
                                                        session, at, e->id, &eff);
                if (p == CS_PRESENCE_STRANGER)
                        hd_room_remove_participant(h, call->room_id, e->identity);
                if (p != CS_PRESENCE_APPLIED) {
                        cs_log(CS_LOG_INFO, "ROOM", "room %s: %s of %s ignored (%s)",
                               call->room_id, e->type, e->identity,
                               p == CS_PRESENCE_STALE      ? "stale"
                               : p == CS_PRESENCE_STRANGER ? "not an accepted participant"
                                                           : "call ended");
                        return CS_OK;
                }
                size_t len;
                uint8_t *buf = pack_presence(h, call, joined, &len);
                hd_set_content(eff.event, buf, len);
        }
        eff.event->request = cs_xstrdup("livekit");
        /* The write trims the events, which may move this one: it is
         * found again afterwards. */
        err = cs_store_update_call(h->store, call, errstr, errstr_size);
        if (!err) {
                const cs_event_t *ev = find_room_event(call, e->id);
                if (ev)
                        hd_emit_event(h, call, ev, out);
                hd_release_effect(h, call, &eff);
                *outcomep = CS_ROOM_APPLIED;
                cs_log(CS_LOG_INFO, "ROOM", "room %s: %s %s applied%s", call->room_id,
                       e->type, e->identity ? e->identity : "",
                       cs_call_is_live(call) ? "" : ", call ended");
        }
        cs_effect_clear(&eff);
        return err;
}

cs_err_t cs_handler_room_event(cs_handler_t *h, const void *value, size_t len,
                               int64_t now, cs_outbox_t *out, char *errstr,
                               size_t errstr_size) {
        json_error_t jerr;
        cs_err_t err = CS_OK;
        cs_room_outcome_t outcome = CS_ROOM_IGNORED;
        json_t *root = value ? json_loadb(value, len, 0, &jerr) : NULL;
        if (!json_is_object(root)) {
                snprintf(errstr, errstr_size, "LiveKit event is not a JSON object");
                json_decref(root);
                return CS_ERR_UNDECODABLE;
        }
        room_event_t e = {0};
        e.type = json_str(root, "event");
        e.id = json_str(root, "id");
        e.room = json_str(json_object_get(root, "room"), "name");
        e.created_ms = json_int64(json_object_get(root, "createdAt")) * 1000;
        json_t *part = json_object_get(root, "participant");
        e.identity = json_str(part, "identity");
        e.session_ms = json_int64(json_object_get(part, "joinedAtMs"));
        if (!e.session_ms)
                e.session_ms = json_int64(json_object_get(part, "joinedAt")) * 1000;

        bool presence = !strcmp(e.type, "participant_joined") ||
                        !strcmp(e.type, "participant_left") ||
                        !strcmp(e.type, "participant_connection_aborted");
        bool finished = !strcmp(e.type, "room_finished");
        if ((!presence && !finished) || !hd_valid_id(e.room) || !e.id[0] ||
            strlen(e.id) > HD_MAX_ID_BYTES || (presence && !hd_valid_id(e.identity))) {
                /* Other events, or nothing callsig can tie to a call. */
                cs_log(CS_LOG_DEBUG, "ROOM", "event %s (%s) ignored", e.id, e.type);
                goto done;
        }
        for (int attempt = 0;; attempt++) {
                cs_call_t *call = NULL;
                err = cs_store_load_call(h->store, e.room, &call, errstr, errstr_size);
                if (err == CS_ERR_UNDECODABLE)
                        err = CS_ERR_PERMANENT;
                if (err || !call) {
                        if (!err)
                                cs_log(CS_LOG_DEBUG, "ROOM", "event %s: room %s is not a call",
                                       e.id, e.room);
                        break;
                }
                err = apply(h, call, &e, now, out, &outcome, errstr, errstr_size);
                cs_call_destroy(call);
                if (err != CS_ERR_RACE)
                        break;
                cs_metrics_lost_race();
                cs_outbox_clear(out);
                if (attempt + 1 >= HD_MAX_RACE_ATTEMPTS) {
                        snprintf(errstr, errstr_size, "lost %d races in a row",
                                 HD_MAX_RACE_ATTEMPTS);
                        err = CS_ERR_PERMANENT;
                        break;
                }
        }
done:
        if (!err)
                cs_metrics_room_event(e.type, outcome);
        json_decref(root);
        return err;
}
