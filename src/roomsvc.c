/*
 * roomsvc.c: LiveKit RoomService calls on a thread of their own (see
 * roomsvc.h for the contract).
 *
 * The queue is a bounded array in FIFO order; each request carries the time
 * its next attempt is due. The thread takes the first due request, sends
 * it with a libcurl easy handle it keeps (connections are reused), and puts
 * a failed one back at the end with its next due time. Producers (the
 * worker thread) only lock, copy and signal.
 */
#include "roomsvc.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "log.h"
#include "roomsvc_int.h"
#include "token.h"

/* Bytes of an answer body kept (Twirp errors are short). */
#define ANSWER_MAX 4096

typedef struct rs_req_s {
        cs_roomsvc_op_t op;
        char *room;
        char *identity; /* NULL for DeleteRoom */
        int attempt;    /* attempts made so far */
        int64_t due;    /* ms, monotonic: when the next attempt may start */
} rs_req_t;

struct cs_roomsvc_s {
        const cs_config_t *conf;
        char *base_url;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        rs_req_t *q; /* FIFO, CS_ROOMSVC_QUEUE_MAX slots */
        size_t cnt;
        bool stopping;
        int64_t stop_deadline; /* ms, monotonic; valid while stopping */
        atomic_uint_fast64_t done, retried, failed, dropped;
};

typedef struct answer_s {
        char buf[ANSWER_MAX + 1];
        size_t len;
} answer_t;

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- request building (roomsvc_int.h) ---- */

const char *cs_roomsvc_method(cs_roomsvc_op_t op) {
        return op == CS_ROOMSVC_DELETE_ROOM ? "DeleteRoom"
                                            : "RemoveParticipant";
}

char *cs_roomsvc_base_url(const char *livekit_url, const char *api_url) {
        char *url = NULL;
        if (api_url && *api_url) {
                if (strncmp(api_url, "http://", 7) &&
                    strncmp(api_url, "https://", 8))
                        return NULL;
                url = cs_xstrdup(api_url);
        } else if (livekit_url && !strncmp(livekit_url, "ws://", 5)) {
                url = cs_xmalloc(strlen(livekit_url) + 3);
                sprintf(url, "http://%s", livekit_url + 5);
        } else if (livekit_url && !strncmp(livekit_url, "wss://", 6)) {
                url = cs_xmalloc(strlen(livekit_url) + 3);
                sprintf(url, "https://%s", livekit_url + 6);
        } else if (livekit_url && (!strncmp(livekit_url, "http://", 7) ||
                                   !strncmp(livekit_url, "https://", 8))) {
                url = cs_xstrdup(livekit_url);
        } else {
                return NULL;
        }
        size_t len = strlen(url);
        while (len > 0 && url[len - 1] == '/')
                url[--len] = '\0';
        return url;
}

/* jansson's strings must be UTF-8; json_string() says NULL otherwise. */
static char *dump_compact(json_t *obj) {
        char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
        char *out = text ? cs_xstrdup(text) : NULL;
        free(text);
        json_decref(obj);
        return out;
}

char *cs_roomsvc_body(cs_roomsvc_op_t op, const char *room,
                      const char *identity) {
        json_t *obj = json_object();
        json_t *jroom = json_string(room);
        if (!jroom || json_object_set_new(obj, "room", jroom))
                goto fail;
        if (op == CS_ROOMSVC_REMOVE_PARTICIPANT) {
                json_t *jid = identity ? json_string(identity) : NULL;
                if (!jid || json_object_set_new(obj, "identity", jid))
                        goto fail;
        }
        return dump_compact(obj);
fail:
        json_decref(obj);
        return NULL;
}

char *cs_roomsvc_admin_token(const char *api_key, const char *api_secret,
                             cs_roomsvc_op_t op, const char *room,
                             int64_t now_s, char *errstr,
                             size_t errstr_size) {
        char *claims = NULL, *token = NULL;

        if (!api_key || !*api_key || !api_secret || !*api_secret) {
                snprintf(errstr, errstr_size, "API key and secret required");
                goto done;
        }
        json_t *video = json_pack("{s:s?, s:b}", "room", room, "roomAdmin", 1);
        if (video && op == CS_ROOMSVC_DELETE_ROOM)
                json_object_set_new(video, "roomCreate", json_true());
        json_t *obj = video ? json_pack("{s:s, s:s, s:I, s:I, s:o}", "iss",
                                        api_key, "sub", "callsig", "nbf",
                                        (json_int_t)now_s, "exp",
                                        (json_int_t)(now_s + CS_ROOMSVC_TOKEN_TTL),
                                        "video", video)
                            : NULL;
        claims = dump_compact(obj);
        if (!claims) {
                snprintf(errstr, errstr_size,
                         "room name or API key is not valid UTF-8");
                goto done;
        }
        token = cs_token_sign(claims, api_secret, strlen(api_secret));
        if (!token)
                snprintf(errstr, errstr_size, "signing admin token failed");
done:
        free(claims);
        return token;
}

