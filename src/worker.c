/*
 * worker.c: the main loop (see worker.h).
 */
#include "worker.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "codec.h"
#include "handler.h"
#include "http.h"
#include "kafka.h"
#include "lanes.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#define FIRST_BACKOFF_MS 100
/* A timer outbox slot is emitted again by any worker once it is older than
 * the longest one delivery may take (cs_kafka_delivery_max_ms(): the
 * producer's message.timeout.ms plus the wait margin) plus this much, so
 * that no worker re-emits while the first delivery may still be in flight. */
#define TIMER_REDELIVER_MARGIN_MS 10000
/* Longest wait for the consumer's close (leaving the group). */
#define CONSUMER_CLOSE_MS 10000
/* Longest wait of the main thread in one consumer poll. */
#define POLL_MS 100

typedef enum { WORK_COMMAND, WORK_ROOM_EVENT, WORK_TIMER } work_kind_t;

/* One item of a lane: a consumed message, or a round of the ring timer. */
typedef struct work_s {
        cs_lane_item_t item;     /* first: the lanes see this */
        work_kind_t kind;
        rd_kafka_message_t *rkm; /* owned; NULL for the timer */
        char own_key[16];        /* the lane key when the message has none */
        /* Set by the thread that ran it, read by the main thread after
         * cs_lanes_pop_done() (the lanes' lock orders the two). */
        bool finished;           /* answered: its offset may be stored */
        bool fatal;              /* the worker must stop */
        /* Set by the main thread when its partition is revoked: no new
         * attempt (revoked), and, if it still runs after the drain, its
         * offset is no longer ours to store (abandoned: main thread only). */
        atomic_bool revoked;
        bool abandoned;
} work_t;

typedef struct worker_s {
        const cs_config_t *conf;
        volatile sig_atomic_t *stop;
        cs_kafka_t *kafka;
        cs_store_t *store;
        cs_handler_t *handler;   /* shared by the lane threads */
        cs_http_t *http;  /* NULL when http.listen is empty */
        cs_lanes_t *lanes;
        int64_t timer_redeliver_ms; /* see TIMER_REDELIVER_MARGIN_MS */
        bool timer_queued;        /* a timer round is in a lane */
        bool failed;              /* an item said the worker must stop */
        atomic_bool held;         /* fetching paused at the in-flight cap */
} worker_t;

static int64_t wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* @returns true when @p wk must not be worked on any more: the worker
 * stops, or its partition was revoked. */
static bool called_off(const worker_t *w, work_t *wk) {
        return *w->stop || atomic_load(&wk->revoked);
}

/* Sleeps up to @p ms, waking early when the work is called off. */
static void nap(const worker_t *w, work_t *wk, int ms) {
        int64_t until = mono_ms() + ms;
        while (!called_off(w, wk) && mono_ms() < until) {
                struct timespec ts = {0, 20 * 1000000L};
                nanosleep(&ts, NULL);
        }
}

/* The next backoff after @p cur ms (0: the first). */
static int next_backoff(const worker_t *w, int cur) {
        if (!cur)
                return FIRST_BACKOFF_MS;
        int64_t next = (int64_t)cur * 2;
        return (int)(next > w->conf->store_retry_max_backoff_ms
                             ? w->conf->store_retry_max_backoff_ms
                             : next);
}

/* The dead letter of @p rkm: its bytes and key unchanged. */
static void dead_letter(worker_t *w, const rd_kafka_message_t *rkm,
                        const char *operation_id, const char *reason,
                        cs_dlq_reason_t why, cs_outbox_t *out) {
        cs_metrics_dead_letter(why);
        uint8_t *value = rkm->len ? cs_xmemdup(rkm->payload, rkm->len) : NULL;
        cs_out_msg_t *m = cs_outbox_add(out, CS_OUT_DEAD_LETTER,
                                        w->conf->topic_dlq, NULL, value,
                                        rkm->len, operation_id);
        if (rkm->key_len) {
                m->key = cs_xmemdup(rkm->key, rkm->key_len);
                m->key_len = rkm->key_len;
        }
        m->error = cs_xstrdup(reason);
        m->source_topic = cs_xstrdup(rd_kafka_topic_name(rkm->rkt));
        m->source_partition = rkm->partition;
        m->source_offset = rkm->offset;
        cs_log(CS_LOG_WARN, "WORKER", "dead-lettering [%d]@%lld: %s",
               (int)rkm->partition, (long long)rkm->offset, reason);
}

