/*
 * 0061: enforcement through LiveKit's RoomService (contract section 9),
 * against a fake RoomService (tests/scenario/fake_roomsvc.py, Python's
 * http.server) that records every request.
 *
 * Proves:
 *   - a group member who hangs up while the call goes on is removed from the
 *     room (RemoveParticipant {room, identity}) and the room is not deleted;
 *     when the call ends, the others are removed and the room is deleted
 *     (DeleteRoom {room}); every request is a JSON POST to
 *     /twirp/livekit.RoomService/<Method> carrying "Bearer <JWT>" that
 *     verifies with the API key and secret (HS256, iss, nbf, exp) for that
 *     room, with roomAdmin (and roomCreate only on DeleteRoom);
 *   - livekit.api_url is where the requests go;
 *   - a RoomService answering 500 three times is retried until it answers
 *     200 (four requests with the same body), with backoff (the attempts
 *     are spaced by at least 250, 500 and 1000 ms);
 *   - a RoomService that does not answer at all delays no command: replies
 *     to invite, accept, reject and hang-up come back in well under the
 *     5 s a RoomService request may take, while the client's thread hangs;
 *     once the fake answers again, the request is retried and succeeds.
 */
#include "harness.h"

#include <jansson.h>
#include <jwt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "token.h"

TEST_MAIN_DEFS

static char fake_dir[256];
static pid_t fake_pid;

static void set_mode(const char *mode) {
        char path[300], tmp[310];
        snprintf(path, sizeof(path), "%s/mode", fake_dir);
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        FILE *fp = fopen(tmp, "w");
        TEST_ASSERT(fp, "write %s", tmp);
        fputs(mode, fp);
        fclose(fp);
        TEST_ASSERT(rename(tmp, path) == 0, "rename mode");
}

static int start_fake(void) {
        snprintf(fake_dir, sizeof(fake_dir), "/tmp/callsig-fakers-XXXXXX");
        TEST_ASSERT(mkdtemp(fake_dir), "mkdtemp");
        set_mode("ok");
        fake_pid = fork();
        TEST_ASSERT(fake_pid >= 0, "fork");
        if (fake_pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                execl("/usr/bin/python3", "python3",
                      env_source_path("tests/scenario/fake_roomsvc.py"),
                      "--dir", fake_dir, (char *)NULL);
                _exit(127);
        }
        char path[300];
        snprintf(path, sizeof(path), "%s/port", fake_dir);
        int64_t end = env_mono_ms() + env_ms(10000);
        while (env_mono_ms() < end) {
                FILE *fp = fopen(path, "r");
                int port = 0;
                if (fp) {
                        if (fscanf(fp, "%d", &port) != 1)
                                port = 0;
                        fclose(fp);
                }
                if (port > 0)
                        return port;
                usleep(20000);
        }
        TEST_FAIL("the fake RoomService did not start");
        return 0;
}

/* Every request the fake recorded so far (a JSON array; caller decrefs). */
static json_t *requests(void) {
        char path[300], line[65536];
        snprintf(path, sizeof(path), "%s/requests", fake_dir);
        json_t *all = json_array();
        FILE *fp = fopen(path, "r");
        if (!fp)
                return all;
        while (fgets(line, sizeof(line), fp)) {
                json_t *e = json_loads(line, 0, NULL);
                if (e) /* a line being written may be partial */
                        json_array_append_new(all, e);
        }
        fclose(fp);
        return all;
}

static const char *str_of(json_t *e, const char *k) {
        const char *s = json_string_value(json_object_get(e, k));
        return s ? s : "";
}

/* Does @p e match (method, room, identity (NULL: any/none), status (-1:
 * any; 0: "hang"))? */
static bool match(json_t *e, const char *method, const char *room,
                  const char *identity, int status) {
        json_t *body = json_object_get(e, "body");
        json_t *st = json_object_get(e, "status");
        if (strcmp(str_of(e, "method"), method) || strcmp(str_of(body, "room"), room))
                return false;
        if (identity && strcmp(str_of(body, "identity"), identity))
                return false;
        if (status == 0)
                return json_is_string(st) && !strcmp(json_string_value(st), "hang");
        return status < 0 || (json_is_integer(st) && json_integer_value(st) == status);
}

static int count(const char *method, const char *room, const char *identity,
                 int status) {
        json_t *all = requests();
        int n = 0;
        size_t i;
        json_t *e;
        json_array_foreach(all, i, e) n += match(e, method, room, identity, status);
        json_decref(all);
        return n;
}