cs_roomsvc_outcome_t cs_roomsvc_classify(long status, const char *body) {
        if (status >= 200 && status < 300)
                return CS_ROOMSVC_DONE;
        if (status == 404)
                return CS_ROOMSVC_DONE;
        if (body && *body) {
                json_t *doc = json_loads(body, 0, NULL);
                const char *code = json_string_value(json_object_get(doc, "code"));
                bool gone = code && !strcmp(code, "not_found");
                json_decref(doc);
                if (gone)
                        return CS_ROOMSVC_DONE;
        }
        if (status == 0 || status == 408 || status == 429 || status >= 500)
                return CS_ROOMSVC_RETRY;
        return CS_ROOMSVC_FAIL;
}

int64_t cs_roomsvc_backoff_ms(int attempt) {
        int64_t ms = CS_ROOMSVC_BACKOFF_MIN_MS;
        for (int i = 1; i < attempt && ms < CS_ROOMSVC_BACKOFF_MAX_MS; i++)
                ms *= 2;
        return ms < CS_ROOMSVC_BACKOFF_MAX_MS ? ms : CS_ROOMSVC_BACKOFF_MAX_MS;
}

/* ---- the queue (callers hold rs->lock) ---- */

static void req_free(rs_req_t *req) {
        free(req->room);
        free(req->identity);
}

/* "RemoveParticipant [room/identity]" or "DeleteRoom [room]" for logs. */
static const char *req_label(const rs_req_t *req, char *buf, size_t size) {
        snprintf(buf, size, "%s [%s%s%s]", cs_roomsvc_method(req->op), req->room,
                 req->identity ? "/" : "", req->identity ? req->identity : "");
        return buf;
}

static void log_dropped(const rs_req_t *req, const char *why) {
        char label[600];
        cs_log(CS_LOG_WARN, "ROOMSVC", "%s dropped: %s",
               req_label(req, label, sizeof(label)), why);
}

/* Appends @p req (taken over); drops the oldest request when full. */
static void queue_push(cs_roomsvc_t *rs, rs_req_t *req) {
        if (rs->cnt == CS_ROOMSVC_QUEUE_MAX) {
                log_dropped(&rs->q[0], "the queue is full");
                req_free(&rs->q[0]);
                memmove(&rs->q[0], &rs->q[1], (rs->cnt - 1) * sizeof(*rs->q));
                rs->cnt--;
                atomic_fetch_add(&rs->dropped, 1);
        }
        rs->q[rs->cnt++] = *req;
        pthread_cond_signal(&rs->cond);
}

static void enqueue(cs_roomsvc_t *rs, cs_roomsvc_op_t op, const char *room,
                    const char *identity) {
        if (!rs || !room || !*room)
                return;
        rs_req_t req = {.op = op,
                        .room = cs_xstrdup(room),
                        .identity = op == CS_ROOMSVC_REMOVE_PARTICIPANT
                                            ? cs_xstrdup(identity ? identity : "")
                                            : NULL,
                        .due = mono_ms()};
        pthread_mutex_lock(&rs->lock);
        if (rs->stopping) {
                log_dropped(&req, "shutting down");
                req_free(&req);
                atomic_fetch_add(&rs->dropped, 1);
        } else {
                queue_push(rs, &req);
        }
        pthread_mutex_unlock(&rs->lock);
}

void cs_roomsvc_remove(cs_roomsvc_t *rs, const char *room,
                       const char *identity) {
        enqueue(rs, CS_ROOMSVC_REMOVE_PARTICIPANT, room, identity);
}

void cs_roomsvc_delete_room(cs_roomsvc_t *rs, const char *room) {
        enqueue(rs, CS_ROOMSVC_DELETE_ROOM, room, NULL);
}

void cs_roomsvc_stats(cs_roomsvc_t *rs, cs_roomsvc_stats_t *stats) {
        memset(stats, 0, sizeof(*stats));
        if (!rs)
                return;
        stats->done = atomic_load(&rs->done);
        stats->retried = atomic_load(&rs->retried);
        stats->failed = atomic_load(&rs->failed);
        stats->dropped = atomic_load(&rs->dropped);
}