/*
 * Produces an outbox of last resort (dead letters, a 1009 answer): what the
 * broker refuses for good is not retried forever. A dead letter that is
 * refused for good (too large, most often) is cut to fit and tried once
 * more (header truncated); anything refused for good after that is logged
 * at error level and dropped, so that it never blocks its partition.
 * @returns CS_OK once all of @p out was acknowledged or dropped;
 *          CS_ERR_TRANSIENT or CS_ERR_FATAL with @p out holding the
 *          messages still owed.
 */
static cs_err_t deliver_or_drop(worker_t *w, cs_outbox_t *out, char *errstr,
                                size_t errstr_size) {
        for (;;) {
                cs_err_t err = cs_kafka_deliver(w->kafka, out, errstr, errstr_size);
                if (err != CS_ERR_UNDECODABLE)
                        return err;
                bool again = false;
                bool *keep = cs_xcalloc(out->cnt, sizeof(*keep));
                for (size_t i = 0; i < out->cnt; i++) {
                        cs_out_msg_t *m = &out->msgs[i];
                        size_t len = m->len;
                        if (cs_kafka_fit_dead_letter(w->kafka, m)) {
                                cs_log(CS_LOG_WARN, "WORKER",
                                       "dead letter of [%d]@%lld refused (%s): value cut "
                                       "from %zu to %zu bytes",
                                       (int)m->source_partition,
                                       (long long)m->source_offset, errstr, len, m->len);
                                keep[i] = again = true;
                        } else {
                                cs_log(CS_LOG_ERR, "WORKER",
                                       "dropping %s to %s (operation %s): %s",
                                       m->kind == CS_OUT_DEAD_LETTER ? "dead letter" : "message",
                                       m->topic, m->operation_id ? m->operation_id : "-",
                                       errstr);
                        }
                }
                cs_outbox_keep(out, keep);
                free(keep);
                if (!again)
                        return CS_OK;
        }
}

/* Records the end of @p wk if @p err settles it: CS_OK finished it, a
 * fatal error stops the worker. @returns true if it is settled. */
static bool settle(work_t *wk, cs_err_t err) {
        if (err == CS_OK)
                wk->finished = true;
        else if (cs_err_is_fatal(err))
                wk->fatal = true;
        else
                return false;
        return true;
}

/* Delivers @p out, the last word on @p wk (a dead letter, a 1009 answer),
 * until it is acknowledged or dropped (deliver_or_drop()), holding the
 * command's lane while the broker keeps failing, or until the work is
 * called off (then whoever consumes the partition next takes the command
 * again). @p what names it in the logs. */
static void deliver_last_word(worker_t *w, work_t *wk, cs_outbox_t *out,
                              const char *what) {
        const rd_kafka_message_t *rkm = wk->rkm;
        char errstr[512] = "";
        for (int backoff = FIRST_BACKOFF_MS;;) {
                if (settle(wk, deliver_or_drop(w, out, errstr, sizeof(errstr))))
                        return;
                if (called_off(w, wk)) {
                        cs_log(CS_LOG_WARN, "WORKER",
                               "[%d]@%lld: %s not delivered before stopping: %s",
                               (int)rkm->partition, (long long)rkm->offset, what, errstr);
                        return;
                }
                cs_metrics_retry(false);
                cs_log(CS_LOG_WARN, "WORKER", "[%d]@%lld: %s not delivered, again in %d ms: %s",
                       (int)rkm->partition, (long long)rkm->offset, what, backoff, errstr);
                nap(w, wk, backoff);
                backoff = next_backoff(w, backoff);
        }
}

