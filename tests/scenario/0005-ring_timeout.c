/*
 * 0005: ring timeouts (contract section 5 "(timer)", behaviour.md "Timer").
 *
 * Proves that:
 *  - a 1:1 invite that nobody answers times out at invite time + timeout
 *    (not before): the invitee and the inviter each get exactly one
 *    SignalCancelReq notification with opUserID = inviter, MsgData.sendID =
 *    inviter, operation-id "timer-<32 hex>"; the record ends `timeout`
 *    with the invitee in state timeout and one event of type timeout
 *    (userID = inviter); both lines are freed;
 *  - in a group call where one invitee accepted, only the other invitee
 *    times out: the call stays active, only the timed-out invitee and the
 *    inviter get the cancel notification, lines of those still in stay;
 *  - the deadline lives in MongoDB: a worker stopped while the call rings
 *    is replaced by a new one, which fires the timeout exactly once;
 *  - with two workers running, every deadline fires exactly once.
 */
#include <signal.h>

#include "harness.h"

TEST_MAIN_DEFS

static Callsig__V1__SignalReply *reply_ok(env_t *env, const char *user,
                                          const char *op) {
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, user, op));
        TEST_ASSERT(r->errcode == 0, "%s: errCode %d (%s)", op, r->errcode, r->errmsg);
        return r;
}

static int64_t line_count(env_t *env, const char *user, const char *room) {
        char filter[256];
        if (room)
                snprintf(filter, sizeof(filter),
                         "{\"_id\": \"user:%s\", \"roomID\": \"%s\"}", user, room);
        else
                snprintf(filter, sizeof(filter), "{\"_id\": \"user:%s\"}", user);
        return env_count_docs(env, "lines", filter);
}

static bool is_timer_op(const char *op) {
        if (!op || strncmp(op, "timer-", 6) != 0 || strlen(op) != 6 + 32)
                return false;
        for (const char *p = op + 6; *p; p++)
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
                        return false;
        return true;
}

/* Waits for the next notification to @p user, which must be the timeout of
 * @p room, and checks it field by field. Its operation-id must equal
 * @p op_out if that is set, else it is stored there. */
static void expect_timeout_note(env_t *env, const char *user,
                                const char *inviter, const char *room,
                                int64_t deadline, char *op_out, size_t op_size) {
        seen_t *s = env_expect_note(env, user, NULL);
        TEST_ASSERT(is_timer_op(s->operation_id), "%s: operation-id %s is not timer-<32hex>",
                    user, s->operation_id ? s->operation_id : "(none)");
        if (op_out[0])
                TEST_STREQ(s->operation_id, op_out);
        else
                snprintf(op_out, op_size, "%s", s->operation_id);
        Openim__V2__MsgData *md = seen_note(s);
        TEST_STREQ(md->sendid, inviter);
        TEST_STREQ(md->recvid, user);
        TEST_INTEQ(md->contenttype, 1601);
        TEST_INTEQ(md->msgfrom, 100);
        TEST_ASSERT(md->sendtime >= deadline,
                    "timeout notified at %lld, before the deadline %lld",
                    (long long)md->sendtime, (long long)deadline);
        TEST_ASSERT(md->offlinepushinfo == NULL, "offlinePushInfo only on invitations");
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_ASSERT(req->payload_case == OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL,
                    "timeout content is a SignalCancelReq (case %d)", req->payload_case);
        TEST_STREQ(req->cancel->opuserid, inviter);
        TEST_ASSERT(req->cancel->invitation, "invitation in the cancel");
        TEST_STREQ(req->cancel->invitation->roomid, room);
        TEST_STREQ(req->cancel->invitation->inviteruserid, inviter);
        openim__v2__signal_req__free_unpacked(req, NULL);
}

