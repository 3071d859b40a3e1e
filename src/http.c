/*
 * http.c: the HTTP listener (see http.h).
 */
#include "http.h"

#include <librdkafka/rdkafka.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "alloc.h"
#include "clientconf.h"
#include "log.h"
#include "metrics.h"
#include "webhook.h"

#define WEBHOOK_PATH "/webhooks/livekit"
/* Connections served at once; more wait in the kernel's backlog. */
#define MAX_CONNECTIONS 64
#define CONNECTION_TIMEOUT_S 30
/* MongoDB is pinged for /readyz at most this often, ms. */
#define PING_EVERY_MS 2000
#define DELIVERY_MARGIN_MS 5000

/* The delivery of one webhook's message. */
enum { SLOT_PENDING = 0, SLOT_ACKED, SLOT_FAILED, SLOT_ABANDONED };
typedef struct slot_s {
        atomic_int state;
        rd_kafka_resp_err_t err;
} slot_t;

struct cs_http_s {
        const cs_config_t *conf;
        cs_store_t *store;
        struct MHD_Daemon *daemon;
        rd_kafka_t *producer;
        int delivery_max_ms;
        atomic_bool producer_fatal;
        pthread_mutex_t ping_lock;
        int64_t ping_at;       /* monotonic ms of the last ping */
        bool ping_ok;
        char ping_err[256];
};

/* One request: its body so far. */
typedef struct request_s {
        char *body;
        size_t len;
        bool too_large;
} request_t;

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- producer ---- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        (void)rk;
        cs_log(level <= 3 ? CS_LOG_ERR : level == 4 ? CS_LOG_WARN : CS_LOG_DEBUG, "HTTP",
               "kafka %s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
        cs_http_t *http = opaque;
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                char fatal[256];
                rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                cs_log(CS_LOG_ERR, "HTTP", "webhook producer: fatal error: %s", fatal);
                atomic_store(&http->producer_fatal, true);
                return;
        }
        cs_log(CS_LOG_WARN, "HTTP", "webhook producer: %s: %s",
               rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

/* Runs on whichever request thread polls: it only hands the result over. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque) {
        (void)rk;
        (void)opaque;
        slot_t *slot = rkm->_private;
        if (!slot)
                return;
        slot->err = rkm->err;
        if (atomic_exchange(&slot->state, rkm->err ? SLOT_FAILED : SLOT_ACKED) ==
            SLOT_ABANDONED)
                free(slot); /* its request gave up waiting */
}

/* Produces @p body keyed by @p room and waits for the broker's answer.
 * @returns true once acknowledged; false with the reason in @p errstr. */
static bool produce_event(cs_http_t *http, const char *room, const char *body,
                          size_t len, char *errstr, size_t errstr_size) {
        slot_t *slot = cs_xcalloc(1, sizeof(*slot));
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
        rd_kafka_header_add(hdrs, "kind", -1, "livekit_event", -1);
        rd_kafka_resp_err_t err;
        for (;;) {
                err = rd_kafka_producev(http->producer,
                                        RD_KAFKA_V_TOPIC(http->conf->topic_livekit_events),
                                        RD_KAFKA_V_KEY(room, room ? strlen(room) : 0),
                                        RD_KAFKA_V_VALUE((void *)(uintptr_t)body, len),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(slot),
                                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(http->producer, 50);
        }
        if (err) {
                rd_kafka_headers_destroy(hdrs);
                free(slot);
                snprintf(errstr, errstr_size, "produce: %s", rd_kafka_err2str(err));
                return false;
        }
        int64_t give_up = mono_ms() + http->delivery_max_ms;
        while (atomic_load(&slot->state) == SLOT_PENDING && mono_ms() < give_up)
                rd_kafka_poll(http->producer, 50);
        int state = atomic_exchange(&slot->state, SLOT_ABANDONED);
        if (state == SLOT_PENDING) {
                snprintf(errstr, errstr_size, "no delivery report in time");
                return false; /* the report frees the slot */
        }
        bool ok = state == SLOT_ACKED;
        if (!ok)
                snprintf(errstr, errstr_size, "delivery: %s", rd_kafka_err2str(slot->err));
        free(slot);
        return ok;
}

/* ---- answers ---- */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned int status,
                              const char *type, const char *text, size_t len) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
                len, (void *)(uintptr_t)text, MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        enum MHD_Result ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned int status,
                                   const char *text) {
        return answer(conn, status, "text/plain; charset=utf-8", text, strlen(text));
}

