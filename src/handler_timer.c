/*
 * handler_timer.c: ring timeouts and the timer outbox.
 *
 * Due calls are taken in due order (store: by their earliest ring
 * deadline, undelivered timer events first). Each is claimed with one
 * conditional update, so exactly one worker fires each deadline. The same
 * update puts the timer event into the call's outbox slot; the slot is
 * emptied once Kafka acknowledged the notifications, and a slot whose
 * delivery started longer ago than any delivery can take (its worker died)
 * is emitted again by any worker.
 *
 * Failures are isolated: a call that cannot be changed (an unreadable
 * record, a write MongoDB refuses, a streak of lost races) is logged,
 * counted and skipped for a while, so it never delays another call's
 * timeout. A transient failure (MongoDB unreachable) ends the tick: every
 * call would fail the same way.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "handler_int.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"

/* Calls looked at per tick. */
#define TIMER_BATCH 64
/* Calls the timer could not change are skipped this long (ms), at most
 * this many at once (beyond that they are retried every tick). */
#define TIMER_SKIP_MS 60000
#define TIMER_SKIP_MAX 256

/* The timer's event for a call at one revision: its operationID. */
static void timer_op_id(const cs_handler_t *h, const cs_call_t *call,
                        char out[48]) {
        char rev[24], hex[33];
        snprintf(rev, sizeof(rev), "%lld", (long long)call->rev);
        const char *parts[] = {"timeout", call->room_id, rev};
        cs_hash_hex128(h->room_key, parts, CS_ARRAY_SIZE(parts), hex);
        snprintf(out, 48, "timer-%s", hex);
}

/* Emits again the timer event of @p call whose delivery a worker started
 * and did not finish. */
static cs_err_t emit_pending(cs_handler_t *h, cs_call_t *call, int64_t now,
                             int64_t redeliver_after_ms, cs_outbox_t *out,
                             cs_strv_t *fired, char *errstr,
                             size_t errstr_size) {
        /* One slot: the next deadline waits until the previous timer event
         * is delivered. */
        if (call->pending_timer_at > now - redeliver_after_ms)
                return CS_OK;
        call->pending_timer_at = now;
        cs_err_t err = cs_store_update_call(h->store, call, errstr, errstr_size);
        if (err)
                return err;
        const cs_event_t *ev = cs_call_find_op(call, call->inviter_user_id,
                                               call->pending_timer_op);
        if (ev) {
                cs_log(CS_LOG_WARN, "TIMER",
                       "room %s: emitting undelivered timer event %s again",
                       call->room_id, ev->operation_id);
                hd_emit_event(h, call, ev, out);
        }
        cs_strv_add(fired, call->room_id);
        cs_strv_add(fired, call->pending_timer_op);
        return CS_OK;
}

/* Times out the ringing participants of @p call that are due. */
static cs_err_t expire(cs_handler_t *h, cs_call_t *call, int64_t now,
                       cs_outbox_t *out, cs_strv_t *fired, char *errstr,
                       size_t errstr_size) {
        cs_effect_t eff = {0};
        char op_id[48];
        timer_op_id(h, call, op_id);
        if (!cs_call_expire(call, op_id, now, &eff))
                return CS_OK; /* another worker fired it */
        cs_invitation_t inv;
        inv_lists_t lists;
        size_t len;
        hd_invitation_from_call(call, &inv, &lists);
        uint8_t *buf = cs_codec_pack_cancel(h->dialect, call->inviter_user_id, &inv,
                                            NULL, &len);
        hd_free_invitation_lists(&lists);
        hd_set_content(eff.event, buf, len);
        eff.event->request = cs_xstrdup("timer");
        call->pending_timer_op = cs_xstrdup(op_id);
        call->pending_timer_at = now;
        cs_err_t err = cs_store_update_call(h->store, call, errstr, errstr_size);
        if (!err) {
                cs_log(CS_LOG_INFO, "TIMER", "room %s: %zu invitee(s) timed out%s",
                       call->room_id, eff.event->notify.cnt - 1,
                       cs_call_is_live(call) ? "" : ", call ended");
                hd_emit_event(h, call, eff.event, out);
                cs_metrics_timer_fired();
                cs_strv_add(fired, call->room_id);
                cs_strv_add(fired, op_id);
                hd_release_effect(h, call, &eff);
        }
        cs_effect_clear(&eff);
        return err;
}