/* Sends a 1:1 invite and takes its reply and two notifications. */
static void ring(env_t *env, const char *op, const char *from, const char *to,
                 const char *room, int timeout) {
        env_send(env, cmd_invite(op, from, (const char *[]){to, NULL}, room, NULL,
                                 "audio", timeout),
                 NULL, -1);
        Callsig__V1__SignalReply *r = reply_ok(env, from, op);
        TEST_STREQ(r->resp->invite->roomid, room);
        seen_t *s = env_expect_note(env, to, op);
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_INTEQ(req->invite->invitation->timeout, timeout);
        openim__v2__signal_req__free_unpacked(req, NULL);
        env_expect_note(env, from, op);
}

/* The timed-out 1:1 record: ended/timeout, invitee timeout, one timeout
 * event with the notifications' operationID; both lines free. */
static void check_timed_out_1to1(env_t *env, const char *room,
                                 const char *inviter, const char *invitee,
                                 const char *timer_op) {
        bson_t *doc = env_wait_call(env, room, "ended", "timeout");
        TEST_STREQ(doc_str(doc, "participants.1.userID"), invitee);
        TEST_STREQ(doc_str(doc, "participants.1.state"), "timeout");
        TEST_STREQ(doc_str(doc, "events.0.type"), "invite");
        TEST_STREQ(doc_str(doc, "events.1.type"), "timeout");
        TEST_STREQ(doc_str(doc, "events.1.userID"), inviter);
        TEST_STREQ(doc_str(doc, "events.1.operationID"), timer_op);
        TEST_ASSERT(!doc_has(doc, "events.2"), "exactly one timeout event");
        TEST_ASSERT(doc_int(doc, "endedAt") >= doc_int(doc, "deadline"),
                    "ended at %lld before deadline %lld",
                    (long long)doc_int(doc, "endedAt"), (long long)doc_int(doc, "deadline"));
        bson_destroy(doc);
        TEST_INTEQ(line_count(env, inviter, NULL), 0);
        TEST_INTEQ(line_count(env, invitee, NULL), 0);
}

/* The call's deadline, checked to be createdAt + @p timeout_s. The state is
 * not required to be ringing: on a slow machine a short ring may be over
 * already (that it rang is shown by the invite notification). */
static int64_t deadline_of(env_t *env, const char *room, int timeout_s) {
        bson_t *doc = env_call_doc(env, room);
        TEST_ASSERT(doc, "%s: no call record", room);
        int64_t deadline = doc_int(doc, "deadline");
        TEST_ASSERT(deadline == doc_int(doc, "createdAt") + timeout_s * 1000,
                    "deadline %lld = createdAt %lld + %d s", (long long)deadline,
                    (long long)doc_int(doc, "createdAt"), timeout_s);
        bson_destroy(doc);
        return deadline;
}

/* How many workers' logs (of @p n from @p first) report firing @p room. */
static int fired_by(env_t *env, int first, int n, const char *room, int *who) {
        char needle[128];
        snprintf(needle, sizeof(needle), "room %s: ", room);
        int cnt = 0;
        for (int i = first; i < first + n; i++) {
                int c = env_worker_log_count(env, i, needle);
                cnt += c;
                if (c)
                        *who = i;
        }
        return cnt;
}

