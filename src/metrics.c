/*
 * metrics.c: process-wide atomic metrics (see metrics.h).
 */
#include "metrics.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Request kinds (request.h) as labels: index = v2 case number, 11 =
 * sendCustomSignal (100), 12..16 = the v3 RtcService read methods
 * (101..105), 17 = anything else. */
static const char *const case_names[] = {
        "none", "invite", "inviteInGroup", "cancel", "accept", "hungUp",
        "reject", "getRoomByGroupID", "onRoomParticipantConnectedReq",
        "onRoomParticipantDisconnectedReq", "getTokenByRoomID",
        "sendCustomSignal", "getRooms", "getSignalInvitationInfo",
        "getSignalInvitationInfoStartApp", "getSignalInvitationRecords",
        "deleteSignalRecords", "other"};
#define CASE_CNT CS_ARRAY_SIZE(case_names)
/* errCode labels: 0, 1001..1010, then anything else. */
#define CODE_CNT 12

static const char *const dlq_names[] = {"undecodable", "gave_up", "output_refused"};
static const char *const wh_outcome_names[] = {"accepted", "unauthorized", "too_large",
                                               "bad_request", "unavailable"};
static const char *const room_outcome_names[] = {"applied", "duplicate", "ignored"};
static const char *const custom_refusal_names[] = {"invalid", "not_permitted", "not_found",
                                                   "rate_limited", "expired"};
static const char *const event_types[] = {
        "room_started", "room_finished", "participant_joined", "participant_left",
        "participant_connection_aborted", "track_published", "track_unpublished",
        "egress_started", "egress_updated", "egress_ended", "ingress_started",
        "ingress_ended", "other"};
#define TYPE_CNT CS_ARRAY_SIZE(event_types)

/* Histogram upper bounds, seconds. */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                 0.5,   1,    2.5,   5,    10,  30};
#define BUCKET_CNT CS_ARRAY_SIZE(buckets)

typedef struct histogram_s {
        atomic_uint_fast64_t bucket[BUCKET_CNT]; /* non-cumulative */
        atomic_uint_fast64_t count;
        atomic_uint_fast64_t sum_us;
} histogram_t;

typedef struct lag_s {
        char topic[128];
        int32_t partition;
        int64_t lag;
} lag_t;

static struct {
        atomic_uint_fast64_t replies[CASE_CNT][CODE_CNT];
        histogram_t since_sent, since_consumed;
        atomic_uint_fast64_t redeliveries;
        atomic_uint_fast64_t custom_relayed;
        atomic_uint_fast64_t custom_refused[CS_CUSTOM_REFUSAL_CNT];
        atomic_uint_fast64_t dead_letters[CS_DLQ_REASON_CNT];
        atomic_uint_fast64_t store_retries, delivery_retries;
        atomic_uint_fast64_t lost_races;
        atomic_uint_fast64_t mongodb_commands;
        atomic_uint_fast64_t timer_fired;
        atomic_uint_fast64_t webhooks[TYPE_CNT][CS_WH_OUTCOME_CNT];
        atomic_uint_fast64_t room_events[TYPE_CNT][CS_ROOM_OUTCOME_CNT];
        atomic_int_fast64_t paused, assigned, heartbeat;
        atomic_bool producer_fatal;
} m;

static pthread_mutex_t lag_lock = PTHREAD_MUTEX_INITIALIZER;
static lag_t lags[CS_METRICS_MAX_LAG];
static size_t lag_cnt;

static size_t case_index(int req_case) {
        if (req_case >= 0 && req_case <= 10)
                return (size_t)req_case;
        if (req_case >= 100 && req_case <= 105)
                return (size_t)(req_case - 100 + 11);
        return CASE_CNT - 1;
}

static size_t code_index(int32_t code) {
        if (code == 0)
                return 0;
        if (code >= 1001 && code <= 1010)
                return (size_t)(code - 1000);
        return CODE_CNT - 1;
}

