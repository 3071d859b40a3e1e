/*
 * kafka.c: consumer group, idempotent producer, delivery waits, rewinds.
 *
 * Every librdkafka callback here runs on the worker thread, inside
 * rd_kafka_consumer_poll() (rebalance, consumer logs and errors) or
 * rd_kafka_poll() on the producer (delivery reports, producer logs and
 * errors), because both clients are polled from that thread only.
 */
#include "kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "log.h"
#include "watermark.h"

/* Longest time one delivery wait may take before it is treated as failed;
 * above the producer's message.timeout.ms so that normally every message
 * gets its own report first. */
#define DELIVERY_WAIT_MARGIN_MS 5000

typedef struct paused_s {
        int32_t partition;
        int64_t resume_at; /* monotonic ms */
} paused_t;

struct cs_kafka_s {
        rd_kafka_t *consumer;
        rd_kafka_t *producer;
        char *topic;             /* topics.commands */
        cs_watermark_t *wm;
        paused_t *paused;
        size_t paused_cnt;
        int delivery_timeout_ms; /* producer message.timeout.ms */
        bool fatal;
};

/* Counts the answers of one cs_kafka_deliver() call. */
typedef struct delivery_s {
        size_t pending;
        size_t failed;
        size_t permanent;  /* failures that trying again cannot fix */
        rd_kafka_resp_err_t last_err;
} delivery_t;

/* Broker answers that the same message will get again however often it is
 * produced (librdkafka already waited out topic creation and metadata
 * propagation before reporting an unknown topic). */
