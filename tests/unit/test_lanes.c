/*
 * test_lanes.c: unit tests for the lanes (src/lanes.c).
 *
 * Proves that items of one lane run one at a time in push order while
 * items of different lanes run at the same time; that finished items come
 * back through the done queue, all of them, once; that drop() takes back
 * only queued items that match (never a running one) and keeps the rest
 * in order; that each_running() sees the running items; and that stop()
 * lets the running item finish and leaves queued ones to be dropped.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lanes.h"
#include "test.h"

TEST_MAIN_DEFS

#define LANES 6
#define PER_LANE 60

typedef struct item_s {
        cs_lane_item_t li;
        int lane;
        int seq;
        char key[8];
} item_t;

typedef struct state_s {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int next_seq[LANES];   /* the seq each lane must run next */
        int running[LANES];    /* items of the lane running now */
        int out_of_order;
        int overlapped;        /* two items of one lane at once */
        int concurrent, max_concurrent;
        bool gate_open;        /* test_drop: the first item waits on it */
        int ran;
} state_t;

static void sleep_us(long us) {
        struct timespec ts = {0, us * 1000L};
        nanosleep(&ts, NULL);
}

static void run_ordered(cs_lane_item_t *li, void *opaque) {
        state_t *st = opaque;
        item_t *it = (item_t *)li;
        pthread_mutex_lock(&st->lock);
        if (st->next_seq[it->lane] != it->seq)
                st->out_of_order++;
        st->next_seq[it->lane] = it->seq + 1;
        if (st->running[it->lane]++)
                st->overlapped++;
        if (++st->concurrent > st->max_concurrent)
                st->max_concurrent = st->concurrent;
        pthread_mutex_unlock(&st->lock);
        sleep_us(200 + rand() % 300);
        pthread_mutex_lock(&st->lock);
        st->running[it->lane]--;
        st->concurrent--;
        st->ran++;
        pthread_mutex_unlock(&st->lock);
}

static item_t *new_item(int lane, int seq) {
        item_t *it = calloc(1, sizeof(*it));
        it->lane = lane;
        it->seq = seq;
        snprintf(it->key, sizeof(it->key), "room%d", lane);
        it->li.key = it->key;
        it->li.key_len = strlen(it->key);
        return it;
}

static void state_init(state_t *st) {
        memset(st, 0, sizeof(*st));
        pthread_mutex_init(&st->lock, NULL);
        pthread_cond_init(&st->cond, NULL);
}

static void test_order_and_concurrency(void) {
        state_t st;
        state_init(&st);
        cs_lanes_t *l = cs_lanes_new(4, run_ordered, NULL, &st);
        /* Interleaved, as messages of several rooms arrive. */
        for (int seq = 0; seq < PER_LANE; seq++)
                for (int lane = 0; lane < LANES; lane++)
                        cs_lanes_push(l, &new_item(lane, seq)->li);
        int back = 0;
        int seen[LANES][PER_LANE] = {{0}};
        while (back < LANES * PER_LANE) {
                TEST_ASSERT(cs_lanes_wait_done(l, 10000), "an item finished in time");
                for (cs_lane_item_t *li; (li = cs_lanes_pop_done(l));) {
                        item_t *it = (item_t *)li;
                        seen[it->lane][it->seq]++;
                        back++;
                        free(it);
                }
        }
        TEST_INTEQ(st.ran, LANES * PER_LANE);
        TEST_INTEQ(st.out_of_order, 0);
        TEST_INTEQ(st.overlapped, 0);
        int once = 0;
        for (int lane = 0; lane < LANES; lane++)
                for (int seq = 0; seq < PER_LANE; seq++)
                        once += seen[lane][seq] == 1;
        TEST_INTEQ(once, LANES * PER_LANE);
        /* 4 threads, 6 busy lanes: more than one ran at a time. */
        TEST_ASSERT(st.max_concurrent > 1, "lanes ran side by side (max %d)",
                    st.max_concurrent);
        TEST_ASSERT(st.max_concurrent <= 4, "at most 4 threads (max %d)",
                    st.max_concurrent);
        TEST_INTEQ((int)cs_lanes_count(l), 0);
        cs_lanes_destroy(l);
}

