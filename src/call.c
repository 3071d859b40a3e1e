/*
 * call.c: the call state machine (see call.h for the rules).
 *
 * Every decision first checks who is asking (1002), then the call's state
 * (1004), and changes nothing when it refuses. A successful decision appends
 * one event and lists the users whose line ends, so the handler can release
 * them after the record is written.
 */
#include "call.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* ---- names ---- */

static const char *const call_state_names[] = {"ringing", "active", "ended"};
static const char *const end_reason_names[] = {
        "", "cancelled", "rejected", "timeout", "hung_up", "busy", "room_finished"};
static const char *const part_state_names[] = {
        "ringing", "accepted", "rejected", "timeout", "busy", "cancelled", "left"};
static const char *const event_type_names[] = {
        "invite", "accept", "reject", "cancel", "hung_up", "timeout", "busy",
        "room_joined", "room_left", "room_finished"};

const char *cs_call_state_name(cs_call_state_t state) {
        return call_state_names[state];
}
const char *cs_end_reason_name(cs_end_reason_t reason) {
        return end_reason_names[reason];
}
const char *cs_part_state_name(cs_part_state_t state) {
        return part_state_names[state];
}
const char *cs_event_type_name(cs_event_type_t type) {
        return event_type_names[type];
}

static bool parse_name(const char *const *names, size_t cnt, const char *name,
                       int *valuep) {
        for (size_t i = 0; i < cnt; i++) {
                if (names[i][0] && strcmp(names[i], name) == 0) {
                        *valuep = (int)i;
                        return true;
                }
        }
        return false;
}

bool cs_call_state_parse(const char *name, cs_call_state_t *statep) {
        int v;
        if (!parse_name(call_state_names, CS_ARRAY_SIZE(call_state_names), name, &v))
                return false;
        *statep = (cs_call_state_t)v;
        return true;
}
bool cs_end_reason_parse(const char *name, cs_end_reason_t *reasonp) {
        int v;
        if (!parse_name(end_reason_names, CS_ARRAY_SIZE(end_reason_names), name, &v))
                return false;
        *reasonp = (cs_end_reason_t)v;
        return true;
}
bool cs_part_state_parse(const char *name, cs_part_state_t *statep) {
        int v;
        if (!parse_name(part_state_names, CS_ARRAY_SIZE(part_state_names), name, &v))
                return false;
        *statep = (cs_part_state_t)v;
        return true;
}
bool cs_event_type_parse(const char *name, cs_event_type_t *typep) {
        int v;
        if (!parse_name(event_type_names, CS_ARRAY_SIZE(event_type_names), name, &v))
                return false;
        *typep = (cs_event_type_t)v;
        return true;
}

/* ---- string vectors ---- */

void cs_strv_add(cs_strv_t *sv, const char *s) {
        sv->v = cs_xrealloc(sv->v, (sv->cnt + 1) * sizeof(*sv->v));
        sv->v[sv->cnt++] = cs_xstrdup(s);
}

bool cs_strv_has(const cs_strv_t *sv, const char *s) {
        for (size_t i = 0; i < sv->cnt; i++)
                if (strcmp(sv->v[i], s) == 0)
                        return true;
        return false;
}

void cs_strv_clear(cs_strv_t *sv) {
        for (size_t i = 0; i < sv->cnt; i++)
                free(sv->v[i]);
        free(sv->v);
        sv->v = NULL;
        sv->cnt = 0;
}

/* ---- construction ---- */

void cs_participant_set_meta(cs_participant_t *part, const uint8_t *meta,
                             size_t len) {
        free(part->meta);
        part->meta = NULL;
        part->meta_len = 0;
        if (meta && len && len <= CS_CALL_META_MAX) {
                part->meta = cs_xmemdup(meta, len);
                part->meta_len = len;
        }
}

void cs_participant_set_claim(cs_participant_t *part, const char *claim) {
        free(part->line_claim);
        part->line_claim = cs_xstrdup(claim);
}

