/*
 * metrics.h: counters, gauges and histograms of callsig, and the health
 * state the HTTP listener reports (/metrics, /healthz, /readyz).
 *
 * Every value is a C11 atomic: the worker thread (and librdkafka's
 * callbacks, which run on it) bump them, the HTTP threads read them. One
 * process-wide set: callsig runs one worker per process. The only table
 * that is not a fixed array, the consumer lag per partition, is behind a
 * mutex and capped (CS_METRICS_MAX_LAG entries; more are dropped).
 *
 * Names follow the Prometheus conventions: callsig_ prefix, counters end in
 * _total, durations are histograms in _seconds (see cs_metrics_write()).
 *
 * @locality any thread.
 */
#ifndef CALLSIG_METRICS_H
#define CALLSIG_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Why a message went to the dead-letter topic (label reason). */
typedef enum cs_dlq_reason_e {
        CS_DLQ_UNDECODABLE = 0, /* not an answerable SignalCommand */
        CS_DLQ_GAVE_UP,         /* answered 1009: attempts ran out */
        CS_DLQ_OUTPUT_REFUSED,  /* the broker refused an output for good */
        CS_DLQ_REASON_CNT
} cs_dlq_reason_t;

/* What happened to a webhook request (label outcome of
 * callsig_webhook_requests_total). */
typedef enum cs_wh_outcome_e {
        CS_WH_ACCEPTED = 0,  /* verified, produced, acknowledged: 200 */
        CS_WH_UNAUTHORIZED,  /* 401 */
        CS_WH_TOO_LARGE,     /* 413 */
        CS_WH_BAD_REQUEST,   /* 400: verified but not an event */
        CS_WH_UNAVAILABLE,   /* 503: the broker did not acknowledge */
        CS_WH_OUTCOME_CNT
} cs_wh_outcome_t;

/* What a worker did with a consumed LiveKit event (label outcome of
 * callsig_room_events_total). */
typedef enum cs_room_outcome_e {
        CS_ROOM_APPLIED = 0, /* changed a live call */
        CS_ROOM_DUPLICATE,   /* its id was applied before */
        CS_ROOM_IGNORED,     /* no live call, a stale or irrelevant event */
        CS_ROOM_OUTCOME_CNT
} cs_room_outcome_t;

/* Why a custom signal was refused (label reason of
 * callsig_custom_signals_refused_total). */
typedef enum cs_custom_refusal_e {
        CS_CUSTOM_INVALID = 0,   /* 1001 */
        CS_CUSTOM_NOT_PERMITTED, /* 1002 */
        CS_CUSTOM_NOT_FOUND,     /* 1003 */
        CS_CUSTOM_RATE_LIMITED,  /* 1010 */
        CS_CUSTOM_EXPIRED,       /* 1008 */
        CS_CUSTOM_REFUSAL_CNT
} cs_custom_refusal_t;

#define CS_METRICS_MAX_LAG 256

/** Counts one reply to a command of request kind @p req_case (a
 *  cs_req_kind_t: the v2 SignalReq case number for the kinds v2 has, 100..105
 *  for sendCustomSignal and the v3 read methods) with @p code (errCode). */
void cs_metrics_reply(int req_case, int32_t code);
/** Observes the latency of one command: @p since_sent_ms from its sentAt
 *  (< 0: unknown), @p since_consumed_ms from when the worker took it. */
void cs_metrics_command_latency(int64_t since_sent_ms,
                                int64_t since_consumed_ms);
void cs_metrics_redelivery(void);
/** Counts @p notifications relayed 1605 notifications of one custom signal. */
void cs_metrics_custom_relayed(size_t notifications);
/** Counts one refused custom signal. */
void cs_metrics_custom_refused(cs_custom_refusal_t reason);
void cs_metrics_dead_letter(cs_dlq_reason_t reason);
/** An attempt at a command (or event) is retried because MongoDB
 *  (@p store true) or the broker failed. */
void cs_metrics_retry(bool store);
void cs_metrics_lost_race(void);
/** One command sent to MongoDB (store.c's APM hook; any thread). */
void cs_metrics_mongodb_command(void);
void cs_metrics_timer_fired(void);
/** A webhook request of event @p type (NULL or unknown: "other"). */
void cs_metrics_webhook(const char *type, cs_wh_outcome_t outcome);
/** A LiveKit event consumed by a worker. */
void cs_metrics_room_event(const char *type, cs_room_outcome_t outcome);

/* ---- gauges and health ---- */
void cs_metrics_set_paused(int64_t partitions);
void cs_metrics_set_assigned(int64_t partitions);
/** The worker's main loop is alive at @p mono_ms (monotonic ms). */
void cs_metrics_heartbeat(int64_t mono_ms);
void cs_metrics_set_producer_fatal(bool fatal);
/** Replaces the consumer lag table from a librdkafka statistics JSON
 *  document (stats_cb); unparsable documents are ignored. */
void cs_metrics_consumer_stats(const char *json, size_t len);

typedef struct cs_health_s {
        int64_t heartbeat_ms;  /* monotonic ms of the last heartbeat, 0 */
        int64_t assigned;      /* partitions assigned to this worker */
        bool producer_fatal;
} cs_health_t;

void cs_metrics_health(cs_health_t *health);

/** Writes every metric in the Prometheus text exposition format 0.0.4. */
void cs_metrics_write(FILE *fp);

/** Zeroes everything (unit tests). */
void cs_metrics_reset(void);

#endif