static size_t type_index(const char *type) {
        for (size_t i = 0; type && i + 1 < TYPE_CNT; i++)
                if (!strcmp(event_types[i], type))
                        return i;
        return TYPE_CNT - 1;
}

void cs_metrics_reply(int req_case, int32_t code) {
        atomic_fetch_add(&m.replies[case_index(req_case)][code_index(code)], 1);
}

static void observe(histogram_t *hg, int64_t ms) {
        if (ms < 0)
                return;
        double s = (double)ms / 1000.0;
        size_t i = 0;
        while (i < BUCKET_CNT && s > buckets[i])
                i++;
        if (i < BUCKET_CNT)
                atomic_fetch_add(&hg->bucket[i], 1);
        atomic_fetch_add(&hg->count, 1);
        atomic_fetch_add(&hg->sum_us, (uint_fast64_t)ms * 1000);
}

void cs_metrics_command_latency(int64_t since_sent_ms, int64_t since_consumed_ms) {
        observe(&m.since_sent, since_sent_ms);
        observe(&m.since_consumed, since_consumed_ms);
}

void cs_metrics_custom_relayed(size_t notifications) {
        atomic_fetch_add(&m.custom_relayed, notifications);
}

void cs_metrics_custom_refused(cs_custom_refusal_t reason) {
        if (reason < CS_CUSTOM_REFUSAL_CNT)
                atomic_fetch_add(&m.custom_refused[reason], 1);
}

void cs_metrics_redelivery(void) {
        atomic_fetch_add(&m.redeliveries, 1);
}

void cs_metrics_dead_letter(cs_dlq_reason_t reason) {
        if (reason < CS_DLQ_REASON_CNT)
                atomic_fetch_add(&m.dead_letters[reason], 1);
}

void cs_metrics_retry(bool store) {
        atomic_fetch_add(store ? &m.store_retries : &m.delivery_retries, 1);
}

void cs_metrics_lost_race(void) {
        atomic_fetch_add(&m.lost_races, 1);
}

void cs_metrics_mongodb_command(void) {
        atomic_fetch_add(&m.mongodb_commands, 1);
}

void cs_metrics_timer_fired(void) {
        atomic_fetch_add(&m.timer_fired, 1);
}

void cs_metrics_webhook(const char *type, cs_wh_outcome_t outcome) {
        if (outcome < CS_WH_OUTCOME_CNT)
                atomic_fetch_add(&m.webhooks[type_index(type)][outcome], 1);
}

void cs_metrics_room_event(const char *type, cs_room_outcome_t outcome) {
        if (outcome < CS_ROOM_OUTCOME_CNT)
                atomic_fetch_add(&m.room_events[type_index(type)][outcome], 1);
}

void cs_metrics_set_paused(int64_t partitions) {
        atomic_store(&m.paused, partitions);
}

void cs_metrics_set_assigned(int64_t partitions) {
        atomic_store(&m.assigned, partitions);
}

void cs_metrics_heartbeat(int64_t mono_ms) {
        atomic_store(&m.heartbeat, mono_ms);
}

void cs_metrics_set_producer_fatal(bool fatal) {
        atomic_store(&m.producer_fatal, fatal);
}

void cs_metrics_health(cs_health_t *health) {
        health->heartbeat_ms = atomic_load(&m.heartbeat);
        health->assigned = atomic_load(&m.assigned);
        health->producer_fatal = atomic_load(&m.producer_fatal);
}

/* librdkafka statistics: topics.<t>.partitions.<p>.consumer_lag, for the
 * partitions this consumer fetches (consumer_lag -1: unknown, skipped). */
