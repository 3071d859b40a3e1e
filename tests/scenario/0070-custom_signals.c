/*
 * 0070: custom signals and ICE servers (contract section 11), with two
 * workers in one consumer group.
 *
 * Proves:
 *   - iceServers on successful invite, accept and getTokenByRoomID replies:
 *     one STUN entry without credentials, one TURN entry whose username is
 *     "<expiry>:<userID>" (expiry = now + turn.ttl) and whose credential is
 *     base64(HMAC-SHA1(turn.secret, username)); none on reject, cancel,
 *     hang-up, custom-signal or refused replies;
 *   - a custom signal reaches every other participant still in the call
 *     (inviter, ringing and accepted invitees) as a 1605 notification:
 *     content SignalSendCustomSignalReq {roomID, customInfo} without
 *     recvUserIDs, sendID and senderPlatformID of the sender, options all
 *     false, seq 0; never the sender's own topic; reply case 100, empty;
 *   - recvUserIDs narrows the recipients; naming someone not in the call,
 *     or oneself, is 1002 and relays nothing;
 *   - a stranger, a rejected invitee, a timed-out invitee and someone who
 *     hung up get 1002 and reach no one; an ended call and an unknown
 *     roomID get 1003; an empty roomID, a customInfo over
 *     signal.custom_max_bytes and one that is not UTF-8 get 1001; a
 *     signal older than signal.command_max_age gets 1008;
 *   - the rate limit (signal.custom_per_minute 5): the sixth signal of one
 *     sender in one call within a minute is 1010 and relays nothing, the
 *     five before arrive in order; another sender's budget is its own; it
 *     holds with two workers (the call's commands share a partition);
 *   - custom signals leave the call record alone (no event), and a
 *     redelivered one is relayed again with the same clientMsgIDs;
 *   - /metrics counts relayed and refused (by reason) custom signals.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "harness.h"

TEST_MAIN_DEFS

#define RQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RS(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x
#define CUSTOM_RS 100 /* SignalResp case sendCustomSignal */

#define TURN_SECRET "p2p-test-secret-0123456789"
#define TURN_TTL 900

static const char yaml[] =
        "stun.urls: [\"stun:127.0.0.1:3478\"]\n"
        "turn.urls: [\"turn:127.0.0.1:3478?transport=udp\", "
        "\"turn:127.0.0.1:3478?transport=tcp\"]\n"
        "turn.secret: " TURN_SECRET "\n"
        "turn.ttl: 900\n"
        "signal.custom_max_bytes: 64\n"
        "signal.custom_per_minute: 5\n";

/* Checks the iceServers of a successful reply to @p user. */
static void check_ice(const Callsig__V1__SignalReply *r, const char *user) {
        TEST_INTEQ(r->n_iceservers, 2);
        const Callsig__V1__IceServer *stun = r->iceservers[0];
        const Callsig__V1__IceServer *turn = r->iceservers[1];
        TEST_INTEQ(stun->n_urls, 1);
        TEST_STREQ(stun->urls[0], "stun:127.0.0.1:3478");
        TEST_STREQ(stun->username, "");
        TEST_STREQ(stun->credential, "");
        TEST_INTEQ(turn->n_urls, 2);
        TEST_STREQ(turn->urls[0], "turn:127.0.0.1:3478?transport=udp");
        TEST_STREQ(turn->urls[1], "turn:127.0.0.1:3478?transport=tcp");
        char *colon = strchr(turn->username, ':');
        TEST_ASSERT(colon, "TURN username %s", turn->username);
        TEST_STREQ(colon + 1, user);
        long long expiry = strtoll(turn->username, NULL, 10);
        long long now = env_wall_ms() / 1000;
        TEST_ASSERT(expiry > now + TURN_TTL - 120 && expiry <= now + TURN_TTL,
                    "expiry %lld, now %lld", expiry, now);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        HMAC(EVP_sha1(), TURN_SECRET, (int)strlen(TURN_SECRET),
             (const unsigned char *)turn->username, strlen(turn->username), md,
             &md_len);
        char want[64];
        EVP_EncodeBlock((unsigned char *)want, md, (int)md_len);
        TEST_STREQ(turn->credential, want);
}

static Callsig__V1__SignalReply *ok_reply(env_t *env, const char *user,
                                          const char *op, int resp_case) {
        return env_expect_code(env, user, op, 0, resp_case);
}

