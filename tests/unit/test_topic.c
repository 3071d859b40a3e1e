/*
 * test_topic.c: push topic names (contract section 2): escaping, the
 * 249-byte limit, per_user and keyed modes.
 *
 * The config is a stack cs_config_t with only the push fields set, so this
 * test does not depend on config.c.
 */
#include <string.h>

#include "common.h"
#include "test.h"
#include "topic.h"

TEST_MAIN_DEFS

static cs_config_t make_conf(cs_push_mode_t mode, const char *tmpl,
                             const char *topic) {
        cs_config_t conf;

        memset(&conf, 0, sizeof(conf));
        conf.push_mode = mode;
        conf.push_topic_template = (char *)(uintptr_t)tmpl;
        conf.push_topic = (char *)(uintptr_t)topic;
        return conf;
}

static void expect_escape(const char *user_id, const char *want) {
        char out[CS_TOPIC_MAX + 1];
        int n = cs_topic_escape_user(user_id, out, sizeof(out));

        TEST_INTEQ(n, strlen(want));
        TEST_STREQ(out, want);
}

static void test_escape(void) {
        char small[4];

        expect_escape("alice", "alice");
        expect_escape("Bob-1.x", "Bob-1.x");
        expect_escape("a_b", "a_5fb");
        expect_escape("u@example.com", "u_40example.com");
        expect_escape("a b/c", "a_20b_2fc");
        expect_escape("\x01\x7f", "_01_7f");
        /* UTF-8: every byte escaped, as unsigned, lowercase hex. */
        expect_escape("\xc3\xa9", "_c3_a9");
        expect_escape("\xe4\xb8\xad", "_e4_b8_ad");
        expect_escape("\xff", "_ff");
        expect_escape("", "");

        /* Fits exactly (3 chars + NUL), then one byte short. */
        TEST_INTEQ(cs_topic_escape_user("abc", small, sizeof(small)), 3);
        TEST_STREQ(small, "abc");
        TEST_INTEQ(cs_topic_escape_user("abcd", small, sizeof(small)), -1);
        /* An escape sequence is never cut in half. */
        TEST_INTEQ(cs_topic_escape_user("ab_", small, sizeof(small)), -1);
        TEST_INTEQ(cs_topic_escape_user("_", small, sizeof(small)), 3);
        TEST_STREQ(small, "_5f");
        TEST_INTEQ(cs_topic_escape_user(NULL, small, sizeof(small)), -1);
        TEST_INTEQ(cs_topic_escape_user("a", small, 0), -1);
}

static void test_per_user(void) {
        cs_config_t conf = make_conf(CS_PUSH_PER_USER, "push.{user}", "push");
        char out[CS_TOPIC_MAX + 1];

        TEST_ASSERT(cs_topic_for_user(&conf, "alice", out, sizeof(out)), "ok");
        TEST_STREQ(out, "push.alice");
        TEST_ASSERT(cs_topic_for_user(&conf, "a_b@c", out, sizeof(out)), "ok");
        TEST_STREQ(out, "push.a_5fb_40c");

        /* Prefix and suffix around {user}. */
        conf = make_conf(CS_PUSH_PER_USER, "tenant1.{user}.signal", "push");
        TEST_ASSERT(cs_topic_for_user(&conf, "bob", out, sizeof(out)), "ok");
        TEST_STREQ(out, "tenant1.bob.signal");
        conf = make_conf(CS_PUSH_PER_USER, "{user}", "push");
        TEST_ASSERT(cs_topic_for_user(&conf, "bob", out, sizeof(out)), "ok");
        TEST_STREQ(out, "bob");
        conf = make_conf(CS_PUSH_PER_USER, "{user}-in", "push");
        TEST_ASSERT(cs_topic_for_user(&conf, "bob", out, sizeof(out)), "ok");
        TEST_STREQ(out, "bob-in");

        /* Empty user ID, no template, template without {user}. */
        conf = make_conf(CS_PUSH_PER_USER, "push.{user}", "push");
        TEST_ASSERT(!cs_topic_for_user(&conf, "", out, sizeof(out)), "empty");
        TEST_ASSERT(!cs_topic_for_user(&conf, NULL, out, sizeof(out)), "NULL");
        conf = make_conf(CS_PUSH_PER_USER, NULL, "push");
        TEST_ASSERT(!cs_topic_for_user(&conf, "bob", out, sizeof(out)),
                    "no template");
        conf = make_conf(CS_PUSH_PER_USER, "push.all", "push");
        TEST_ASSERT(!cs_topic_for_user(&conf, "bob", out, sizeof(out)),
                    "template without {user}");
}