void cs_metrics_consumer_stats(const char *json, size_t len) {
        json_error_t jerr;
        json_t *root = json_loadb(json, len, 0, &jerr);
        if (!root)
                return;
        lag_t fresh[CS_METRICS_MAX_LAG];
        size_t cnt = 0;
        const char *tname, *pname;
        json_t *topic, *part;
        json_t *topics = json_object_get(root, "topics");
        json_object_foreach(topics, tname, topic) {
                json_t *parts = json_object_get(topic, "partitions");
                json_object_foreach(parts, pname, part) {
                        long partition = strtol(pname, NULL, 10);
                        json_t *lag = json_object_get(part, "consumer_lag");
                        if (partition < 0 || !json_is_integer(lag) ||
                            json_integer_value(lag) < 0 || cnt == CS_METRICS_MAX_LAG ||
                            strlen(tname) >= sizeof(fresh[0].topic))
                                continue;
                        lag_t *l = &fresh[cnt++];
                        snprintf(l->topic, sizeof(l->topic), "%s", tname);
                        l->partition = (int32_t)partition;
                        l->lag = (int64_t)json_integer_value(lag);
                }
        }
        json_decref(root);
        pthread_mutex_lock(&lag_lock);
        memcpy(lags, fresh, cnt * sizeof(*lags));
        lag_cnt = cnt;
        pthread_mutex_unlock(&lag_lock);
}

static void write_histogram(FILE *fp, const char *name, const char *help,
                            histogram_t *hg) {
        fprintf(fp, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
        uint_fast64_t cum = 0;
        for (size_t i = 0; i < BUCKET_CNT; i++) {
                cum += atomic_load(&hg->bucket[i]);
                fprintf(fp, "%s_bucket{le=\"%g\"} %llu\n", name, buckets[i],
                        (unsigned long long)cum);
        }
        uint_fast64_t count = atomic_load(&hg->count);
        fprintf(fp, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)count);
        fprintf(fp, "%s_sum %.6f\n", name, (double)atomic_load(&hg->sum_us) / 1e6);
        fprintf(fp, "%s_count %llu\n", name, (unsigned long long)count);
}

static void write_counter(FILE *fp, const char *name, const char *help,
                          atomic_uint_fast64_t *v) {
        fprintf(fp, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name,
                name, (unsigned long long)atomic_load(v));
}

/* Label values here are our own names or librdkafka topic names (which
 * cannot hold '"', '\\' or newlines), so no escaping is needed. */
