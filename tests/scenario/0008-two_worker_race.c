/*
 * 0008: conflicting commands on one call handled by two workers at once.
 *
 * Two workers own different command partitions (range assignment of 4
 * partitions: one owns 0-1, the other 2-3). Commands for the same roomID
 * are sent to partitions 0 and 3 back to back, so each worker applies one
 * against the same call record at the same time. Proves that the record's
 * conditional updates serialize them (contract section 5, behaviour.md):
 *  - accept (bob) vs cancel (alice) of a ringing 1:1 call, 10 rounds:
 *    exactly one wins: accept 0 + cancel 1004 with the call active, or
 *    cancel 0 + accept 1004 with the call ended `cancelled`; never both 0;
 *    the events hold exactly one of accept/cancel; only the winner's
 *    notifications are produced; no line stays held after the call ends;
 *  - hang-up vs hang-up of an active 1:1 call by both participants: one 0,
 *    the other 1004, one hung_up event, call ended `hung_up`;
 *  - hang-up by two accepted participants of a group call at once: both
 *    are applied (no lost update): both 0, both `left`, two hung_up events,
 *    the call ends `hung_up` (only the inviter would remain).
 * Each command's handling worker is read from the logs ("op=<id> from=").
 */
#include "harness.h"

TEST_MAIN_DEFS

#define REQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RESP(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x

static void check_resp_case(Callsig__V1__SignalReply *r, int want, const char *op) {
        TEST_ASSERT(r->resp && (int)r->resp->payload_case == want,
                    "%s: resp case %d, want %d", op,
                    r->resp ? (int)r->resp->payload_case : -1, want);
}

static Callsig__V1__SignalReply *reply_code(env_t *env, const char *user,
                                            const char *op, int code, int resp) {
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, user, op));
        TEST_ASSERT(r->errcode == code, "%s: errCode %d, want %d (%s)", op,
                    r->errcode, code, r->errmsg);
        check_resp_case(r, resp, op);
        return r;
}

/* Counts the events of @p doc of type @p type. */
static int events_of(const bson_t *doc, const char *type) {
        int n = 0;
        for (int i = 0; i < 64; i++) {
                char path[32];
                snprintf(path, sizeof(path), "events.%d.type", i);
                if (!doc_has(doc, path))
                        break;
                if (!strcmp(doc_str(doc, path), type))
                        n++;
        }
        return n;
}

static int event_cnt(const bson_t *doc) {
        int i = 0;
        for (;; i++) {
                char path[32];
                snprintf(path, sizeof(path), "events.%d", i);
                if (!doc_has(doc, path))
                        return i;
        }
}

static void ring(env_t *env, const char *op, const char *room) {
        env_send(env, cmd_invite(op, "alice", (const char *[]){"bob", NULL}, room,
                                 NULL, "video", 0),
                 NULL, -1);
        reply_code(env, "alice", op, 0, RESP(INVITE));
        env_expect_note(env, "bob", op);
        env_expect_note(env, "alice", op);
        bson_destroy(env_wait_call(env, room, "ringing", NULL));
}

