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
#include "kafka.h"
#include "log.h"
#include "store.h"

#define FIRST_BACKOFF_MS 100
/* A timer outbox slot older than this is emitted again by any worker. */
#define TIMER_REDELIVER_MS 30000

typedef struct worker_s {
        const cs_config_t *conf;
        volatile sig_atomic_t *stop;
        cs_kafka_t *kafka;
        cs_store_t *store;
        cs_handler_t *handler;
        int backoff_ms; /* current retry backoff, doubles up to the cap */
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

/* Sleeps up to @p ms, waking early when asked to stop. */
static void nap(worker_t *w, int ms) {
        int64_t until = mono_ms() + ms;
        while (!*w->stop && mono_ms() < until) {
                struct timespec ts = {0, 20 * 1000000L};
                nanosleep(&ts, NULL);
        }
}

/* The dead letter of @p rkm: its bytes and key unchanged. */
static void dead_letter(worker_t *w, const rd_kafka_message_t *rkm,
                        const char *operation_id, const char *reason,
                        cs_outbox_t *out) {
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

/* Handles one command. @returns false if the worker must stop. */
static bool handle_message(worker_t *w, const rd_kafka_message_t *rkm) {
        char errstr[512] = "";
        cs_outbox_t out = {0};
        cs_command_t *cmd = NULL;
        cs_err_t err;

        cs_kafka_begin(w->kafka, rkm);
        err = cs_codec_decode_command(rkm->payload, rkm->len, &cmd, errstr,
                                      sizeof(errstr));
        if (err == CS_OK) {
                err = cs_handler_command(w->handler, cmd, wall_ms(), &out,
                                         errstr, sizeof(errstr));
                if (err == CS_OK && out.cnt)
                        cs_log(CS_LOG_INFO, "WORKER",
                               "op=%s from=%s %s: %zu message(s)",
                               cmd->operationid, cmd->sendid,
                               cs_codec_req_case_name(cmd->req ? cmd->req->payload_case : 0),
                               out.cnt);
        }
        if (err == CS_ERR_UNDECODABLE) {
                char *op_id = cs_codec_operation_id(rkm->payload, rkm->len);
                dead_letter(w, rkm, op_id, errstr, &out);
                free(op_id);
                err = CS_OK;
        }
        if (err == CS_OK) {
                err = cs_kafka_deliver(w->kafka, &out, errstr, sizeof(errstr));
                if (err == CS_ERR_UNDECODABLE && !(out.cnt && out.msgs[0].kind == CS_OUT_DEAD_LETTER)) {
                        /* The broker refuses an output for good (unknown
                         * topic, too large): what was delivered stays
                         * delivered, the command goes to the dead-letter
                         * topic with the reason instead of blocking its
                         * partition. */
                        cs_outbox_clear(&out);
                        dead_letter(w, rkm, cmd ? cmd->operationid : NULL, errstr, &out);
                        err = cs_kafka_deliver(w->kafka, &out, errstr, sizeof(errstr));
                }
                if (err == CS_ERR_UNDECODABLE)
                        err = CS_ERR_TRANSIENT; /* the dead-letter topic itself */
        }

        bool keep_going = true;
        if (err == CS_OK) {
                cs_kafka_done(w->kafka, rkm);
                w->backoff_ms = 0;
        } else if (cs_err_is_fatal(err)) {
                keep_going = false;
        } else {
                int backoff = next_backoff(w);
                cs_log(CS_LOG_WARN, "WORKER",
                       "[%d]@%lld will be retried in %d ms: %s",
                       (int)rkm->partition, (long long)rkm->offset, backoff,
                       errstr[0] ? errstr : "delivery failed");
                cs_kafka_retry_later(w->kafka, rkm, backoff);
        }
        cs_outbox_clear(&out);
        cs_codec_command_free(cmd);
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
        cs_err_t err = cs_handler_timer(w->handler, wall_ms(), TIMER_REDELIVER_MS, &out, &fired,
                                        errstr, sizeof(errstr));
        if (err)
                cs_log(CS_LOG_WARN, "TIMER", "%s", errstr);
        bool keep_going = true;
        int backoff = FIRST_BACKOFF_MS;
        while (out.cnt) {
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
                               "they are emitted again after %d s",
                               out.cnt, TIMER_REDELIVER_MS / 1000);
                        keep_going = !cs_err_is_fatal(err);
                        break;
                }
                nap(w, backoff);
                if (backoff < w->conf->store_retry_max_backoff_ms)
                        backoff *= 2;
        }
        cs_outbox_clear(&out);
        cs_strv_clear(&fired);
        return keep_going;
}

/* Connects to MongoDB and creates indexes, retrying while it is down. */
static bool init_store(worker_t *w) {
        char errstr[512];
        int backoff = FIRST_BACKOFF_MS;
        for (;;) {
                cs_err_t err = cs_store_init(w->store, errstr, sizeof(errstr));
                if (err == CS_OK)
                        return true;
                cs_log(CS_LOG_WARN, "STORE", "not ready, retrying in %d ms: %s",
                       backoff, errstr);
                nap(w, backoff);
                if (*w->stop)
                        return false;
                if (backoff < w->conf->store_retry_max_backoff_ms)
                        backoff *= 2;
        }
}

int cs_worker_run(const cs_config_t *conf, volatile sig_atomic_t *stop) {
        char errstr[512];
        int rc = 0;
        worker_t w = {.conf = conf, .stop = stop};

        cs_store_route_logs();
        w.store = cs_store_new(conf->mongodb_uri, conf->mongodb_database,
                               errstr, sizeof(errstr));
        if (!w.store) {
                cs_log(CS_LOG_ERR, "WORKER", "%s", errstr);
                rc = 2;
                goto done;
        }
        if (!init_store(&w))
                goto done; /* stopped before MongoDB came up */
        w.kafka = cs_kafka_new(conf, errstr, sizeof(errstr));
        if (!w.kafka) {
                cs_log(CS_LOG_ERR, "WORKER", "%s", errstr);
                rc = 2;
                goto done;
        }
        w.handler = cs_handler_new(conf, w.store);
        cs_log(CS_LOG_INFO, "WORKER", "consuming %s as group %s",
               conf->topic_commands, conf->kafka_group_id);

        int64_t next_timer = mono_ms();
        while (!*stop) {
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
                bool keep_going = handle_message(&w, rkm);
                rd_kafka_message_destroy(rkm);
                if (!keep_going) {
                        rc = 1;
                        break;
                }
        }
        cs_log(CS_LOG_INFO, "WORKER", "stopping: flushing and leaving the group");
        cs_kafka_close(w.kafka, 10000);
done:
        cs_handler_destroy(w.handler);
        cs_kafka_destroy(w.kafka);
        cs_store_destroy(w.store);
        return rc;
}