void cs_metrics_write(FILE *fp) {
        fprintf(fp, "# HELP callsig_commands_total Commands answered, by request case "
                    "and errCode (a redelivered command counts again).\n"
                    "# TYPE callsig_commands_total counter\n");
        for (size_t c = 0; c < CASE_CNT; c++)
                for (size_t e = 0; e < CODE_CNT; e++) {
                        uint_fast64_t v = atomic_load(&m.replies[c][e]);
                        if (!v)
                                continue;
                        char code[16];
                        if (e == CODE_CNT - 1)
                                snprintf(code, sizeof(code), "other");
                        else
                                snprintf(code, sizeof(code), "%d", e ? (int)(1000 + e) : 0);
                        fprintf(fp, "callsig_commands_total{case=\"%s\",code=\"%s\"} %llu\n",
                                case_names[c], code, (unsigned long long)v);
                }
        write_histogram(fp, "callsig_command_latency_seconds",
                        "Time from a command's sentAt until its outputs were acknowledged.",
                        &m.since_sent);
        write_histogram(fp, "callsig_command_handling_seconds",
                        "Time from taking a command off the topic until its outputs were "
                        "acknowledged.",
                        &m.since_consumed);
        write_counter(fp, "callsig_redeliveries_total",
                      "Commands recognised as redeliveries (answered again, not applied).",
                      &m.redeliveries);
        write_counter(fp, "callsig_custom_signals_relayed_total",
                      "Custom-signal notifications (1605) relayed, one per recipient.",
                      &m.custom_relayed);
        fprintf(fp, "# HELP callsig_custom_signals_refused_total Custom signals refused, "
                    "by reason.\n# TYPE callsig_custom_signals_refused_total counter\n");
        for (size_t i = 0; i < CS_CUSTOM_REFUSAL_CNT; i++)
                fprintf(fp, "callsig_custom_signals_refused_total{reason=\"%s\"} %llu\n",
                        custom_refusal_names[i],
                        (unsigned long long)atomic_load(&m.custom_refused[i]));
        fprintf(fp, "# HELP callsig_dead_letters_total Messages copied to the dead-letter "
                    "topic, by reason.\n# TYPE callsig_dead_letters_total counter\n");
        for (size_t i = 0; i < CS_DLQ_REASON_CNT; i++)
                fprintf(fp, "callsig_dead_letters_total{reason=\"%s\"} %llu\n", dlq_names[i],
                        (unsigned long long)atomic_load(&m.dead_letters[i]));
        write_counter(fp, "callsig_store_retries_total",
                      "Attempts at a command retried because MongoDB failed.",
                      &m.store_retries);
        write_counter(fp, "callsig_delivery_retries_total",
                      "Attempts at a command retried because the broker failed.",
                      &m.delivery_retries);
        write_counter(fp, "callsig_lost_races_total",
                      "Conditional updates of a call record that lost to another writer.",
                      &m.lost_races);
        write_counter(fp, "callsig_mongodb_commands_total",
                      "Commands sent to MongoDB (round trips; driver heartbeats and "
                      "handshakes excluded).",
                      &m.mongodb_commands);
        write_counter(fp, "callsig_timer_firings_total",
                      "Ring-timeout events fired (one per call and deadline).",
                      &m.timer_fired);
        fprintf(fp, "# HELP callsig_webhook_requests_total LiveKit webhook requests, by "
                    "event type and outcome.\n"
                    "# TYPE callsig_webhook_requests_total counter\n");
        for (size_t t = 0; t < TYPE_CNT; t++)
                for (size_t o = 0; o < CS_WH_OUTCOME_CNT; o++) {
                        uint_fast64_t v = atomic_load(&m.webhooks[t][o]);
                        if (v)
                                fprintf(fp, "callsig_webhook_requests_total{type=\"%s\","
                                            "outcome=\"%s\"} %llu\n",
                                        event_types[t], wh_outcome_names[o],
                                        (unsigned long long)v);
                }
        fprintf(fp, "# HELP callsig_room_events_total LiveKit events taken by the worker, "
                    "by event type and outcome.\n"
                    "# TYPE callsig_room_events_total counter\n");
        for (size_t t = 0; t < TYPE_CNT; t++)
                for (size_t o = 0; o < CS_ROOM_OUTCOME_CNT; o++) {
                        uint_fast64_t v = atomic_load(&m.room_events[t][o]);
                        if (v)
                                fprintf(fp, "callsig_room_events_total{type=\"%s\","
                                            "outcome=\"%s\"} %llu\n",
                                        event_types[t], room_outcome_names[o],
                                        (unsigned long long)v);
                }
        fprintf(fp, "# HELP callsig_paused_partitions Partitions paused because the "
                    "worker holds signal.max_in_flight messages.\n# TYPE callsig_paused_partitions gauge\n"
                    "callsig_paused_partitions %lld\n",
                (long long)atomic_load(&m.paused));
        fprintf(fp, "# HELP callsig_assigned_partitions Partitions assigned to this "
                    "worker.\n# TYPE callsig_assigned_partitions gauge\n"
                    "callsig_assigned_partitions %lld\n",
                (long long)atomic_load(&m.assigned));
        fprintf(fp, "# HELP callsig_consumer_lag Messages behind the end of each assigned "
                    "partition (librdkafka statistics).\n"
                    "# TYPE callsig_consumer_lag gauge\n");
        pthread_mutex_lock(&lag_lock);
        for (size_t i = 0; i < lag_cnt; i++)
                fprintf(fp, "callsig_consumer_lag{topic=\"%s\",partition=\"%d\"} %lld\n",
                        lags[i].topic, (int)lags[i].partition, (long long)lags[i].lag);
        pthread_mutex_unlock(&lag_lock);
}

void cs_metrics_reset(void) {
        memset(&m, 0, sizeof(m));
        pthread_mutex_lock(&lag_lock);
        lag_cnt = 0;
        pthread_mutex_unlock(&lag_lock);
}