static enum MHD_Result serve_healthz(struct MHD_Connection *conn) {
        cs_health_t health;
        cs_metrics_health(&health);
        int64_t age = mono_ms() - health.heartbeat_ms;
        if (health.heartbeat_ms && age < CS_HTTP_HEARTBEAT_MAX_MS)
                return answer_text(conn, MHD_HTTP_OK, "ok\n");
        char text[128];
        snprintf(text, sizeof(text), "main loop not seen for %lld ms\n",
                 health.heartbeat_ms ? (long long)age : -1LL);
        return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

/* @returns whether MongoDB answered a ping lately, pinging at most every
 * PING_EVERY_MS (readiness probes must not load the server). */
static bool mongo_ok(cs_http_t *http, char *why, size_t why_size) {
        pthread_mutex_lock(&http->ping_lock);
        int64_t now = mono_ms();
        if (!http->ping_at || now - http->ping_at >= PING_EVERY_MS) {
                char errstr[256] = "";
                http->ping_ok = cs_store_ping(http->store, errstr, sizeof(errstr)) == CS_OK;
                snprintf(http->ping_err, sizeof(http->ping_err), "%s", errstr);
                http->ping_at = mono_ms();
        }
        bool ok = http->ping_ok;
        snprintf(why, why_size, "%s", http->ping_err);
        pthread_mutex_unlock(&http->ping_lock);
        return ok;
}

static enum MHD_Result serve_readyz(cs_http_t *http, struct MHD_Connection *conn) {
        cs_health_t health;
        char why[300], text[400];
        cs_metrics_health(&health);
        if (health.assigned <= 0)
                return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                   "not ready: no partitions assigned\n");
        if (health.producer_fatal || atomic_load(&http->producer_fatal))
                return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                                   "not ready: a producer hit a fatal error\n");
        if (!mongo_ok(http, why, sizeof(why))) {
                snprintf(text, sizeof(text), "not ready: MongoDB does not answer: %s\n", why);
                return answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text);
        }
        return answer_text(conn, MHD_HTTP_OK, "ready\n");
}

static enum MHD_Result serve_metrics(struct MHD_Connection *conn) {
        char *buf = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);
        if (!fp)
                return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        cs_metrics_write(fp);
        fclose(fp);
        enum MHD_Result ret = answer(conn, MHD_HTTP_OK,
                                     "text/plain; version=0.0.4; charset=utf-8", buf, len);
        free(buf);
        return ret;
}

static enum MHD_Result serve_webhook(cs_http_t *http, struct MHD_Connection *conn,
                                     request_t *req) {
        char errstr[256];
        if (req->too_large) {
                cs_metrics_webhook(NULL, CS_WH_TOO_LARGE);
                return answer_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
        }
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
        if (cs_webhook_verify(http->conf->livekit_api_key, http->conf->livekit_api_secret,
                              auth, (const uint8_t *)req->body, req->len,
                              (int64_t)time(NULL), errstr, sizeof(errstr))) {
                cs_log(CS_LOG_WARN, "HTTP", "webhook refused: %s", errstr);
                cs_metrics_webhook(NULL, CS_WH_UNAUTHORIZED);
                return answer_text(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized\n");
        }
        json_error_t jerr;
        json_t *root = json_loadb(req->body ? req->body : "", req->len, 0, &jerr);
        const char *type = json_string_value(json_object_get(root, "event"));
        if (!json_is_object(root) || !type) {
                json_decref(root);
                cs_metrics_webhook(NULL, CS_WH_BAD_REQUEST);
                return answer_text(conn, MHD_HTTP_BAD_REQUEST, "not a LiveKit event\n");
        }
        const char *room = json_string_value(
                json_object_get(json_object_get(root, "room"), "name"));
        const char *id = json_string_value(json_object_get(root, "id"));
        enum MHD_Result ret;
        if (produce_event(http, room, req->body ? req->body : "", req->len, errstr,
                          sizeof(errstr))) {
                cs_log(CS_LOG_INFO, "HTTP", "webhook %s (%s) for room %s accepted",
                       id ? id : "-", type, room ? room : "-");
                cs_metrics_webhook(type, CS_WH_ACCEPTED);
                ret = answer_text(conn, MHD_HTTP_OK, "ok\n");
        } else {
                cs_log(CS_LOG_WARN, "HTTP", "webhook %s (%s) not stored: %s",
                       id ? id : "-", type, errstr);
                cs_metrics_webhook(type, CS_WH_UNAVAILABLE);
                ret = answer_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "try again later\n");
        }
        json_decref(root);
        return ret;
}

/* libmicrohttpd's access handler: called once with the headers, then once
 * per chunk of body, then once more to answer. */