static bool is_permanent_delivery_error(rd_kafka_resp_err_t err) {
        switch (err) {
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
        case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
                return true;
        default:
                return false;
        }
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- callbacks ---- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf) {
        (void)rk;
        cs_log_level_t ours = level <= 3 ? CS_LOG_ERR
                              : level == 4 ? CS_LOG_WARN
                              : level <= 6 ? CS_LOG_INFO
                                           : CS_LOG_DEBUG;
        cs_log(ours, "KAFKA", "%s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque) {
        cs_kafka_t *k = opaque;
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                char fatal[512];
                rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                cs_log(CS_LOG_ERR, "KAFKA", "fatal error %s: %s",
                       rd_kafka_err2name(ferr), fatal);
                k->fatal = true;
                return;
        }
        /* Brokers going away and coming back are retried by librdkafka. */
        cs_log(CS_LOG_WARN, "KAFKA", "%s: %s",
               rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                      void *opaque) {
        (void)rk;
        (void)opaque;
        delivery_t *d = rkm->_private;
        if (!d)
                return;
        if (rkm->err) {
                d->failed++;
                if (is_permanent_delivery_error(rkm->err))
                        d->permanent++;
                d->last_err = rkm->err;
                cs_log(CS_LOG_WARN, "KAFKA", "delivery to %s failed: %s",
                       rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
        }
        d->pending--;
}

static void forget_partitions(cs_kafka_t *k,
                              const rd_kafka_topic_partition_list_t *parts) {
        for (int i = 0; i < parts->cnt; i++) {
                int32_t partition = parts->elems[i].partition;
                cs_watermark_forget(k->wm, partition);
                for (size_t j = 0; j < k->paused_cnt; j++) {
                        if (k->paused[j].partition == partition) {
                                k->paused[j] = k->paused[--k->paused_cnt];
                                j--;
                        }
                }
        }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
        cs_kafka_t *k = opaque;
        bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                cs_log(CS_LOG_INFO, "KAFKA", "assigned %d partition(s) of %s",
                       parts->cnt, k->topic);
                forget_partitions(k, parts);
                if (cooperative)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, parts);
        } else {
                cs_log(CS_LOG_INFO, "KAFKA", "revoked %d partition(s) of %s",
                       parts->cnt, k->topic);
                forget_partitions(k, parts);
                if (cooperative)
                        error = rd_kafka_incremental_unassign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, NULL);
        }
        if (error) {
                cs_log(CS_LOG_ERR, "KAFKA", "rebalance: %s",
                       rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else if (aerr) {
                cs_log(CS_LOG_ERR, "KAFKA", "rebalance: %s", rd_kafka_err2str(aerr));
        }
}

/* ---- construction ---- */

static int set(rd_kafka_conf_t *rconf, const char *name, const char *value,
               char *errstr, size_t errstr_size) {
        char why[512];
        if (rd_kafka_conf_set(rconf, name, value, why, sizeof(why)) ==
            RD_KAFKA_CONF_OK)
                return 0;
        snprintf(errstr, errstr_size, "librdkafka property %s: %s", name, why);
        return -1;
}

static rd_kafka_conf_t *base_conf(cs_kafka_t *k, const cs_config_t *conf,
                                  const cs_config_prop_t *props,
                                  size_t prop_cnt, const char *const *defaults,
                                  char *errstr, size_t errstr_size) {
        rd_kafka_conf_t *rconf = rd_kafka_conf_new();
        rd_kafka_conf_set_opaque(rconf, k);
        rd_kafka_conf_set_log_cb(rconf, log_cb);
        rd_kafka_conf_set_error_cb(rconf, error_cb);
        if (set(rconf, "bootstrap.servers", conf->kafka_brokers, errstr, errstr_size) ||
            set(rconf, "client.id", "callsig", errstr, errstr_size))
                goto fail;
        for (size_t i = 0; defaults[i]; i += 2)
                if (set(rconf, defaults[i], defaults[i + 1], errstr, errstr_size))
                        goto fail;
        /* Pass-through properties override callsig's own choices. */
        for (size_t i = 0; i < prop_cnt; i++)
                if (set(rconf, props[i].name, props[i].value, errstr, errstr_size))
                        goto fail;
        return rconf;
fail:
        rd_kafka_conf_destroy(rconf);
        return NULL;
}

cs_kafka_t *cs_kafka_new(const cs_config_t *conf, char *errstr,
                         size_t errstr_size) {
        static const char *const consumer_defaults[] = {
                "enable.auto.offset.store", "false",
                "enable.auto.commit", "true",
                "auto.offset.reset", "earliest",
                "allow.auto.create.topics", "true",
                "enable.partition.eof", "false",
                "fetch.wait.max.ms", "100",
                NULL};
        static const char *const producer_defaults[] = {
                "enable.idempotence", "true",
                "linger.ms", "2",
                "message.timeout.ms", "60000",
                NULL};
        char why[512];
        rd_kafka_conf_t *rconf = NULL;
        rd_kafka_topic_partition_list_t *subs = NULL;
        cs_kafka_t *k = cs_xcalloc(1, sizeof(*k));
        k->topic = cs_xstrdup(conf->topic_commands);
        k->wm = cs_watermark_new();

        rconf = base_conf(k, conf, conf->producer_props, conf->producer_prop_cnt,
                          producer_defaults, errstr, errstr_size);
        if (!rconf)
                goto fail;
        rd_kafka_conf_set_dr_msg_cb(rconf, dr_msg_cb);
        size_t tsize = sizeof(why);
        if (rd_kafka_conf_get(rconf, "message.timeout.ms", why, &tsize) ==
            RD_KAFKA_CONF_OK)
                k->delivery_timeout_ms = (int)strtol(why, NULL, 10);
        k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, rconf, why, sizeof(why));
        if (!k->producer) {
                snprintf(errstr, errstr_size, "producer: %s", why);
                rd_kafka_conf_destroy(rconf);
                goto fail;
        }

        rconf = base_conf(k, conf, conf->consumer_props, conf->consumer_prop_cnt,
                          consumer_defaults, errstr, errstr_size);
        if (!rconf)
                goto fail;
        if (set(rconf, "group.id", conf->kafka_group_id, errstr, errstr_size)) {
                rd_kafka_conf_destroy(rconf);
                goto fail;
        }
        rd_kafka_conf_set_rebalance_cb(rconf, rebalance_cb);
        k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, rconf, why, sizeof(why));
        if (!k->consumer) {
                snprintf(errstr, errstr_size, "consumer: %s", why);
                rd_kafka_conf_destroy(rconf);
                goto fail;
        }
        rd_kafka_poll_set_consumer(k->consumer);
        subs = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(subs, conf->topic_commands,
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(k->consumer, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        if (err) {
                snprintf(errstr, errstr_size, "subscribe %s: %s",
                         conf->topic_commands, rd_kafka_err2str(err));
                goto fail;
        }
        return k;
fail:
        cs_kafka_destroy(k);
        return NULL;
}

void cs_kafka_destroy(cs_kafka_t *k) {
        if (!k)
                return;
        if (k->consumer)
                rd_kafka_destroy(k->consumer);
        if (k->producer)
                rd_kafka_destroy(k->producer);
        cs_watermark_destroy(k->wm);
        free(k->paused);
        free(k->topic);
        free(k);
}

/* ---- consuming ---- */

static void resume_due(cs_kafka_t *k) {
        int64_t now = mono_ms();
        for (size_t i = 0; i < k->paused_cnt; i++) {
                if (k->paused[i].resume_at > now)
                        continue;
                rd_kafka_topic_partition_list_t *parts =
                        rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(parts, k->topic,
                                                  k->paused[i].partition);
                rd_kafka_resume_partitions(k->consumer, parts);
                rd_kafka_topic_partition_list_destroy(parts);
                k->paused[i--] = k->paused[--k->paused_cnt];
        }
}

rd_kafka_message_t *cs_kafka_consume(cs_kafka_t *k, int timeout_ms) {
        resume_due(k);
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(k->consumer, timeout_ms);
        if (!rkm)
                return NULL;
        if (rkm->err) {
                if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        cs_log(CS_LOG_WARN, "KAFKA", "consumer: %s",
                               rd_kafka_message_errstr(rkm));
                rd_kafka_message_destroy(rkm);
                return NULL;
        }
        return rkm;
}

void cs_kafka_begin(cs_kafka_t *k, const rd_kafka_message_t *rkm) {
        cs_watermark_track(k->wm, rkm->partition, rkm->offset);
}

void cs_kafka_done(cs_kafka_t *k, const rd_kafka_message_t *rkm) {
        int64_t next = cs_watermark_done(k->wm, rkm->partition, rkm->offset);
        if (next < 0)
                return;
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, k->topic, rkm->partition)->offset = next;
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(k->consumer, parts);
        if (err)
                /* The partition was revoked meanwhile: its new owner
                 * handles the command again, which is idempotent. */
                cs_log(CS_LOG_INFO, "KAFKA", "offset %lld of [%d] not stored: %s",
                       (long long)next, (int)rkm->partition, rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(parts);
}

void cs_kafka_retry_later(cs_kafka_t *k, const rd_kafka_message_t *rkm,
                          int backoff_ms) {
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, k->topic, rkm->partition)->offset =
                rkm->offset;
        rd_kafka_pause_partitions(k->consumer, parts);
        rd_kafka_error_t *error = rd_kafka_seek_partitions(k->consumer, parts, 5000);
        if (error) {
                cs_log(CS_LOG_WARN, "KAFKA", "rewind [%d] to %lld: %s",
                       (int)rkm->partition, (long long)rkm->offset,
                       rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        rd_kafka_topic_partition_list_destroy(parts);
        /* Everything after the rewound command comes again too. */
        cs_watermark_forget(k->wm, rkm->partition);
        paused_t *paused = cs_xrealloc(k->paused, (k->paused_cnt + 1) * sizeof(*paused));
        k->paused = paused;
        paused[k->paused_cnt].partition = rkm->partition;
        paused[k->paused_cnt].resume_at = mono_ms() + backoff_ms;
        k->paused_cnt++;
}

/* ---- producing ---- */

static rd_kafka_resp_err_t produce_one(cs_kafka_t *k, const cs_out_msg_t *m,
                                       delivery_t *d) {
        static const char *const kinds[] = {"reply", "notification", "dead_letter"};
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(6);
        char part[16], off[24];
        if (m->operation_id)
                rd_kafka_header_add(hdrs, "operation-id", -1, m->operation_id, -1);
        rd_kafka_header_add(hdrs, "kind", -1, kinds[m->kind], -1);
        if (m->kind == CS_OUT_DEAD_LETTER) {
                snprintf(part, sizeof(part), "%d", (int)m->source_partition);
                snprintf(off, sizeof(off), "%lld", (long long)m->source_offset);
                rd_kafka_header_add(hdrs, "error", -1, m->error ? m->error : "", -1);
                rd_kafka_header_add(hdrs, "source-topic", -1,
                                    m->source_topic ? m->source_topic : "", -1);
                rd_kafka_header_add(hdrs, "source-partition", -1, part, -1);
                rd_kafka_header_add(hdrs, "source-offset", -1, off, -1);
        }
        rd_kafka_resp_err_t err;
        for (;;) {
                err = rd_kafka_producev(
                        k->producer, RD_KAFKA_V_TOPIC(m->topic),
                        RD_KAFKA_V_KEY(m->key, m->key_len),
                        RD_KAFKA_V_VALUE(m->value, m->len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(d),
                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(k->producer, 50);
        }
        if (err)
                rd_kafka_headers_destroy(hdrs); /* not taken on failure */
        return err;
}

cs_err_t cs_kafka_deliver(cs_kafka_t *k, const cs_outbox_t *out, char *errstr,
                          size_t errstr_size) {
        delivery_t d = {0};
        for (size_t i = 0; i < out->cnt; i++) {
                rd_kafka_resp_err_t err = produce_one(k, &out->msgs[i], &d);
                if (err) {
                        cs_log(CS_LOG_WARN, "KAFKA", "produce to %s: %s",
                               out->msgs[i].topic, rd_kafka_err2str(err));
                        d.failed++;
                        if (is_permanent_delivery_error(err))
                                d.permanent++;
                        d.last_err = err;
                        if (err == RD_KAFKA_RESP_ERR__FATAL)
                                k->fatal = true;
                } else {
                        d.pending++;
                }
        }
        int64_t give_up = mono_ms() + k->delivery_timeout_ms + DELIVERY_WAIT_MARGIN_MS;
        while (d.pending > 0 && mono_ms() < give_up)
                rd_kafka_poll(k->producer, 20);
        if (d.pending > 0) {
                /* Not seen in practice: librdkafka reports every message
                 * within message.timeout.ms. Purge so the stack-held counter
                 * is not touched after we return. */
                rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
                while (d.pending > 0)
                        rd_kafka_poll(k->producer, 20);
                d.failed++;
        }
        if (k->fatal)
                return CS_ERR_FATAL;
        if (d.failed && d.failed == d.permanent) {
                snprintf(errstr, errstr_size,
                         "%zu of %zu output message(s) refused by the broker: %s",
                         d.failed, out->cnt, rd_kafka_err2str(d.last_err));
                return CS_ERR_UNDECODABLE;
        }
        if (d.failed)
                snprintf(errstr, errstr_size, "%zu of %zu output message(s) not delivered: %s",
                         d.failed, out->cnt, rd_kafka_err2str(d.last_err));
        return d.failed ? CS_ERR_TRANSIENT : CS_OK;
}

bool cs_kafka_fatal(const cs_kafka_t *k) {
        return k->fatal;
}

void cs_kafka_close(cs_kafka_t *k, int flush_ms) {
        rd_kafka_resp_err_t err = rd_kafka_flush(k->producer, flush_ms);
        if (err)
                cs_log(CS_LOG_WARN, "KAFKA", "flush: %s (%d message(s) left)",
                       rd_kafka_err2str(err), rd_kafka_outq_len(k->producer));
        err = rd_kafka_consumer_close(k->consumer);
        if (err)
                cs_log(CS_LOG_WARN, "KAFKA", "consumer close: %s", rd_kafka_err2str(err));
}