/* ---- the thread ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *opaque) {
        answer_t *ans = opaque;
        size_t n = size * nmemb, room = ANSWER_MAX - ans->len;
        memcpy(ans->buf + ans->len, ptr, n < room ? n : room);
        ans->len += n < room ? n : room;
        ans->buf[ans->len] = '\0';
        return n;
}

/* Aborts a transfer once the shutdown drain has run out. */
static int on_progress(void *opaque, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow) {
        cs_roomsvc_t *rs = opaque;
        (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
        pthread_mutex_lock(&rs->lock);
        bool abort_now = rs->stopping && mono_ms() >= rs->stop_deadline;
        pthread_mutex_unlock(&rs->lock);
        return abort_now ? 1 : 0;
}

/* One attempt of @p req. @returns the outcome; @p why says what failed. */
static cs_roomsvc_outcome_t attempt(cs_roomsvc_t *rs, CURL *curl,
                                    const rs_req_t *req, char *why,
                                    size_t why_size) {
        char errstr[256], url[2048], curl_err[CURL_ERROR_SIZE] = "";
        char *body = NULL, *token = NULL, *auth = NULL;
        struct curl_slist *headers = NULL;
        answer_t ans = {.len = 0};
        cs_roomsvc_outcome_t outcome = CS_ROOMSVC_FAIL;
        long status = 0;

        body = cs_roomsvc_body(req->op, req->room, req->identity);
        if (!body) {
                /* Such a user never got a token (tokens are UTF-8). */
                snprintf(why, why_size, "room or identity is not UTF-8");
                goto done;
        }
        token = cs_roomsvc_admin_token(rs->conf->livekit_api_key,
                                       rs->conf->livekit_api_secret, req->op,
                                       req->room, (int64_t)time(NULL), errstr,
                                       sizeof(errstr));
        if (!token) {
                snprintf(why, why_size, "%s", errstr);
                goto done;
        }
        auth = cs_xmalloc(strlen(token) + 32);
        sprintf(auth, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        headers = curl_slist_append(headers, auth);
        snprintf(url, sizeof(url), "%s/twirp/livekit.RoomService/%s",
                 rs->base_url, cs_roomsvc_method(req->op));

        curl_easy_reset(curl);
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "callsig/" CALLSIG_VERSION);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)CS_ROOMSVC_TIMEOUT_MS);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)CS_ROOMSVC_TIMEOUT_MS);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ans);
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, rs);
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");

        CURLcode rc = curl_easy_perform(curl);
        if (rc == CURLE_OK)
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        outcome = cs_roomsvc_classify(rc == CURLE_OK ? status : 0, ans.buf);
        if (rc != CURLE_OK)
                snprintf(why, why_size, "%s",
                         curl_err[0] ? curl_err : curl_easy_strerror(rc));
        else
                snprintf(why, why_size, "HTTP %ld%s%.200s", status,
                         ans.len ? ": " : "", ans.buf);
done:
        curl_slist_free_all(headers);
        free(auth);
        free(token);
        free(body);
        return outcome;
}

/* Takes the first due request into @p req, waiting for one. @returns false
 * when the thread should end. Called with rs->lock held. */
static bool take_due(cs_roomsvc_t *rs, rs_req_t *req) {
        for (;;) {
                int64_t now = mono_ms(), next = INT64_MAX;
                if (rs->stopping && (now >= rs->stop_deadline || rs->cnt == 0))
                        return false;
                for (size_t i = 0; i < rs->cnt; i++) {
                        if (rs->q[i].due <= now) {
                                *req = rs->q[i];
                                memmove(&rs->q[i], &rs->q[i + 1],
                                        (rs->cnt - i - 1) * sizeof(*rs->q));
                                rs->cnt--;
                                return true;
                        }
                        if (rs->q[i].due < next)
                                next = rs->q[i].due;
                }
                if (rs->stopping) {
                        /* Only what is due now is sent while stopping. */
                        return false;
                }
                if (next == INT64_MAX) {
                        pthread_cond_wait(&rs->cond, &rs->lock);
                } else {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        int64_t wait = next - now;
                        ts.tv_sec += wait / 1000;
                        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
                        if (ts.tv_nsec >= 1000000000L) {
                                ts.tv_sec++;
                                ts.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&rs->cond, &rs->lock, &ts);
                }
        }
}

