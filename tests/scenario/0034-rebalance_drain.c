/*
 * 0034: a rebalance lets the commands running on revoked partitions finish
 * and commits them before the partitions go, so the new owner does not
 * handle them again.
 *
 * Worker 0 owns the four partitions. One command per partition (four
 * rooms) takes a MongoDB find held for 3 s (blockConnection). Worker 1
 * joins meanwhile: worker 0 gives up its partitions (the eager protocol
 * revokes all) while their commands are still held. signal.revoke_drain_ms
 * is 20 s here, so worker 0 waits for them, answers them and stores their
 * offsets before the partitions move: every command is answered exactly
 * once.
 *
 * Real broker only: librdkafka's mock coordinator refuses every offset
 * commit while a rebalance is under way (REBALANCE_IN_PROGRESS), where a
 * real broker accepts the commits of the current generation until the
 * group completes the rebalance, which is what a consumer committing
 * before it gives partitions up relies on. With a drain of 0 the
 * moved commands are abandoned and answered twice (checked by hand:
 * CALLSIG_SIGNAL_REVOKE_DRAIN_MS=0 makes this test fail).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

TEST_MAIN_DEFS

int main(void) {
        env_require_real();
        if (!getenv("CALLSIG_SIGNAL_REVOKE_DRAIN_MS"))
                setenv("CALLSIG_SIGNAL_REVOKE_DRAIN_MS", "20000", 1);
        env_opts_t opts = {.timer_interval_ms = 60000};
        env_t *env = env_start("drain", &opts);
        char users[4][24], ops[4][24], rooms[4][24];
        for (int p = 0; p < 4; p++) {
                snprintf(users[p], sizeof(users[p]), "drain-user-%d", p);
                snprintf(ops[p], sizeof(ops[p]), "drain-tok-%d", p);
                snprintf(rooms[p], sizeof(rooms[p]), "drain-room-%d", p);
                env_watch(env, users[p]);
        }
        env_expect_quiet(env, users[0], 1000); /* the first timer round is over */

        env_admin_command(env,
                          "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 4},"
                          " \"data\": {\"failCommands\": [\"find\"], \"blockConnection\": true,"
                          " \"blockTimeMS\": 3000, \"appName\": \"callsig\"}}");
        for (int p = 0; p < 4; p++)
                env_send(env, cmd_token(ops[p], users[p], rooms[p]), rooms[p], p);
        int w1 = env_worker_start(env);
        env_worker_wait_log(env, 0, "revoked", 1, 30000);
        env_worker_wait_log(env, w1, "assigned", 1, 30000);
        TEST_SAY("worker %d joined while the four commands were held", w1);

        for (int p = 0; p < 4; p++)
                TEST_INTEQ(seen_reply(env_expect_reply(env, users[p], ops[p]))->errcode, 1003);
        /* Long enough for a new owner to have answered a moved command
         * again had its offset not been committed. */
        for (int p = 0; p < 4; p++)
                TEST_INTEQ(env_count(env, users[p], ops[p], "reply", p == 0 ? 5000 : 0), 1);
        TEST_ASSERT(!env_worker_log_has(env, 0, "abandoned"),
                    "worker 0 abandoned nothing");
        env_stop(env);
        return test_done();
}