/* Both participants of an active 1:1 call hang up at once. */
static void hangup_race(env_t *env, const char *room,
                        const char *tag, int *by) {
        char op_a[64], op_b[64];
        snprintf(op_a, sizeof(op_a), "%s-hup-a", tag);
        snprintf(op_b, sizeof(op_b), "%s-hup-b", tag);
        env_send_pair(env, cmd_action(op_a, "alice", REQ(HUNG_UP), room), room, 3,
                  cmd_action(op_b, "bob", REQ(HUNG_UP), room), room, 0);
        Callsig__V1__SignalReply *ra = seen_reply(env_expect_reply(env, "alice", op_a));
        Callsig__V1__SignalReply *rb = seen_reply(env_expect_reply(env, "bob", op_b));
        check_resp_case(ra, RESP(HUNG_UP), op_a);
        check_resp_case(rb, RESP(HUNG_UP), op_b);
        TEST_ASSERT((ra->errcode == 0 && rb->errcode == 1004) ||
                            (ra->errcode == 1004 && rb->errcode == 0),
                    "%s: hang-ups answered %d and %d, want one 0 and one 1004",
                    room, ra->errcode, rb->errcode);
        bool a_won = ra->errcode == 0;
        const char *win_op = a_won ? op_a : op_b;
        const char *lose_op = a_won ? op_b : op_a;
        /* the winner's notifications: the other one, then the sender */
        env_expect_note(env, a_won ? "bob" : "alice", win_op);
        env_expect_note(env, a_won ? "alice" : "bob", win_op);
        TEST_INTEQ(env_count(env, "alice", lose_op, "notification", 300), 0);
        TEST_INTEQ(env_count(env, "bob", lose_op, "notification", 0), 0);
        bson_t *doc = env_wait_call(env, room, "ended", "hung_up");
        TEST_INTEQ(events_of(doc, "hung_up"), 1);
        TEST_INTEQ(event_cnt(doc), 3);
        TEST_STREQ(doc_str(doc, "events.2.operationID"), win_op);
        TEST_STREQ(doc_str(doc, "participants.0.state"), "left");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "left");
        bson_destroy(doc);
        int wa = env_worker_of(env, op_a), wb = env_worker_of(env, op_b);
        TEST_ASSERT(wa != wb, "%s: both hang-ups handled by worker %d", room, wa);
        by[wa]++;
        by[wb]++;
}