/* Fires the due ring timeouts of one call, or emits again its timer event
 * whose delivery was started by a worker that did not finish it. */
static cs_err_t fire_call(cs_handler_t *h, const char *room_id, int64_t now,
                          int64_t redeliver_after_ms, cs_outbox_t *out,
                          cs_strv_t *fired, char *errstr,
                          size_t errstr_size) {
        for (int attempt = 0; attempt < HD_MAX_RACE_ATTEMPTS; attempt++) {
                cs_call_t *call = NULL;
                cs_err_t err = cs_store_load_call(h->store, room_id, &call,
                                                  errstr, errstr_size);
                if (err == CS_ERR_UNDECODABLE)
                        return CS_ERR_PERMANENT;
                if (err || !call)
                        return err;
                if (call->pending_timer_op)
                        err = emit_pending(h, call, now, redeliver_after_ms,
                                           out, fired, errstr, errstr_size);
                else
                        err = expire(h, call, now, out, fired, errstr,
                                     errstr_size);
                cs_call_destroy(call);
                if (err != CS_ERR_RACE)
                        return err;
                cs_metrics_lost_race();
        }
        snprintf(errstr, errstr_size, "lost %d races in a row",
                 HD_MAX_RACE_ATTEMPTS);
        return CS_ERR_PERMANENT;
}

cs_err_t cs_handler_timer(cs_handler_t *h, int64_t now,
                          int64_t redeliver_after_ms, cs_outbox_t *out,
                          cs_strv_t *fired, char *errstr, size_t errstr_size) {
        cs_strv_t rooms = {0};
        if (h->timer_skip.cnt && now >= h->timer_skip_until)
                cs_strv_clear(&h->timer_skip);
        cs_err_t err = cs_store_find_due(h->store, now,
                                         now - redeliver_after_ms,
                                         &h->timer_skip, TIMER_BATCH, &rooms,
                                         errstr, errstr_size);
        for (size_t i = 0; !err && i < rooms.cnt; i++) {
                char why[512] = "";
                cs_err_t call_err = fire_call(h, rooms.v[i], now,
                                              redeliver_after_ms, out, fired,
                                              why, sizeof(why));
                if (call_err == CS_OK)
                        continue;
                if (call_err == CS_ERR_TRANSIENT) {
                        snprintf(errstr, errstr_size, "room %s: %s",
                                 rooms.v[i], why);
                        err = call_err;
                        break;
                }
                h->timer_failures++;
                cs_log(CS_LOG_ERR, "TIMER",
                       "room %s: cannot fire its timeout, skipped for %d s "
                       "(%llu call(s) so far): %s", rooms.v[i],
                       TIMER_SKIP_MS / 1000,
                       (unsigned long long)h->timer_failures, why);
                if (h->timer_skip.cnt < TIMER_SKIP_MAX) {
                        if (!h->timer_skip.cnt)
                                h->timer_skip_until = now + TIMER_SKIP_MS;
                        cs_strv_add(&h->timer_skip, rooms.v[i]);
                }
        }
        cs_strv_clear(&rooms);
        return err;
}

void cs_handler_timer_delivered(cs_handler_t *h, const cs_strv_t *fired) {
        char errstr[256];
        for (size_t i = 0; i + 1 < fired->cnt; i += 2)
                if (cs_store_clear_pending_timer(h->store, fired->v[i],
                                                 fired->v[i + 1], errstr,
                                                 sizeof(errstr)))
                        cs_log(CS_LOG_WARN, "TIMER",
                               "room %s: outbox not cleared (%s); it will be emitted again",
                               fired->v[i], errstr);
}