/* The command @p cmd of @p wk cannot be applied (its attempts ran out, or
 * the handler said retrying cannot help): it is answered 1009 and a copy
 * goes to the dead-letter topic with @p reason. That outbox is the last
 * word on the command: the handler is not run again. */
static void give_up(worker_t *w, work_t *wk, cs_command_t *cmd, const char *reason) {
        cs_outbox_t out = {0};
        cs_handler_give_up(w->handler, cmd, wall_ms(), reason, &out);
        dead_letter(w, wk->rkm, cmd->operation_id, reason, CS_DLQ_GAVE_UP, &out);
        cs_log(CS_LOG_WARN, "WORKER", "op=%s from=%s: answered 1009: %s",
               cmd->operation_id, cmd->send_id, reason);
        deliver_last_word(w, wk, &out, "1009 answer");
        cs_outbox_clear(&out);
}

/* Handles one command, with its retries, on a lane thread. */
static void run_command(worker_t *w, work_t *wk) {
        const rd_kafka_message_t *rkm = wk->rkm;
        char errstr[512] = "";
        cs_outbox_t out = {0};
        cs_command_t *cmd = NULL;
        int64_t taken_ms = mono_ms();

        cs_err_t err = cs_codec_decode_command(w->conf->openim_protocol == CS_PROTOCOL_V3
                                                       ? CS_DIALECT_V3
                                                       : CS_DIALECT_V2,
                                               rkm->payload, rkm->len, &cmd, errstr,
                                               sizeof(errstr));
        if (err == CS_ERR_UNDECODABLE) {
                char *op_id = cs_codec_operation_id(rkm->payload, rkm->len);
                dead_letter(w, rkm, op_id, errstr, CS_DLQ_UNDECODABLE, &out);
                free(op_id);
                deliver_last_word(w, wk, &out, "dead letter");
                goto done;
        }
        for (int attempt = 1, backoff = 0;; attempt++) {
                errstr[0] = '\0';
                err = cs_handler_command(w->handler, cmd, wall_ms(), &out, errstr,
                                         sizeof(errstr));
                bool store_failed = err == CS_ERR_TRANSIENT;
                if (err == CS_ERR_PERMANENT) {
                        char reason[600];
                        snprintf(reason, sizeof(reason), "cannot be applied: %s", errstr);
                        give_up(w, wk, cmd, reason);
                        goto done;
                }
                if (err == CS_OK) {
                        if (out.cnt)
                                cs_log(CS_LOG_INFO, "WORKER", "op=%s from=%s %s: %zu message(s)",
                                       cmd->operation_id, cmd->send_id,
                                       cs_req_kind_name(cmd->req.kind), out.cnt);
                        err = cs_kafka_deliver(w->kafka, &out, errstr, sizeof(errstr));
                }
                if (err == CS_ERR_UNDECODABLE) {
                        /* The broker refuses an output for good (unknown
                         * topic, too large): what was delivered stays
                         * delivered, the command goes to the dead-letter
                         * topic with the reason instead of blocking its
                         * lane. */
                        cs_outbox_clear(&out);
                        dead_letter(w, rkm, cmd->operation_id, errstr,
                                    CS_DLQ_OUTPUT_REFUSED, &out);
                        deliver_last_word(w, wk, &out, "dead letter");
                        goto done;
                }
                if (err == CS_OK)
                        cs_metrics_command_latency(
                                cmd->sent_at > 0 ? wall_ms() - cmd->sent_at : -1,
                                mono_ms() - taken_ms);
                if (settle(wk, err))
                        goto done;
                /* Transient: MongoDB or the broker failed. The command is
                 * tried signal.max_attempts times, then answered 1009
                 * (exactly one reply, never endless retries). The outbox
                 * is built again: the handler answers a redelivery the
                 * same way. */
                cs_metrics_retry(store_failed);
                cs_outbox_clear(&out);
                if (attempt >= w->conf->signal_max_attempts) {
                        char reason[600];
                        snprintf(reason, sizeof(reason), "gave up after %d attempt(s): %s",
                                 attempt, errstr[0] ? errstr : "delivery failed");
                        give_up(w, wk, cmd, reason);
                        goto done;
                }
                backoff = next_backoff(w, backoff);
                cs_log(CS_LOG_WARN, "WORKER",
                       "[%d]@%lld will be retried in %d ms (attempt %d): %s",
                       (int)rkm->partition, (long long)rkm->offset, backoff, attempt,
                       errstr[0] ? errstr : "delivery failed");
                nap(w, wk, backoff);
                if (called_off(w, wk))
                        goto done; /* not finished: the next owner takes it */
        }
done:
        cs_outbox_clear(&out);
        cs_codec_command_free(cmd);
}