static void test_limit(void) {
        cs_config_t conf = make_conf(CS_PUSH_PER_USER, "push.{user}", "push");
        char out[CS_TOPIC_MAX + 1];
        char user[400];
        char small[16];

        /* "push." is 5 bytes: a 244-byte plain ID gives exactly 249. */
        memset(user, 'a', 244);
        user[244] = '\0';
        TEST_ASSERT(cs_topic_for_user(&conf, user, out, sizeof(out)),
                    "249 accepted");
        TEST_INTEQ(strlen(out), 249);
        TEST_ASSERT(!strncmp(out, "push.aaa", 8), "prefix kept");

        user[244] = 'a';
        user[245] = '\0';
        TEST_ASSERT(!cs_topic_for_user(&conf, user, out, sizeof(out)),
                    "250 rejected");

        /* 241 plain + one escaped byte = 244 escaped bytes: 249 again. */
        memset(user, 'a', 241);
        user[241] = '_';
        user[242] = '\0';
        TEST_ASSERT(cs_topic_for_user(&conf, user, out, sizeof(out)),
                    "249 with escape accepted");
        TEST_INTEQ(strlen(out), 249);
        TEST_STREQ(out + 246, "_5f");
        user[240] = '_';
        user[241] = '_';
        TEST_ASSERT(!cs_topic_for_user(&conf, user, out, sizeof(out)),
                    "251 with escapes rejected");

        /* The limit holds with a buffer larger than needed, too. */
        {
                char big[512];

                memset(user, 'a', 244);
                user[244] = '\0';
                TEST_ASSERT(cs_topic_for_user(&conf, user, big, sizeof(big)),
                            "249 accepted, big buffer");
                user[244] = 'a';
                user[245] = '\0';
                TEST_ASSERT(!cs_topic_for_user(&conf, user, big, sizeof(big)),
                            "250 rejected, big buffer");
                conf = make_conf(CS_PUSH_PER_USER, "push.x{user}", "push");
                user[244] = '\0';
                TEST_ASSERT(!cs_topic_for_user(&conf, user, big, sizeof(big)),
                            "250 rejected, big buffer, longer prefix");
                conf = make_conf(CS_PUSH_PER_USER, "push.{user}", "push");
        }

        /* An ID whose escaped form alone is far too long. */
        memset(user, '@', 300);
        user[300] = '\0';
        TEST_ASSERT(!cs_topic_for_user(&conf, user, out, sizeof(out)),
                    "900-byte escape rejected");

        /* The suffix counts too. */
        conf = make_conf(CS_PUSH_PER_USER, "p.{user}.x", "push");
        memset(user, 'b', 244);
        user[244] = '\0';
        TEST_ASSERT(cs_topic_for_user(&conf, user, out, sizeof(out)),
                    "2 + 244 + 2 = 248 accepted");
        user[244] = 'b';
        user[245] = 'b';
        user[246] = '\0';
        TEST_ASSERT(!cs_topic_for_user(&conf, user, out, sizeof(out)),
                    "2 + 246 + 2 = 250 rejected");

        /* A valid name that does not fit the caller's buffer. */
        conf = make_conf(CS_PUSH_PER_USER, "push.{user}", "push");
        TEST_ASSERT(cs_topic_for_user(&conf, "0123456789", small,
                                      sizeof(small)),
                    "15 bytes fit in 16");
        TEST_STREQ(small, "push.0123456789");
        TEST_ASSERT(!cs_topic_for_user(&conf, "0123456789a", small,
                                       sizeof(small)),
                    "16 bytes do not fit in 16");
}

static void test_keyed(void) {
        cs_config_t conf = make_conf(CS_PUSH_KEYED, "push.{user}", "push");
        char out[CS_TOPIC_MAX + 1];
        char long_topic[260];

        TEST_ASSERT(cs_topic_for_user(&conf, "alice", out, sizeof(out)), "ok");
        TEST_STREQ(out, "push");
        TEST_ASSERT(cs_topic_for_user(&conf, "a_b@c", out, sizeof(out)), "ok");
        TEST_STREQ(out, "push");
        TEST_ASSERT(!cs_topic_for_user(&conf, "", out, sizeof(out)),
                    "empty user");

        conf = make_conf(CS_PUSH_KEYED, "push.{user}", "");
        TEST_ASSERT(!cs_topic_for_user(&conf, "alice", out, sizeof(out)),
                    "empty push.topic");
        conf = make_conf(CS_PUSH_KEYED, "push.{user}", NULL);
        TEST_ASSERT(!cs_topic_for_user(&conf, "alice", out, sizeof(out)),
                    "no push.topic");

        memset(long_topic, 't', 249);
        long_topic[249] = '\0';
        conf = make_conf(CS_PUSH_KEYED, "push.{user}", long_topic);
        TEST_ASSERT(cs_topic_for_user(&conf, "alice", out, sizeof(out)),
                    "249-byte push.topic");
        TEST_INTEQ(strlen(out), 249);
        long_topic[249] = 't';
        long_topic[250] = '\0';
        TEST_ASSERT(!cs_topic_for_user(&conf, "alice", out, sizeof(out)),
                    "250-byte push.topic");
        {
                char big[512];

                TEST_ASSERT(!cs_topic_for_user(&conf, "alice", big,
                                               sizeof(big)),
                            "250-byte push.topic, big buffer");
        }
}

int main(void) {
        test_escape();
        test_per_user();
        test_limit();
        test_keyed();
        return test_done();
}