cs_call_t *cs_call_new(const char *room_id, const char *inviter_user_id,
                       int32_t platform_id, const char *group_id,
                       const char *media_type, const char *custom_data,
                       int32_t session_type, int32_t timeout_s, int64_t now,
                       const uint8_t *inviter_meta, size_t inviter_meta_len) {
        cs_call_t *call = cs_xcalloc(1, sizeof(*call));
        call->room_id = cs_xstrdup(room_id);
        call->state = CS_CALL_RINGING;
        call->inviter_user_id = cs_xstrdup(inviter_user_id);
        call->group_id = cs_xstrdup(group_id);
        call->media_type = cs_xstrdup(media_type);
        call->custom_data = cs_xstrdup(custom_data);
        call->session_type = session_type;
        call->platform_id = platform_id;
        call->timeout_s = timeout_s;
        call->created_at = now;
        call->deadline = now + (int64_t)timeout_s * 1000;
        cs_participant_t *inviter = cs_call_add_participant(
                call, inviter_user_id, true, CS_PART_ACCEPTED, platform_id, now);
        cs_participant_set_meta(inviter, inviter_meta, inviter_meta_len);
        call->ops_in_record = true;
        return call;
}

/* Drops what only a redelivery needs. */
static void event_strip(cs_event_t *ev) {
        cs_strv_clear(&ev->notify);
        cs_strv_clear(&ev->busy);
        free(ev->content);
        ev->content = NULL;
        ev->content_len = 0;
        ev->replayable = false;
}

static void event_clear(cs_event_t *ev) {
        free(ev->user_id);
        free(ev->operation_id);
        free(ev->request);
        event_strip(ev);
}

void cs_call_destroy(cs_call_t *call) {
        if (!call)
                return;
        for (size_t i = 0; i < call->part_cnt; i++) {
                free(call->parts[i].user_id);
                free(call->parts[i].meta);
                free(call->parts[i].invited_by);
                free(call->parts[i].line_claim);
        }
        free(call->parts);
        for (size_t i = 0; i < call->event_cnt; i++)
                event_clear(&call->events[i]);
        free(call->events);
        free(call->room_id);
        free(call->inviter_user_id);
        free(call->group_id);
        free(call->media_type);
        free(call->custom_data);
        free(call->pending_timer_op);
        free(call->group_claim);
        for (size_t i = 0; i < call->refusal_cnt; i++) {
                free(call->refusals[i].user_id);
                free(call->refusals[i].operation_id);
                free(call->refusals[i].request);
                free(call->refusals[i].msg);
        }
        free(call->refusals);
        free(call);
}

cs_participant_t *cs_call_add_participant(cs_call_t *call,
                                          const char *user_id, bool inviter,
                                          cs_part_state_t state,
                                          int32_t platform_id, int64_t now) {
        call->parts = cs_xrealloc(call->parts,
                               (call->part_cnt + 1) * sizeof(*call->parts));
        cs_participant_t *part = &call->parts[call->part_cnt++];
        memset(part, 0, sizeof(*part));
        part->user_id = cs_xstrdup(user_id);
        part->inviter = inviter;
        part->state = state;
        part->platform_id = platform_id;
        part->updated_at = now;
        return part;
}

cs_event_t *cs_call_add_event(cs_call_t *call, cs_event_type_t type,
                              const char *user_id, int32_t platform_id,
                              const char *operation_id, int64_t at) {
        call->events = cs_xrealloc(call->events,
                                (call->event_cnt + 1) * sizeof(*call->events));
        cs_event_t *ev = &call->events[call->event_cnt++];
        memset(ev, 0, sizeof(*ev));
        ev->type = type;
        ev->user_id = cs_xstrdup(user_id);
        ev->platform_id = platform_id;
        ev->operation_id = cs_xstrdup(operation_id);
        ev->at = at;
        ev->replayable = true;
        return ev;
}