static void *run(void *opaque) {
        cs_roomsvc_t *rs = opaque;
        CURL *curl = curl_easy_init();
        rs_req_t req;
        char why[512];

        pthread_mutex_lock(&rs->lock);
        while (curl && take_due(rs, &req)) {
                pthread_mutex_unlock(&rs->lock);
                req.attempt++;
                cs_roomsvc_outcome_t outcome =
                        attempt(rs, curl, &req, why, sizeof(why));
                char label[600];
                req_label(&req, label, sizeof(label));
                pthread_mutex_lock(&rs->lock);
                if (outcome == CS_ROOMSVC_DONE) {
                        atomic_fetch_add(&rs->done, 1);
                        cs_log(CS_LOG_DEBUG, "ROOMSVC", "%s done (%s)", label, why);
                        req_free(&req);
                } else if (outcome == CS_ROOMSVC_RETRY &&
                           req.attempt < CS_ROOMSVC_MAX_ATTEMPTS &&
                           !rs->stopping) {
                        int64_t wait = cs_roomsvc_backoff_ms(req.attempt);
                        atomic_fetch_add(&rs->retried, 1);
                        cs_log(CS_LOG_WARN, "ROOMSVC",
                               "%s attempt %d failed (%s); retry in %" PRId64
                               " ms",
                               label, req.attempt, why, wait);
                        req.due = mono_ms() + wait;
                        queue_push(rs, &req);
                } else if (outcome == CS_ROOMSVC_RETRY && rs->stopping) {
                        atomic_fetch_add(&rs->dropped, 1);
                        log_dropped(&req, why);
                        req_free(&req);
                } else {
                        atomic_fetch_add(&rs->failed, 1);
                        cs_log(CS_LOG_ERR, "ROOMSVC",
                               "%s given up after %d attempt(s): %s", label,
                               req.attempt, why);
                        req_free(&req);
                }
        }
        pthread_mutex_unlock(&rs->lock);
        curl_easy_cleanup(curl);
        return NULL;
}

cs_roomsvc_t *cs_roomsvc_new(const cs_config_t *conf) {
        char *base = cs_roomsvc_base_url(conf->livekit_url,
                                         conf->livekit_api_url);
        if (!base) {
                cs_log(CS_LOG_WARN, "ROOMSVC",
                       "no HTTP URL for the LiveKit API (livekit.url is not "
                       "ws://, wss://, http:// or https://, and "
                       "livekit.api_url is empty): users who leave a call are "
                       "not removed from its room");
                return NULL;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
                cs_log(CS_LOG_ERR, "ROOMSVC", "libcurl did not initialize: "
                                              "room enforcement is off");
                free(base);
                return NULL;
        }
        cs_roomsvc_t *rs = cs_xcalloc(1, sizeof(*rs));
        rs->conf = conf;
        rs->base_url = base;
        rs->q = cs_xcalloc(CS_ROOMSVC_QUEUE_MAX, sizeof(*rs->q));
        pthread_mutex_init(&rs->lock, NULL);
        pthread_cond_init(&rs->cond, NULL);
        if (pthread_create(&rs->thread, NULL, run, rs)) {
                cs_log(CS_LOG_ERR, "ROOMSVC", "cannot start its thread: room "
                                              "enforcement is off");
                pthread_mutex_destroy(&rs->lock);
                pthread_cond_destroy(&rs->cond);
                free(rs->q);
                free(rs->base_url);
                free(rs);
                curl_global_cleanup();
                return NULL;
        }
        cs_log(CS_LOG_INFO, "ROOMSVC", "LiveKit RoomService at %s", base);
        return rs;
}

void cs_roomsvc_destroy(cs_roomsvc_t *rs) {
        if (!rs)
                return;
        pthread_mutex_lock(&rs->lock);
        rs->stopping = true;
        rs->stop_deadline = mono_ms() + CS_ROOMSVC_DRAIN_MS;
        pthread_cond_signal(&rs->cond);
        pthread_mutex_unlock(&rs->lock);
        pthread_join(rs->thread, NULL);
        if (rs->cnt)
                cs_log(CS_LOG_WARN, "ROOMSVC",
                       "%zu RoomService request(s) not sent at shutdown",
                       rs->cnt);
        atomic_fetch_add(&rs->dropped, rs->cnt);
        for (size_t i = 0; i < rs->cnt; i++)
                req_free(&rs->q[i]);
        pthread_mutex_destroy(&rs->lock);
        pthread_cond_destroy(&rs->cond);
        free(rs->q);
        free(rs->base_url);
        free(rs);
        curl_global_cleanup();
}
