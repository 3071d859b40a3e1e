/*
 * 0031: the broker itself killed and restarted in the middle of a steady
 * load of calls (real broker only: this test starts a broker of its own).
 *
 * Two workers, four lanes of calls and unanswered 2 s invites
 * (tests/scenario/load.c). Six seconds in, the broker is killed with SIGKILL
 * (scripts/kafka-broker.sh kill); two seconds later it is started again on
 * the same data and ports. Commands produced meanwhile wait in the test's
 * producer. Proves the same as 0030: every command answered with the
 * expected code, repeated notifications byte-identical, every call ended as
 * it should, nothing rings past its deadline, no line stays busy.
 */
#include "load.h"

TEST_MAIN_DEFS

typedef struct chaos_s {
        bool killed, restarted;
        int64_t killed_at;
} chaos_t;

static void tick(env_t *env, int64_t elapsed_ms, void *opaque) {
        chaos_t *ch = opaque;
        if (!ch->killed && elapsed_ms >= 6000) {
                env_broker_kill(env);
                TEST_SAY("broker killed at %lld ms", (long long)elapsed_ms);
                ch->killed = true;
                ch->killed_at = elapsed_ms;
        }
        if (ch->killed && !ch->restarted && elapsed_ms >= ch->killed_at + 2000) {
                TEST_SAY("broker restart at %lld ms", (long long)elapsed_ms);
                env_broker_restart(env);
                ch->restarted = true;
        }
}

int main(void) {
        env_require_real();
        env_opts_t opts = {.workers = 2, .own_broker = true};
        env_t *env = env_start("brokerload", &opts);
        load_t *ld = load_new(env, 4);
        chaos_t ch = {false, false, 0};
        load_run(ld, 20, tick, &ch);
        TEST_ASSERT(ch.killed && ch.restarted, "the chaos happened");
        load_check(ld);
        load_free(ld);
        env_stop(env);
        return test_done();
}