void cs_call_trim_events(cs_call_t *call) {
        if (call->event_cnt > CS_CALL_KEEP_EVENTS) {
                size_t drop = call->event_cnt - CS_CALL_KEEP_EVENTS;
                for (size_t i = 0; i < drop; i++)
                        event_clear(&call->events[i]);
                memmove(call->events, call->events + drop,
                        CS_CALL_KEEP_EVENTS * sizeof(*call->events));
                call->event_cnt = CS_CALL_KEEP_EVENTS;
                call->stored_event_cnt = call->stored_event_cnt > drop
                                                 ? call->stored_event_cnt - drop
                                                 : 0;
                call->events_dropped += (int64_t)drop;
        }
        for (size_t i = 0; i + CS_CALL_REPLAY_EVENTS < call->event_cnt; i++)
                event_strip(&call->events[i]);
}

void cs_effect_clear(cs_effect_t *eff) {
        cs_strv_clear(&eff->release);
        memset(eff, 0, sizeof(*eff));
}

/* ---- queries ---- */

cs_participant_t *cs_call_find(const cs_call_t *call, const char *user_id) {
        for (size_t i = 0; i < call->part_cnt; i++)
                if (strcmp(call->parts[i].user_id, user_id) == 0)
                        return &call->parts[i];
        return NULL;
}

cs_event_t *cs_call_find_op(const cs_call_t *call, const char *user_id,
                            const char *operation_id) {
        for (size_t i = 0; i < call->event_cnt; i++)
                if (strcmp(call->events[i].operation_id, operation_id) == 0 &&
                    strcmp(call->events[i].user_id, user_id) == 0)
                        return &call->events[i];
        return NULL;
}

cs_refusal_t *cs_call_find_refusal(const cs_call_t *call, const char *user_id,
                                   const char *operation_id) {
        for (size_t i = 0; i < call->refusal_cnt; i++)
                if (strcmp(call->refusals[i].operation_id, operation_id) == 0 &&
                    strcmp(call->refusals[i].user_id, user_id) == 0)
                        return &call->refusals[i];
        return NULL;
}

cs_refusal_t *cs_call_add_refusal(cs_call_t *call, const char *user_id,
                                  const char *operation_id,
                                  const char *request, int32_t code,
                                  const char *msg, int64_t at) {
        call->refusals = cs_xrealloc(call->refusals, (call->refusal_cnt + 1) *
                                                             sizeof(*call->refusals));
        cs_refusal_t *ref = &call->refusals[call->refusal_cnt++];
        ref->user_id = cs_xstrdup(user_id);
        ref->operation_id = cs_xstrdup(operation_id);
        ref->request = cs_xstrdup(request);
        ref->code = code;
        ref->msg = cs_xstrdup(msg ? msg : "");
        ref->at = at;
        return ref;
}

bool cs_call_can_keep_refusal(const cs_call_t *call, const char *operation_id) {
        return call->ops_in_record && call->refusal_cnt < CS_CALL_KEEP_REFUSALS &&
               strlen(operation_id) <= CS_CALL_REFUSAL_ID_MAX;
}

bool cs_call_knows_op(const cs_call_t *call, const char *operation_id) {
        return cs_call_can_keep_refusal(call, operation_id) &&
               call->events_dropped == 0;
}

bool cs_call_is_live(const cs_call_t *call) {
        return call->state != CS_CALL_ENDED;
}

static bool part_is_live(const cs_participant_t *part) {
        return part->state == CS_PART_RINGING ||
               part->state == CS_PART_ACCEPTED;
}

bool cs_call_user_is_live(const cs_call_t *call, const char *user_id) {
        const cs_participant_t *part = cs_call_find(call, user_id);
        return cs_call_is_live(call) && part && part_is_live(part);
}

int64_t cs_call_next_ring_deadline(const cs_call_t *call) {
        int64_t next = 0;
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *part = &call->parts[i];
                if (part->state == CS_PART_RINGING &&
                    (next == 0 || part->ring_until < next))
                        next = part->ring_until;
        }
        return next;
}

static size_t count_in_state(const cs_call_t *call, cs_part_state_t state) {
        size_t n = 0;
        for (size_t i = 0; i < call->part_cnt; i++)
                if (call->parts[i].state == state)
                        n++;
        return n;
}

