/*
 * 0041: the room lifecycle against a real livekit-server (contract section
 * 9): LiveKit sends its webhooks for real to the worker's listener, and
 * callsig's RoomService requests act on real participants.
 *
 * The worker's http port is picked first, livekit-server is started with
 * its webhook pointed at http://127.0.0.1:<port>/webhooks/livekit, then the
 * worker with livekit.url (and so the RoomService URL) set to the server.
 * Participants are @livekit/rtc-node clients (tests/js/lk-join.mjs,
 * "session" checks) that stay connected while the test acts.
 *
 * Proves:
 *   (a) 1:1 (invite, accept): alice and bob join with their tokens; the
 *       participant_joined webhooks mark both inRoom with joinedRoomAt, and
 *       each gets a case-8 notification (onRoomParticipantConnectedReq)
 *       listing the other; when they leave, participant_left marks them out
 *       (inRoom false, leftRoomAt) with case 9 to the other; nobody hangs
 *       up, so LiveKit closes the empty room after its departure timeout
 *       and the real room_finished ends the call (room_finished);
 *   (b) carol's token of another call opens only that call's room: she is
 *       never seen in the 1:1 room; mallory, holding a valid token for the
 *       1:1 room signed with the real key but not a participant of the
 *       call, is removed by callsig (rtc-node reports PARTICIPANT_REMOVED)
 *       and never marked in the record or announced with case 8;
 *   (c) group call: a member who hangs up while in the room is removed
 *       (PARTICIPANT_REMOVED) while the others stay connected; when the
 *       call ends the room is deleted (the last one is disconnected with
 *       ROOM_DELETED), room_finished arrives and the record had already
 *       ended (hung_up, not room_finished).
 * Prints the webhooks as the worker received them (order and timing).
 *
 * Skips (exit 77) when the server is not built, unless
 * CALLSIG_TEST_REQUIRE_LIVEKIT is set.
 */
#include <jansson.h>
#include <time.h>

#include "harness.h"
#include "lk.h"
#include "token.h"

TEST_MAIN_DEFS

#define RQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RS(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x
#define GROUP "grp-lkw"

static int64_t t_start;
static int64_t since(void) {
        return env_mono_ms() - t_start;
}

static Callsig__V1__SignalReply *expect_ok(env_t *env, const char *user,
                                           const char *op, int resp_case) {
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, user, op));
        TEST_ASSERT(r->errcode == 0, "%s: errCode %d %s", op, (int)r->errcode,
                    r->errmsg);
        TEST_ASSERT(r->resp && (int)r->resp->payload_case == resp_case,
                    "%s: resp case", op);
        return r;
}

/* The index of @p user in the record's participants, -1 if absent. */
static int part_idx(const bson_t *doc, const char *user) {
        for (int i = 0; i < 16; i++) {
                char path[64];
                snprintf(path, sizeof(path), "participants.%d.userID", i);
                if (!doc_has(doc, path))
                        return -1;
                if (!strcmp(doc_str(doc, path), user))
                        return i;
        }
        return -1;
}

/* participants.<user>.<field>: 1 true, 0 false, -1 absent or not a bool. */
static int part_bool(const bson_t *doc, const char *user, const char *field) {
        int i = part_idx(doc, user);
        if (i < 0)
                return -1;
        char path[96];
        snprintf(path, sizeof(path), "participants.%d.%s", i, field);
        bson_iter_t it, child;
        if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, path, &child) ||
            !BSON_ITER_HOLDS_BOOL(&child))
                return -1;
        return bson_iter_bool(&child);
}

static bool part_has(const bson_t *doc, const char *user, const char *field) {
        int i = part_idx(doc, user);
        char path[96];
        snprintf(path, sizeof(path), "participants.%d.%s", i, field);
        return i >= 0 && doc_has(doc, path);
}

/* Waits until @p user's inRoom is @p in (with joinedRoomAt, or leftRoomAt
 * when out); @returns the record (caller destroys). */
static bson_t *wait_in_room(env_t *env, const char *room, const char *user,
                            bool in, int timeout_ms) {
        int64_t end = env_mono_ms() + env_ms(timeout_ms);
        for (;;) {
                bson_t *doc = env_call_doc(env, room);
                if (doc && part_bool(doc, user, "inRoom") == (int)in &&
                    part_has(doc, user, in ? "joinedRoomAt" : "leftRoomAt"))
                        return doc;
                if (env_mono_ms() > end) {
                        char *json = doc ? bson_as_relaxed_extended_json(doc, NULL) : NULL;
                        TEST_FAIL("room %s: %s never inRoom %s; record %s", room, user,
                                  in ? "true" : "false", json ? json : "(none)");
                }
                if (doc)
                        bson_destroy(doc);
                usleep(20000);
        }
}