/* Applies one LiveKit event of topics.livekit_events, on a lane thread.
 * Nobody waits for an answer: a transient failure is retried after a
 * backoff for as long as it lasts (the event must not be lost), an event
 * that cannot be applied is logged and skipped. */
static void run_room_event(worker_t *w, work_t *wk) {
        const rd_kafka_message_t *rkm = wk->rkm;
        for (int backoff = 0;;) {
                char errstr[512] = "";
                cs_outbox_t out = {0};
                cs_err_t err = cs_handler_room_event(w->handler, rkm->payload, rkm->len,
                                                     wall_ms(), &out, errstr,
                                                     sizeof(errstr));
                bool store_failed = err == CS_ERR_TRANSIENT;
                if (err == CS_OK && out.cnt)
                        err = cs_kafka_deliver(w->kafka, &out, errstr, sizeof(errstr));
                cs_outbox_clear(&out);
                if (err == CS_ERR_UNDECODABLE || err == CS_ERR_PERMANENT) {
                        cs_log(CS_LOG_ERR, "ROOM", "[%d]@%lld: LiveKit event skipped: %s",
                               (int)rkm->partition, (long long)rkm->offset, errstr);
                        err = CS_OK;
                }
                if (settle(wk, err))
                        return;
                cs_metrics_retry(store_failed);
                backoff = next_backoff(w, backoff);
                cs_log(CS_LOG_WARN, "ROOM", "[%d]@%lld will be retried in %d ms: %s",
                       (int)rkm->partition, (long long)rkm->offset, backoff,
                       errstr[0] ? errstr : "delivery failed");
                nap(w, wk, backoff);
                if (called_off(w, wk))
                        return;
        }
}

/* Fires due ring timeouts and delivers their notifications, on a lane
 * thread. The calls are already written, so delivery is retried until it
 * succeeds or the worker stops; if it stops first, the records' timer
 * outbox makes some worker emit them again. */
static void run_timer(worker_t *w, work_t *wk) {
        char errstr[512] = "";
        cs_outbox_t out = {0};
        cs_strv_t fired = {0};
        cs_err_t err = cs_handler_timer(w->handler, wall_ms(), w->timer_redeliver_ms, &out,
                                        &fired, errstr, sizeof(errstr));
        if (err)
                cs_log(CS_LOG_WARN, "TIMER", "%s", errstr);
        for (int backoff = FIRST_BACKOFF_MS; out.cnt;) {
                /* Only what was not acknowledged is produced again. */
                err = cs_kafka_deliver(w->kafka, &out, errstr, sizeof(errstr));
                if (err == CS_OK) {
                        cs_handler_timer_delivered(w->handler, &fired);
                        break;
                }
                if (err == CS_ERR_UNDECODABLE) {
                        /* No producing again will help (the push topic
                         * cannot exist): say so loudly and stop trying. */
                        cs_log(CS_LOG_ERR, "TIMER",
                               "giving up on timeout notifications: %s", errstr);
                        cs_handler_timer_delivered(w->handler, &fired);
                        break;
                }
                if (cs_err_is_fatal(err) || called_off(w, wk)) {
                        cs_log(CS_LOG_WARN, "TIMER",
                               "%zu timeout notification(s) not delivered yet; "
                               "they are emitted again after %lld ms",
                               out.cnt, (long long)w->timer_redeliver_ms);
                        wk->fatal = cs_err_is_fatal(err);
                        break;
                }
                nap(w, wk, backoff);
                backoff = next_backoff(w, backoff);
        }
        wk->finished = true;
        cs_outbox_clear(&out);
        cs_strv_clear(&fired);
}