static size_t count_invitees(const cs_call_t *call) {
        size_t n = 0;
        for (size_t i = 0; i < call->part_cnt; i++)
                if (!call->parts[i].inviter)
                        n++;
        return n;
}

/* ---- decisions ---- */

static void refuse(cs_effect_t *eff, cs_err_t code, const char *why) {
        eff->code = code;
        eff->why = why;
}

static void set_part(cs_participant_t *part, cs_part_state_t state,
                     int32_t platform_id, int64_t now) {
        part->state = state;
        part->updated_at = now;
        if (platform_id)
                part->platform_id = platform_id;
}

/* Ends the call: ringing participants become cancelled, everyone still in
 * it leaves, every line of the call is released. */
static void end_call(cs_call_t *call, cs_end_reason_t reason, int64_t now,
                     cs_effect_t *eff) {
        for (size_t i = 0; i < call->part_cnt; i++) {
                cs_participant_t *part = &call->parts[i];
                if (part->state == CS_PART_RINGING)
                        set_part(part, CS_PART_CANCELLED, 0, now);
                else if (part->state == CS_PART_ACCEPTED)
                        set_part(part, CS_PART_LEFT, 0, now);
                else
                        continue;
                if (!cs_strv_has(&eff->release, part->user_id))
                        cs_strv_add(&eff->release, part->user_id);
        }
        call->state = CS_CALL_ENDED;
        call->end_reason = reason;
        call->ended_at = now;
        eff->release_group = true;
}

/* The call ends when nobody rings and fewer than two are in it, or when
 * nobody is in it at all. */
static void end_if_over(cs_call_t *call, cs_end_reason_t reason, int64_t now,
                        cs_effect_t *eff) {
        size_t ringing = count_in_state(call, CS_PART_RINGING);
        size_t in_call = count_in_state(call, CS_PART_ACCEPTED);
        if ((ringing == 0 && in_call < 2) || in_call == 0)
                end_call(call, reason, now, eff);
}

static void release_user(cs_effect_t *eff, const char *user_id) {
        if (!cs_strv_has(&eff->release, user_id))
                cs_strv_add(&eff->release, user_id);
}

void cs_call_check_invite(const cs_call_t *call, const char *sender,
                          const cs_strv_t *invitees, size_t max_invitees,
                          cs_effect_t *eff) {
        memset(eff, 0, sizeof(*eff));
        const cs_participant_t *me = cs_call_find(call, sender);
        if (!me) {
                refuse(eff, CS_ERR_NOT_PERMITTED, "sender is not in this call");
                return;
        }
        if (!cs_call_is_live(call)) {
                refuse(eff, CS_ERR_CONFLICT, "call has ended");
                return;
        }
        if (me->state != CS_PART_ACCEPTED) {
                refuse(eff, CS_ERR_NOT_PERMITTED,
                       "only a user in the call may invite to it");
                return;
        }
        size_t added = 0;
        for (size_t i = 0; i < invitees->cnt; i++) {
                const cs_participant_t *part = cs_call_find(call, invitees->v[i]);
                if (part && part->inviter) {
                        /* A departed inviter rejoins with getTokenByRoomID;
                         * as an invitee they could neither answer nor leave. */
                        refuse(eff, CS_ERR_INVALID,
                               "the call's inviter cannot be invited to it");
                        return;
                }
                if (part && part_is_live(part)) {
                        refuse(eff, CS_ERR_INVALID,
                               "an invitee is already in this call");
                        return;
                }
                if (!part)
                        added++;
        }
        if (count_invitees(call) + added > max_invitees)
                refuse(eff, CS_ERR_INVALID, "too many invitees for one call");
}

