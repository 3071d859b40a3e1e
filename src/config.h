/*
 * config.h: the effective configuration of callsig.
 *
 * One property table in config.c drives everything: YAML parsing (libyaml,
 * nested mappings flattened to dotted keys), CALLSIG_* environment overrides,
 * validation, --help, the redacted dump and docs/CONFIGURATION.md. Unknown
 * keys and bad values are errors that name file:line:col.
 *
 * cs_config_t is a plain value struct (the one public struct of callsig);
 * every string in it is owned by it and freed by cs_config_destroy().
 */
#ifndef CALLSIG_CONFIG_H
#define CALLSIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

typedef enum cs_push_mode_e {
        CS_PUSH_PER_USER = 0, /* one topic per user, push.topic_template */
        CS_PUSH_KEYED = 1,    /* every push message on push.topic */
} cs_push_mode_t;

/* The OpenIM dialect (contract section 12); the values are cs_dialect_t's. */
typedef enum cs_protocol_e {
        CS_PROTOCOL_V2 = 0,
        CS_PROTOCOL_V3 = 1,
} cs_protocol_t;

/* A librdkafka property passed through unchanged (kafka.consumer.* or
 * kafka.producer.*): name without the prefix, value as text. */
typedef struct cs_config_prop_s {
        char *name;
        char *value;
} cs_config_prop_t;

typedef struct cs_config_s {
        char *kafka_brokers;
        char *kafka_group_id;
        cs_config_prop_t *consumer_props; /* kafka.consumer.* */
        size_t consumer_prop_cnt;
        cs_config_prop_t *producer_props; /* kafka.producer.* */
        size_t producer_prop_cnt;

        char *topic_commands;
        char *topic_dlq;
        char *topic_livekit_events; /* LiveKit webhook events (section 9) */

        cs_push_mode_t push_mode;
        char *push_topic_template; /* contains "{user}" exactly once */
        char *push_topic;
        int64_t push_topic_partitions;  /* of created push topics; -1 broker default */
        int64_t push_topic_replication; /* of created push topics; -1 broker default */
        int64_t push_topic_create_timeout_ms; /* first-contact preparation bound */

        char *mongodb_uri;
        char *mongodb_database;

        char *livekit_url;
        char *livekit_api_key;
        char *livekit_api_secret; /* never logged, redacted in dumps */
        int64_t livekit_token_ttl; /* seconds */
        char *livekit_api_url; /* RoomService base URL; "" = from livekit_url */

        int64_t signal_default_timeout; /* seconds */
        int64_t signal_max_timeout;     /* seconds */
        int64_t signal_max_invitees;
        int64_t signal_timer_interval_ms; /* how often due ring deadlines are polled */
        int64_t signal_operation_retention; /* seconds operations are remembered */
        int64_t signal_command_max_age; /* seconds after sentAt a command expires; 0 never */
        int64_t signal_max_attempts; /* tries of one command before 1009 */
        int64_t signal_concurrency;   /* handler threads: rooms side by side */
        int64_t signal_max_in_flight; /* messages taken and not finished */
        int64_t signal_revoke_drain_ms; /* wait for a revoked partition's work */
        int64_t signal_custom_max_bytes;  /* largest customInfo */
        int64_t signal_custom_per_minute; /* custom signals per sender per call */

        /* ICE servers for clients (contract section 11): comma-separated
         * URL lists ("" = none), the TURN REST secret ("" = none). */
        char *stun_urls;
        char *turn_urls;
        char *turn_secret; /* never logged, redacted in dumps */
        int64_t turn_ttl;  /* seconds */
        cs_protocol_t openim_protocol; /* openim.protocol */

        int64_t store_retry_max_backoff_ms; /* cap of the retry backoff on store outages */

        char *log_level; /* error | warn | info | debug */

        char *http_listen; /* host:port of the HTTP listener; "" = off */

        /* Where keys got their values: read with cs_config_origin(). */
        struct cs_config_origin_s *origins;
        size_t origin_cnt;
} cs_config_t;

/** @returns a config holding every default; caller destroys it.
 *  Never NULL (aborts on out-of-memory). */
cs_config_t *cs_config_new(void);

/** Frees @p conf and every string in it; NULL is accepted. */
void cs_config_destroy(cs_config_t *conf);

/**
 * Reads the YAML file @p path into @p conf (keys it does not mention keep
 * their current value).
 *
 * @returns 0 on success, -1 on failure with "path:line:col: key: problem"
 *          (or "path: problem" when no position applies) in @p errstr.
 */
int cs_config_load_file(cs_config_t *conf, const char *path, char *errstr,
                        size_t errstr_size) CS_WUR;

/**
 * Applies CALLSIG_<KEY> environment overrides from @p envp (a NULL-terminated
 * "NAME=value" array such as environ). Unknown CALLSIG_ variables are errors,
 * except CALLSIG_CONFIG and the CALLSIG_TEST_ namespace.
 *
 * @returns 0 on success, -1 with "env CALLSIG_X: problem" in @p errstr.
 */
int cs_config_apply_env(cs_config_t *conf, char *const *envp, char *errstr,
                        size_t errstr_size) CS_WUR;

/**
 * Checks relations between keys and required keys (LiveKit key and a secret
 * of at least 32 bytes, default timeout <= max timeout, template has {user}).
 *
 * @returns 0 if valid, -1 with the problem in @p errstr.
 */
int cs_config_validate(const cs_config_t *conf, char *errstr,
                       size_t errstr_size) CS_WUR;

/**
 * @returns where @p key (dotted; pass-through keys with their prefix, as in
 *          "kafka.consumer.fetch.wait.max.ms") got its current value:
 *          "path:line:col" of the value in a YAML file, or "env CALLSIG_X";
 *          NULL when it has its default. Owned by @p conf.
 */
const char *cs_config_origin(const cs_config_t *conf, const char *key);

/** @returns true if the value of pass-through property @p name (without
 *  the kafka.consumer. / kafka.producer. prefix) is a secret: never shown. */
bool cs_config_passthrough_secret(const char *name);

/** Writes the effective configuration as YAML, secrets as "[redacted]". */
void cs_config_dump(const cs_config_t *conf, FILE *fp);

/** Writes the key reference (one Markdown table: key, type, default,
 *  environment variable, meaning): the body of docs/CONFIGURATION.md. */
void cs_config_write_reference(FILE *fp);

/** Writes a short one-line-per-key listing for --help. */
void cs_config_write_help(FILE *fp);

#endif