static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
        (void)version;
        cs_http_t *http = cls;
        request_t *req = *con_cls;
        bool post = !strcmp(method, MHD_HTTP_METHOD_POST);
        if (!req) {
                req = cs_xcalloc(1, sizeof(*req));
                *con_cls = req;
                const char *clen = MHD_lookup_connection_value(
                        conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
                if (post && clen && strtoull(clen, NULL, 10) > CS_HTTP_MAX_BODY) {
                        /* Answered before the body is read. */
                        req->too_large = true;
                        cs_metrics_webhook(NULL, CS_WH_TOO_LARGE);
                        return answer_text(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                                           "body too large\n");
                }
                return MHD_YES;
        }
        if (*upload_data_size) {
                size_t n = *upload_data_size;
                if (!req->too_large && req->len + n > CS_HTTP_MAX_BODY)
                        req->too_large = true;
                if (!req->too_large) {
                        req->body = cs_xrealloc(req->body, req->len + n + 1);
                        memcpy(req->body + req->len, upload_data, n);
                        req->len += n;
                        req->body[req->len] = '\0';
                }
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (!strcmp(url, WEBHOOK_PATH)) {
                if (!post)
                        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST\n");
                return serve_webhook(http, conn, req);
        }
        bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
        bool known = !strcmp(url, "/healthz") || !strcmp(url, "/readyz") ||
                     !strcmp(url, "/metrics");
        if (!known)
                return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
        if (!get)
                return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET\n");
        if (!strcmp(url, "/healthz"))
                return serve_healthz(conn);
        if (!strcmp(url, "/readyz"))
                return serve_readyz(http, conn);
        return serve_metrics(conn);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        (void)cls;
        (void)conn;
        (void)toe;
        request_t *req = *con_cls;
        if (req) {
                free(req->body);
                free(req);
                *con_cls = NULL;
        }
}

/* ---- start and stop ---- */

/* Resolves "host:port" ("[v6]:port" too) into @p addr. */
static bool resolve(const char *listen, struct sockaddr_storage *addr, char *errstr,
                    size_t errstr_size) {
        char host[256];
        const char *colon = strrchr(listen, ':');
        size_t hlen = colon ? (size_t)(colon - listen) : 0;
        if (!colon || hlen >= sizeof(host)) {
                snprintf(errstr, errstr_size, "http.listen %s: not host:port", listen);
                return false;
        }
        memcpy(host, listen, hlen);
        host[hlen] = '\0';
        char *h = host;
        if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
                host[hlen - 1] = '\0';
                h = host + 1;
        }
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *res = NULL;
        int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
        if (rc || !res) {
                snprintf(errstr, errstr_size, "http.listen %s: %s", listen, gai_strerror(rc));
                return false;
        }
        memcpy(addr, res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
        return true;
}

cs_http_t *cs_http_start(const cs_config_t *conf, cs_store_t *store, char *errstr,
                         size_t errstr_size) {
        char why[512];
        struct sockaddr_storage addr;
        memset(&addr, 0, sizeof(addr));
        if (!resolve(conf->http_listen, &addr, errstr, errstr_size))
                return NULL;
        cs_http_t *http = cs_xcalloc(1, sizeof(*http));
        http->conf = conf;
        http->store = store;
        pthread_mutex_init(&http->ping_lock, NULL);

        rd_kafka_conf_t *rconf = cs_clientconf_producer(conf, errstr, errstr_size);
        if (!rconf)
                goto fail;
        rd_kafka_conf_set_opaque(rconf, http);
        rd_kafka_conf_set_log_cb(rconf, log_cb);
        rd_kafka_conf_set_error_cb(rconf, error_cb);
        rd_kafka_conf_set_dr_msg_cb(rconf, dr_msg_cb);
        size_t tsize = sizeof(why);
        http->delivery_max_ms = 300000;
        if (rd_kafka_conf_get(rconf, "message.timeout.ms", why, &tsize) == RD_KAFKA_CONF_OK)
                http->delivery_max_ms = (int)strtol(why, NULL, 10);
        http->delivery_max_ms += DELIVERY_MARGIN_MS;
        http->producer = rd_kafka_new(RD_KAFKA_PRODUCER, rconf, why, sizeof(why));
        if (!http->producer) {
                snprintf(errstr, errstr_size, "webhook producer: %s", why);
                rd_kafka_conf_destroy(rconf);
                goto fail;
        }

        unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION;
        if (addr.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        http->daemon = MHD_start_daemon(
                flags, 0, NULL, NULL, access_cb, http, MHD_OPTION_SOCK_ADDR,
                (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
                (unsigned int)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
                completed_cb, http, MHD_OPTION_END);
        if (!http->daemon) {
                snprintf(errstr, errstr_size, "http.listen %s: cannot listen there",
                         conf->http_listen);
                goto fail;
        }
        cs_log(CS_LOG_INFO, "HTTP", "listening on %s (webhooks on %s)", conf->http_listen,
               conf->topic_livekit_events);
        return http;
fail:
        cs_http_stop(http);
        return NULL;
}

void cs_http_stop(cs_http_t *http) {
        if (!http)
                return;
        if (http->daemon)
                MHD_stop_daemon(http->daemon);
        if (http->producer) {
                rd_kafka_flush(http->producer, 5000);
                rd_kafka_destroy(http->producer);
        }
        pthread_mutex_destroy(&http->ping_lock);
        free(http);
}