/* Waits for a request like that; checks its shape and admin token; @returns
 * when it arrived (unix s). */
static double wait_request(const char *method, const char *room,
                           const char *identity, int status, int timeout_ms) {
        int64_t end = env_mono_ms() + env_ms(timeout_ms);
        for (;;) {
                json_t *all = requests();
                size_t i;
                json_t *e;
                json_array_foreach(all, i, e) {
                        if (!match(e, method, room, identity, status))
                                continue;
                        char path[128];
                        snprintf(path, sizeof(path), "/twirp/livekit.RoomService/%s", method);
                        TEST_STREQ(str_of(e, "path"), path);
                        TEST_STREQ(str_of(e, "ctype"), "application/json");
                        json_t *body = json_object_get(e, "body");
                        TEST_INTEQ(json_object_size(body), strcmp(method, "DeleteRoom") ? 2 : 1);
                        const char *auth = str_of(e, "auth");
                        TEST_ASSERT(!strncmp(auth, "Bearer ", 7), "auth %s", auth);
                        char errstr[256];
                        cs_token_info_t info;
                        TEST_ASSERT(cs_token_verify(LK_KEY, LK_SECRET, auth + 7,
                                                    (int64_t)time(NULL), 60, &info,
                                                    errstr, sizeof(errstr)) == 0,
                                    "admin token: %s", errstr);
                        TEST_STREQ(info.room_id, room);
                        TEST_INTEQ(info.room_join, 0);
                        cs_token_info_clear(&info);
                        jwt_t *jwt = NULL;
                        TEST_INTEQ(jwt_decode(&jwt, auth + 7,
                                              (const unsigned char *)LK_SECRET,
                                              (int)strlen(LK_SECRET)), 0);
                        char *vtext = jwt_get_grants_json(jwt, "video");
                        json_t *video = json_loads(vtext ? vtext : "", 0, NULL);
                        TEST_ASSERT(json_is_true(json_object_get(video, "roomAdmin")),
                                    "roomAdmin in %s", vtext);
                        TEST_INTEQ(json_is_true(json_object_get(video, "roomCreate")),
                                   !strcmp(method, "DeleteRoom"));
                        json_decref(video);
                        free(vtext);
                        jwt_free(jwt);
                        double t = json_real_value(json_object_get(e, "t"));
                        json_decref(all);
                        return t;
                }
                json_decref(all);
                if (env_mono_ms() > end)
                        TEST_FAIL("no %s room %s identity %s status %d within %d ms",
                                  method, room, identity ? identity : "-", status,
                                  timeout_ms);
                usleep(20000);
        }
}

/* Sends @p c and waits for its reply; @returns the latency in ms. */
static int64_t timed(env_t *env, cmd_t *c, const char *user, const char *op) {
        int64_t t0 = env_mono_ms();
        env_send(env, c, NULL, -1);
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, user, op));
        int64_t ms = env_mono_ms() - t0;
        TEST_INTEQ(r->errcode, 0);
        TEST_SAY("%s: reply after %lld ms", op, (long long)ms);
        return ms;
}

static cmd_t *act(const char *op, const char *user, int req_case, const char *room) {
        return cmd_action(op, user, req_case, room);
}

