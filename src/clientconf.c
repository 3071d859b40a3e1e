/*
 * clientconf.c: librdkafka and libmongoc settings from cs_config_t, and the
 * check --check-config runs (see clientconf.h).
 *
 * Every library message is converted here into "origin: key: problem", the
 * way config.c reports its own errors, with secrets taken out.
 */
#include "clientconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "err.h"

#define REDACTED "[redacted]"

/* Written before the pass-through properties, in this order. The latency
 * settings suit a request/response path (docs/BEHAVIOUR.md, "Latency
 * defaults"): a command waits for its own answers' acknowledgement, so a
 * linger only delays it (librdkafka still batches whatever queues up while
 * a request is in flight); and a fetch is held by the broker at most 10 ms
 * (a real Kafka broker answers as soon as data arrives anyway; the mock
 * cluster and some proxies hold the fetch for the whole wait), at the cost
 * of up to 100 empty fetches per second per broker while idle. */
static const char *const producer_defaults[] = {
        "enable.idempotence", "true",
        "linger.ms", "0",
        "message.timeout.ms", "60000",
        NULL};

static const char *const consumer_defaults[] = {
        "enable.auto.offset.store", "false",
        "enable.auto.commit", "true",
        "auto.offset.reset", "earliest",
        "allow.auto.create.topics", "true",
        "enable.partition.eof", "false",
        "fetch.wait.max.ms", "10",
        NULL};

/* Copies @p msg into @p out with every occurrence of @p secret (if not
 * NULL or empty) written as [redacted]. */
static void redact(char *out, size_t out_size, const char *msg,
                   const char *secret, size_t secret_len) {
        size_t o = 0;

        if (out_size == 0)
                return;
        while (*msg && o + 1 < out_size) {
                if (secret && secret_len && !strncmp(msg, secret, secret_len)) {
                        size_t n = strlen(REDACTED);
                        if (n > out_size - 1 - o)
                                n = out_size - 1 - o;
                        memcpy(out + o, REDACTED, n);
                        o += n;
                        msg += secret_len;
                } else {
                        out[o++] = *msg++;
                }
        }
        out[o] = '\0';
}

/* Writes "origin: key: what: problem" ("key: what: problem" without an
 * origin), with @p secret (may be NULL) taken out of @p problem. */
static void key_err(const cs_config_t *conf, const char *key,
                    const char *what, const char *problem,
                    const char *secret, size_t secret_len, char *errstr,
                    size_t errstr_size) {
        const char *origin = cs_config_origin(conf, key);
        char clean[512];

        redact(clean, sizeof(clean), problem, secret, secret_len);
        if (origin)
                cs_errf(errstr, errstr_size, "%s: %s: %s: %s", origin, key, what,
                     clean);
        else
                cs_errf(errstr, errstr_size, "%s: %s: %s", key, what, clean);
}

/* Sets one property; on failure names @p key (the callsig key it came
 * from) and hides the value when @p secret. @returns 0 or -1. */
static int set(const cs_config_t *conf, rd_kafka_conf_t *rconf,
               const char *key, const char *name, const char *value,
               bool secret, char *errstr, size_t errstr_size) {
        char why[512];

        if (rd_kafka_conf_set(rconf, name, value, why, sizeof(why)) ==
            RD_KAFKA_CONF_OK)
                return 0;
        key_err(conf, key, "librdkafka refuses it", why,
                secret ? value : NULL, secret ? strlen(value) : 0, errstr,
                errstr_size);
        return -1;
}

/* "kafka.consumer" / "kafka.producer" + "." + @p name into @p out. */
static void prop_key(char *out, size_t out_size, bool producer,
                     const char *name) {
        snprintf(out, out_size, "%s.%s",
                 producer ? "kafka.producer" : "kafka.consumer", name);
}

static rd_kafka_conf_t *build(const cs_config_t *conf, bool producer,
                              char *errstr, size_t errstr_size) {
        const char *const *defaults =
                producer ? producer_defaults : consumer_defaults;
        const cs_config_prop_t *props =
                producer ? conf->producer_props : conf->consumer_props;
        size_t cnt = producer ? conf->producer_prop_cnt
                              : conf->consumer_prop_cnt;
        rd_kafka_conf_t *rconf = rd_kafka_conf_new();
        char key[300];

        if (set(conf, rconf, "kafka.brokers", "bootstrap.servers",
                conf->kafka_brokers, false, errstr, errstr_size) ||
            set(conf, rconf, "client.id", "client.id", "callsig", false,
                errstr, errstr_size))
                goto fail;
        for (size_t i = 0; defaults[i]; i += 2)
                if (set(conf, rconf, defaults[i], defaults[i], defaults[i + 1],
                        false, errstr, errstr_size))
                        goto fail;
        /* Pass-through properties override callsig's own choices. */
        for (size_t i = 0; i < cnt; i++) {
                prop_key(key, sizeof(key), producer, props[i].name);
                if (set(conf, rconf, key, props[i].name, props[i].value,
                        cs_config_passthrough_secret(props[i].name), errstr,
                        errstr_size))
                        goto fail;
        }
        if (!producer &&
            set(conf, rconf, "kafka.group_id", "group.id",
                conf->kafka_group_id, false, errstr, errstr_size))
                goto fail;
        return rconf;
fail:
        rd_kafka_conf_destroy(rconf);
        return NULL;
}

rd_kafka_conf_t *cs_clientconf_producer(const cs_config_t *conf, char *errstr,
                                        size_t errstr_size) {
        return build(conf, true, errstr, errstr_size);
}

rd_kafka_conf_t *cs_clientconf_consumer(const cs_config_t *conf, char *errstr,
                                        size_t errstr_size) {
        return build(conf, false, errstr, errstr_size);
}

