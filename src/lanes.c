/*
 * lanes.c: a hash map of lanes, a FIFO of ready lanes, a pool of threads.
 *
 * A lane is ready when it has queued items and none running; the threads
 * take ready lanes in FIFO order, so a busy lane does not starve others.
 */
#include "lanes.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "log.h"
#include "monotonic.h"

#define BUCKETS 1024

typedef struct lane_s {
        struct lane_s *next_in_bucket;
        struct lane_s *next_ready;
        cs_lane_item_t *head, *tail; /* queued */
        cs_lane_item_t *running;     /* NULL: none */
        size_t key_len;
        unsigned char key[]; /* a copy */
} lane_t;

struct cs_lanes_s {
        pthread_mutex_t lock;
        pthread_cond_t work; /* a lane became ready, or stop */
        pthread_cond_t done; /* an item finished */
        lane_t *buckets[BUCKETS];
        lane_t *ready_head, *ready_tail;
        cs_lane_item_t *done_head, *done_tail;
        size_t count;
        bool stopping;
        bool stopped;
        cs_lane_run_cb *run;
        cs_lane_wake_cb *wake;
        void *opaque;
        int nthreads;
        pthread_t *threads;
};

static size_t bucket_of(const void *key, size_t len) {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a */
        for (size_t i = 0; i < len; i++)
                h = (h ^ ((const unsigned char *)key)[i]) * 1099511628211ULL;
        return (size_t)(h % BUCKETS);
}

static lane_t **find_slot(cs_lanes_t *l, const void *key, size_t len) {
        lane_t **slot = &l->buckets[bucket_of(key, len)];
        while (*slot && ((*slot)->key_len != len || memcmp((*slot)->key, key, len)))
                slot = &(*slot)->next_in_bucket;
        return slot;
}

static void make_ready(cs_lanes_t *l, lane_t *lane) {
        lane->next_ready = NULL;
        if (l->ready_tail)
                l->ready_tail->next_ready = lane;
        else
                l->ready_head = lane;
        l->ready_tail = lane;
        pthread_cond_signal(&l->work);
}

/* Frees @p lane if it holds nothing (locked). */
static void retire_if_empty(cs_lanes_t *l, lane_t *lane) {
        if (lane->head || lane->running)
                return;
        lane_t **slot = find_slot(l, lane->key, lane->key_len);
        *slot = lane->next_in_bucket;
        free(lane);
}

static void *thread_main(void *arg) {
        cs_lanes_t *l = arg;
        pthread_mutex_lock(&l->lock);
        for (;;) {
                while (!l->stopping && !l->ready_head)
                        pthread_cond_wait(&l->work, &l->lock);
                if (l->stopping)
                        break;
                lane_t *lane = l->ready_head;
                l->ready_head = lane->next_ready;
                if (!l->ready_head)
                        l->ready_tail = NULL;
                cs_lane_item_t *item = lane->head;
                lane->head = item->next;
                if (!lane->head)
                        lane->tail = NULL;
                item->next = NULL;
                lane->running = item;
                pthread_mutex_unlock(&l->lock);

                l->run(item, l->opaque);

                pthread_mutex_lock(&l->lock);
                lane->running = NULL;
                if (l->done_tail)
                        l->done_tail->next = item;
                else
                        l->done_head = item;
                l->done_tail = item;
                if (lane->head)
                        make_ready(l, lane);
                else
                        retire_if_empty(l, lane);
                pthread_cond_broadcast(&l->done);
                if (l->wake) {
                        pthread_mutex_unlock(&l->lock);
                        l->wake(l->opaque);
                        pthread_mutex_lock(&l->lock);
                }
        }
        pthread_mutex_unlock(&l->lock);
        return NULL;
}

cs_lanes_t *cs_lanes_new(int threads, cs_lane_run_cb *run, cs_lane_wake_cb *wake,
                         void *opaque) {
        cs_lanes_t *l = cs_xcalloc(1, sizeof(*l));
        pthread_mutex_init(&l->lock, NULL);
        pthread_cond_init(&l->work, NULL);
        cs_cond_init_monotonic(&l->done);
        l->run = run;
        l->wake = wake;
        l->opaque = opaque;
        l->nthreads = threads < 1 ? 1 : threads;
        l->threads = cs_xcalloc((size_t)l->nthreads, sizeof(*l->threads));
        for (int i = 0; i < l->nthreads; i++) {
                if (pthread_create(&l->threads[i], NULL, thread_main, l)) {
                        /* Out of threads: like out of memory, the worker
                         * cannot go on (and is restarted). */
                        cs_log(CS_LOG_ERR, "LANES", "cannot start thread %d", i);
                        abort();
                }
        }
        return l;
}

