/*
 * clientconf.h: the library configurations callsig derives from cs_config_t
 * (librdkafka producer and consumer, the MongoDB URI), and the check that
 * they are accepted, without connecting anywhere.
 *
 * One source of truth for what the worker hands to librdkafka and libmongoc
 * at start, so that --check-config refuses exactly what the worker would
 * refuse: kafka.consumer.* / kafka.producer.* properties that
 * rd_kafka_conf_set() rejects, combinations that rd_kafka_new() rejects
 * (`acks` with enable.idempotence, ...), and a mongodb.uri that
 * mongoc_uri_new_with_error() or the client pool rejects.
 *
 * Error messages start with where the offending key got its value
 * ("path:line:col: " or "env CALLSIG_X: ", from cs_config_origin()), then
 * the key; values of secret properties and the password of the URI are
 * never shown.
 *
 * @locality any thread; no shared state (cs_clientconf_check() excepted,
 * see there).
 */
#ifndef CALLSIG_CLIENTCONF_H
#define CALLSIG_CLIENTCONF_H

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>

#include "common.h"
#include "config.h"

/**
 * Builds the librdkafka configuration of callsig's producer: bootstrap.servers
 * (kafka.brokers), client.id "callsig", callsig's producer defaults
 * (enable.idempotence=true, linger.ms=0, message.timeout.ms=60000), then every
 * kafka.producer.* property, which overrides them. No callbacks or opaque are
 * set: the caller adds its own.
 *
 * @returns a configuration owned by the caller (rd_kafka_new() takes it, or
 *          rd_kafka_conf_destroy()), or NULL with the refused property in
 *          @p errstr.
 */
rd_kafka_conf_t *cs_clientconf_producer(const cs_config_t *conf, char *errstr,
                                        size_t errstr_size) CS_WUR;

/**
 * The same for the consumer: bootstrap.servers, client.id, callsig's
 * consumer defaults (enable.auto.offset.store=false, enable.auto.commit=true,
 * auto.offset.reset=earliest, allow.auto.create.topics=true,
 * enable.partition.eof=false, fetch.wait.max.ms=10), every kafka.consumer.*
 * property, and last group.id (kafka.group_id, which a kafka.consumer.group.id
 * cannot override).
 */
rd_kafka_conf_t *cs_clientconf_consumer(const cs_config_t *conf, char *errstr,
                                        size_t errstr_size) CS_WUR;

/**
 * Parses mongodb.uri and adds callsig's defaults where the URI does not say
 * otherwise (serverSelectionTimeoutMS=5000, appname "callsig").
 *
 * @returns a URI owned by the caller (mongoc_uri_destroy()), or NULL with
 *          the problem in @p errstr (the password never shown). Call
 *          mongoc_init() first.
 */
mongoc_uri_t *cs_clientconf_mongo_uri(const cs_config_t *conf, char *errstr,
                                      size_t errstr_size) CS_WUR;

/**
 * Runs every check the worker's start makes on @p conf's client settings:
 * builds the producer and the consumer configuration and creates both
 * clients with rd_kafka_new() (with bootstrap.servers emptied, so they never
 * connect; destroyed at once), and builds the MongoDB URI and a client pool
 * from it (a pool does not connect before its first use).
 *
 * Calls mongoc_init() (the caller calls mongoc_cleanup() at exit) and
 * replaces libmongoc's log handler with one that drops everything, so that
 * a URI problem is reported once, here, without its password; a worker
 * routes the logs again (cs_store_route_logs()).
 *
 * @returns 0 if the worker would accept them, -1 with the first problem in
 *          @p errstr.
 */
int cs_clientconf_check(const cs_config_t *conf, char *errstr,
                        size_t errstr_size) CS_WUR;

#endif