/* The password of a URI "scheme://user:password@host/...", as config.c's
 * dump finds it; *@p lenp 0 when there is none. */
static const char *uri_password(const char *uri, size_t *lenp) {
        const char *auth = strstr(uri, "://"), *end, *at = NULL, *colon;

        *lenp = 0;
        if (!auth)
                return NULL;
        auth += 3;
        end = auth + strcspn(auth, "/?#");
        for (const char *p = auth; p < end; p++)
                if (*p == '@')
                        at = p;
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (!colon)
                return NULL;
        *lenp = (size_t)(at - colon - 1);
        return colon + 1;
}

mongoc_uri_t *cs_clientconf_mongo_uri(const cs_config_t *conf, char *errstr,
                                      size_t errstr_size) {
        bson_error_t berr;
        size_t pw_len;
        const char *pw = uri_password(conf->mongodb_uri, &pw_len);
        mongoc_uri_t *uri = mongoc_uri_new_with_error(conf->mongodb_uri, &berr);

        if (!uri) {
                key_err(conf, "mongodb.uri", "libmongoc refuses it",
                        berr.message, pw, pw_len, errstr, errstr_size);
                return NULL;
        }
        /* Fail fast on an unreachable server so the worker's own retry loop
         * (with its backoff and stop flag) is in charge, not the driver. */
        if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
                mongoc_uri_set_option_as_int32(
                        uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
        if (!mongoc_uri_has_option(uri, MONGOC_URI_APPNAME))
                mongoc_uri_set_appname(uri, "callsig");
        return uri;
}

static void drop_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                           const char *buf) {
        (void)rk;
        (void)level;
        (void)fac;
        (void)buf;
}

static void drop_mongoc_log(mongoc_log_level_t level, const char *domain,
                            const char *message, void *data) {
        (void)level;
        (void)domain;
        (void)message;
        (void)data;
}

/* true if @p name occurs in @p msg as a whole property name. */
static bool mentions(const char *msg, const char *name) {
        size_t len = strlen(name);

        for (const char *p = msg; (p = strstr(p, name)); p++) {
                char before = p == msg ? ' ' : p[-1];
                char after = p[len];
                bool word_before = before == '.' || before == '_' ||
                                   (before >= 'a' && before <= 'z') ||
                                   (before >= '0' && before <= '9');
                bool word_after = after == '.' || after == '_' ||
                                  (after >= 'a' && after <= 'z') ||
                                  (after >= '0' && after <= '9');
                if (!word_before && !word_after)
                        return true;
        }
        return false;
}

/* Creates (and destroys) one client from @p conf's settings without
 * letting it connect. @returns 0 or -1 with errstr. */
static int try_client(const cs_config_t *conf, bool producer, char *errstr,
                      size_t errstr_size) {
        const cs_config_prop_t *props =
                producer ? conf->producer_props : conf->consumer_props;
        size_t cnt = producer ? conf->producer_prop_cnt
                              : conf->consumer_prop_cnt;
        const char *what = producer ? "producer" : "consumer";
        rd_kafka_conf_t *rconf = build(conf, producer, errstr, errstr_size);
        char why[512], key[300], what_long[64];
        rd_kafka_t *rk;

        if (!rconf)
                return -1;
        rd_kafka_conf_set_log_cb(rconf, drop_kafka_log);
        /* No broker to talk to: rd_kafka_new() only validates. */
        if (rd_kafka_conf_set(rconf, "bootstrap.servers", NULL, why,
                              sizeof(why)) != RD_KAFKA_CONF_OK)
                abort(); /* librdkafka no longer resets with NULL */
        rk = rd_kafka_new(producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER,
                          rconf, why, sizeof(why));
        if (rk) {
                rd_kafka_destroy(rk);
                return 0;
        }
        rd_kafka_conf_destroy(rconf);

        /* Blame the first pass-through property the message names. */
        snprintf(what_long, sizeof(what_long),
                 "librdkafka refuses this %s configuration", what);
        for (size_t i = 0; i < cnt; i++) {
                bool secret = cs_config_passthrough_secret(props[i].name);
                if (!mentions(why, props[i].name))
                        continue;
                prop_key(key, sizeof(key), producer, props[i].name);
                key_err(conf, key, what_long, why,
                        secret ? props[i].value : NULL,
                        secret ? strlen(props[i].value) : 0, errstr,
                        errstr_size);
                return -1;
        }
        cs_errf(errstr, errstr_size,
             "%s: librdkafka refuses the %s configuration: %s",
             producer ? "kafka.producer" : "kafka.consumer", what, why);
        return -1;
}

int cs_clientconf_check(const cs_config_t *conf, char *errstr,
                        size_t errstr_size) {
        mongoc_uri_t *uri = NULL;
        mongoc_client_pool_t *pool = NULL;
        int r = -1;

        if (try_client(conf, true, errstr, errstr_size) ||
            try_client(conf, false, errstr, errstr_size))
                goto done;

        mongoc_init();
        mongoc_log_set_handler(drop_mongoc_log, NULL);
        uri = cs_clientconf_mongo_uri(conf, errstr, errstr_size);
        if (!uri)
                goto done;
        pool = mongoc_client_pool_new(uri);
        if (!pool) {
                cs_errf(errstr, errstr_size,
                     "%s%smongodb.uri: cannot create a client pool from it",
                     cs_config_origin(conf, "mongodb.uri")
                             ? cs_config_origin(conf, "mongodb.uri")
                             : "",
                     cs_config_origin(conf, "mongodb.uri") ? ": " : "");
                goto done;
        }
        r = 0;

done:
        if (pool)
                mongoc_client_pool_destroy(pool);
        mongoc_uri_destroy(uri);
        return r;
}
