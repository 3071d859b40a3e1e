/*
 * worker.c: the main loop (see worker.h).
 */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "codec.h"
#include "handler.h"
#include "http.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

#define FIRST_BACKOFF_MS 100
/* A timer outbox slot is emitted again by any worker once it is older than
 * the longest one delivery may take (cs_kafka_delivery_max_ms(): the
 * producer's message.timeout.ms plus the wait margin) plus this much, so
 * that no worker re-emits while the first delivery may still be in flight. */
#define TIMER_REDELIVER_MARGIN_MS 10000

typedef struct worker_s {
        const cs_config_t *conf;
        volatile sig_atomic_t *stop;
        cs_kafka_t *kafka;
        cs_store_t *store;
        cs_handler_t *handler;
        cs_http_t *http;  /* NULL when http.listen is empty */
        int backoff_ms; /* current retry backoff, doubles up to the cap */
        int64_t timer_redeliver_ms; /* see TIMER_REDELIVER_MARGIN_MS */
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

static int next_backoff(worker_t *w) {
        int cur = w->backoff_ms ? w->backoff_ms : FIRST_BACKOFF_MS;
        int64_t next = (int64_t)cur * 2;
        if (next > w->conf->store_retry_max_backoff_ms)
                next = w->conf->store_retry_max_backoff_ms;
        w->backoff_ms = (int)next;
        return cur;
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

/* Waits up to @p ms between delivery attempts, waking early when asked to
 * stop. The caller holds every partition (cs_kafka_hold()): the consumer
 * is polled all along, so a long outage never exceeds max.poll.interval.ms
 * and the worker stays in its group, but no command is taken. */
static void nap(worker_t *w, int ms) {
        int64_t until = mono_ms() + ms;
        for (int64_t now = mono_ms(); !*w->stop && now < until; now = mono_ms(),
                     cs_metrics_heartbeat(now))
                cs_kafka_idle(w->kafka, until - now < 100 ? (int)(until - now) : 100);
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

/*
 * The command @p cmd of @p rkm cannot be applied (its attempts ran out, or
 * the handler said retrying cannot help): it is answered 1009 and a copy
 * goes to the dead-letter topic with @p reason. That outbox is the last
 * word on the command: when the broker keeps failing it is produced again
 * (the handler is not run again) while the consumer is kept alive and no
 * other command is taken, until it is acknowledged or the worker stops.
 * @returns false if the worker must stop.
 */
static bool give_up(worker_t *w, const rd_kafka_message_t *rkm,
                    cs_command_t *cmd, const char *reason) {
        char errstr[512] = "";
        cs_outbox_t out = {0};
        cs_handler_give_up(w->handler, cmd, wall_ms(), reason, &out);
        dead_letter(w, rkm, cmd->operation_id, reason, CS_DLQ_GAVE_UP, &out);
        cs_log(CS_LOG_WARN, "WORKER", "op=%s from=%s: answered 1009: %s",
               cmd->operation_id, cmd->send_id, reason);
        bool held = false, keep_going = true, finished = false;
        int backoff = FIRST_BACKOFF_MS;
        for (;;) {
                cs_err_t err = deliver_or_drop(w, &out, errstr, sizeof(errstr));
                if (err == CS_OK) {
                        finished = true;
                        break;
                }
                if (cs_err_is_fatal(err)) {
                        keep_going = false;
                        break;
                }
                if (*w->stop) {
                        /* Not done: whoever consumes the partition next
                         * takes the command again. */
                        cs_log(CS_LOG_WARN, "WORKER",
                               "[%d]@%lld: 1009 answer not delivered before stopping: %s",
                               (int)rkm->partition, (long long)rkm->offset, errstr);
                        break;
                }
                if (!held) {
                        cs_kafka_hold(w->kafka);
                        held = true;
                }
                cs_log(CS_LOG_WARN, "WORKER",
                       "[%d]@%lld: 1009 answer not delivered, again in %d ms: %s",
                       (int)rkm->partition, (long long)rkm->offset, backoff, errstr);
                nap(w, backoff);
                if (backoff < w->conf->store_retry_max_backoff_ms)
                        backoff *= 2;
        }
        if (held)
                cs_kafka_release(w->kafka);
        if (finished) {
                cs_kafka_done(w->kafka, rkm);
                w->backoff_ms = 0;
        }
        cs_outbox_clear(&out);
        return keep_going;
}

/* Handles one command. @returns false if the worker must stop. */
static bool handle_message(worker_t *w, const rd_kafka_message_t *rkm) {
        char errstr[512] = "";
        cs_outbox_t out = {0};
        cs_command_t *cmd = NULL;
        cs_err_t err;
        bool keep_going = true;

        int64_t taken_ms = mono_ms();
        bool store_failed = false;
        cs_kafka_begin(w->kafka, rkm);
        err = cs_codec_decode_command(w->conf->openim_protocol == CS_PROTOCOL_V3
                                              ? CS_DIALECT_V3
                                              : CS_DIALECT_V2,
                                      rkm->payload, rkm->len, &cmd, errstr,
                                      sizeof(errstr));
        if (err == CS_OK) {
                err = cs_handler_command(w->handler, cmd, wall_ms(), &out,
                                         errstr, sizeof(errstr));
                store_failed = err == CS_ERR_TRANSIENT;
                if (err == CS_OK && out.cnt)
                        cs_log(CS_LOG_INFO, "WORKER",
                               "op=%s from=%s %s: %zu message(s)",
                               cmd->operation_id, cmd->send_id,
                               cs_req_kind_name(cmd->req.kind),
                               out.cnt);
        }
        if (err == CS_ERR_PERMANENT) {
                char reason[600];
                snprintf(reason, sizeof(reason), "cannot be applied: %s", errstr);
                keep_going = give_up(w, rkm, cmd, reason);
                goto done;
        }
        if (err == CS_ERR_UNDECODABLE) {
                char *op_id = cs_codec_operation_id(rkm->payload, rkm->len);
                dead_letter(w, rkm, op_id, errstr, CS_DLQ_UNDECODABLE, &out);
                free(op_id);
                err = deliver_or_drop(w, &out, errstr, sizeof(errstr));
        } else if (err == CS_OK) {
                err = cs_kafka_deliver(w->kafka, &out, errstr, sizeof(errstr));
                if (err == CS_ERR_UNDECODABLE) {
                        /* The broker refuses an output for good (unknown
                         * topic, too large): what was delivered stays
                         * delivered, the command goes to the dead-letter
                         * topic with the reason instead of blocking its
                         * partition. */
                        cs_outbox_clear(&out);
                        dead_letter(w, rkm, cmd ? cmd->operation_id : NULL, errstr,
                                    CS_DLQ_OUTPUT_REFUSED, &out);
                        err = deliver_or_drop(w, &out, errstr, sizeof(errstr));
                }
        }

        if (err == CS_OK) {
                if (cmd)
                        cs_metrics_command_latency(
                                cmd->sent_at > 0 ? wall_ms() - cmd->sent_at : -1,
                                mono_ms() - taken_ms);
                cs_kafka_done(w->kafka, rkm);
                w->backoff_ms = 0;
        } else if (cs_err_is_fatal(err)) {
                keep_going = false;
        } else {
                cs_metrics_retry(store_failed);
                /* Transient: MongoDB or the broker failed. A decodable
                 * command is tried signal.max_attempts times, then
                 * answered 1009 (exactly one reply, never endless
                 * retries); a dead letter has nobody to answer and is
                 * retried until the broker takes it. */
                int failures = cmd ? cs_kafka_count_failure(w->kafka, rkm) : 0;
                if (cmd && failures >= w->conf->signal_max_attempts) {
                        char reason[600];
                        snprintf(reason, sizeof(reason), "gave up after %d attempt(s): %s",
                                 failures, errstr[0] ? errstr : "delivery failed");
                        keep_going = give_up(w, rkm, cmd, reason);
                        goto done;
                }
                int backoff = next_backoff(w);
                cs_log(CS_LOG_WARN, "WORKER",
                       "[%d]@%lld will be retried in %d ms (attempt %d): %s",
                       (int)rkm->partition, (long long)rkm->offset, backoff,
                       failures, errstr[0] ? errstr : "delivery failed");
                cs_kafka_retry_later(w->kafka, rkm, backoff);
        }
done:
        cs_outbox_clear(&out);
        cs_codec_command_free(cmd);
        return keep_going;
}

/* Applies one LiveKit event of topics.livekit_events. Nobody waits for an
 * answer: a transient failure is retried after a backoff for as long as it
 * lasts (the event must not be lost), an event that cannot be applied is
 * logged and skipped. @returns false if the worker must stop. */
static bool handle_room_event(worker_t *w, const rd_kafka_message_t *rkm) {
        char errstr[512] = "";
        cs_outbox_t out = {0};
        bool keep_going = true;
        cs_kafka_begin(w->kafka, rkm);
        cs_err_t err = cs_handler_room_event(w->handler, rkm->payload, rkm->len,
                                             wall_ms(), &out, errstr, sizeof(errstr));
        bool store_failed = err == CS_ERR_TRANSIENT;
        if (err == CS_OK && out.cnt)
                err = cs_kafka_deliver(w->kafka, &out, errstr, sizeof(errstr));
        if (err == CS_ERR_UNDECODABLE || err == CS_ERR_PERMANENT) {
                cs_log(CS_LOG_ERR, "ROOM", "[%d]@%lld: LiveKit event skipped: %s",
                       (int)rkm->partition, (long long)rkm->offset, errstr);
                err = CS_OK;
        }
        if (err == CS_OK) {
                cs_kafka_done(w->kafka, rkm);
                w->backoff_ms = 0;
        } else if (cs_err_is_fatal(err)) {
                keep_going = false;
        } else {
                cs_metrics_retry(store_failed);
                int backoff = next_backoff(w);
                cs_log(CS_LOG_WARN, "ROOM", "[%d]@%lld will be retried in %d ms: %s",
                       (int)rkm->partition, (long long)rkm->offset, backoff,
                       errstr[0] ? errstr : "delivery failed");
                cs_kafka_retry_later(w->kafka, rkm, backoff);
        }
        cs_outbox_clear(&out);
        return keep_going;
}

/* Fires due ring timeouts and delivers their notifications. The calls are
 * already written, so delivery is retried until it succeeds or the worker
 * stops; if it stops first, the records' timer outbox makes some worker
 * emit them again. @returns false if the worker must stop. */
static bool fire_timers(worker_t *w) {
        char errstr[512] = "";
        cs_outbox_t out = {0};
        cs_strv_t fired = {0};
        cs_err_t err = cs_handler_timer(w->handler, wall_ms(), w->timer_redeliver_ms, &out,
                                        &fired, errstr, sizeof(errstr));
        if (err)
                cs_log(CS_LOG_WARN, "TIMER", "%s", errstr);
        bool keep_going = true, held = false;
        int backoff = FIRST_BACKOFF_MS;
        while (out.cnt) {
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
                if (cs_err_is_fatal(err) || *w->stop) {
                        cs_log(CS_LOG_WARN, "TIMER",
                               "%zu timeout notification(s) not delivered yet; "
                               "they are emitted again after %lld ms",
                               out.cnt, (long long)w->timer_redeliver_ms);
                        keep_going = !cs_err_is_fatal(err);
                        break;
                }
                /* No command is taken meanwhile, but the consumer is kept
                 * alive: the worker stays in its group however long the
                 * outage lasts. */
                if (!held) {
                        cs_kafka_hold(w->kafka);
                        held = true;
                }
                nap(w, backoff);
                if (backoff < w->conf->store_retry_max_backoff_ms)
                        backoff *= 2;
        }
        if (held)
                cs_kafka_release(w->kafka);
        cs_outbox_clear(&out);
        cs_strv_clear(&fired);
        return keep_going;
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
        cs_log(CS_LOG_INFO, "WORKER", "consuming %s as group %s",
               conf->topic_commands, conf->kafka_group_id);
        cs_log(CS_LOG_INFO, "WORKER",
               "a command is answered 1009 after %lld failed attempt(s); undelivered "
               "timer events are emitted again after %lld ms",
               (long long)conf->signal_max_attempts, (long long)w.timer_redeliver_ms);

        int64_t next_timer = mono_ms();
        while (!*stop) {
                cs_metrics_heartbeat(mono_ms());
                cs_metrics_set_producer_fatal(cs_kafka_fatal(w.kafka));
                if (cs_kafka_fatal(w.kafka)) {
                        rc = 1;
                        break;
                }
                int64_t now = mono_ms();
                if (now >= next_timer) {
                        if (!fire_timers(&w)) {
                                rc = 1;
                                break;
                        }
                        next_timer = mono_ms() + conf->signal_timer_interval_ms;
                        now = mono_ms();
                }
                int wait = (int)(next_timer - now);
                rd_kafka_message_t *rkm = cs_kafka_consume(w.kafka, wait < 100 ? wait : 100);
                if (!rkm)
                        continue;
                bool keep_going =
                        strcmp(rd_kafka_topic_name(rkm->rkt), conf->topic_livekit_events)
                                ? handle_message(&w, rkm)
                                : handle_room_event(&w, rkm);
                rd_kafka_message_destroy(rkm);
                if (!keep_going) {
                        rc = 1;
                        break;
                }
        }
        cs_log(CS_LOG_INFO, "WORKER", "stopping: flushing and leaving the group");
        cs_kafka_close(w.kafka, 10000);
done:
        cs_http_stop(w.http);
        cs_handler_destroy(w.handler);
        cs_kafka_destroy(w.kafka);
        cs_store_destroy(w.store);
        return rc;
}
