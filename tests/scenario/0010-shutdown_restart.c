/*
 * 0010: shutdown and restart (contract sections 2 and 8).
 *
 * Proves: SIGTERM and SIGINT stop an idle worker with exit 0 within a few
 * seconds, logging that it leaves the consumer group; commands produced
 * while no worker runs are processed when one starts (the group starts at
 * the earliest offsets); after a clean stop the committed offsets are
 * honoured (a restarted worker does not answer the old commands again);
 * and a worker killed with SIGKILL in the middle of a burst of 20 invites
 * (slowed down with a MongoDB blockConnection failpoint so that the kill
 * really lands mid-burst) is replaced by one that answers every invite at
 * least once, with exactly one call record per inviter and one invite
 * event in it, all replies to one inviter naming the same roomID.
 */
#include "harness.h"

#include <signal.h>
#include <time.h>

TEST_MAIN_DEFS

#define BURST 20

static int events_count(const bson_t *doc) {
        bson_iter_t it, child;
        int n = 0;
        if (bson_iter_init_find(&it, doc, "events") && BSON_ITER_HOLDS_ARRAY(&it) &&
            bson_iter_recurse(&it, &child))
                while (bson_iter_next(&child))
                        n++;
        return n;
}

/* Stops worker @p idx with @p sig and checks a clean, quick exit. */
static void clean_stop(env_t *env, int idx, int sig) {
        int64_t t0 = env_mono_ms();
        env_worker_signal(env, idx, sig);
        TEST_INTEQ(env_worker_wait(env, idx, 8000), 0);
        TEST_SAY("worker %d stopped by signal %d in %lld ms", idx, sig,
                 (long long)(env_mono_ms() - t0));
        TEST_ASSERT(env_worker_log_has(env, idx, "leaving the group"),
                    "worker %d did not log leaving the group", idx);
        TEST_ASSERT(env_worker_log_has(env, idx, "stopped (exit 0)"),
                    "worker %d did not log its clean stop", idx);
}