/* Sends a custom signal and expects @p code (no iceServers either way). */
static void custom(env_t *env, const char *op, const char *sender,
                   const char *room, const char *info, const char *const *recv,
                   int code) {
        env_send(env, cmd_custom(op, sender, room, info, recv), NULL, -1);
        Callsig__V1__SignalReply *r = env_expect_code(env, sender, op, code,
                                                      CUSTOM_RS);
        TEST_INTEQ(r->n_iceservers, 0);
}

/* Expects the 1605 notification of @p op from @p sender to @p user;
 * @returns its clientMsgID (static buf). */
static const char *expect_custom(env_t *env, const char *user, const char *op,
                                 const char *sender, const char *room,
                                 const char *info) {
        static char id[64];
        seen_t *s = env_expect_note(env, user, op);
        Openim__V2__MsgData *md = seen_note(s);
        TEST_INTEQ(md->contenttype, 1605);
        TEST_STREQ(md->sendid, sender);
        TEST_STREQ(md->recvid, user);
        TEST_INTEQ(md->senderplatformid, 5);
        TEST_INTEQ(md->seq, 0);
        TEST_INTEQ(md->msgfrom, 100);
        TEST_INTEQ(md->n_options, 5);
        for (size_t i = 0; i < md->n_options; i++)
                TEST_ASSERT(!md->options[i]->value, "option %s", md->options[i]->key);
        TEST_ASSERT(md->offlinepushinfo == NULL, "no offlinePushInfo");
        Openim__V2__SignalSendCustomSignalReq *c =
                openim__v2__signal_send_custom_signal_req__unpack(
                        NULL, md->content.len, md->content.data);
        TEST_ASSERT(c, "content is a SignalSendCustomSignalReq");
        TEST_STREQ(c->roomid, room);
        TEST_STREQ(c->custominfo, info);
        TEST_INTEQ(c->n_recvuserids, 0);
        openim__v2__signal_send_custom_signal_req__free_unpacked(c, NULL);
        snprintf(id, sizeof(id), "%s", md->clientmsgid);
        return id;
}

static void invite(env_t *env, const char *op, const char *inviter,
                   const char *const *invitees, const char *room,
                   const char *group, int32_t timeout) {
        env_send(env, cmd_invite(op, inviter, invitees, room, group, "video",
                                 timeout),
                 NULL, -1);
        Callsig__V1__SignalReply *r = ok_reply(env, inviter, op,
                                               group ? RS(INVITE_IN_GROUP)
                                                     : RS(INVITE));
        check_ice(r, inviter);
        for (size_t i = 0; invitees[i]; i++)
                env_expect_note(env, invitees[i], op);
        env_expect_note(env, inviter, op);
}

static void act(env_t *env, const char *op, const char *sender, int req_case,
                const char *room, int resp_case) {
        env_send(env, cmd_action(op, sender, req_case, room), NULL, -1);
        Callsig__V1__SignalReply *r = ok_reply(env, sender, op, resp_case);
        if (req_case == RQ(ACCEPT))
                check_ice(r, sender);
        else
                TEST_INTEQ(r->n_iceservers, 0);
}

/* Sums a metric series over both workers (absent: 0). */
static long long metric(env_t *env, const char *series) {
        long long sum = 0;
        for (int w = 0; w < 2; w++) {
                int64_t v = env_metric(env, w, series);
                sum += v > 0 ? v : 0;
        }
        return sum;
}

