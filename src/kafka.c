/*
 * kafka.c: consumer group, idempotent producer, delivery waits.
 *
 * Threads: the consumer is polled by the worker's main thread only, so the
 * rebalance, consumer log and error callbacks run there. The producer is
 * polled by its own thread (producer_main()), which runs the delivery
 * reports and signals the handler threads waiting in cs_kafka_deliver();
 * a wait sees only its own messages' reports, so the acknowledgements of
 * all commands in flight travel together.
 */
#include "kafka.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clientconf.h"
#include "log.h"
#include "metrics.h"
#include "monotonic.h"
#include "topiccache.h"
#include "watermark.h"

/* callsig is built against the pinned librdkafka (scripts/deps-librdkafka.sh);
 * the system's 2.0.2 headers must never be picked up instead. */
#if RD_KAFKA_VERSION < 0x020f0000
#error "librdkafka >= 2.15 required: run scripts/deps-librdkafka.sh"
#endif

/* Longest time one delivery wait may take before it is treated as failed;
 * above the producer's message.timeout.ms so that normally every message
 * gets its own report first. */
#define DELIVERY_WAIT_MARGIN_MS 5000
/* Room left in a cut dead letter for librdkafka's per-message framing. */
#define DEAD_LETTER_SLACK 1024
/* The consumer reads topics.commands and topics.livekit_events. The
 * per-partition state (the watermark) is keyed by one int32: the partition
 * number, with this bit set for the events topic. */
#define EVENTS_BIT 0x40000000
/* Longest wait for the commit made before revoked partitions are given up. */
#define REVOKE_COMMIT_MS 5000
/* librdkafka statistics (consumer lag) every this many ms. */
#define STATS_INTERVAL_MS "5000"
/* Per-user push topics known to exist (first contact, prepare_topics()):
 * at most this many are remembered; an older one forgotten is prepared
 * again, once, at the cost of one CreateTopics and one metadata request. */
#define KNOWN_TOPICS_MAX 20000
/* A topic just created whose metadata has no leader yet is asked again
 * after this long (until the preparation timeout). */
#define METADATA_RETRY_MS 10
/* After a CreateTopics request failed as a whole (no controller found in
 * time, the cluster not authorizing it), new topics are left to
 * auto-creation for this long before CreateTopics is tried again. */
#define CREATE_BACKOFF_MS 60000

struct cs_kafka_s {
        rd_kafka_t *consumer;
        rd_kafka_t *producer;
        char *topic;             /* topics.commands */
        char *events_topic;      /* topics.livekit_events */
        cs_watermark_t *wm;      /* main thread */
        bool hold;               /* cs_kafka_hold(): main thread */
        bool closing;            /* inside cs_kafka_close() */
        bool close_abandoned;    /* the consumer close never returned */
        cs_kafka_revoke_cb *on_revoke; /* main thread */
        void *revoke_opaque;
        int delivery_timeout_ms; /* producer message.timeout.ms */
        int max_msg_bytes;       /* producer message.max.bytes */
        atomic_bool fatal;
        /* The producer's poll thread and the delivery waits. */
        pthread_t poller;
        bool poller_started;
        atomic_bool poller_stop;
        pthread_mutex_t dr_lock; /* every delivery_t */
        /* First contact (per_user mode only; NULL in keyed mode). One
         * preparation at a time (prepare_lock); the cache has its own lock
         * because delivery reports remove from it. */
        pthread_mutex_t prepare_lock;
        pthread_mutex_t known_lock;
        cs_topiccache_t *known;  /* push topics known to exist */
        int topic_partitions;    /* push.topic_partitions */
        int topic_replication;   /* push.topic_replication */
        int prepare_timeout_ms;  /* push.topic_create_timeout_ms */
        bool create_unsupported; /* the cluster has no CreateTopics */
        int64_t create_resume_at; /* no CreateTopics before (monotonic ms) */
        bool create_warned;      /* a refused CreateTopics was logged */
};

typedef struct delivery_s delivery_t;

/* One message of a cs_kafka_deliver() call (the delivery report's opaque). */
typedef struct slot_s {
        delivery_t *d;
        bool acked;
} slot_t;

/* The answers of one cs_kafka_deliver() call, under dr_lock. It is freed by
 * whoever drops the last reference: the call and every message still
 * unreported hold one, so a wait that gives up never leaves a report
 * pointing at freed memory. */
struct delivery_s {
        pthread_cond_t done;     /* signalled when pending reaches 0 */
        size_t refs;
        size_t pending;
        size_t failed;
        size_t permanent;  /* failures that trying again cannot fix */
        rd_kafka_resp_err_t last_err;
        slot_t slots[];
};

/* Drops one reference to @p d (dr_lock held). */
static void delivery_unref(delivery_t *d) {
        if (--d->refs)
                return;
        pthread_cond_destroy(&d->done);
        free(d);
}

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