void cs_call_invite(cs_call_t *call, const char *sender, int32_t platform_id,
                    const char *operation_id, const cs_strv_t *invitees,
                    const cs_strv_t *busy, int32_t timeout_s,
                    size_t max_invitees, int64_t now, cs_effect_t *eff) {
        cs_call_check_invite(call, sender, invitees, max_invitees, eff);
        if (eff->code != CS_OK)
                return;

        bool new_call = call->part_cnt == 1;
        bool all_busy = true;
        for (size_t i = 0; i < invitees->cnt; i++) {
                const char *user_id = invitees->v[i];
                bool is_busy = cs_strv_has(busy, user_id);
                cs_part_state_t state = is_busy ? CS_PART_BUSY : CS_PART_RINGING;
                cs_participant_t *part = cs_call_find(call, user_id);
                if (part)
                        set_part(part, state, 0, now);
                else
                        part = cs_call_add_participant(call, user_id, false,
                                                       state, 0, now);
                free(part->invited_by);
                part->invited_by = cs_xstrdup(sender);
                cs_participant_set_claim(part, NULL);
                part->ring_until = is_busy ? 0 : now + (int64_t)timeout_s * 1000;
                if (!is_busy)
                        all_busy = false;
        }

        cs_event_type_t type = new_call && all_busy ? CS_EV_BUSY : CS_EV_INVITE;
        cs_event_t *ev = cs_call_add_event(call, type, sender, platform_id,
                                           operation_id, now);
        for (size_t i = 0; i < busy->cnt; i++)
                cs_strv_add(&ev->busy, busy->v[i]);
        eff->event = ev;
        if (type == CS_EV_BUSY) {
                ev->code = CS_ERR_ALL_BUSY;
                eff->code = CS_ERR_ALL_BUSY;
                eff->why = "every invitee is busy";
                end_call(call, CS_END_BUSY, now, eff);
                return;
        }
        for (size_t i = 0; i < invitees->cnt; i++)
                if (!cs_strv_has(busy, invitees->v[i]))
                        cs_strv_add(&ev->notify, invitees->v[i]);
        cs_strv_add(&ev->notify, sender);
        eff->code = CS_OK;
}

/* Adds every participant in @p state (other than @p except) to the
 * event's recipients. */
static void notify_in_state(cs_event_t *ev, const cs_call_t *call,
                            cs_part_state_t state, const char *except) {
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *part = &call->parts[i];
                if (part->state == state && strcmp(part->user_id, except) &&
                    !cs_strv_has(&ev->notify, part->user_id))
                        cs_strv_add(&ev->notify, part->user_id);
        }
}

static void do_cancel(cs_call_t *call, const cs_action_t *act,
                      cs_participant_t *me, cs_effect_t *eff) {
        cs_event_t *ev = cs_call_add_event(call, CS_EV_CANCEL, act->user_id,
                                           act->platform_id,
                                           act->operation_id, act->now);
        notify_in_state(ev, call, CS_PART_RINGING, act->user_id);
        cs_strv_add(&ev->notify, act->user_id);
        set_part(me, CS_PART_LEFT, act->platform_id, act->now);
        release_user(eff, act->user_id);
        end_call(call, CS_END_CANCELLED, act->now, eff);
        eff->event = ev;
}

