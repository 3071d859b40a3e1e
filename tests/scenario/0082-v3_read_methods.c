/*
 * 0082: the read methods of the v3 RtcService (contract section 12):
 * getSignalInvitationInfo, getRooms, getSignalInvitationInfoStartApp
 * (answered, expired and pending invitations), getSignalInvitationRecords
 * (paging, filters, total, strangers) and deleteSignalRecords (hides for
 * the sender only, keeps the record, skips live calls).
 */
#include "v3cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

TEST_MAIN_DEFS

#define RTC(c) CALLSIG__V1__RTC_RESPONSE__PAYLOAD_##c

static char *S_(const char *s) { return (char *)(uintptr_t)s; }

static void start_app(env_t *env, const char *op, const char *user) {
        Callsig__V1__RtcRequest rtc;
        Openim__Rtc__GetSignalInvitationInfoStartAppReq q;
        callsig__v1__rtc_request__init(&rtc);
        openim__rtc__get_signal_invitation_info_start_app_req__init(&q);
        q.userid = S_("somebody-else"); /* ignored: always the sender */
        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_SIGNAL_INVITATION_INFO_START_APP;
        rtc.getsignalinvitationinfostartapp = &q;
        v3_send(env, op, user, &rtc, user);
}

static void info(env_t *env, const char *op, const char *user, const char *room) {
        Callsig__V1__RtcRequest rtc;
        Openim__Rtc__GetSignalInvitationInfoReq q;
        callsig__v1__rtc_request__init(&rtc);
        openim__rtc__get_signal_invitation_info_req__init(&q);
        q.roomid = S_(room);
        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_SIGNAL_INVITATION_INFO;
        rtc.getsignalinvitationinfo = &q;
        v3_send(env, op, user, &rtc, room);
}

static void rooms(env_t *env, const char *op, const char *user,
                  char **ids, size_t n) {
        Callsig__V1__RtcRequest rtc;
        Openim__Rtc__SignalGetRoomsReq q;
        callsig__v1__rtc_request__init(&rtc);
        openim__rtc__signal_get_rooms_req__init(&q);
        q.roomids = ids;
        q.n_roomids = n;
        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_ROOMS;
        rtc.getrooms = &q;
        v3_send(env, op, user, &rtc, user);
}

static void records(env_t *env, const char *op, const char *user, int page,
                    int show, const char *send, const char *recv) {
        Callsig__V1__RtcRequest rtc;
        Openim__Rtc__GetSignalInvitationRecordsReq q;
        Openim__Sdkws__RequestPagination pg;
        callsig__v1__rtc_request__init(&rtc);
        openim__rtc__get_signal_invitation_records_req__init(&q);
        openim__sdkws__request_pagination__init(&pg);
        pg.pagenumber = page;
        pg.shownumber = show;
        q.pagination = &pg;
        q.sendid = S_(send ? send : "");
        q.recvid = S_(recv ? recv : "");
        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_SIGNAL_INVITATION_RECORDS;
        rtc.getsignalinvitationrecords = &q;
        v3_send(env, op, user, &rtc, user);
}

static void hide(env_t *env, const char *op, const char *user, char **ids,
                 size_t n) {
        Callsig__V1__RtcRequest rtc;
        Openim__Rtc__DeleteSignalRecordsReq q;
        callsig__v1__rtc_request__init(&rtc);
        openim__rtc__delete_signal_records_req__init(&q);
        q.sids = ids;
        q.n_sids = n;
        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_DELETE_SIGNAL_RECORDS;
        rtc.deletesignalrecords = &q;
        v3_send(env, op, user, &rtc, user);
}

/* An invite; @returns its roomID (static storage of @p buf). */
static char *call(env_t *env, const char *op, const char *from, const char *to,
                  int32_t timeout, char *buf) {
        v3_invite_timeout(env, op, from, (const char *[]){to, NULL}, "", NULL,
                          "Nick", timeout);
        Callsig__V1__SignalReply *r = v3_expect(env, from, op, 0, RTC(SIGNAL));
        snprintf(buf, 64, "%s", r->rtc->signal->invite->roomid);
        return buf;
}