/* Does @p req (case 8 or 9) list @p user among the participants? */
static bool lists(const Openim__V2__SignalReq *req, bool joined, const char *user) {
        size_t n;
        Openim__V2__ParticipantMetaData **pms;
        if (joined) {
                if (req->payload_case != RQ(ON_ROOM_PARTICIPANT_CONNECTED_REQ))
                        return false;
                n = req->onroomparticipantconnectedreq->n_participant;
                pms = req->onroomparticipantconnectedreq->participant;
        } else {
                if (req->payload_case != RQ(ON_ROOM_PARTICIPANT_DISCONNECTED_REQ))
                        return false;
                n = req->onroomparticipantdisconnectedreq->n_participant;
                pms = req->onroomparticipantdisconnectedreq->participant;
        }
        if (!user)
                return true;
        for (size_t i = 0; i < n; i++)
                if (pms[i]->userinfo && !strcmp(pms[i]->userinfo->userid, user))
                        return true;
        return false;
}

/* Counts notifications to @p to of case 8 (@p joined) or 9 whose room is
 * @p room and that list @p about (NULL: any), seen within @p ms (scaled). */
static int presence_notes(env_t *env, const char *to, const char *room,
                          bool joined, const char *about, int ms) {
        size_t cnt;
        const seen_t *all = env_seen_all(env, ms, &cnt);
        const char *topic = env_push_topic(env, to);
        int n = 0;
        for (size_t i = 0; i < cnt; i++) {
                const seen_t *s = &all[i];
                if (strcmp(s->topic, topic) || !s->kind || strcmp(s->kind, "notification"))
                        continue;
                Openim__V2__SignalReq *req = seen_content((seen_t *)(uintptr_t)s);
                if (!req)
                        continue;
                const Openim__V2__InvitationInfo *inv =
                        req->payload_case == RQ(ON_ROOM_PARTICIPANT_CONNECTED_REQ)
                                ? req->onroomparticipantconnectedreq->invitation
                        : req->payload_case == RQ(ON_ROOM_PARTICIPANT_DISCONNECTED_REQ)
                                ? req->onroomparticipantdisconnectedreq->invitation
                                : NULL;
                if (lists(req, joined, about) && inv && !strcmp(inv->roomid, room))
                        n++;
                openim__v2__signal_req__free_unpacked(req, NULL);
        }
        return n;
}

static void wait_presence_note(env_t *env, const char *to, const char *room,
                               bool joined, const char *about, int timeout_ms) {
        int64_t end = env_mono_ms() + env_ms(timeout_ms);
        while (presence_notes(env, to, room, joined, about, 50) == 0)
                TEST_ASSERT(env_mono_ms() < end, "%s got no case %d listing %s in room %s",
                            to, joined ? 8 : 9, about ? about : "anyone", room);
}

/* The "reason_name" and "by" of an event line. */
static void expect_disconnect(const char *line, const char *by, const char *reason) {
        json_t *e = json_loads(line, 0, NULL);
        TEST_ASSERT(e, "bad event line %s", line);
        TEST_STREQ(json_string_value(json_object_get(e, "by")), by);
        const char *got = json_string_value(json_object_get(e, "reason_name"));
        if (reason) /* one of "A|B" */
                TEST_ASSERT(got && *got && strstr(reason, got), "reason %s, expected %s",
                            got ? got : "(none)", reason);
        json_decref(e);
}

/* Prints what the worker logged about webhooks and room effects. */
static void print_timeline(env_t *env) {
        char path[512];
        snprintf(path, sizeof(path), "%s/worker0.log", env_dir(env));
        FILE *fp = fopen(path, "r");
        if (!fp)
                return;
        char line[2048];
        TEST_SAY("webhooks as the worker received them:");
        while (fgets(line, sizeof(line), fp)) {
                if (strstr(line, "webhook ") || strstr(line, " ROOM ") ||
                    strstr(line, " ROOMSVC ")) {
                        line[strcspn(line, "\n")] = '\0';
                        fprintf(stderr, "    %s\n", line);
                }
        }
        fclose(fp);
}

