/*
 * ratelimit.c: see ratelimit.h. A chained hash table of (room, sender)
 * entries, each on a least-recently-used list; entries whose windows are
 * over are dropped as they are met and when the table is full.
 */
#include "ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"

#define RL_BUCKETS 4096 /* power of two */

typedef struct rl_entry_s {
        struct rl_entry_s *next;           /* bucket chain */
        struct rl_entry_s *lru_prev, *lru_next; /* most recent first */
        uint64_t hash;
        int64_t window_start; /* ms: start of the current fixed window */
        int64_t cur, prev;    /* counts in the current and previous one */
        size_t key_len;
        char key[];           /* room NUL sender */
} rl_entry_t;

struct cs_ratelimit_s {
        rl_entry_t *buckets[RL_BUCKETS];
        rl_entry_t *lru_head, *lru_tail;
        size_t cnt, max;
        uint8_t hash_key[16];
        pthread_mutex_t lock; /* lane threads share one limiter */
};

cs_ratelimit_t *cs_ratelimit_new(size_t max_entries) {
        cs_ratelimit_t *rl = cs_xcalloc(1, sizeof(*rl));
        rl->max = max_entries ? max_entries : 1;
        /* A fixed key: the table is private to the process and entries
         * exist only for participants of live calls. */
        memcpy(rl->hash_key, "callsig-ratelim", 16);
        pthread_mutex_init(&rl->lock, NULL);
        return rl;
}

static void lru_unlink(cs_ratelimit_t *rl, rl_entry_t *e) {
        if (e->lru_prev)
                e->lru_prev->lru_next = e->lru_next;
        else
                rl->lru_head = e->lru_next;
        if (e->lru_next)
                e->lru_next->lru_prev = e->lru_prev;
        else
                rl->lru_tail = e->lru_prev;
        e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(cs_ratelimit_t *rl, rl_entry_t *e) {
        e->lru_prev = NULL;
        e->lru_next = rl->lru_head;
        if (rl->lru_head)
                rl->lru_head->lru_prev = e;
        rl->lru_head = e;
        if (!rl->lru_tail)
                rl->lru_tail = e;
}

static void entry_remove(cs_ratelimit_t *rl, rl_entry_t *e) {
        rl_entry_t **pp = &rl->buckets[e->hash & (RL_BUCKETS - 1)];
        while (*pp != e)
                pp = &(*pp)->next;
        *pp = e->next;
        lru_unlink(rl, e);
        free(e);
        rl->cnt--;
}

void cs_ratelimit_destroy(cs_ratelimit_t *rl) {
        if (!rl)
                return;
        while (rl->lru_head)
                entry_remove(rl, rl->lru_head);
        pthread_mutex_destroy(&rl->lock);
        free(rl);
}

size_t cs_ratelimit_size(cs_ratelimit_t *rl) {
        pthread_mutex_lock(&rl->lock);
        size_t n = rl->cnt;
        pthread_mutex_unlock(&rl->lock);
        return n;
}

/* Moves the windows of @p e forward to the one holding @p now. */
static void entry_advance(rl_entry_t *e, int64_t now, int64_t window) {
        if (now - e->window_start < window)
                return;
        if (now - e->window_start < 2 * window) {
                e->prev = e->cur;
                e->window_start += window;
        } else {
                e->prev = 0;
                e->window_start = now;
        }
        e->cur = 0;
}

static bool take_locked(cs_ratelimit_t *rl, const char *room, const char *sender,
                        int64_t now_ms, int64_t limit, int64_t window_ms) {
        size_t room_len = strlen(room), sender_len = strlen(sender);
        size_t key_len = room_len + 1 + sender_len;
        char *key = cs_xmalloc(key_len);
        memcpy(key, room, room_len);
        key[room_len] = '\0';
        memcpy(key + room_len + 1, sender, sender_len);
        uint64_t hash = cs_siphash(rl->hash_key, key, key_len);
        rl_entry_t **bucket = &rl->buckets[hash & (RL_BUCKETS - 1)];
        rl_entry_t *e;

        for (e = *bucket; e; e = e->next)
                if (e->hash == hash && e->key_len == key_len &&
                    !memcmp(e->key, key, key_len))
                        break;
        if (!e) {
                /* Full: forget the least recently used pair (its windows
                 * are usually long over). */
                while (rl->cnt >= rl->max && rl->lru_tail)
                        entry_remove(rl, rl->lru_tail);
                e = cs_xcalloc(1, sizeof(*e) + key_len);
                e->hash = hash;
                e->key_len = key_len;
                memcpy(e->key, key, key_len);
                e->window_start = now_ms;
                e->next = *bucket;
                *bucket = e;
                rl->cnt++;
        } else {
                lru_unlink(rl, e);
        }
        lru_push_front(rl, e);
        free(key);

        /* A clock that went back counts in the current window. */
        if (now_ms < e->window_start)
                now_ms = e->window_start;
        entry_advance(e, now_ms, window_ms);
        int64_t elapsed = now_ms - e->window_start;
        /* prev * (window - elapsed) / window + cur < limit, in integers. */
        if (e->prev * (window_ms - elapsed) + e->cur * window_ms >=
            limit * window_ms)
                return false;
        e->cur++;

        /* Drop a few pairs whose windows are over, from the old end. */
        for (int i = 0; i < 2 && rl->lru_tail && rl->lru_tail != e &&
                        now_ms - rl->lru_tail->window_start >= 2 * window_ms;
             i++)
                entry_remove(rl, rl->lru_tail);
        return true;
}

bool cs_ratelimit_take(cs_ratelimit_t *rl, const char *room,
                       const char *sender, int64_t now_ms, int64_t limit,
                       int64_t window_ms) {
        pthread_mutex_lock(&rl->lock);
        bool allowed = take_locked(rl, room, sender, now_ms, limit, window_ms);
        pthread_mutex_unlock(&rl->lock);
        return allowed;
}