void cs_call_act(cs_call_t *call, const cs_action_t *act, cs_effect_t *eff) {
        memset(eff, 0, sizeof(*eff));
        cs_participant_t *me = cs_call_find(call, act->user_id);
        if (!me) {
                refuse(eff, CS_ERR_NOT_PERMITTED, "sender is not in this call");
                return;
        }
        bool ended = !cs_call_is_live(call);
        cs_event_t *ev = NULL;

        switch (act->type) {
        case CS_EV_ACCEPT:
        case CS_EV_REJECT:
                if (me->inviter) {
                        refuse(eff, CS_ERR_NOT_PERMITTED,
                               "only an invitee may answer");
                        return;
                }
                if (ended || me->state != CS_PART_RINGING) {
                        refuse(eff, CS_ERR_CONFLICT,
                               ended ? "call has ended"
                                     : "invitation already answered or over");
                        return;
                }
                /* Past the ring deadline the invitation is over, whether
                 * or not the timer has fired yet. */
                if (act->type == CS_EV_ACCEPT && me->ring_until &&
                    act->now >= me->ring_until) {
                        refuse(eff, CS_ERR_CONFLICT, "the invitation timed out");
                        return;
                }
                ev = cs_call_add_event(call, act->type, act->user_id,
                                       act->platform_id, act->operation_id,
                                       act->now);
                cs_strv_add(&ev->notify, call->inviter_user_id);
                if (me->invited_by &&
                    strcmp(me->invited_by, call->inviter_user_id) &&
                    strcmp(me->invited_by, act->user_id))
                        cs_strv_add(&ev->notify, me->invited_by);
                cs_strv_add(&ev->notify, act->user_id);
                if (act->type == CS_EV_ACCEPT) {
                        set_part(me, CS_PART_ACCEPTED, act->platform_id, act->now);
                        cs_participant_set_meta(me, act->meta, act->meta_len);
                        if (call->state == CS_CALL_RINGING) {
                                call->state = CS_CALL_ACTIVE;
                                call->accepted_at = act->now;
                        }
                } else {
                        set_part(me, CS_PART_REJECTED, act->platform_id, act->now);
                        release_user(eff, act->user_id);
                        end_if_over(call, CS_END_REJECTED, act->now, eff);
                }
                break;

        case CS_EV_CANCEL:
                if (!me->inviter) {
                        refuse(eff, CS_ERR_NOT_PERMITTED,
                               "only the inviter may cancel");
                        return;
                }
                if (ended && !call->accepted_at &&
                    call->end_reason != CS_END_HUNG_UP &&
                    call->end_reason != CS_END_ROOM_FINISHED) {
                        /* Apps cancel when their own ring timer fires:
                         * the call already ended unanswered, so the
                         * cancel is done. Nothing changes. */
                        eff->code = CS_OK;
                        return;
                }
                if (call->state != CS_CALL_RINGING) {
                        refuse(eff, CS_ERR_CONFLICT,
                               ended ? "call has ended"
                                     : "call was already answered");
                        return;
                }
                do_cancel(call, act, me, eff);
                ev = eff->event;
                break;

        case CS_EV_HUNG_UP:
                if (!me->inviter && me->state == CS_PART_RINGING && !ended) {
                        refuse(eff, CS_ERR_NOT_PERMITTED,
                               "a ringing invitee rejects, it does not hang up");
                        return;
                }
                if (ended || me->state != CS_PART_ACCEPTED) {
                        refuse(eff, CS_ERR_CONFLICT,
                               ended ? "call has ended"
                                     : "sender is no longer in this call");
                        return;
                }
                if (me->inviter && call->state == CS_CALL_RINGING) {
                        do_cancel(call, act, me, eff);
                        ev = eff->event;
                        break;
                }
                ev = cs_call_add_event(call, CS_EV_HUNG_UP, act->user_id,
                                       act->platform_id, act->operation_id,
                                       act->now);
                notify_in_state(ev, call, CS_PART_ACCEPTED, act->user_id);
                notify_in_state(ev, call, CS_PART_RINGING, act->user_id);
                cs_strv_add(&ev->notify, act->user_id);
                set_part(me, CS_PART_LEFT, act->platform_id, act->now);
                release_user(eff, act->user_id);
                if (call->session_type == 1 || call->group_id[0] == '\0')
                        end_call(call, CS_END_HUNG_UP, act->now, eff);
                else
                        end_if_over(call, CS_END_HUNG_UP, act->now, eff);
                break;

        default:
                refuse(eff, CS_ERR_UNSUPPORTED, "unsupported action");
                return;
        }
        eff->event = ev;
        eff->code = CS_OK;
}