int main(void) {
        lk_require_server();
        t_start = env_mono_ms();
        int http_port = env_free_port();
        char hook[128];
        snprintf(hook, sizeof(hook), "http://127.0.0.1:%d/webhooks/livekit", http_port);
        const char *lk_url = lk_server_start_webhook(hook);
        env_t *env = env_start("lkhooks", &(env_opts_t){.livekit_url = lk_url,
                                                        .http_port = http_port});
        TEST_INTEQ(env_worker_http_port(env, 0), http_port);
        const char *users[] = {"alice", "bob", "carol", "dave", "ga", "gb", "gd", NULL};
        for (int i = 0; users[i]; i++)
                env_watch(env, users[i]);

        /* ---- the calls ---- */
        env_send(env, cmd_invite("w-inv", "alice", (const char *[]){"bob", NULL}, NULL,
                                 NULL, "video", 0),
                 NULL, -1);
        Callsig__V1__SignalReply *r = expect_ok(env, "alice", "w-inv", RS(INVITE));
        char room[128];
        snprintf(room, sizeof(room), "%s", r->resp->invite->roomid);
        char *tok_alice = strdup(r->resp->invite->token);
        env_send(env, cmd_action("w-acc", "bob", RQ(ACCEPT), room), NULL, -1);
        r = expect_ok(env, "bob", "w-acc", RS(ACCEPT));
        char *tok_bob = strdup(r->resp->accept->token);
        bson_destroy(env_wait_call(env, room, "active", NULL));

        env_send(env, cmd_invite("w-inv-b", "carol", (const char *[]){"dave", NULL},
                                 NULL, NULL, "audio", 0),
                 NULL, -1);
        r = expect_ok(env, "carol", "w-inv-b", RS(INVITE));
        char room_b[128];
        snprintf(room_b, sizeof(room_b), "%s", r->resp->invite->roomid);
        char *tok_carol = strdup(r->resp->invite->token);

        /* someone who obtained a valid token for the 1:1 room by other means */
        char errstr[256];
        cs_token_claims_t claims = {.user_id = "mallory", .room_id = room};
        char *tok_mallory = cs_token_mint(LK_KEY, LK_SECRET, 600, (int64_t)time(NULL),
                                          &claims, errstr, sizeof(errstr));
        TEST_ASSERT(tok_mallory, "mint: %s", errstr);

        /* ---- (a) alice and bob join; (b) carol elsewhere, mallory removed ---- */
        lk_sess_t *sa = lk_sess_new("a", 90000);
        lk_sess_add(sa, "alice", tok_alice, room, false);
        lk_sess_add(sa, "bob", tok_bob, room, false);
        lk_sess_add(sa, "carol", tok_carol, room_b, false);
        lk_sess_add(sa, "mallory", tok_mallory, room, true);
        int64_t t_join = since();
        lk_sess_start(sa);
        free(lk_sess_wait(sa, "connected", "alice", NULL, 30000));
        free(lk_sess_wait(sa, "sees", "alice", "bob", 30000));
        free(lk_sess_wait(sa, "sees", "bob", "alice", 30000));
        TEST_SAY("alice and bob connected and see each other at +%lld ms",
                 (long long)(since() - t_join));

        bson_t *doc = wait_in_room(env, room, "alice", true, 20000);
        bson_destroy(doc);
        doc = wait_in_room(env, room, "bob", true, 20000);
        TEST_SAY("record: alice and bob inRoom at +%lld ms", (long long)(since() - t_join));
        bson_destroy(doc);
        wait_presence_note(env, "alice", room, true, "bob", 10000);
        wait_presence_note(env, "bob", room, true, "alice", 10000);

        /* (b) carol's token opens room_b only */
        char *line = lk_sess_wait(sa, "connected", "carol", NULL, 30000);
        json_t *e = json_loads(line, 0, NULL);
        TEST_STREQ(json_string_value(json_object_get(e, "room")), room_b);
        json_decref(e);
        free(line);
        /* mallory is removed by callsig after her participant_joined */
        line = lk_sess_wait(sa, "connected", "mallory", NULL, 30000);
        e = json_loads(line, 0, NULL);
        TEST_STREQ(json_string_value(json_object_get(e, "room")), room);
        int64_t mallory_in = json_integer_value(json_object_get(e, "ms"));
        json_decref(e);
        free(line);
        line = lk_sess_wait(sa, "disconnected", "mallory", NULL, 15000);
        expect_disconnect(line, "server", "PARTICIPANT_REMOVED");
        e = json_loads(line, 0, NULL);
        TEST_SAY("mallory removed %lld ms after she connected",
                 (long long)(json_integer_value(json_object_get(e, "ms")) - mallory_in));
        json_decref(e);
        free(line);
        env_worker_wait_log(env, 0, "mallory joined but is not an accepted participant",
                            1, 5000);
        doc = env_call_doc(env, room);
        TEST_INTEQ(part_idx(doc, "mallory"), -1);
        TEST_STREQ(doc_str(doc, "state"), "active");
        bson_destroy(doc);
        TEST_INTEQ(presence_notes(env, "alice", room, true, "mallory", 200), 0);
        TEST_INTEQ(presence_notes(env, "bob", room, true, "mallory", 0), 0);
        /* carol was never seen in the 1:1 room */
        for (const char *who = "alice"; who; who = strcmp(who, "alice") ? NULL : "bob") {
                char *seen = lk_sess_find(sa, "sees", who, "carol");
                TEST_ASSERT(!seen, "%s saw carol: %s", who, seen);
        }
        if (lk_sess_find(sa, "sees", "alice", "mallory"))
                TEST_SAY("(alice saw mallory for a moment before she was removed)");

        /* (a) they leave: bob first */
        lk_sess_leave(sa, "bob");
        free(lk_sess_wait(sa, "disconnected", "bob", NULL, 10000));
        doc = wait_in_room(env, room, "bob", false, 20000);
        TEST_INTEQ(part_bool(doc, "alice", "inRoom"), 1);
        TEST_INTEQ(part_idx(doc, "bob"), 1);
        TEST_ASSERT(doc_int(doc, "participants.1.leftRoomAt") >=
                            doc_int(doc, "participants.1.joinedRoomAt"),
                    "bob left after he joined");
        bson_destroy(doc);
        wait_presence_note(env, "alice", room, false, NULL, 10000);
        lk_sess_leave(sa, "alice");
        lk_sess_leave(sa, "carol");
        doc = wait_in_room(env, room, "alice", false, 20000);
        bson_destroy(doc);
        wait_presence_note(env, "bob", room, false, NULL, 10000);
        TEST_SAY("record: both out of the room at +%lld ms", (long long)(since() - t_join));
        char *res = NULL;
        bool ok = lk_sess_end(sa, &res);
        TEST_ASSERT(ok, "session a failed:\n%s", res);
        free(res);

        /* ---- (c) a group call: gb hangs up and is removed, the others stay;
         * then the call ends and the room is deleted ---- */
        env_send(env, cmd_invite("w-g-inv", "ga", (const char *[]){"gb", "gd", NULL},
                                 NULL, GROUP, "video", 60),
                 NULL, -1);
        r = expect_ok(env, "ga", "w-g-inv", RS(INVITE_IN_GROUP));
        char groom[128];
        snprintf(groom, sizeof(groom), "%s", r->resp->inviteingroup->roomid);
        char *tok_ga = strdup(r->resp->inviteingroup->token);
        env_send(env, cmd_action("w-g-acc-gb", "gb", RQ(ACCEPT), groom), NULL, -1);
        r = expect_ok(env, "gb", "w-g-acc-gb", RS(ACCEPT));
        char *tok_gb = strdup(r->resp->accept->token);
        env_send(env, cmd_action("w-g-acc-gd", "gd", RQ(ACCEPT), groom), NULL, -1);
        r = expect_ok(env, "gd", "w-g-acc-gd", RS(ACCEPT));
        char *tok_gd = strdup(r->resp->accept->token);

        lk_sess_t *sc = lk_sess_new("c", 90000);
        lk_sess_add(sc, "ga", tok_ga, groom, true);
        lk_sess_add(sc, "gb", tok_gb, groom, true);
        lk_sess_add(sc, "gd", tok_gd, groom, true);
        lk_sess_start(sc);
        free(lk_sess_wait(sc, "sees", "ga", "gb", 30000));
        free(lk_sess_wait(sc, "sees", "ga", "gd", 30000));
        free(lk_sess_wait(sc, "sees", "gd", "gb", 30000));
        bson_destroy(wait_in_room(env, groom, "ga", true, 20000));
        bson_destroy(wait_in_room(env, groom, "gb", true, 20000));
        bson_destroy(wait_in_room(env, groom, "gd", true, 20000));

        int64_t t_hup = since();
        env_send(env, cmd_action("w-g-hup-gb", "gb", RQ(HUNG_UP), groom), NULL, -1);
        expect_ok(env, "gb", "w-g-hup-gb", RS(HUNG_UP));
        line = lk_sess_wait(sc, "disconnected", "gb", NULL, 15000);
        expect_disconnect(line, "server", "PARTICIPANT_REMOVED");
        free(line);
        TEST_SAY("gb removed %lld ms after the hang-up was sent",
                 (long long)(since() - t_hup));
        free(lk_sess_wait(sc, "unsees", "ga", "gb", 10000));
        free(lk_sess_wait(sc, "unsees", "gd", "gb", 10000));
        doc = wait_in_room(env, groom, "gb", false, 20000);
        TEST_STREQ(doc_str(doc, "state"), "active");
        bson_destroy(doc);
        /* the others stay */
        size_t cnt;
        env_seen_all(env, 1500, &cnt);
        TEST_ASSERT(!lk_sess_find(sc, "disconnected", "ga", NULL), "ga was disconnected");
        TEST_ASSERT(!lk_sess_find(sc, "disconnected", "gd", NULL), "gd was disconnected");
        doc = env_call_doc(env, groom);
        TEST_INTEQ(part_bool(doc, "ga", "inRoom"), 1);
        TEST_INTEQ(part_bool(doc, "gd", "inRoom"), 1);
        bson_destroy(doc);

        /* gd hangs up: two are left, so the call ends and the room goes */
        int64_t t_end = since();
        env_send(env, cmd_action("w-g-hup-gd", "gd", RQ(HUNG_UP), groom), NULL, -1);
        expect_ok(env, "gd", "w-g-hup-gd", RS(HUNG_UP));
        bson_destroy(env_wait_call(env, groom, "ended", "hung_up"));
        /* callsig removes each one and deletes the room; which of the two
         * reaches a participant first is a race */
        for (const char *who = "ga"; who; who = strcmp(who, "ga") ? NULL : "gd") {
                line = lk_sess_wait(sc, "disconnected", who, NULL, 15000);
                expect_disconnect(line, "server", "PARTICIPANT_REMOVED|ROOM_DELETED");
                TEST_SAY("%s disconnected: %s", who, line);
                free(line);
        }
        TEST_SAY("everyone disconnected %lld ms after the last hang-up was sent",
                 (long long)(since() - t_end));
        /* room_finished arrives; the record had already ended */
        char needle[256];
        snprintf(needle, sizeof(needle), "(room_finished) for room %s accepted", groom);
        int64_t deadline = env_mono_ms() + env_ms(30000);
        for (;;) {
                int n = 0;
                char path[512], buf[4096];
                snprintf(path, sizeof(path), "%s/worker0.log", env_dir(env));
                FILE *fp = fopen(path, "r");
                while (fp && fgets(buf, sizeof(buf), fp))
                        n += strstr(buf, needle) != NULL;
                if (fp)
                        fclose(fp);
                if (n)
                        break;
                TEST_ASSERT(env_mono_ms() < deadline, "no room_finished for %s", groom);
                usleep(50000);
        }
        TEST_SAY("room_finished for the group room at +%lld ms after the last hang-up",
                 (long long)(since() - t_end));
        doc = env_wait_call(env, groom, "ended", "hung_up");
        bson_destroy(doc);
        ok = lk_sess_end(sc, &res);
        TEST_ASSERT(ok, "session c failed:\n%s", res);
        free(res);

        /* (a) nobody hung up the 1:1 call: LiveKit closes its empty room
         * after departure_timeout (20 s) and room_finished ends the call */
        doc = env_wait_call(env, room, "ended", "room_finished");
        bson_destroy(doc);
        TEST_SAY("the 1:1 call ended by room_finished at +%lld ms",
                 (long long)(since() - t_join));

        print_timeline(env);
        free(tok_alice);
        free(tok_bob);
        free(tok_carol);
        free(tok_mallory);
        free(tok_ga);
        free(tok_gb);
        free(tok_gd);
        env_stop(env);
        lk_server_stop();
        return test_done();
}