/* The first item of lane 0 waits until the gate opens. */
static void run_gated(cs_lane_item_t *li, void *opaque) {
        state_t *st = opaque;
        item_t *it = (item_t *)li;
        pthread_mutex_lock(&st->lock);
        st->concurrent++;
        pthread_cond_broadcast(&st->cond);
        while (it->lane == 0 && it->seq == 0 && !st->gate_open)
                pthread_cond_wait(&st->cond, &st->lock);
        st->ran++;
        st->concurrent--;
        pthread_mutex_unlock(&st->lock);
}

static bool is_lane(cs_lane_item_t *li, void *arg) {
        return ((item_t *)li)->lane == *(int *)arg;
}

static bool any(cs_lane_item_t *li, void *arg) {
        (void)li;
        (void)arg;
        return true;
}

static void test_drop_and_stop(void) {
        state_t st;
        state_init(&st);
        cs_lanes_t *l = cs_lanes_new(1, run_gated, NULL, &st);
        for (int seq = 0; seq < 5; seq++)
                for (int lane = 0; lane < 3; lane++)
                        cs_lanes_push(l, &new_item(lane, seq)->li);
        /* Wait until item (0, 0) runs and blocks the only thread. */
        pthread_mutex_lock(&st.lock);
        while (st.concurrent == 0)
                pthread_cond_wait(&st.cond, &st.lock);
        pthread_mutex_unlock(&st.lock);
        TEST_INTEQ((int)cs_lanes_each_running(l, any, NULL), 1);
        int zero = 0;
        TEST_INTEQ((int)cs_lanes_each_running(l, is_lane, &zero), 1);

        /* Lane 1 is taken back whole, lane 0 except its running item. */
        int one = 1;
        int n = 0, last = -1;
        for (cs_lane_item_t *li = cs_lanes_drop(l, is_lane, &one), *next; li; li = next) {
                next = li->next;
                TEST_INTEQ(((item_t *)li)->lane, 1);
                TEST_ASSERT(((item_t *)li)->seq > last, "dropped in push order");
                last = ((item_t *)li)->seq;
                free(li);
                n++;
        }
        TEST_INTEQ(n, 5);
        n = 0;
        for (cs_lane_item_t *li = cs_lanes_drop(l, is_lane, &zero), *next; li; li = next) {
                next = li->next;
                TEST_ASSERT(((item_t *)li)->seq > 0, "the running item is not dropped");
                free(li);
                n++;
        }
        TEST_INTEQ(n, 4);
        TEST_INTEQ((int)cs_lanes_count(l), 1 + 5); /* running + lane 2 */

        /* Open the gate: the rest runs; nothing of lanes 0 and 1 again. */
        pthread_mutex_lock(&st.lock);
        st.gate_open = true;
        pthread_cond_broadcast(&st.cond);
        pthread_mutex_unlock(&st.lock);
        int back = 0;
        while (back < 6 && cs_lanes_wait_done(l, 10000)) {
                for (cs_lane_item_t *li; (li = cs_lanes_pop_done(l));) {
                        item_t *it = (item_t *)li;
                        TEST_ASSERT(it->lane == 2 || (it->lane == 0 && it->seq == 0),
                                    "ran (%d, %d)", it->lane, it->seq);
                        free(it);
                        back++;
                }
        }
        TEST_INTEQ(back, 6);
        TEST_INTEQ(st.ran, 6);

        /* Stop, then push: the queued item never runs and is dropped. */
        cs_lanes_stop(l);
        cs_lanes_push(l, &new_item(2, 9)->li);
        sleep_us(20000);
        TEST_ASSERT(cs_lanes_pop_done(l) == NULL, "nothing runs after stop");
        n = 0;
        for (cs_lane_item_t *li = cs_lanes_drop(l, any, NULL), *next; li; li = next) {
                next = li->next;
                free(li);
                n++;
        }
        TEST_INTEQ(n, 1);
        TEST_INTEQ((int)cs_lanes_count(l), 0);
        cs_lanes_destroy(l);
}

int main(void) {
        test_order_and_concurrency();
        test_drop_and_stop();
        return test_done();
}