int main(void) {
        env_opts_t opts = {.workers = 2};
        env_t *env = env_start("race", &opts);
        /* wait for the final assignment: 2 partitions each */
        env_worker_wait_log(env, 0, "assigned 2 partition(s)", 1, 30000);
        env_worker_wait_log(env, 1, "assigned 2 partition(s)", 1, 30000);
        const char *users[] = {"alice", "bob", "carol", "dan", "eve"};
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                env_watch(env, users[i]);

        /* ---- accept vs cancel, 10 rounds ---- */
        int accept_wins = 0, cancel_wins = 0, hangup_rounds = 0;
        int by[2] = {0, 0};
        for (int round = 0; round < 10; round++) {
                char room[32], inv[32], acc[32], can[32];
                snprintf(room, sizeof(room), "race-%d", round);
                snprintf(inv, sizeof(inv), "r%d-inv", round);
                snprintf(acc, sizeof(acc), "r%d-acc", round);
                snprintf(can, sizeof(can), "r%d-can", round);
                ring(env, inv, room);
                /* alternate which one is produced first */
                if (round % 2 == 0)
                        env_send_pair(env, cmd_action(acc, "bob", REQ(ACCEPT), room), room, 0,
                                  cmd_action(can, "alice", REQ(CANCEL), room), room, 3);
                else
                        env_send_pair(env, cmd_action(can, "alice", REQ(CANCEL), room), room, 3,
                                  cmd_action(acc, "bob", REQ(ACCEPT), room), room, 0);
                Callsig__V1__SignalReply *ra = seen_reply(env_expect_reply(env, "bob", acc));
                Callsig__V1__SignalReply *rc = seen_reply(env_expect_reply(env, "alice", can));
                check_resp_case(ra, RESP(ACCEPT), acc);
                check_resp_case(rc, RESP(CANCEL), can);
                TEST_ASSERT((ra->errcode == 0 && rc->errcode == 1004) ||
                                    (ra->errcode == 1004 && rc->errcode == 0),
                            "%s: accept %d, cancel %d: want exactly one 0 and the other 1004",
                            room, ra->errcode, rc->errcode);
                int wa = env_worker_of(env, acc), wc = env_worker_of(env, can);
                TEST_ASSERT(wa != wc, "%s: accept and cancel both handled by worker %d",
                            room, wa);
                by[wa]++;
                by[wc]++;
                if (ra->errcode == 0) {
                        accept_wins++;
                        TEST_STREQ(ra->resp->accept->roomid, room);
                        TEST_ASSERT(ra->resp->accept->token[0], "accept token");
                        env_expect_note(env, "alice", acc);
                        env_expect_note(env, "bob", acc);
                        TEST_INTEQ(env_count(env, "bob", can, "notification", 300), 0);
                        TEST_INTEQ(env_count(env, "alice", can, "notification", 0), 0);
                        bson_t *doc = env_wait_call(env, room, "active", NULL);
                        TEST_INTEQ(events_of(doc, "accept"), 1);
                        TEST_INTEQ(events_of(doc, "cancel"), 0);
                        TEST_INTEQ(event_cnt(doc), 2);
                        TEST_STREQ(doc_str(doc, "events.1.operationID"), acc);
                        TEST_STREQ(doc_str(doc, "participants.0.state"), "accepted");
                        TEST_STREQ(doc_str(doc, "participants.1.state"), "accepted");
                        TEST_ASSERT(doc_has(doc, "acceptedAt") && !doc_has(doc, "endedAt"),
                                    "acceptedAt only");
                        bson_destroy(doc);
                        /* end it with a hang-up race of both participants */
                        hangup_race(env, room, room, by);
                        hangup_rounds++;
                } else {
                        cancel_wins++;
                        TEST_STREQ(ra->resp->accept->token, "");
                        /* cancel: every still-ringing invitee, then the sender */
                        seen_t *s = env_expect_note(env, "bob", can);
                        Openim__V2__SignalReq *req = seen_content(s);
                        TEST_ASSERT(req->payload_case == REQ(CANCEL), "cancel content");
                        TEST_STREQ(req->cancel->opuserid, "alice");
                        openim__v2__signal_req__free_unpacked(req, NULL);
                        env_expect_note(env, "alice", can);
                        TEST_INTEQ(env_count(env, "alice", acc, "notification", 300), 0);
                        TEST_INTEQ(env_count(env, "bob", acc, "notification", 0), 0);
                        bson_t *doc = env_wait_call(env, room, "ended", "cancelled");
                        TEST_INTEQ(events_of(doc, "cancel"), 1);
                        TEST_INTEQ(events_of(doc, "accept"), 0);
                        TEST_INTEQ(event_cnt(doc), 2);
                        TEST_STREQ(doc_str(doc, "events.1.operationID"), can);
                        TEST_STREQ(doc_str(doc, "participants.0.state"), "left");
                        TEST_STREQ(doc_str(doc, "participants.1.state"), "cancelled");
                        TEST_ASSERT(!doc_has(doc, "acceptedAt"), "never accepted");
                        bson_destroy(doc);
                }
                /* the call is over either way: nobody's line stays held */
                TEST_INTEQ(env_count_docs(env, "lines", "{}"), 0);
        }
        TEST_SAY("accept won %d, cancel won %d of 10 rounds", accept_wins, cancel_wins);

        /* ---- hang-up vs hang-up in 1:1 calls: 2 more rounds in any case ---- */
        for (int round = 0; round < 2; round++) {
                char room[32], inv[32], acc[32];
                snprintf(room, sizeof(room), "hup-%d", round);
                snprintf(inv, sizeof(inv), "h%d-inv", round);
                snprintf(acc, sizeof(acc), "h%d-acc", round);
                ring(env, inv, room);
                env_send(env, cmd_action(acc, "bob", REQ(ACCEPT), room), NULL, -1);
                reply_code(env, "bob", acc, 0, RESP(ACCEPT));
                env_expect_note(env, "alice", acc);
                env_expect_note(env, "bob", acc);
                hangup_race(env, room, room, by);
                hangup_rounds++;
                TEST_INTEQ(env_count_docs(env, "lines", "{}"), 0);
        }

        /* ---- group: two accepted participants hang up at once ---- */
        for (int round = 0; round < 3; round++) {
                char room[32], group[32], inv[32], acc_d[32], acc_e[32], hup_d[32],
                        hup_e[32];
                snprintf(room, sizeof(room), "grace-%d", round);
                snprintf(group, sizeof(group), "grp-%d", round);
                snprintf(inv, sizeof(inv), "g%d-inv", round);
                snprintf(acc_d, sizeof(acc_d), "g%d-acc-d", round);
                snprintf(acc_e, sizeof(acc_e), "g%d-acc-e", round);
                snprintf(hup_d, sizeof(hup_d), "g%d-hup-d", round);
                snprintf(hup_e, sizeof(hup_e), "g%d-hup-e", round);
                env_send(env, cmd_invite(inv, "carol", (const char *[]){"dan", "eve", NULL},
                                         room, group, "video", 0),
                         NULL, -1);
                reply_code(env, "carol", inv, 0, RESP(INVITE_IN_GROUP));
                env_expect_note(env, "dan", inv);
                env_expect_note(env, "eve", inv);
                env_expect_note(env, "carol", inv);
                env_send(env, cmd_action(acc_d, "dan", REQ(ACCEPT), room), NULL, -1);
                reply_code(env, "dan", acc_d, 0, RESP(ACCEPT));
                env_send(env, cmd_action(acc_e, "eve", REQ(ACCEPT), room), NULL, -1);
                reply_code(env, "eve", acc_e, 0, RESP(ACCEPT));
                env_expect_note(env, "carol", acc_d);
                env_expect_note(env, "dan", acc_d);
                env_expect_note(env, "carol", acc_e);
                env_expect_note(env, "eve", acc_e);
                bson_destroy(env_wait_call(env, room, "active", NULL));

                env_send_pair(env, cmd_action(hup_d, "dan", REQ(HUNG_UP), room), room, 0,
                          cmd_action(hup_e, "eve", REQ(HUNG_UP), room), room, 3);
                reply_code(env, "dan", hup_d, 0, RESP(HUNG_UP));
                reply_code(env, "eve", hup_e, 0, RESP(HUNG_UP));
                int wd = env_worker_of(env, hup_d), we = env_worker_of(env, hup_e);
                TEST_ASSERT(wd != we, "%s: both hang-ups handled by worker %d", room, wd);
                by[wd]++;
                by[we]++;
                /* carol hears of both; each sender of its own; exactly one of
                 * dan/eve (the one still in when the other left) hears of
                 * the other's */
                env_expect_note(env, "carol", hup_d);
                env_expect_note(env, "carol", hup_e);
                env_expect_note(env, "dan", hup_d);
                env_expect_note(env, "eve", hup_e);
                int cross = env_count(env, "eve", hup_d, "notification", 300) +
                            env_count(env, "dan", hup_e, "notification", 0);
                TEST_INTEQ(cross, 1);
                if (env_count(env, "eve", hup_d, "notification", 0))
                        env_expect_note(env, "eve", hup_d);
                else
                        env_expect_note(env, "dan", hup_e);
                bson_t *doc = env_wait_call(env, room, "ended", "hung_up");
                TEST_INTEQ(events_of(doc, "hung_up"), 2);
                TEST_INTEQ(event_cnt(doc), 5);
                TEST_STREQ(doc_str(doc, "participants.1.userID"), "dan");
                TEST_STREQ(doc_str(doc, "participants.1.state"), "left");
                TEST_STREQ(doc_str(doc, "participants.2.userID"), "eve");
                TEST_STREQ(doc_str(doc, "participants.2.state"), "left");
                bson_destroy(doc);
                TEST_INTEQ(env_count_docs(env, "lines", "{}"), 0);
        }

        TEST_ASSERT(by[0] > 0 && by[1] > 0, "both workers took part (%d / %d commands)",
                    by[0], by[1]);
        TEST_SAY("1:1 hang-up races: %d", hangup_rounds);
        TEST_SAY("race commands handled: worker0 %d, worker1 %d", by[0], by[1]);

        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                env_expect_quiet(env, users[i], i == 0 ? 300 : 0);
        env_stop(env);
        return test_done();
}