int main(void) {
        env_opts_t opts = {.extra_yaml = "openim:\n  protocol: v3\n"};
        env_t *env = env_start("v3read", &opts);
        const char *users[] = {"alice", "bob", "eve", "dan", "carol", "frank"};
        for (size_t i = 0; i < 6; i++)
                env_watch(env, users[i]);
        char a[64], b[64], c[64], d[64];
        Callsig__V1__SignalReply *r;

        /* alice calls bob: bob's phone opens from the push */
        call(env, "a-inv", "alice", "bob", 0, a);
        start_app(env, "sa-1", "bob");
        r = v3_expect(env, "bob", "sa-1", 0, RTC(GET_SIGNAL_INVITATION_INFO_START_APP));
        {
                Openim__Rtc__GetSignalInvitationInfoStartAppResp *sa =
                        r->rtc->getsignalinvitationinfostartapp;
                TEST_ASSERT(sa->invitation, "invitation");
                TEST_STREQ(sa->invitation->roomid, a);
                TEST_STREQ(sa->invitation->inviteruserid, "alice");
                TEST_ASSERT(sa->invitation->initiatetime > 1000000000000LL, "ms");
                TEST_ASSERT(sa->offlinepushinfo, "offlinePushInfo");
                TEST_STREQ(sa->offlinepushinfo->title, "Incoming call");
        }
        /* the inviter has no pending invitation; neither has a stranger */
        start_app(env, "sa-2", "alice");
        r = v3_expect(env, "alice", "sa-2", 0, RTC(GET_SIGNAL_INVITATION_INFO_START_APP));
        TEST_ASSERT(!r->rtc->getsignalinvitationinfostartapp->invitation &&
                            !r->rtc->getsignalinvitationinfostartapp->offlinepushinfo,
                    "both unset");

        /* invitation info: participants yes, strangers no */
        info(env, "in-1", "bob", a);
        r = v3_expect(env, "bob", "in-1", 0, RTC(GET_SIGNAL_INVITATION_INFO));
        TEST_STREQ(r->rtc->getsignalinvitationinfo->invitationinfo->roomid, a);
        TEST_STREQ(r->rtc->getsignalinvitationinfo->offlinepushinfo->signalinfo, "sig");
        info(env, "in-2", "eve", a);
        v3_expect(env, "eve", "in-2", 1002, RTC(GET_SIGNAL_INVITATION_INFO));
        info(env, "in-3", "eve", "no-such-room");
        v3_expect(env, "eve", "in-3", 1003, RTC(GET_SIGNAL_INVITATION_INFO));

        /* getRooms: each asked room once, only those the sender is in */
        {
                char *ids[] = {a, S_("no-such-room"), a};
                rooms(env, "gr-1", "alice", ids, 3);
                r = v3_expect(env, "alice", "gr-1", 0, RTC(GET_ROOMS));
                TEST_INTEQ(r->rtc->getrooms->n_roomlist, 1);
                TEST_STREQ(r->rtc->getrooms->roomlist[0]->roomid, a);
                TEST_INTEQ(r->rtc->getrooms->roomlist[0]->n_participant, 2);
                rooms(env, "gr-2", "eve", ids, 3);
                r = v3_expect(env, "eve", "gr-2", 0, RTC(GET_ROOMS));
                TEST_INTEQ(r->rtc->getrooms->n_roomlist, 0);
                char *many[101];
                for (int i = 0; i < 101; i++)
                        many[i] = a;
                rooms(env, "gr-3", "alice", many, 101);
                v3_expect(env, "alice", "gr-3", 1001, RTC(GET_ROOMS));
        }

        /* answered: no longer pending */
        v3_action(env, "a-acc", "bob", OPENIM__RTC__SIGNAL_REQ__PAYLOAD_ACCEPT, a);
        v3_expect(env, "bob", "a-acc", 0, RTC(SIGNAL));
        start_app(env, "sa-3", "bob");
        r = v3_expect(env, "bob", "sa-3", 0, RTC(GET_SIGNAL_INVITATION_INFO_START_APP));
        TEST_ASSERT(!r->rtc->getsignalinvitationinfostartapp->invitation,
                    "an answered invitation is not pending");

        /* dan: one invitation that expired, then one ringing */
        call(env, "b-inv", "carol", "dan", 1, b);
        bson_destroy(env_wait_call(env, b, "ended", "timeout"));
        start_app(env, "sa-4", "dan");
        r = v3_expect(env, "dan", "sa-4", 0, RTC(GET_SIGNAL_INVITATION_INFO_START_APP));
        TEST_ASSERT(!r->rtc->getsignalinvitationinfostartapp->invitation,
                    "an expired invitation is not pending");
        call(env, "c-inv", "frank", "dan", 0, c);
        start_app(env, "sa-5", "dan");
        r = v3_expect(env, "dan", "sa-5", 0, RTC(GET_SIGNAL_INVITATION_INFO_START_APP));
        TEST_STREQ(r->rtc->getsignalinvitationinfostartapp->invitation->roomid, c);

        /* history: alice has a (live), and three cancelled calls */
        v3_action(env, "a-bye", "alice", OPENIM__RTC__SIGNAL_REQ__PAYLOAD_HUNG_UP, a);
        v3_expect(env, "alice", "a-bye", 0, RTC(SIGNAL));
        char rooms_made[3][64];
        for (int i = 0; i < 3; i++) {
                char op[32];
                snprintf(op, sizeof(op), "h-inv-%d", i);
                call(env, op, "alice", i == 2 ? "carol" : "bob", 0, rooms_made[i]);
                snprintf(op, sizeof(op), "h-can-%d", i);
                v3_action(env, op, "alice", OPENIM__RTC__SIGNAL_REQ__PAYLOAD_CANCEL,
                          rooms_made[i]);
                v3_expect(env, "alice", op, 0, RTC(SIGNAL));
                bson_destroy(env_wait_call(env, rooms_made[i], "ended", "cancelled"));
        }
        records(env, "rec-1", "alice", 1, 2, NULL, NULL);
        r = v3_expect(env, "alice", "rec-1", 0, RTC(GET_SIGNAL_INVITATION_RECORDS));
        Openim__Rtc__GetSignalInvitationRecordsResp *rr = r->rtc->getsignalinvitationrecords;
        TEST_INTEQ(rr->total, 4);
        TEST_INTEQ(rr->n_signalrecords, 2);
        TEST_STREQ(rr->signalrecords[0]->roomid, rooms_made[2]);
        TEST_STREQ(rr->signalrecords[0]->sid, rooms_made[2]);
        TEST_STREQ(rr->signalrecords[1]->roomid, rooms_made[1]);
        TEST_STREQ(rr->signalrecords[0]->inviteruserid, "alice");
        TEST_STREQ(rr->signalrecords[0]->inviterusernickname, "Nick");
        TEST_STREQ(rr->signalrecords[0]->mediatype, "video");
        TEST_INTEQ(rr->signalrecords[0]->sessiontype, 1);
        TEST_ASSERT(rr->signalrecords[0]->endtime >= rr->signalrecords[0]->createtime &&
                            rr->signalrecords[0]->createtime > 1000000000000LL,
                    "times in ms");
        TEST_INTEQ(rr->signalrecords[0]->n_inviterusers, 2);
        TEST_INTEQ(rr->signalrecords[0]->inviterusers[1]->status, 5); /* cancelled */
        records(env, "rec-2", "alice", 2, 2, NULL, NULL);
        r = v3_expect(env, "alice", "rec-2", 0, RTC(GET_SIGNAL_INVITATION_RECORDS));
        rr = r->rtc->getsignalinvitationrecords;
        TEST_INTEQ(rr->total, 4);
        TEST_INTEQ(rr->n_signalrecords, 2);
        TEST_STREQ(rr->signalrecords[0]->roomid, rooms_made[0]);
        TEST_STREQ(rr->signalrecords[1]->roomid, a);
        TEST_INTEQ(rr->signalrecords[1]->inviterusers[1]->status, 6); /* bob left */
        /* filter: calls where carol was invited */
        records(env, "rec-3", "alice", 1, 0, "alice", "carol");
        r = v3_expect(env, "alice", "rec-3", 0, RTC(GET_SIGNAL_INVITATION_RECORDS));
        TEST_INTEQ(r->rtc->getsignalinvitationrecords->total, 1);
        /* a stranger sees nothing of it, even naming alice */
        records(env, "rec-4", "eve", 1, 20, "alice", NULL);
        r = v3_expect(env, "eve", "rec-4", 0, RTC(GET_SIGNAL_INVITATION_RECORDS));
        TEST_INTEQ(r->rtc->getsignalinvitationrecords->total, 0);
        TEST_INTEQ(r->rtc->getsignalinvitationrecords->n_signalrecords, 0);
        /* limits */
        records(env, "rec-5", "alice", 1, 101, NULL, NULL);
        v3_expect(env, "alice", "rec-5", 1001, RTC(GET_SIGNAL_INVITATION_RECORDS));
        records(env, "rec-6", "alice", 11, 100, NULL, NULL);
        v3_expect(env, "alice", "rec-6", 1001, RTC(GET_SIGNAL_INVITATION_RECORDS));

        /* bob hides two calls and dan's live one (skipped); alice keeps them */
        {
                char *ids[] = {rooms_made[0], a, c, S_("no-such-room")};
                hide(env, "del-1", "bob", ids, 4);
                v3_expect(env, "bob", "del-1", 0, RTC(DELETE_SIGNAL_RECORDS));
                char *live[] = {c};
                hide(env, "del-2", "dan", live, 1);
                v3_expect(env, "dan", "del-2", 0, RTC(DELETE_SIGNAL_RECORDS));
        }
        records(env, "rec-7", "bob", 1, 20, NULL, NULL);
        r = v3_expect(env, "bob", "rec-7", 0, RTC(GET_SIGNAL_INVITATION_RECORDS));
        rr = r->rtc->getsignalinvitationrecords;
        TEST_INTEQ(rr->total, 1);
        TEST_STREQ(rr->signalrecords[0]->roomid, rooms_made[1]);
        records(env, "rec-8", "alice", 1, 20, NULL, NULL);
        r = v3_expect(env, "alice", "rec-8", 0, RTC(GET_SIGNAL_INVITATION_RECORDS));
        TEST_INTEQ(r->rtc->getsignalinvitationrecords->total, 4);
        records(env, "rec-9", "dan", 1, 20, NULL, NULL);
        r = v3_expect(env, "dan", "rec-9", 0, RTC(GET_SIGNAL_INVITATION_RECORDS));
        TEST_INTEQ(r->rtc->getsignalinvitationrecords->total, 2);
        /* the records stay, with the hiders listed */
        bson_t *doc = env_call_doc(env, a);
        TEST_ASSERT(doc, "record kept");
        TEST_STREQ(doc_str(doc, "hiddenFor.0"), "bob");
        bson_destroy(doc);
        doc = env_call_doc(env, c);
        TEST_ASSERT(!doc_has(doc, "hiddenFor"), "live call not hidden");
        bson_destroy(doc);
        (void)d;

        /* the operators' CLI shows which calls bob hid */
        {
                char cmdline[1200];
                snprintf(cmdline, sizeof(cmdline),
                         "'%s' history --user bob --json --config '%s/callsig.yaml'",
                         getenv("CALLSIG_TEST_BIN"), env_dir(env));
                FILE *fp = popen(cmdline, "r");
                TEST_ASSERT(fp, "popen");
                json_error_t jerr;
                json_t *out = json_loadf(fp, 0, &jerr);
                TEST_ASSERT(pclose(fp) == 0 && out, "%s: %s", cmdline, jerr.text);
                json_t *calls = json_object_get(out, "calls"), *row;
                size_t i, hidden = 0, shown = 0;
                json_array_foreach(calls, i, row) {
                        const char *room = json_string_value(json_object_get(row, "roomID"));
                        bool hid = json_is_true(json_object_get(row, "hiddenByUser"));
                        TEST_ASSERT(hid == (!strcmp(room, a) || !strcmp(room, rooms_made[0])),
                                    "%s hidden %d", room, hid);
                        hidden += hid;
                        shown++;
                }
                TEST_INTEQ(hidden, 2);
                TEST_INTEQ(shown, 3);
                json_decref(out);
        }

        env_stop(env);
        return test_done();
}