/* The key of (@p topic, @p partition) in the per-partition state. */
static int32_t pkey(const cs_kafka_t *k, const char *topic, int32_t partition) {
        if (k->events_topic && topic && !strcmp(topic, k->events_topic))
                return partition | EVENTS_BIT;
        return partition;
}

static int32_t rkm_key(const cs_kafka_t *k, const rd_kafka_message_t *rkm) {
        return pkey(k, rd_kafka_topic_name(rkm->rkt), rkm->partition);
}

/* ---- callbacks ---- */

static void commit_done(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t *offsets, void *opaque) {
        (void)rk, (void)err, (void)offsets, (void)opaque; /* read as an event */
}

/* Commits the stored offsets and waits for the answer, at most
 * REVOKE_COMMIT_MS (a coordinator that does not answer must not hold the
 * rebalance). */
static void commit_before_revoke(rd_kafka_t *rk) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_resp_err_t err = rd_kafka_commit_queue(rk, NULL, q, commit_done, NULL);
        if (!err) {
                rd_kafka_event_t *ev = rd_kafka_queue_poll(q, REVOKE_COMMIT_MS);
                if (ev) {
                        err = rd_kafka_event_error(ev);
                        rd_kafka_event_destroy(ev);
                } else {
                        err = RD_KAFKA_RESP_ERR__TIMED_OUT;
                }
        }
        rd_kafka_queue_destroy(q);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
                cs_log(CS_LOG_WARN, "KAFKA", "commit before giving partitions up: %s",
                       rd_kafka_err2str(err));
}

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
                atomic_store(&k->fatal, true);
                return;
        }
        /* Brokers going away and coming back are retried by librdkafka. */
        cs_log(CS_LOG_WARN, "KAFKA", "%s: %s",
               rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* On the producer's poll thread. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm,
                      void *opaque) {
        (void)rk;
        cs_kafka_t *k = opaque;
        slot_t *slot = rkm->_private;
        if (!slot)
                return;
        if (rkm->err) {
                cs_log(CS_LOG_WARN, "KAFKA", "delivery to %s failed: %s",
                       rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
                /* Deleted since it was prepared: prepare it again next time. */
                if (k->known && (rkm->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                                 rkm->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)) {
                        pthread_mutex_lock(&k->known_lock);
                        cs_topiccache_remove(k->known, rd_kafka_topic_name(rkm->rkt));
                        pthread_mutex_unlock(&k->known_lock);
                }
        }
        pthread_mutex_lock(&k->dr_lock);
        delivery_t *d = slot->d;
        if (!rkm->err) {
                slot->acked = true;
        } else {
                d->failed++;
                if (is_permanent_delivery_error(rkm->err))
                        d->permanent++;
                d->last_err = rkm->err;
        }
        /* Only its own waiter is woken, once its last report is in. */
        if (--d->pending == 0)
                pthread_cond_signal(&d->done);
        delivery_unref(d);
        pthread_mutex_unlock(&k->dr_lock);
}

/* The producer's poll thread: delivery reports, producer logs and errors. */
static void *producer_main(void *arg) {
        cs_kafka_t *k = arg;
        while (!atomic_load(&k->poller_stop))
                rd_kafka_poll(k->producer, 100);
        return NULL;
}

/* librdkafka statistics of the consumer: the lag per partition. Returns 0:
 * librdkafka frees the JSON. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t json_len, void *opaque) {
        (void)rk;
        (void)opaque;
        cs_metrics_consumer_stats(json, json_len);
        return 0;
}

static void forget_partitions(cs_kafka_t *k,
                              const rd_kafka_topic_partition_list_t *parts) {
        for (int i = 0; i < parts->cnt; i++)
                cs_watermark_forget(k->wm, pkey(k, parts->elems[i].topic,
                                                parts->elems[i].partition));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
        cs_kafka_t *k = opaque;
        bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                int events = 0;
                for (int i = 0; i < parts->cnt; i++)
                        events += (pkey(k, parts->elems[i].topic, 0) & EVENTS_BIT) != 0;
                cs_log(CS_LOG_INFO, "KAFKA", "assigned %d partition(s) of %s and %d of %s%s",
                       parts->cnt - events, k->topic, events, k->events_topic,
                       k->hold ? " (held)" : "");
                forget_partitions(k, parts);
                if (cooperative)
                        error = rd_kafka_incremental_assign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, parts);
                /* librdkafka keeps a partition's pause flag across an
                 * unassign: a partition paused while the worker held would
                 * stay paused for good if it came back after the hold
                 * ended. Every newly assigned partition starts from its
                 * committed offset, so it is resumed now, or paused while
                 * the worker holds. */
                if (!error && !aerr) {
                        if (k->hold)
                                rd_kafka_pause_partitions(rk, parts);
                        else
                                rd_kafka_resume_partitions(rk, parts);
                }
        } else {
                cs_log(CS_LOG_INFO, "KAFKA", "revoked %d partition(s) of %s",
                       parts->cnt, k->topic);
                /* The worker drains or abandons their work in flight and
                 * stores what finished, before the unassign commits it. */
                if (k->on_revoke) {
                        k->on_revoke(parts, k->revoke_opaque);
                        /* Now, while the generation is still ours: the
                         * commit librdkafka makes after the unassign may
                         * meet a rebalance already under way. Not when
                         * closing: the close commits, and a commit waited
                         * for inside the close never completes. */
                        if (!k->closing)
                                commit_before_revoke(rk);
                }
                forget_partitions(k, parts);
                if (cooperative)
                        error = rd_kafka_incremental_unassign(rk, parts);
                else
                        aerr = rd_kafka_assign(rk, NULL);
        }
        rd_kafka_topic_partition_list_t *now = NULL;
        if (rd_kafka_assignment(rk, &now) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                cs_metrics_set_assigned(now->cnt);
                rd_kafka_topic_partition_list_destroy(now);
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

/* The client configuration clientconf.c builds (the one --check-config
 * validates), with this module's callbacks. */
static void add_callbacks(cs_kafka_t *k, rd_kafka_conf_t *rconf) {
        rd_kafka_conf_set_opaque(rconf, k);
        rd_kafka_conf_set_log_cb(rconf, log_cb);
        rd_kafka_conf_set_error_cb(rconf, error_cb);
}

cs_kafka_t *cs_kafka_new(const cs_config_t *conf, char *errstr,
                         size_t errstr_size) {
        char why[512];
        rd_kafka_conf_t *rconf = NULL;
        rd_kafka_topic_partition_list_t *subs = NULL;
        cs_kafka_t *k = cs_xcalloc(1, sizeof(*k));
        k->topic = cs_xstrdup(conf->topic_commands);
        k->events_topic = cs_xstrdup(conf->topic_livekit_events);
        k->wm = cs_watermark_new();
        pthread_mutex_init(&k->dr_lock, NULL);
        pthread_mutex_init(&k->prepare_lock, NULL);
        pthread_mutex_init(&k->known_lock, NULL);

        rconf = cs_clientconf_producer(conf, errstr, errstr_size);
        if (!rconf)
                goto fail;
        add_callbacks(k, rconf);
        rd_kafka_conf_set_dr_msg_cb(rconf, dr_msg_cb);
        size_t tsize = sizeof(why);
        if (rd_kafka_conf_get(rconf, "message.timeout.ms", why, &tsize) ==
            RD_KAFKA_CONF_OK)
                k->delivery_timeout_ms = (int)strtol(why, NULL, 10);
        tsize = sizeof(why);
        k->max_msg_bytes = 1000000;
        if (rd_kafka_conf_get(rconf, "message.max.bytes", why, &tsize) ==
            RD_KAFKA_CONF_OK)
                k->max_msg_bytes = (int)strtol(why, NULL, 10);
        k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, rconf, why, sizeof(why));
        if (!k->producer) {
                snprintf(errstr, errstr_size, "producer: %s", why);
                rd_kafka_conf_destroy(rconf);
                goto fail;
        }
        if (pthread_create(&k->poller, NULL, producer_main, k)) {
                snprintf(errstr, errstr_size, "producer: cannot start its poll thread");
                goto fail;
        }
        k->poller_started = true;

        if (conf->push_mode == CS_PUSH_PER_USER) {
                k->known = cs_topiccache_new(KNOWN_TOPICS_MAX);
                k->topic_partitions = (int)conf->push_topic_partitions;
                k->topic_replication = (int)conf->push_topic_replication;
                k->prepare_timeout_ms = (int)conf->push_topic_create_timeout_ms;
        }

        rconf = cs_clientconf_consumer(conf, errstr, errstr_size);
        if (!rconf)
                goto fail;
        add_callbacks(k, rconf);
        rd_kafka_conf_set_rebalance_cb(rconf, rebalance_cb);
        /* Consumer lag for /metrics, unless the operator set an interval. */
        tsize = sizeof(why);
        if (rd_kafka_conf_get(rconf, "statistics.interval.ms", why, &tsize) ==
                    RD_KAFKA_CONF_OK && !strcmp(why, "0"))
                rd_kafka_conf_set(rconf, "statistics.interval.ms", STATS_INTERVAL_MS,
                                  NULL, 0);
        rd_kafka_conf_set_stats_cb(rconf, stats_cb);
        k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, rconf, why, sizeof(why));
        if (!k->consumer) {
                snprintf(errstr, errstr_size, "consumer: %s", why);
                rd_kafka_conf_destroy(rconf);
                goto fail;
        }
        rd_kafka_poll_set_consumer(k->consumer);
        subs = rd_kafka_topic_partition_list_new(2);
        rd_kafka_topic_partition_list_add(subs, conf->topic_commands,
                                          RD_KAFKA_PARTITION_UA);
        rd_kafka_topic_partition_list_add(subs, conf->topic_livekit_events,
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

/* Stops the producer's poll thread (the last reports are served by
 * rd_kafka_flush() or dropped by rd_kafka_destroy()). */
static void stop_poller(cs_kafka_t *k) {
        if (!k->poller_started)
                return;
        atomic_store(&k->poller_stop, true);
        pthread_join(k->poller, NULL);
        k->poller_started = false;
}

void cs_kafka_destroy(cs_kafka_t *k) {
        if (!k)
                return;
        stop_poller(k);
        /* A consumer whose close never returned would hang its destroy
         * too: the process is exiting, it is left as it is. */
        if (k->consumer && !k->close_abandoned)
                rd_kafka_destroy(k->consumer);
        if (k->producer)
                rd_kafka_destroy(k->producer);
        cs_watermark_destroy(k->wm);
        cs_topiccache_destroy(k->known);
        pthread_mutex_destroy(&k->dr_lock);
        pthread_mutex_destroy(&k->prepare_lock);
        pthread_mutex_destroy(&k->known_lock);
        free(k->topic);
        free(k->events_topic);
        free(k);
}

/* ---- consuming ---- */

rd_kafka_message_t *cs_kafka_consume(cs_kafka_t *k, int timeout_ms) {
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

void cs_kafka_wake(cs_kafka_t *k) {
        rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(k->consumer);
        if (q) {
                rd_kafka_queue_yield(q);
                rd_kafka_queue_destroy(q);
        }
}

void cs_kafka_on_revoke(cs_kafka_t *k, cs_kafka_revoke_cb *cb, void *opaque) {
        k->on_revoke = cb;
        k->revoke_opaque = opaque;
}

void cs_kafka_begin(cs_kafka_t *k, const rd_kafka_message_t *rkm) {
        cs_watermark_track(k->wm, rkm_key(k, rkm), rkm->offset);
}

void cs_kafka_done(cs_kafka_t *k, const rd_kafka_message_t *rkm) {
        int64_t next = cs_watermark_done(k->wm, rkm_key(k, rkm), rkm->offset);
        if (next < 0)
                return;
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, rd_kafka_topic_name(rkm->rkt),
                                          rkm->partition)->offset = next;
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(k->consumer, parts);
        if (err)
                /* The partition was revoked meanwhile: its new owner
                 * handles the command again, which is idempotent. */
                cs_log(CS_LOG_INFO, "KAFKA", "offset %lld of [%d] not stored: %s",
                       (long long)next, (int)rkm->partition, rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(parts);
}

/* Pauses or resumes every assigned partition. */
static void pause_all(cs_kafka_t *k, bool pause) {
        rd_kafka_topic_partition_list_t *parts = NULL;
        if (rd_kafka_assignment(k->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
                return;
        if (parts->cnt) {
                if (pause)
                        rd_kafka_pause_partitions(k->consumer, parts);
                else
                        rd_kafka_resume_partitions(k->consumer, parts);
        }
        cs_metrics_set_paused(pause ? parts->cnt : 0);
        rd_kafka_topic_partition_list_destroy(parts);
}

void cs_kafka_hold(cs_kafka_t *k) {
        if (k->hold)
                return;
        k->hold = true;
        pause_all(k, true);
        cs_log(CS_LOG_DEBUG, "KAFKA", "holding every partition");
}

void cs_kafka_release(cs_kafka_t *k) {
        if (!k->hold)
                return;
        k->hold = false;
        pause_all(k, false);
        cs_log(CS_LOG_DEBUG, "KAFKA", "taking commands again");
}

int64_t cs_kafka_delivery_max_ms(const cs_kafka_t *k) {
        return (int64_t)k->delivery_timeout_ms + DELIVERY_WAIT_MARGIN_MS;
}

/* ---- producing ---- */

/* Headers of @p m, in the order they are produced. */
typedef struct headers_s {
        char part[16], off[24], trunc[24];
} headers_t;

static rd_kafka_headers_t *make_headers(const cs_out_msg_t *m, headers_t *buf) {
        static const char *const kinds[] = {"reply", "notification", "dead_letter"};
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(7);
        if (m->operation_id)
                rd_kafka_header_add(hdrs, "operation-id", -1, m->operation_id, -1);
        rd_kafka_header_add(hdrs, "kind", -1, kinds[m->kind], -1);
        if (m->kind == CS_OUT_DEAD_LETTER) {
                snprintf(buf->part, sizeof(buf->part), "%d", (int)m->source_partition);
                snprintf(buf->off, sizeof(buf->off), "%lld", (long long)m->source_offset);
                rd_kafka_header_add(hdrs, "error", -1, m->error ? m->error : "", -1);
                rd_kafka_header_add(hdrs, "source-topic", -1,
                                    m->source_topic ? m->source_topic : "", -1);
                rd_kafka_header_add(hdrs, "source-partition", -1, buf->part, -1);
                rd_kafka_header_add(hdrs, "source-offset", -1, buf->off, -1);
                if (m->truncated_from) {
                        snprintf(buf->trunc, sizeof(buf->trunc), "%zu", m->truncated_from);
                        rd_kafka_header_add(hdrs, "truncated", -1, buf->trunc, -1);
                }
        }
        return hdrs;
}

/* Bytes the headers of @p m take on the wire, generously (each header: two
 * varint lengths of at most 5 bytes, its name and its value). */
static size_t headers_size(const cs_out_msg_t *m) {
        headers_t buf;
        rd_kafka_headers_t *hdrs = make_headers(m, &buf);
        size_t size = 0;
        const char *name;
        const void *value;
        size_t value_size;
        for (size_t i = 0; !rd_kafka_header_get_all(hdrs, i, &name, &value, &value_size); i++)
                size += 10 + strlen(name) + value_size;
        rd_kafka_headers_destroy(hdrs);
        /* room for the truncated header added by the cut */
        return size + 10 + strlen("truncated") + 20;
}

bool cs_kafka_fit_dead_letter(const cs_kafka_t *k, cs_out_msg_t *m) {
        if (m->kind != CS_OUT_DEAD_LETTER || m->truncated_from || m->len == 0)
                return false;
        size_t overhead = m->key_len + headers_size(m) + DEAD_LETTER_SLACK;
        size_t budget = (size_t)k->max_msg_bytes > overhead
                                ? (size_t)k->max_msg_bytes - overhead
                                : 0;
        /* Already within the producer's limit: a broker with a lower one
         * refused it; half is a guess that fits most such limits. */
        size_t len = m->len <= budget ? m->len / 2 : budget;
        m->truncated_from = m->len;
        m->len = len; /* the buffer stays as it is, only less is produced */
        return true;
}

static rd_kafka_resp_err_t produce_one(cs_kafka_t *k, const cs_out_msg_t *m,
                                       slot_t *slot) {
        headers_t buf;
        rd_kafka_headers_t *hdrs = make_headers(m, &buf);
        rd_kafka_resp_err_t err;
        for (;;) {
                err = rd_kafka_producev(
                        k->producer, RD_KAFKA_V_TOPIC(m->topic),
                        RD_KAFKA_V_KEY(m->key, m->key_len),
                        RD_KAFKA_V_VALUE(m->value, m->len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(slot),
                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                /* The poll thread serves reports meanwhile. */
                struct timespec ts = {0, 20 * 1000000L};
                nanosleep(&ts, NULL);
        }
        if (err)
                rd_kafka_headers_destroy(hdrs); /* not taken on failure */
        return err;
}

/* ---- first contact: per-user push topics ---- */

/* The state of one new topic during prepare_topics(). */
typedef struct fresh_s {
        const char *topic;          /* owned by the outbox */
        rd_kafka_resp_err_t create; /* CreateTopics' answer for it */
        bool ready;                 /* metadata shows it with leaders */
} fresh_t;

/* Answers of CreateTopics after which the topic exists. */
static bool created_or_exists(rd_kafka_resp_err_t err) {
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ||
               err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
}

static int remaining_ms(int64_t deadline) {
        int64_t left = deadline - mono_ms();
        return left > 0 ? (int)left : 0;
}

/* Logs a refused CreateTopics: the first time a warning (the cluster may
 * forbid creation: producing goes on, auto-creation may still work, and an
 * unknown topic is dead-lettered as before), then at debug level. */
static void create_refused(cs_kafka_t *k, const char *what, const char *why) {
        cs_log(k->create_warned ? CS_LOG_DEBUG : CS_LOG_WARN, "KAFKA",
               "first contact: CreateTopics %s refused: %s; producing anyway "
               "(auto-creation may still create it)",
               what, why);
        k->create_warned = true;
}

/* One CreateTopics request for every topic of @p fresh (@p n >= 1), waiting
 * until @p deadline at most; records each topic's answer in fresh[].create
 * (RD_KAFKA_RESP_ERR__TIMED_OUT when none came). */
static void create_topics(cs_kafka_t *k, fresh_t *fresh, size_t n,
                          int64_t deadline) {
        char why[512];
        rd_kafka_NewTopic_t **nt = cs_xcalloc(n, sizeof(*nt));
        rd_kafka_AdminOptions_t *opts = NULL;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_event_t *ev = NULL;
        size_t cnt = 0;

        for (size_t i = 0; i < n; i++)
                fresh[i].create = RD_KAFKA_RESP_ERR__TIMED_OUT;
        for (size_t i = 0; i < n; i++) {
                nt[cnt] = rd_kafka_NewTopic_new(fresh[i].topic, k->topic_partitions,
                                                k->topic_replication, why, sizeof(why));
                if (!nt[cnt]) {
                        fresh[i].create = RD_KAFKA_RESP_ERR__INVALID_ARG;
                        cs_log(CS_LOG_WARN, "KAFKA", "first contact: %s: %s",
                               fresh[i].topic, why);
                        continue;
                }
                cnt++;
        }
        int timeout = remaining_ms(deadline);
        if (!cnt || timeout <= 0)
                goto done;
        opts = rd_kafka_AdminOptions_new(k->producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        /* The broker answers once the topics exist (or the time is up). */
        if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout, why, sizeof(why)) ||
            rd_kafka_AdminOptions_set_operation_timeout(opts, timeout, why, sizeof(why))) {
                cs_log(CS_LOG_WARN, "KAFKA", "first contact: admin options: %s", why);
                goto done;
        }
        q = rd_kafka_queue_new(k->producer);
        cs_log(CS_LOG_DEBUG, "KAFKA", "first contact: CreateTopics for %zu topic(s)",
               cnt);
        rd_kafka_CreateTopics(k->producer, nt, cnt, opts, q);
        while (!ev && remaining_ms(deadline) > 0) {
                int slice = remaining_ms(deadline);
                ev = rd_kafka_queue_poll(q, slice < 100 ? slice : 100);
        }
        if (!ev) {
                /* Destroying the queue drops the late answer. */
                k->create_resume_at = mono_ms() + CREATE_BACKOFF_MS;
                cs_log(CS_LOG_WARN, "KAFKA",
                       "first contact: CreateTopics of %zu topic(s) not answered "
                       "in time; new push topics are left to auto-creation for %d s",
                       cnt, CREATE_BACKOFF_MS / 1000);
                goto done;
        }
        rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
        const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
        size_t rcnt = 0;
        const rd_kafka_topic_result_t **tr =
                res ? rd_kafka_CreateTopics_result_topics(res, &rcnt) : NULL;
        if (err && rcnt == 0) {
                /* The request as a whole: no CreateTopics API (a cluster
                 * too old, or librdkafka's mock cluster), no controller,
                 * or not authorized. */
                if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
                    err == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION) {
                        k->create_unsupported = true;
                        cs_log(CS_LOG_WARN, "KAFKA",
                               "first contact: the cluster does not support "
                               "CreateTopics (%s); new push topics are left to "
                               "auto-creation",
                               rd_kafka_event_error_string(ev));
                } else {
                        /* librdkafka's mock cluster names a controller
                         * that is none of its brokers, so this is a
                         * timeout there ("waiting for controller"). */
                        k->create_resume_at = mono_ms() + CREATE_BACKOFF_MS;
                        cs_log(CS_LOG_WARN, "KAFKA",
                               "first contact: CreateTopics failed: %s: %s; new "
                               "push topics are left to auto-creation for %d s",
                               rd_kafka_err2name(err), rd_kafka_event_error_string(ev),
                               CREATE_BACKOFF_MS / 1000);
                }
                for (size_t i = 0; i < n; i++)
                        if (fresh[i].create == RD_KAFKA_RESP_ERR__TIMED_OUT)
                                fresh[i].create = err;
                goto done;
        }
        size_t unauthorized = 0;
        for (size_t j = 0; j < rcnt; j++) {
                const char *name = rd_kafka_topic_result_name(tr[j]);
                rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(tr[j]);
                if (terr == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
                    terr == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED)
                        unauthorized++;
                for (size_t i = 0; i < n; i++)
                        if (!strcmp(fresh[i].topic, name))
                                fresh[i].create = terr;
                if (!created_or_exists(terr)) {
                        const char *msg = rd_kafka_topic_result_error_string(tr[j]);
                        char what[300];
                        snprintf(what, sizeof(what), "of %s", name);
                        /* TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED,
                         * POLICY_VIOLATION, INVALID_REQUEST, ... */
                        create_refused(k, what, msg && *msg ? msg : rd_kafka_err2str(terr));
                }
        }
        /* A service account that may not create topics: do not ask for
         * every new user; the grant may come later. */
        if (rcnt && unauthorized == rcnt)
                k->create_resume_at = mono_ms() + CREATE_BACKOFF_MS;
done:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (q)
                rd_kafka_queue_destroy(q);
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
        for (size_t i = 0; i < cnt; i++)
                rd_kafka_NewTopic_destroy(nt[i]);
        free(nt);
}

static bool is_known(cs_kafka_t *k, const char *topic) {
        pthread_mutex_lock(&k->known_lock);
        bool known = cs_topiccache_has(k->known, topic);
        pthread_mutex_unlock(&k->known_lock);
        return known;
}

/* @returns true if every push topic of @p out is known to exist. */
static bool all_known(cs_kafka_t *k, const cs_outbox_t *out) {
        for (size_t i = 0; i < out->cnt; i++)
                if (out->msgs[i].kind != CS_OUT_DEAD_LETTER && !is_known(k, out->msgs[i].topic))
                        return false;
        return true;
}

/* Asks the cluster for @p f's metadata, so that the producer knows its
 * partitions and leaders before the first message is produced (rather than
 * finding out in its next periodic look for unknown topics). A topic just
 * created may not have leaders yet: it is asked again until @p deadline. */
static void topic_metadata(cs_kafka_t *k, fresh_t *f, int64_t deadline) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->producer, f->topic, NULL);
        bool retry = created_or_exists(f->create);

        if (!rkt)
                return;
        for (;;) {
                int timeout = remaining_ms(deadline);
                const struct rd_kafka_metadata *md = NULL;
                if (timeout <= 0)
                        break;
                rd_kafka_resp_err_t err = rd_kafka_metadata(k->producer, 0, rkt, &md, timeout);
                if (!err && md->topic_cnt == 1 && !md->topics[0].err &&
                    md->topics[0].partition_cnt > 0) {
                        f->ready = true;
                        for (int p = 0; p < md->topics[0].partition_cnt; p++)
                                if (md->topics[0].partitions[p].leader < 0)
                                        f->ready = false;
                }
                if (md)
                        rd_kafka_metadata_destroy(md);
                if (f->ready || !retry || remaining_ms(deadline) <= METADATA_RETRY_MS)
                        break;
                struct timespec ts = {0, METADATA_RETRY_MS * 1000000L};
                nanosleep(&ts, NULL);
        }
        rd_kafka_topic_destroy(rkt);
}

/*
 * First contact (per_user mode): before an outbox is produced, every push
 * topic of it that is not known to exist is created with one CreateTopics
 * request (partitions and replication from the config; TOPIC_ALREADY_EXISTS
 * is fine), then its metadata is requested, so that its first message goes
 * out at once instead of after the producer's next look for unknown topics
 * (once a second in librdkafka 2.0.2) or the broker's auto-creation. All of
 * it takes at most push.topic_create_timeout_ms; the outbox is produced
 * afterwards whatever happened: a cluster that forbids creation may still
 * auto-create, and a topic that stays unknown is dead-lettered as before.
 * Topics whose metadata answered are remembered: their later messages only
 * pay a hash lookup. Dead letters (topics.dlq) are not prepared.
 * Preparations are one at a time (first contact is rare): a command that
 * finds one under way waits for it, then finds its own topics known.
 */
static void prepare_topics(cs_kafka_t *k, const cs_outbox_t *out) {
        fresh_t *fresh = NULL;
        size_t n = 0, created = 0, existed = 0, ready = 0;

        if (!k->known || all_known(k, out))
                return; /* keyed mode, or nothing new */
        pthread_mutex_lock(&k->prepare_lock);
        for (size_t i = 0; i < out->cnt; i++) {
                const cs_out_msg_t *m = &out->msgs[i];
                bool dup = false;
                if (m->kind == CS_OUT_DEAD_LETTER || is_known(k, m->topic))
                        continue;
                for (size_t j = 0; j < n && !dup; j++)
                        dup = !strcmp(fresh[j].topic, m->topic);
                if (dup)
                        continue;
                if (!fresh)
                        fresh = cs_xcalloc(out->cnt, sizeof(*fresh));
                fresh[n++].topic = m->topic;
        }
        if (!n) {
                pthread_mutex_unlock(&k->prepare_lock);
                return;
        }
        int64_t start = mono_ms();
        int64_t deadline = start + k->prepare_timeout_ms;
        cs_log(CS_LOG_DEBUG, "KAFKA", "first contact: preparing %zu new topic(s)", n);
        if (k->create_unsupported || start < k->create_resume_at) {
                for (size_t i = 0; i < n; i++)
                        fresh[i].create = RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE;
        } else {
                /* A quarter of the time stays for the metadata requests. */
                create_topics(k, fresh, n, start + k->prepare_timeout_ms * 3 / 4);
        }
        for (size_t i = 0; i < n; i++) {
                if (fresh[i].create == RD_KAFKA_RESP_ERR_NO_ERROR)
                        created++;
                else if (fresh[i].create == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                        existed++;
                topic_metadata(k, &fresh[i], deadline);
                if (fresh[i].ready) {
                        pthread_mutex_lock(&k->known_lock);
                        cs_topiccache_add(k->known, fresh[i].topic);
                        pthread_mutex_unlock(&k->known_lock);
                        ready++;
                }
        }
        cs_log(CS_LOG_DEBUG, "KAFKA",
               "first contact: %zu new topic(s) prepared in %lld ms: %zu created, "
               "%zu existed, %zu with metadata",
               n, (long long)(mono_ms() - start), created, existed, ready);
        pthread_mutex_unlock(&k->prepare_lock);
        free(fresh);
}

cs_err_t cs_kafka_deliver(cs_kafka_t *k, cs_outbox_t *out, char *errstr,
                          size_t errstr_size) {
        size_t cnt = out->cnt;
        delivery_t *d = cs_xcalloc(1, sizeof(*d) + (cnt ? cnt : 1) * sizeof(slot_t));
        cs_cond_init_monotonic(&d->done);
        bool *keep = cs_xcalloc(cnt ? cnt : 1, sizeof(*keep));
        prepare_topics(k, out);
        d->refs = 1; /* this call's */
        for (size_t i = 0; i < cnt; i++) {
                d->slots[i].d = d;
                pthread_mutex_lock(&k->dr_lock);
                d->refs++;
                d->pending++;
                pthread_mutex_unlock(&k->dr_lock);
                rd_kafka_resp_err_t err = produce_one(k, &out->msgs[i], &d->slots[i]);
                if (!err)
                        continue;
                cs_log(CS_LOG_WARN, "KAFKA", "produce to %s: %s",
                       out->msgs[i].topic, rd_kafka_err2str(err));
                if (err == RD_KAFKA_RESP_ERR__FATAL)
                        atomic_store(&k->fatal, true);
                pthread_mutex_lock(&k->dr_lock);
                d->refs--;
                d->pending--;
                d->failed++;
                if (is_permanent_delivery_error(err))
                        d->permanent++;
                d->last_err = err;
                pthread_mutex_unlock(&k->dr_lock);
        }
        /* librdkafka reports every message within message.timeout.ms; the
         * margin covers a report that is late anyway. */
        struct timespec until = cs_monotonic_deadline(cs_kafka_delivery_max_ms(k));
        pthread_mutex_lock(&k->dr_lock);
        while (d->pending > 0 &&
               pthread_cond_timedwait(&d->done, &k->dr_lock, &until) == 0)
                ;
        size_t failed = d->failed, permanent = d->permanent;
        rd_kafka_resp_err_t last_err = d->last_err;
        if (d->pending > 0) {
                failed += d->pending;
                last_err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        }
        for (size_t i = 0; i < cnt; i++)
                keep[i] = !d->slots[i].acked;
        delivery_unref(d);
        pthread_mutex_unlock(&k->dr_lock);
        cs_outbox_keep(out, keep);
        free(keep);
        if (atomic_load(&k->fatal))
                return CS_ERR_FATAL;
        if (failed && failed == permanent) {
                snprintf(errstr, errstr_size,
                         "%zu of %zu output message(s) refused by the broker: %s",
                         failed, cnt, rd_kafka_err2str(last_err));
                return CS_ERR_UNDECODABLE;
        }
        if (failed)
                snprintf(errstr, errstr_size, "%zu of %zu output message(s) not delivered: %s",
                         failed, cnt, rd_kafka_err2str(last_err));
        return failed ? CS_ERR_TRANSIENT : CS_OK;
}

const char *cs_kafka_lib_version(void) {
        return rd_kafka_version_str();
}

bool cs_kafka_fatal(cs_kafka_t *k) {
        return atomic_load(&k->fatal);
}

/* rd_kafka_consumer_close() on a thread of its own, so that its caller can
 * stop waiting. Heap-allocated: a close that never returns keeps it. */
typedef struct closer_s {
        rd_kafka_t *consumer;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool done;
        rd_kafka_resp_err_t err;
} closer_t;

static void *close_main(void *arg) {
        closer_t *c = arg;
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(c->consumer);
        pthread_mutex_lock(&c->lock);
        c->err = err;
        c->done = true;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

bool cs_kafka_close(cs_kafka_t *k, int flush_ms, int close_ms) {
        stop_poller(k);
        rd_kafka_resp_err_t err = rd_kafka_flush(k->producer, flush_ms);
        if (err)
                cs_log(CS_LOG_WARN, "KAFKA", "flush: %s (%d message(s) left)",
                       rd_kafka_err2str(err), rd_kafka_outq_len(k->producer));
        /* The stored offsets first, while the group is as it was: the
         * close commits them too, but may meet a rebalance. */
        commit_before_revoke(k->consumer);
        k->closing = true;
        closer_t *c = cs_xcalloc(1, sizeof(*c));
        c->consumer = k->consumer;
        pthread_mutex_init(&c->lock, NULL);
        cs_cond_init_monotonic(&c->cond);
        pthread_t thread;
        if (pthread_create(&thread, NULL, close_main, c)) {
                close_main(c);
        } else {
                struct timespec until = cs_monotonic_deadline(close_ms);
                pthread_mutex_lock(&c->lock);
                while (!c->done &&
                       pthread_cond_timedwait(&c->cond, &c->lock, &until) == 0)
                        ;
                pthread_mutex_unlock(&c->lock);
                if (!c->done) {
                        /* Seen with librdkafka 2.15.1 when the worker
                         * closes while the group rebalances because
                         * another member left at the same moment: the
                         * unassign inside the close waits for good. */
                        pthread_detach(thread);
                        k->close_abandoned = true;
                        cs_log(CS_LOG_ERR, "KAFKA",
                               "consumer close did not finish in %d ms; leaving without "
                               "it (offsets not committed are consumed again by the "
                               "next owner)",
                               close_ms);
                        return false;
                }
                pthread_join(thread, NULL);
        }
        if (c->err)
                cs_log(CS_LOG_WARN, "KAFKA", "consumer close: %s", rd_kafka_err2str(c->err));
        pthread_cond_destroy(&c->cond);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return true;
}