bool cs_call_expire(cs_call_t *call, const char *operation_id, int64_t now,
                    cs_effect_t *eff) {
        memset(eff, 0, sizeof(*eff));
        if (!cs_call_is_live(call))
                return false;
        cs_strv_t due = {0};
        for (size_t i = 0; i < call->part_cnt; i++) {
                cs_participant_t *part = &call->parts[i];
                if (part->state == CS_PART_RINGING && part->ring_until <= now) {
                        set_part(part, CS_PART_TIMEOUT, 0, now);
                        cs_strv_add(&due, part->user_id);
                }
        }
        if (due.cnt == 0)
                return false;
        cs_participant_t *inviter = cs_call_find(call, call->inviter_user_id);
        cs_event_t *ev = cs_call_add_event(call, CS_EV_TIMEOUT,
                                           call->inviter_user_id,
                                           inviter ? inviter->platform_id : 0,
                                           operation_id, now);
        for (size_t i = 0; i < due.cnt; i++) {
                cs_strv_add(&ev->notify, due.v[i]);
                release_user(eff, due.v[i]);
        }
        cs_strv_add(&ev->notify, call->inviter_user_id);
        cs_strv_clear(&due);
        end_if_over(call, CS_END_TIMEOUT, now, eff);
        eff->event = ev;
        eff->code = CS_OK;
        return true;
}

cs_err_t cs_call_check_token(const cs_call_t *call, const char *user_id) {
        if (!cs_call_is_live(call))
                return CS_ERR_NOT_FOUND;
        const cs_participant_t *part = cs_call_find(call, user_id);
        if (!part || part->state == CS_PART_REJECTED)
                return CS_ERR_NOT_PERMITTED;
        return CS_OK;
}

cs_err_t cs_call_check_room_lookup(const cs_call_t *call,
                                   const char *user_id) {
        if (!cs_call_is_live(call))
                return CS_ERR_NOT_FOUND;
        if (!cs_call_find(call, user_id))
                return CS_ERR_NOT_PERMITTED;
        return CS_OK;
}

/* ---- LiveKit room events ---- */

cs_presence_t cs_call_room_presence(cs_call_t *call, const char *identity,
                                    bool joined, int64_t session, int64_t at,
                                    const char *operation_id,
                                    cs_effect_t *eff) {
        memset(eff, 0, sizeof(*eff));
        if (!cs_call_is_live(call))
                return CS_PRESENCE_NOT_LIVE;
        cs_participant_t *part = cs_call_find(call, identity);
        if (joined) {
                if (!part || part->state != CS_PART_ACCEPTED)
                        return CS_PRESENCE_STRANGER;
                if (part->room_session && session <= part->room_session)
                        return CS_PRESENCE_STALE;
                part->in_room = true;
                part->joined_room_at = at;
        } else {
                if (!part || (part->room_session && session < part->room_session))
                        return CS_PRESENCE_STALE;
                part->in_room = false;
                part->left_room_at = at;
        }
        part->room_session = session;
        cs_event_t *ev = cs_call_add_event(
                call, joined ? CS_EV_ROOM_JOINED : CS_EV_ROOM_LEFT, identity,
                part->platform_id, operation_id, at);
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *other = &call->parts[i];
                if (other != part && other->state == CS_PART_ACCEPTED)
                        cs_strv_add(&ev->notify, other->user_id);
        }
        eff->event = ev;
        eff->code = CS_OK;
        return CS_PRESENCE_APPLIED;
}

bool cs_call_room_finish(cs_call_t *call, const char *operation_id,
                         int64_t now, cs_effect_t *eff) {
        memset(eff, 0, sizeof(*eff));
        if (!cs_call_is_live(call))
                return false;
        cs_participant_t *inviter = cs_call_find(call, call->inviter_user_id);
        cs_event_t *ev = cs_call_add_event(call, CS_EV_ROOM_FINISHED,
                                           call->inviter_user_id,
                                           inviter ? inviter->platform_id : 0,
                                           operation_id, now);
        for (size_t i = 0; i < call->part_cnt; i++)
                if (call->parts[i].state == CS_PART_RINGING)
                        cs_strv_add(&ev->notify, call->parts[i].user_id);
        end_call(call, CS_END_ROOM_FINISHED, now, eff);
        for (size_t i = 0; i < call->part_cnt; i++)
                call->parts[i].in_room = false;
        eff->event = ev;
        eff->code = CS_OK;
        return true;
}