/* The lanes' run callback. */
static void run_work(cs_lane_item_t *item, void *opaque) {
        worker_t *w = opaque;
        work_t *wk = (work_t *)item;
        switch (wk->kind) {
        case WORK_COMMAND:
                run_command(w, wk);
                break;
        case WORK_ROOM_EVENT:
                run_room_event(w, wk);
                break;
        case WORK_TIMER:
                run_timer(w, wk);
                break;
        }
}

/* The lanes' wake callback. Offsets can wait for the main thread's next
 * poll (at most POLL_MS): it is woken only when fetching is paused at the
 * cap, where a finished item may let it fetch again. Waking it for every
 * item would cost two context switches per command. */
static void work_finished(void *opaque) {
        worker_t *w = opaque;
        if (atomic_load(&w->held))
                cs_kafka_wake(w->kafka);
}

static void free_work(work_t *wk) {
        if (wk->rkm)
                rd_kafka_message_destroy(wk->rkm);
        free(wk);
}

/* Takes back every finished item: stores the offsets of those answered
 * (not of those whose partition is gone). An item that says the worker
 * must stop sets w->failed. */
static void take_finished(worker_t *w) {
        for (cs_lane_item_t *item; (item = cs_lanes_pop_done(w->lanes));) {
                work_t *wk = (work_t *)item;
                if (wk->fatal)
                        w->failed = true;
                if (wk->kind == WORK_TIMER)
                        w->timer_queued = false;
                else if (wk->finished && !wk->abandoned)
                        cs_kafka_done(w->kafka, wk->rkm);
                free_work(wk);
        }
}

/* Takes @p rkm into the lane of its key. */
static void admit(worker_t *w, rd_kafka_message_t *rkm) {
        work_t *wk = cs_xcalloc(1, sizeof(*wk));
        wk->rkm = rkm;
        wk->kind = strcmp(rd_kafka_topic_name(rkm->rkt), w->conf->topic_livekit_events)
                           ? WORK_COMMAND
                           : WORK_ROOM_EVENT;
        if (rkm->key_len) {
                /* The roomID (or the sender): the same key for a room's
                 * commands and its LiveKit events. */
                wk->item.key = rkm->key;
                wk->item.key_len = rkm->key_len;
        } else {
                /* No key: the partition keeps its order. */
                int n = snprintf(wk->own_key, sizeof(wk->own_key), "%c%c%d", 0,
                                 wk->kind == WORK_COMMAND ? 'c' : 'e', (int)rkm->partition);
                wk->item.key = wk->own_key;
                wk->item.key_len = (size_t)n;
        }
        cs_kafka_begin(w->kafka, rkm);
        cs_lanes_push(w->lanes, &wk->item);
}

static void queue_timer(worker_t *w) {
        work_t *wk = cs_xcalloc(1, sizeof(*wk));
        wk->kind = WORK_TIMER;
        wk->item.key = "\0timer";
        wk->item.key_len = 6;
        w->timer_queued = true;
        cs_lanes_push(w->lanes, &wk->item);
}

/* @returns true if @p item is a message of a partition of @p arg (a
 * const rd_kafka_topic_partition_list_t **). */
static bool in_partitions(cs_lane_item_t *item, void *arg) {
        const rd_kafka_topic_partition_list_t *parts =
                *(const rd_kafka_topic_partition_list_t **)arg;
        const work_t *wk = (const work_t *)item;
        if (!wk->rkm)
                return false;
        const char *topic = rd_kafka_topic_name(wk->rkm->rkt);
        for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].partition == wk->rkm->partition &&
                    !strcmp(parts->elems[i].topic, topic))
                        return true;
        return false;
}

static bool match_any(cs_lane_item_t *item, void *arg) {
        (void)item;
        (void)arg;
        return true;
}