int main(void) {
        env_t *env = env_start("custom", &(env_opts_t){.extra_yaml = yaml,
                                                        .workers = 2});
        const char *users[] = {"alice", "bob", "carol", "dave", "erin", "xavier",
                               NULL};
        for (int i = 0; users[i]; i++)
                env_watch(env, users[i]);

        /* ---- 1:1 while ringing, then active ---- */
        invite(env, "c-inv", "alice", (const char *[]){"bob", NULL}, "room-c",
               NULL, 60);
        bson_t *doc = env_call_doc(env, "room-c");
        int64_t events_before = doc_has(doc, "events.1") ? 2 : 1;
        bson_destroy(doc);
        custom(env, "c-1", "alice", "room-c", "offer-sdp", NULL, 0);
        const char *id1 = expect_custom(env, "bob", "c-1", "alice", "room-c",
                                        "offer-sdp");
        char first_id[64];
        snprintf(first_id, sizeof(first_id), "%s", id1);
        /* the ringing invitee answers through the channel */
        custom(env, "c-2", "bob", "room-c", "answer-sdp", NULL, 0);
        expect_custom(env, "alice", "c-2", "bob", "room-c", "answer-sdp");
        /* a stranger reaches no one, with or without recvUserIDs */
        custom(env, "c-x1", "xavier", "room-c", "spam", NULL, 1002);
        custom(env, "c-x2", "xavier", "room-c", "spam", (const char *[]){"bob", NULL},
               1002);
        /* recvUserIDs naming a stranger or oneself: 1002 */
        custom(env, "c-r1", "alice", "room-c", "x", (const char *[]){"xavier", NULL},
               1002);
        custom(env, "c-r2", "alice", "room-c", "x",
               (const char *[]){"bob", "alice", NULL}, 1002);
        custom(env, "c-r3", "alice", "room-c", "to-bob", (const char *[]){"bob", "bob", NULL},
               0);
        expect_custom(env, "bob", "c-r3", "alice", "room-c", "to-bob");
        /* limits and lookups */
        custom(env, "c-big", "alice", "room-c",
               "0123456789012345678901234567890123456789012345678901234567890123x",
               NULL, 1001);
        custom(env, "c-max", "alice", "room-c",
               "0123456789012345678901234567890123456789012345678901234567890123",
               NULL, 0);
        expect_custom(env, "bob", "c-max", "alice", "room-c",
                      "0123456789012345678901234567890123456789012345678901234567890123");
        custom(env, "c-unknown", "alice", "no-such-room", "x", NULL, 1003);
        custom(env, "c-empty", "alice", "", "x", NULL, 1001);
        custom(env, "c-utf8", "alice", "room-c", "bad \xff\xfe utf-8", NULL, 1001);
        /* older than signal.command_max_age (300 s here): 1008 */
        cmd_t *old = cmd_custom("c-old", "alice", "room-c", "stale", NULL);
        cmd_msg(old)->sentat = env_wall_ms() - 400000;
        env_send(env, old, NULL, -1);
        env_expect_code(env, "alice", "c-old", 1008, CUSTOM_RS);
        /* a redelivery relays again with the same clientMsgID */
        custom(env, "c-1", "alice", "room-c", "offer-sdp", NULL, 0);
        TEST_STREQ(expect_custom(env, "bob", "c-1", "alice", "room-c", "offer-sdp"),
                   first_id);
        /* the record holds no custom signal */
        doc = env_call_doc(env, "room-c");
        TEST_ASSERT(!doc_has(doc, events_before == 2 ? "events.2" : "events.1"),
                    "custom signals are not events");
        bson_destroy(doc);
        env_expect_quiet(env, "alice", 300);
        env_expect_quiet(env, "xavier", 100);

        /* accept, token: iceServers again; then the rate limit (5 a
         * minute): alice has sent 4 here (c-1 twice, c-r3, c-max) */
        act(env, "c-acc", "bob", RQ(ACCEPT), "room-c", RS(ACCEPT));
        env_expect_note(env, "alice", "c-acc");
        env_expect_note(env, "bob", "c-acc");
        env_send(env, cmd_token("c-tok", "alice", "room-c"), NULL, -1);
        check_ice(ok_reply(env, "alice", "c-tok", RS(GET_TOKEN_BY_ROOM_ID)), "alice");
        custom(env, "c-5", "alice", "room-c", "cand-5", NULL, 0);
        expect_custom(env, "bob", "c-5", "alice", "room-c", "cand-5");
        custom(env, "c-6", "alice", "room-c", "cand-6", NULL, 1010);
        custom(env, "c-7", "alice", "room-c", "cand-7", NULL, 1010);
        /* bob's budget is his own (he sent c-2); his signals arrive in
         * order */
        char op[32], info[32];
        for (int i = 0; i < 4; i++) {
                snprintf(op, sizeof(op), "b-%d", i);
                snprintf(info, sizeof(info), "cand-%d", i);
                custom(env, op, "bob", "room-c", info, NULL, 0);
        }
        custom(env, "b-4", "bob", "room-c", "cand-4", NULL, 1010);
        for (int i = 0; i < 4; i++) {
                snprintf(op, sizeof(op), "b-%d", i);
                snprintf(info, sizeof(info), "cand-%d", i);
                expect_custom(env, "alice", op, "bob", "room-c", info);
        }
        env_expect_quiet(env, "alice", 300);
        env_expect_quiet(env, "bob", 100);

        /* hang-up ends the 1:1 call: 1003 after it */
        act(env, "c-hup", "alice", RQ(HUNG_UP), "room-c", RS(HUNG_UP));
        env_expect_note(env, "bob", "c-hup");
        env_expect_note(env, "alice", "c-hup");
        custom(env, "c-late", "bob", "room-c", "x", NULL, 1003);

        /* ---- a group call: rejected, timed out, hung up ---- */
        invite(env, "g-inv", "alice",
               (const char *[]){"bob", "carol", "dave", "erin", NULL}, "room-g",
               "group-1", 4);
        act(env, "g-acc-b", "bob", RQ(ACCEPT), "room-g", RS(ACCEPT));
        act(env, "g-acc-e", "erin", RQ(ACCEPT), "room-g", RS(ACCEPT));
        act(env, "g-rej-c", "carol", RQ(REJECT), "room-g", RS(REJECT));
        /* everyone else still in the call, the ringing dave too */
        custom(env, "g-1", "bob", "room-g", "hi", NULL, 0);
        expect_custom(env, "alice", "g-1", "bob", "room-g", "hi");
        expect_custom(env, "dave", "g-1", "bob", "room-g", "hi");
        expect_custom(env, "erin", "g-1", "bob", "room-g", "hi");
        custom(env, "g-c", "carol", "room-g", "x", NULL, 1002);
        custom(env, "g-to-c", "bob", "room-g", "x", (const char *[]){"carol", NULL},
               1002);
        /* dave's ring times out; the call goes on without him */
        for (int i = 0; i < 100; i++) {
                doc = env_call_doc(env, "room-g");
                bool gone = !strcmp(doc_str(doc, "participants.3.state"), "timeout");
                bson_destroy(doc);
                if (gone)
                        break;
                usleep((useconds_t)env_ms(100) * 1000);
        }
        custom(env, "g-d", "dave", "room-g", "x", NULL, 1002);
        custom(env, "g-to-d", "erin", "room-g", "x", (const char *[]){"dave", NULL},
               1002);
        /* bob hangs up: he can no longer send or be sent to */
        act(env, "g-hup-b", "bob", RQ(HUNG_UP), "room-g", RS(HUNG_UP));
        custom(env, "g-b", "bob", "room-g", "x", NULL, 1002);
        custom(env, "g-2", "erin", "room-g", "bye", NULL, 0);
        expect_custom(env, "alice", "g-2", "erin", "room-g", "bye");
        /* nothing custom reached the rejected, timed-out or departed */
        TEST_INTEQ(env_count(env, "carol", "g-2", "notification", 300), 0);
        TEST_INTEQ(env_count(env, "dave", "g-2", "notification", 0), 0);
        TEST_INTEQ(env_count(env, "bob", "g-2", "notification", 0), 0);
        TEST_INTEQ(env_count(env, "bob", "g-c", "notification", 0), 0);
        TEST_INTEQ(env_count(env, "carol", "g-d", "notification", 0), 0);
        TEST_INTEQ(env_count(env, "alice", "c-x1", "notification", 0), 0);
        TEST_INTEQ(env_count(env, "bob", "c-x2", "notification", 0), 0);
        TEST_INTEQ(env_count(env, "bob", "c-6", "notification", 0), 0);
        TEST_INTEQ(env_count(env, "alice", "b-4", "notification", 0), 0);
        TEST_INTEQ(env_count(env, "bob", "c-big", "notification", 0), 0);
        TEST_INTEQ(env_count(env, "bob", "c-old", "notification", 0), 0);

        /* metrics, summed over the two workers */
        TEST_ASSERT(metric(env, "callsig_custom_signals_relayed_total") >= 14,
                    "relayed");
        TEST_INTEQ(metric(env, "callsig_custom_signals_refused_total{reason=\"rate_limited\"}"), 3);
        TEST_INTEQ(metric(env, "callsig_custom_signals_refused_total{reason=\"not_found\"}"), 2);
        TEST_INTEQ(metric(env, "callsig_custom_signals_refused_total{reason=\"invalid\"}"), 3);
        TEST_INTEQ(metric(env, "callsig_custom_signals_refused_total{reason=\"expired\"}"), 1);
        TEST_ASSERT(metric(env, "callsig_custom_signals_refused_total{reason=\"not_permitted\"}") >= 9,
                    "not_permitted");

        env_stop(env);
        return test_done();
}