int main(void) {
        env_t *env = env_start("restart", NULL);
        env_watch(env, "alice");
        env_watch(env, "bob");

        /* 1. SIGTERM while idle */
        clean_stop(env, 0, SIGTERM);

        /* 2. commands produced while no worker runs */
        env_send(env, cmd_invite("sr-inv-1", "alice", (const char *[]){"bob", NULL},
                                 "sr-room-1", NULL, "video", 0),
                 NULL, -1);
        env_expect_quiet(env, "alice", 500);
        int w1 = env_worker_start(env);
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, "alice", "sr-inv-1"));
        TEST_INTEQ(r->errcode, 0);
        TEST_STREQ(r->resp->invite->roomid, "sr-room-1");
        env_expect_note(env, "bob", "sr-inv-1");
        env_expect_note(env, "alice", "sr-inv-1");
        /* SIGINT (idle again) */
        clean_stop(env, w1, SIGINT);

        /* 3. committed offsets are honoured by the next worker */
        int w2 = env_worker_start(env);
        env_worker_wait_log(env, w2, "assigned", 1, 30000);
        env_send(env, cmd_action("sr-acc-1", "bob", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT,
                                 "sr-room-1"),
                 NULL, -1);
        r = seen_reply(env_expect_reply(env, "bob", "sr-acc-1"));
        TEST_INTEQ(r->errcode, 0);
        env_expect_note(env, "alice", "sr-acc-1");
        env_expect_note(env, "bob", "sr-acc-1");
        TEST_INTEQ(env_count(env, "alice", "sr-inv-1", "reply", 1500), 1);
        TEST_INTEQ(env_count(env, "bob", "sr-inv-1", "notification", 0), 1);
        TEST_ASSERT(!env_worker_log_has(env, w2, "op=sr-inv-1 "),
                    "the restarted worker handled sr-inv-1 again");
        bson_t *doc = env_wait_call(env, "sr-room-1", "active", NULL);
        TEST_INTEQ(events_count(doc), 2);
        bson_destroy(doc);

        /* 4. SIGKILL in the middle of a burst */
        char callers[BURST][32], callees[BURST][32], ops[BURST][32];
        for (int i = 0; i < BURST; i++) {
                snprintf(callers[i], sizeof(callers[i]), "sr-caller-%02d", i);
                snprintf(callees[i], sizeof(callees[i]), "sr-callee-%02d", i);
                snprintf(ops[i], sizeof(ops[i]), "sr-k-inv-%02d", i);
                env_watch(env, callers[i]);
                env_watch(env, callees[i]);
        }
        /* Every write of callsig takes 100 ms more: the burst lasts seconds. */
        env_admin_command(env,
                          "{\"configureFailPoint\": \"failCommand\", \"mode\": \"alwaysOn\","
                          " \"data\": {\"failCommands\": [\"insert\", \"update\", \"delete\","
                          " \"findAndModify\"], \"blockConnection\": true,"
                          " \"blockTimeMS\": 100, \"appName\": \"callsig\"}}");
        for (int i = 0; i < BURST; i++)
                /* A long ring: the check below is about the restart, not
                 * about racing the ring timer in a slow (sanitizer) build. */
                env_send(env, cmd_invite(ops[i], callers[i], (const char *[]){callees[i], NULL},
                                         NULL, NULL, "audio", 300),
                         NULL, -1);
        env_worker_wait_log(env, w2, "op=sr-k-inv-", 4, 30000);
        env_worker_signal(env, w2, SIGKILL);
        TEST_INTEQ(env_worker_wait(env, w2, 5000), 128 + SIGKILL);
        int handled = env_worker_log_count(env, w2, "op=sr-k-inv-");
        TEST_SAY("worker %d was killed after handling %d of %d invites", w2, handled, BURST);
        TEST_ASSERT(handled < BURST, "the kill did not land mid-burst");
        env_admin_command(env, "{\"configureFailPoint\": \"failCommand\", \"mode\": \"off\"}");

        int w3 = env_worker_start(env);
        /* The new member is assigned only once the killed one's session
         * expired (about 6 s), and the first message to each new push topic
         * costs the worker a metadata round (about 1 s here), so wait for
         * the whole burst with one generous deadline first. */
        env_worker_wait_log(env, w3, "assigned", 1, 30000);
        int64_t deadline = env_mono_ms() + env_ms(90000);
        for (int i = 0; i < BURST; i++) {
                while (env_count(env, callers[i], ops[i], "reply", 0) < 1) {
                        if (env_mono_ms() > deadline)
                                TEST_FAIL("no reply for %s after the restart", ops[i]);
                        env_count(env, callers[i], ops[i], "reply", 200);
                }
        }
        for (int i = 0; i < BURST; i++) {
                r = seen_reply(env_expect_reply(env, callers[i], ops[i]));
                TEST_INTEQ(r->errcode, 0);
                char room[64];
                snprintf(room, sizeof(room), "%s", r->resp->invite->roomid);
                TEST_ASSERT(!strncmp(room, "cs-", 3), "roomID %s", room);
                env_expect_note(env, callees[i], ops[i]);
                char filter[128];
                snprintf(filter, sizeof(filter), "{\"inviterUserID\": \"%s\"}", callers[i]);
                TEST_INTEQ(env_count_docs(env, "calls", filter), 1);
                doc = env_wait_call(env, room, "ringing", NULL);
                TEST_INTEQ(events_count(doc), 1);
                TEST_STREQ(doc_str(doc, "events.0.type"), "invite");
                TEST_STREQ(doc_str(doc, "events.0.operationID"), ops[i]);
                TEST_STREQ(doc_str(doc, "participants.1.userID"), callees[i]);
                TEST_STREQ(doc_str(doc, "participants.1.state"), "ringing");
                bson_destroy(doc);
                snprintf(filter, sizeof(filter), "{\"roomID\": \"%s\"}", room);
                TEST_INTEQ(env_count_docs(env, "lines", filter), 2);
                /* duplicates (at-least-once) name the same room */
                int n = env_count(env, callers[i], ops[i], "reply", 0);
                for (int k = 1; k < n; k++) {
                        Callsig__V1__SignalReply *d =
                                seen_reply(env_expect_reply(env, callers[i], ops[i]));
                        TEST_INTEQ(d->errcode, 0);
                        TEST_STREQ(d->resp->invite->roomid, room);
                }
        }
        TEST_INTEQ(env_count_docs(env, "calls", "{\"inviterUserID\": {\"$regex\": \"^sr-caller-\"}}"),
                   BURST);
        TEST_SAY("worker %d answered %d invite(s) again", w3,
                 env_worker_log_count(env, w3, "op=sr-k-inv-"));

        env_stop(env);
        return test_done();
}