static bool revoke_if_in(cs_lane_item_t *item, void *arg) {
        if (!in_partitions(item, arg))
                return false;
        atomic_store(&((work_t *)item)->revoked, true);
        return true;
}

static bool abandon_if_in(cs_lane_item_t *item, void *arg) {
        if (!in_partitions(item, arg))
                return false;
        ((work_t *)item)->abandoned = true;
        return true;
}

/*
 * The revoke callback (main thread, inside the consumer poll): queued
 * messages of the revoked partitions are dropped, unfinished (their next
 * owner reads them again from the committed offset); running ones stop
 * retrying and get up to signal.revoke_drain_ms to finish, and the offsets
 * of what finished are stored before the partitions go. What still runs
 * after that is abandoned: if it answers later, its answer is the same as
 * the new owner's (a redelivery).
 */
static void revoke(const rd_kafka_topic_partition_list_t *parts, void *opaque) {
        worker_t *w = opaque;
        size_t dropped = 0;
        cs_lane_item_t *item = cs_lanes_drop(w->lanes, in_partitions, &parts);
        while (item) {
                cs_lane_item_t *next = item->next;
                free_work((work_t *)item);
                dropped++;
                item = next;
        }
        int64_t until = mono_ms() + w->conf->signal_revoke_drain_ms;
        size_t running;
        while ((running = cs_lanes_each_running(w->lanes, revoke_if_in, &parts)) &&
               mono_ms() < until) {
                cs_lanes_wait_done(w->lanes, 50);
                take_finished(w);
        }
        /* What still runs is abandoned: marked before the last take, so an
         * item finishing now is either stored here (its partition still
         * ours) or marked, never stored later against a partition that may
         * be ours again by then. */
        if (running)
                running = cs_lanes_each_running(w->lanes, abandon_if_in, &parts);
        take_finished(w);
        if (dropped)
                cs_log(CS_LOG_INFO, "WORKER",
                       "revoked: %zu queued message(s) left to the next owner", dropped);
        if (running)
                cs_log(CS_LOG_WARN, "WORKER",
                       "revoked: %zu message(s) still running after %lld ms, abandoned "
                       "(the next owner answers them again)",
                       running, (long long)w->conf->signal_revoke_drain_ms);
}

/* Sleeps up to @p ms, waking early when asked to stop (no consumer yet). */
static void nap_plain(worker_t *w, int ms) {
        int64_t until = mono_ms() + ms;
        while (!*w->stop && mono_ms() < until) {
                cs_metrics_heartbeat(mono_ms());
                struct timespec ts = {0, 20 * 1000000L};
                nanosleep(&ts, NULL);
        }
}

/* Connects to MongoDB and creates indexes, retrying while it is down.
 * @returns 0 when ready, 1 on an error that retrying cannot fix (an index
 *          that exists with other options, a refused command: exit 1 with
 *          the reason instead of looping), -1 when asked to stop first. */
static int init_store(worker_t *w) {
        char errstr[512];
        int backoff = FIRST_BACKOFF_MS;
        for (;;) {
                cs_err_t err = cs_store_init(w->store, errstr, sizeof(errstr));
                if (err == CS_OK)
                        return 0;
                if (!cs_err_is_retriable(err)) {
                        cs_log(CS_LOG_ERR, "STORE",
                               "cannot start: MongoDB refused the set-up (%s), which "
                               "retrying cannot fix: %s",
                               cs_err2str(err), errstr);
                        return 1;
                }
                cs_log(CS_LOG_WARN, "STORE", "not ready, retrying in %d ms: %s",
                       backoff, errstr);
                nap_plain(w, backoff);
                if (*w->stop)
                        return -1;
                if (backoff < w->conf->store_retry_max_backoff_ms)
                        backoff *= 2;
        }
}