int main(void) {
        int port = start_fake();
        char yaml[256];
        snprintf(yaml, sizeof(yaml), "livekit.api_url: \"http://127.0.0.1:%d/\"\n", port);
        env_t *env = env_start("roomsvc", &(env_opts_t){.extra_yaml = yaml});
        const char *users[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
        for (size_t i = 0; i < 6; i++)
                env_watch(env, users[i]);
        const int HUP = OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP;
        const int ACC = OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT;

        /* 1. A group call: bob leaves while it goes on, then carol ends it. */
        timed(env, cmd_invite("g-inv", "alice", (const char *[]){"bob", "carol", NULL},
                              "room-g", "g1", "audio", 0), "alice", "g-inv");
        timed(env, act("g-acc-b", "bob", ACC, "room-g"), "bob", "g-acc-b");
        timed(env, act("g-acc-c", "carol", ACC, "room-g"), "carol", "g-acc-c");
        timed(env, act("g-hup-b", "bob", HUP, "room-g"), "bob", "g-hup-b");
        wait_request("RemoveParticipant", "room-g", "bob", 200, 10000);
        TEST_INTEQ(count("RemoveParticipant", "room-g", "alice", -1), 0);
        TEST_INTEQ(count("RemoveParticipant", "room-g", "carol", -1), 0);
        TEST_INTEQ(count("DeleteRoom", "room-g", NULL, -1), 0);
        timed(env, act("g-hup-c", "carol", HUP, "room-g"), "carol", "g-hup-c");
        wait_request("RemoveParticipant", "room-g", "carol", 200, 10000);
        wait_request("RemoveParticipant", "room-g", "alice", 200, 10000);
        wait_request("DeleteRoom", "room-g", NULL, 200, 10000);
        bson_destroy(env_wait_call(env, "room-g", "ended", "hung_up"));
        TEST_INTEQ(count("RemoveParticipant", "room-g", "bob", -1), 1);

        /* 2. 500 three times, then 200: retried with backoff. */
        set_mode("fail 3");
        timed(env, cmd_invite("r-inv", "alice", (const char *[]){"dave", NULL},
                              "room-r", NULL, "video", 0), "alice", "r-inv");
        timed(env, act("r-acc", "dave", ACC, "room-r"), "dave", "r-acc");
        timed(env, act("r-hup", "dave", HUP, "room-r"), "dave", "r-hup");
        wait_request("DeleteRoom", "room-r", NULL, 200, 20000);
        wait_request("RemoveParticipant", "room-r", "dave", 200, 20000);
        TEST_INTEQ(count("DeleteRoom", "room-r", NULL, 500), 3);
        TEST_INTEQ(count("DeleteRoom", "room-r", NULL, 200), 1);
        TEST_INTEQ(count("RemoveParticipant", "room-r", "dave", 500), 3);
        {
                json_t *all = requests();
                double ts[4];
                int n = 0;
                size_t i;
                json_t *e;
                json_array_foreach(all, i, e) if (n < 4 && match(e, "DeleteRoom", "room-r", NULL, -1))
                        ts[n++] = json_real_value(json_object_get(e, "t"));
                json_decref(all);
                TEST_INTEQ(n, 4);
                TEST_ASSERT(ts[1] - ts[0] >= 0.24 && ts[2] - ts[1] >= 0.49 &&
                                    ts[3] - ts[2] >= 0.99,
                            "backoff %.3f %.3f %.3f", ts[1] - ts[0],
                            ts[2] - ts[1], ts[3] - ts[2]);
        }
        env_worker_wait_log(env, 0, "DeleteRoom [room-r] attempt 3 failed (HTTP 500", 1, 5000);

        /* 3. A RoomService that hangs delays no command. */
        set_mode("hang");
        int64_t worst = 0, ms;
        ms = timed(env, cmd_invite("h-inv", "alice", (const char *[]){"erin", NULL},
                                   "room-h", NULL, "video", 0), "alice", "h-inv");
        worst = ms > worst ? ms : worst;
        ms = timed(env, act("h-acc", "erin", ACC, "room-h"), "erin", "h-acc");
        worst = ms > worst ? ms : worst;
        ms = timed(env, act("h-hup", "erin", HUP, "room-h"), "erin", "h-hup");
        worst = ms > worst ? ms : worst;
        /* The client's thread is now stuck on the fake. */
        wait_request("RemoveParticipant", "room-h", NULL, 0, 10000);
        ms = timed(env, cmd_invite("h2-inv", "alice", (const char *[]){"frank", NULL},
                                   "room-h2", NULL, "audio", 0), "alice", "h2-inv");
        worst = ms > worst ? ms : worst;
        ms = timed(env, act("h2-rej", "frank", OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT,
                            "room-h2"), "frank", "h2-rej");
        worst = ms > worst ? ms : worst;
        TEST_SAY("worst reply latency while the RoomService hangs: %lld ms",
                 (long long)worst);
        TEST_ASSERT(worst < 3000, "a command waited %lld ms for the RoomService",
                    (long long)worst);
        /* Answers again: what hung is retried and everything goes through. */
        set_mode("ok");
        wait_request("DeleteRoom", "room-h", NULL, 200, 30000);
        wait_request("RemoveParticipant", "room-h", "erin", 200, 30000);
        wait_request("DeleteRoom", "room-h2", NULL, 200, 30000);
        wait_request("RemoveParticipant", "room-h2", "frank", 200, 30000);

        env_stop(env);
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, NULL, 0);
        if (!getenv("CALLSIG_TEST_KEEP")) {
                char cmd[300];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_dir);
                if (system(cmd) != 0)
                        TEST_SAY("could not remove %s", fake_dir);
        }
        return test_done();
}
