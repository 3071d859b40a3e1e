/*
 * 0033: commands of different rooms run side by side in one worker, and
 * the committed offset never passes a command still running.
 *
 * One worker (signal.concurrency 8). The next MongoDB find of callsig is
 * held for 20 s by a blockConnection failpoint ({times: 1}). Alice's
 * command for room A, then Bob's for room B, go to the same partition;
 * Alice's takes the held find. Bob's must be answered while Alice's is
 * still held (one command at a time could not do that); it is sent once
 * Alice's find is at the store (callsig_mongodb_commands_total moved). The worker is then
 * killed with SIGKILL: Bob's offset is above Alice's unfinished one, so it
 * must not have been committed. A second worker takes the partition and
 * answers Alice (not lost) and Bob again, with the same answer.
 * Finally, 40 commands of 8 rooms, interleaved on one partition, are
 * answered in the order each room sent them (room order, rooms side by
 * side).
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <time.h>

TEST_MAIN_DEFS

#define ROOMS 8
#define PER_ROOM 5

int main(void) {
        env_opts_t opts = {.timer_interval_ms = 60000};
        env_t *env = env_start("sidebyside", &opts);
        env_watch(env, "alice-33");
        env_watch(env, "bob-33");
        /* The worker's first timer round is over before the failpoint. */
        env_worker_wait_log(env, 0, "assigned", 1, 30000);
        env_expect_quiet(env, "alice-33", 1000);

        env_admin_command(env,
                          "{\"configureFailPoint\": \"failCommand\", \"mode\": {\"times\": 1},"
                          " \"data\": {\"failCommands\": [\"find\"], \"blockConnection\": true,"
                          " \"blockTimeMS\": 20000, \"appName\": \"callsig\"}}");
        int64_t sent = env_metric(env, 0, "callsig_mongodb_commands_total");
        env_send(env, cmd_token("a-tok", "alice-33", "room-a-33"), "room-a-33", 1);
        /* Bob's command goes once Alice's find is at the store (held):
         * sent together, either could take the held find. */
        for (int64_t until = env_mono_ms() + env_ms(20000);
             env_metric(env, 0, "callsig_mongodb_commands_total") == sent;) {
                TEST_ASSERT(env_mono_ms() < until, "alice's command never reached MongoDB");
                struct timespec ts = {0, 10 * 1000000L};
                nanosleep(&ts, NULL);
        }
        env_send(env, cmd_token("b-tok", "bob-33", "room-b-33"), "room-b-33", 1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "bob-33", "b-tok"))->errcode, 1003);
        TEST_INTEQ(env_count(env, "alice-33", "a-tok", "reply", 0), 0);
        TEST_SAY("room B answered while room A's find is held");

        env_worker_signal(env, 0, SIGKILL);
        TEST_INTEQ(env_worker_wait(env, 0, env_ms(5000)), 128 + SIGKILL);
        int w1 = env_worker_start(env);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "alice-33", "a-tok"))->errcode, 1003);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "bob-33", "b-tok"))->errcode, 1003);
        TEST_SAY("worker %d answered room A, and room B again: its offset was not "
                 "committed past room A's",
                 w1);

        /* Room order under load: PER_ROOM commands per room, interleaved. */
        char users[ROOMS][24], rooms[ROOMS][24];
        for (int r = 0; r < ROOMS; r++) {
                snprintf(users[r], sizeof(users[r]), "order-user-%d", r);
                snprintf(rooms[r], sizeof(rooms[r]), "order-room-%d", r);
                env_watch(env, users[r]);
        }
        for (int i = 0; i < PER_ROOM; i++) {
                for (int r = 0; r < ROOMS; r++) {
                        char op[32];
                        snprintf(op, sizeof(op), "ord-%d-%d", r, i);
                        env_send(env, cmd_token(op, users[r], rooms[r]), rooms[r], 2);
                }
        }
        for (int r = 0; r < ROOMS; r++) {
                int64_t last_at = 0;
                for (int i = 0; i < PER_ROOM; i++) {
                        char op[32];
                        snprintf(op, sizeof(op), "ord-%d-%d", r, i);
                        seen_t *s = env_expect_reply(env, users[r], op);
                        TEST_INTEQ(seen_reply(s)->errcode, 1003);
                        TEST_ASSERT(s->offset > last_at || i == 0,
                                    "room %d: reply %d after reply %d", r, i, i - 1);
                        last_at = s->offset;
                }
        }
        env_stop(env);
        return test_done();
}