int cs_worker_run(const cs_config_t *conf, volatile sig_atomic_t *stop) {
        char errstr[512];
        int rc = 0;
        worker_t w = {.conf = conf, .stop = stop};

        cs_store_route_logs();
        w.store = cs_store_new(conf, errstr, sizeof(errstr));
        if (!w.store) {
                cs_log(CS_LOG_ERR, "WORKER", "%s", errstr);
                rc = 2;
                goto done;
        }
        cs_metrics_heartbeat(mono_ms());
        if (conf->http_listen[0]) {
                w.http = cs_http_start(conf, w.store, errstr, sizeof(errstr));
                if (!w.http) {
                        cs_log(CS_LOG_ERR, "WORKER", "%s", errstr);
                        rc = 1;
                        goto done;
                }
        }
        int ready = init_store(&w);
        if (ready) {
                rc = ready > 0 ? 1 : 0; /* -1: stopped before MongoDB came up */
                goto done;
        }
        w.kafka = cs_kafka_new(conf, errstr, sizeof(errstr));
        if (!w.kafka) {
                cs_log(CS_LOG_ERR, "WORKER", "%s", errstr);
                rc = 2;
                goto done;
        }
        w.handler = cs_handler_new(conf, w.store);
        w.timer_redeliver_ms = cs_kafka_delivery_max_ms(w.kafka) + TIMER_REDELIVER_MARGIN_MS;
        w.lanes = cs_lanes_new((int)conf->signal_concurrency, run_work, work_finished, &w);
        cs_kafka_on_revoke(w.kafka, revoke, &w);
        cs_log(CS_LOG_INFO, "WORKER", "consuming %s as group %s, %lld room(s) side by side",
               conf->topic_commands, conf->kafka_group_id,
               (long long)conf->signal_concurrency);
        cs_log(CS_LOG_INFO, "WORKER",
               "a command is answered 1009 after %lld failed attempt(s); undelivered "
               "timer events are emitted again after %lld ms",
               (long long)conf->signal_max_attempts, (long long)w.timer_redeliver_ms);

        size_t cap = (size_t)conf->signal_max_in_flight;
        int64_t next_timer = mono_ms();
        while (!*stop) {
                int64_t now = mono_ms();
                cs_metrics_heartbeat(now);
                take_finished(&w);
                cs_metrics_set_producer_fatal(cs_kafka_fatal(w.kafka));
                if (cs_kafka_fatal(w.kafka) || w.failed) {
                        rc = 1;
                        break;
                }
                if (!w.timer_queued && now >= next_timer) {
                        queue_timer(&w);
                        next_timer = now + conf->signal_timer_interval_ms;
                }
                size_t in_flight = cs_lanes_count(w.lanes);
                if (in_flight >= cap && !atomic_load(&w.held)) {
                        atomic_store(&w.held, true);
                        cs_kafka_hold(w.kafka);
                } else if (in_flight <= cap / 2 && atomic_load(&w.held)) {
                        atomic_store(&w.held, false);
                        cs_kafka_release(w.kafka);
                }
                int wait = (int)(next_timer - now);
                rd_kafka_message_t *rkm =
                        cs_kafka_consume(w.kafka, wait < 0 ? 0 : wait < POLL_MS ? wait : POLL_MS);
                if (rkm)
                        admit(&w, rkm);
        }
        cs_log(CS_LOG_INFO, "WORKER", "stopping: finishing the commands running, "
                                      "flushing and leaving the group");
        /* Running items finish (their backoffs end at once); queued ones
         * stay unfinished: their offsets are not committed. */
        cs_lanes_stop(w.lanes);
        take_finished(&w);
        cs_lane_item_t *left = cs_lanes_drop(w.lanes, match_any, NULL);
        while (left) {
                cs_lane_item_t *next = left->next;
                free_work((work_t *)left);
                left = next;
        }
        if (!cs_kafka_close(w.kafka, 10000, CONSUMER_CLOSE_MS))
                cs_log(CS_LOG_WARN, "WORKER", "stopped without leaving the group cleanly; "
                                              "it notices after session.timeout.ms");
done:
        cs_http_stop(w.http);
        cs_lanes_destroy(w.lanes);
        cs_handler_destroy(w.handler);
        cs_kafka_destroy(w.kafka);
        cs_store_destroy(w.store);
        return rc;
}