void cs_lanes_stop(cs_lanes_t *l) {
        pthread_mutex_lock(&l->lock);
        bool joined = l->stopped;
        l->stopping = l->stopped = true;
        pthread_cond_broadcast(&l->work);
        pthread_mutex_unlock(&l->lock);
        if (joined)
                return;
        for (int i = 0; i < l->nthreads; i++)
                pthread_join(l->threads[i], NULL);
}

void cs_lanes_destroy(cs_lanes_t *l) {
        if (!l)
                return;
        cs_lanes_stop(l);
        for (size_t b = 0; b < BUCKETS; b++) {
                while (l->buckets[b]) {
                        lane_t *next = l->buckets[b]->next_in_bucket;
                        free(l->buckets[b]);
                        l->buckets[b] = next;
                }
        }
        pthread_cond_destroy(&l->work);
        pthread_cond_destroy(&l->done);
        pthread_mutex_destroy(&l->lock);
        free(l->threads);
        free(l);
}

void cs_lanes_push(cs_lanes_t *l, cs_lane_item_t *item) {
        item->next = NULL;
        pthread_mutex_lock(&l->lock);
        lane_t **slot = find_slot(l, item->key, item->key_len);
        lane_t *lane = *slot;
        if (!lane) {
                lane = cs_xcalloc(1, sizeof(*lane) + item->key_len);
                lane->key_len = item->key_len;
                memcpy(lane->key, item->key, item->key_len);
                *slot = lane;
        }
        bool idle = !lane->head && !lane->running;
        if (lane->tail)
                lane->tail->next = item;
        else
                lane->head = item;
        lane->tail = item;
        l->count++;
        if (idle)
                make_ready(l, lane);
        pthread_mutex_unlock(&l->lock);
}

cs_lane_item_t *cs_lanes_pop_done(cs_lanes_t *l) {
        pthread_mutex_lock(&l->lock);
        cs_lane_item_t *item = l->done_head;
        if (item) {
                l->done_head = item->next;
                if (!l->done_head)
                        l->done_tail = NULL;
                item->next = NULL;
                l->count--;
        }
        pthread_mutex_unlock(&l->lock);
        return item;
}

bool cs_lanes_wait_done(cs_lanes_t *l, int timeout_ms) {
        struct timespec until = cs_monotonic_deadline(timeout_ms);
        pthread_mutex_lock(&l->lock);
        while (!l->done_head &&
               pthread_cond_timedwait(&l->done, &l->lock, &until) == 0)
                ;
        bool any = l->done_head != NULL;
        pthread_mutex_unlock(&l->lock);
        return any;
}

/* Takes the lane out of the ready FIFO (locked). */
static void unready(cs_lanes_t *l, lane_t *lane) {
        lane_t *prev = NULL;
        for (lane_t *r = l->ready_head; r; prev = r, r = r->next_ready) {
                if (r != lane)
                        continue;
                if (prev)
                        prev->next_ready = r->next_ready;
                else
                        l->ready_head = r->next_ready;
                if (l->ready_tail == r)
                        l->ready_tail = prev;
                return;
        }
}

cs_lane_item_t *cs_lanes_drop(cs_lanes_t *l, cs_lane_match_cb *match, void *arg) {
        cs_lane_item_t *dropped = NULL, **dtail = &dropped;
        pthread_mutex_lock(&l->lock);
        for (size_t b = 0; b < BUCKETS; b++) {
                lane_t *lane = l->buckets[b];
                while (lane) {
                        lane_t *next_lane = lane->next_in_bucket;
                        bool was_ready = lane->head && !lane->running;
                        cs_lane_item_t **p = &lane->head, *last = NULL;
                        while (*p) {
                                cs_lane_item_t *it = *p;
                                if (!match(it, arg)) {
                                        last = it;
                                        p = &it->next;
                                        continue;
                                }
                                *p = it->next;
                                it->next = NULL;
                                *dtail = it;
                                dtail = &it->next;
                                l->count--;
                        }
                        lane->tail = last;
                        if (was_ready && !lane->head)
                                unready(l, lane);
                        retire_if_empty(l, lane);
                        lane = next_lane;
                }
        }
        pthread_mutex_unlock(&l->lock);
        return dropped;
}

size_t cs_lanes_each_running(cs_lanes_t *l, cs_lane_match_cb *fn, void *arg) {
        size_t n = 0;
        pthread_mutex_lock(&l->lock);
        for (size_t b = 0; b < BUCKETS; b++)
                for (lane_t *lane = l->buckets[b]; lane; lane = lane->next_in_bucket)
                        if (lane->running && fn(lane->running, arg))
                                n++;
        pthread_mutex_unlock(&l->lock);
        return n;
}

size_t cs_lanes_count(cs_lanes_t *l) {
        pthread_mutex_lock(&l->lock);
        size_t n = l->count;
        pthread_mutex_unlock(&l->lock);
        return n;
}