int main(void) {
        env_t *env = env_start("ringtimeout", NULL);
        const char *users[] = {"alice", "bob", "carol", "dan", "eve"};
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                env_watch(env, users[i]);

        /* ---- 1:1 invite with timeout 2 ---- */
        ring(env, "t-inv1", "alice", "bob", "room-t1", 2);
        int64_t dl = deadline_of(env, "room-t1", 2);
        char op1[64] = "";
        expect_timeout_note(env, "bob", "alice", "room-t1", dl, op1, sizeof(op1));
        expect_timeout_note(env, "alice", "alice", "room-t1", dl, op1, sizeof(op1));
        check_timed_out_1to1(env, "room-t1", "alice", "bob", op1);
        TEST_INTEQ(env_count(env, "bob", op1, "notification", 500), 1);
        TEST_INTEQ(env_count(env, "alice", op1, "notification", 0), 1);
        /* the ended call cannot be answered any more */
        env_send(env, cmd_action("t-acc-late", "bob", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT,
                                 "room-t1"),
                 NULL, -1);
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, "bob", "t-acc-late"));
        TEST_INTEQ(r->errcode, 1004);

        /* ---- group: dan accepts, eve times out; the call goes on ---- */
        env_send(env, cmd_invite("t-ginv", "carol", (const char *[]){"dan", "eve", NULL},
                                 "room-tg", "grp-t", "video", 3),
                 NULL, -1);
        reply_ok(env, "carol", "t-ginv");
        env_expect_note(env, "dan", "t-ginv");
        env_expect_note(env, "eve", "t-ginv");
        env_expect_note(env, "carol", "t-ginv");
        env_send(env, cmd_action("t-gacc", "dan", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT,
                                 "room-tg"),
                 NULL, -1);
        reply_ok(env, "dan", "t-gacc");
        env_expect_note(env, "carol", "t-gacc");
        env_expect_note(env, "dan", "t-gacc");
        bson_t *doc = env_wait_call(env, "room-tg", "active", NULL);
        int64_t gdl = doc_int(doc, "deadline");
        TEST_ASSERT(gdl == doc_int(doc, "createdAt") + 3000, "group deadline");
        bson_destroy(doc);
        char gop[64] = "";
        expect_timeout_note(env, "eve", "carol", "room-tg", gdl, gop, sizeof(gop));
        expect_timeout_note(env, "carol", "carol", "room-tg", gdl, gop, sizeof(gop));
        /* the record is written before the notifications: the timeout
         * shows while the call stays active */
        doc = env_call_doc(env, "room-tg");
        TEST_ASSERT(doc, "room-tg record");
        TEST_STREQ(doc_str(doc, "state"), "active");
        TEST_ASSERT(!doc_has(doc, "endedAt"), "no endedAt");
        TEST_STREQ(doc_str(doc, "participants.0.state"), "accepted");
        TEST_STREQ(doc_str(doc, "participants.1.userID"), "dan");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "accepted");
        TEST_STREQ(doc_str(doc, "participants.2.userID"), "eve");
        TEST_STREQ(doc_str(doc, "participants.2.state"), "timeout");
        TEST_STREQ(doc_str(doc, "events.2.type"), "timeout");
        TEST_STREQ(doc_str(doc, "events.2.operationID"), gop);
        TEST_ASSERT(!doc_has(doc, "events.3"), "one timeout event");
        bson_destroy(doc);
        TEST_INTEQ(env_count(env, "dan", gop, "notification", 500), 0);
        TEST_INTEQ(env_count(env, "eve", gop, "notification", 0), 1);
        TEST_INTEQ(env_count(env, "carol", gop, "notification", 0), 1);
        TEST_INTEQ(line_count(env, "eve", NULL), 0);
        TEST_INTEQ(line_count(env, "dan", "room-tg"), 1);
        TEST_INTEQ(line_count(env, "carol", "room-tg"), 1);

        /* ---- the deadline survives a worker restart ---- */
        /* 6 s: enough for worker 0 to stop well before the deadline */
        ring(env, "t-inv3", "alice", "bob", "room-t3", 6);
        dl = deadline_of(env, "room-t3", 6);
        env_worker_signal(env, 0, SIGTERM);
        TEST_INTEQ(env_worker_wait(env, 0, 30000), 0);
        /* worker 0 is gone and did not fire it; no worker runs now */
        doc = env_call_doc(env, "room-t3");
        TEST_ASSERT(doc, "room-t3 record");
        TEST_STREQ(doc_str(doc, "state"), "ringing");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "ringing");
        bson_destroy(doc);
        TEST_INTEQ(env_worker_log_count(env, 0, "room room-t3: "), 0);
        int w1 = env_worker_start(env);
        env_worker_wait_log(env, w1, "assigned", 1, 30000);
        char op3[64] = "";
        expect_timeout_note(env, "bob", "alice", "room-t3", dl, op3, sizeof(op3));
        expect_timeout_note(env, "alice", "alice", "room-t3", dl, op3, sizeof(op3));
        check_timed_out_1to1(env, "room-t3", "alice", "bob", op3);
        TEST_INTEQ(env_worker_log_count(env, w1, "room room-t3: 1 invitee(s) timed out"), 1);
        TEST_INTEQ(env_worker_log_count(env, 0, "room room-t3: "), 0);
        TEST_INTEQ(env_count(env, "bob", op3, "notification", 1000), 1);
        TEST_INTEQ(env_count(env, "alice", op3, "notification", 0), 1);
        /* bob: 2 invites + 2 timeouts, nothing more */
        TEST_INTEQ(env_count(env, "bob", NULL, "notification", 0), 4);

        /* ---- two workers: each deadline fires exactly once ---- */
        int w2 = env_worker_start(env);
        env_worker_wait_log(env, w2, "assigned", 1, 30000);
        /* 8 calls invited back to back, so their deadlines fall due in the
         * same timer ticks of both workers */
        enum { NCALLS = 8 };
        struct {
                char op[32], from[32], to[32], room[32];
                char timer_op[64];
                int64_t dl;
        } calls[NCALLS];
        memset(calls, 0, sizeof(calls));
        for (int i = 0; i < NCALLS; i++) {
                snprintf(calls[i].op, sizeof(calls[i].op), "t-inv4-%d", i);
                snprintf(calls[i].from, sizeof(calls[i].from), "caller%d", i);
                snprintf(calls[i].to, sizeof(calls[i].to), "callee%d", i);
                snprintf(calls[i].room, sizeof(calls[i].room), "room-t4-%d", i);
                env_watch(env, calls[i].from);
                env_watch(env, calls[i].to);
        }
        for (int i = 0; i < NCALLS; i++)
                env_send(env, cmd_invite(calls[i].op, calls[i].from,
                                         (const char *[]){calls[i].to, NULL},
                                         calls[i].room, NULL, "audio", 2),
                         NULL, -1);
        for (int i = 0; i < NCALLS; i++) {
                reply_ok(env, calls[i].from, calls[i].op);
                env_expect_note(env, calls[i].to, calls[i].op);
                env_expect_note(env, calls[i].from, calls[i].op);
                calls[i].dl = deadline_of(env, calls[i].room, 2);
        }
        for (int i = 0; i < NCALLS; i++) {
                expect_timeout_note(env, calls[i].to, calls[i].from, calls[i].room,
                                    calls[i].dl, calls[i].timer_op,
                                    sizeof(calls[i].timer_op));
                expect_timeout_note(env, calls[i].from, calls[i].from, calls[i].room,
                                    calls[i].dl, calls[i].timer_op,
                                    sizeof(calls[i].timer_op));
                check_timed_out_1to1(env, calls[i].room, calls[i].from, calls[i].to,
                                     calls[i].timer_op);
        }
        /* wait ~2 s more: no second firing by the other worker */
        env_count(env, calls[0].to, NULL, "notification", 2000);
        int by[2] = {0, 0};
        for (int i = 0; i < NCALLS; i++) {
                /* one invite and one timeout notification each, in all */
                TEST_INTEQ(env_count(env, calls[i].to, NULL, "notification", 0), 2);
                TEST_INTEQ(env_count(env, calls[i].from, NULL, "notification", 0), 2);
                TEST_INTEQ(env_count(env, calls[i].to, calls[i].timer_op, "notification", 0), 1);
                int who = -1;
                TEST_INTEQ(fired_by(env, w1, 2, calls[i].room, &who), 1);
                by[who - w1]++;
                doc = env_call_doc(env, calls[i].room);
                TEST_ASSERT(!doc_has(doc, "events.2"), "%s: exactly one timeout event",
                            calls[i].room);
                bson_destroy(doc);
                env_expect_quiet(env, calls[i].to, 0);
                env_expect_quiet(env, calls[i].from, 0);
        }
        TEST_SAY("timeouts fired by worker %d: %d, worker %d: %d", w1, by[0], w2, by[1]);

        /* nothing else reached anyone */
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                env_expect_quiet(env, users[i], 0);

        env_stop(env);
        return test_done();
}
