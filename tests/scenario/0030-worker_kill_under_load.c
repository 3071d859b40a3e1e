/*
 * 0030: a worker killed with SIGKILL in the middle of a steady load of calls
 * (real broker only).
 *
 * Two workers share the command topic while four lanes place calls (invite,
 * accept, hang up) and unanswered 2 s invites (tests/scenario/load.c). Six
 * seconds in, worker 0 is killed with SIGKILL: the real group coordinator
 * hands its partitions to worker 1 only once the session times out, and
 * worker 1 takes them from the last committed offsets, so some commands are
 * handled twice. Six seconds later a new worker joins. Proves that every
 * command got its reply with the expected code, that repeated notifications
 * are byte-identical, that every call ended as it should (hung up, or timed
 * out by whichever worker's timer), that nothing rings past its deadline and
 * no line stays busy.
 */
#include <signal.h>

#include "load.h"

TEST_MAIN_DEFS

typedef struct chaos_s {
        bool killed, restarted;
} chaos_t;

static void tick(env_t *env, int64_t elapsed_ms, void *opaque) {
        chaos_t *ch = opaque;
        if (!ch->killed && elapsed_ms >= 6000) {
                int handled = env_worker_log_count(env, 0, "op=");
                env_worker_signal(env, 0, SIGKILL);
                TEST_INTEQ(env_worker_wait(env, 0, 5000), 128 + SIGKILL);
                TEST_SAY("worker 0 killed at %lld ms, after %d log lines about commands",
                         (long long)elapsed_ms, handled);
                TEST_ASSERT(handled > 0, "worker 0 had handled nothing yet");
                ch->killed = true;
        }
        if (!ch->restarted && elapsed_ms >= 12000) {
                int idx = env_worker_start(env);
                TEST_SAY("worker %d started at %lld ms", idx, (long long)elapsed_ms);
                ch->restarted = true;
        }
}

int main(void) {
        env_require_real();
        env_opts_t opts = {.workers = 2};
        env_t *env = env_start("killload", &opts);
        load_t *ld = load_new(env, 4);
        chaos_t ch = {false, false};
        load_run(ld, 20, tick, &ch);
        TEST_ASSERT(ch.killed && ch.restarted, "the chaos happened");
        load_check(ld);
        /* The new worker took part: it was assigned partitions. */
        env_worker_wait_log(env, 2, "assigned", 1, 30000);
        load_free(ld);
        env_stop(env);
        return test_done();
}
