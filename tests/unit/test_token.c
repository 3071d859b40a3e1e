/*
 * test_token.c: unit tests for the token module (contract section 6).
 *
 * Mint/verify round trips, the exact claims on the wire, escaping and UTF-8
 * handling, every rejection cs_token_verify() must make, and interop with
 * the official LiveKit server SDK (tests/js/lk-verify.mjs under node): our
 * tokens must verify there, and SDK-minted tokens must verify here.
 *
 * The SDK part needs tests/js/node_modules (npm ci --prefix tests/js) and
 * the repo path in CALLSIG_TEST_SOURCE_DIR (set by ctest) or
 * CALLSIG_SOURCE_DIR; without them the test fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <jwt.h>

#include "test.h"
#include "token.h"

TEST_MAIN_DEFS

#define KEY "devkey"
#define SECRET "test-secret-0123456789-abcdefghijklmnop"
#define NOW ((int64_t)1795270000)
#define LEEWAY ((int64_t)60)

static char errstr[512];


/* ---- helpers ---------------------------------------------------------- */

/* @returns the base64url-decoded bytes of s[0..n) (NUL-terminated, malloc). */
static char *b64url_decode(const char *s, size_t n) {
        static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "abcdefghijklmnopqrstuvwxyz0123456789-_";
        char *out = malloc(n + 1);
        unsigned acc = 0;
        int bits = 0;
        size_t i, o = 0;

        if (!out)
                TEST_FAIL("malloc");
        for (i = 0; i < n; i++) {
                const char *c = strchr(alpha, s[i]);

                if (!c || !s[i])
                        TEST_FAIL("bad base64url char 0x%02x",
                                  (unsigned char)s[i]);
                acc = (acc << 6) | (unsigned)(c - alpha);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (char)((acc >> bits) & 0xff);
                }
        }
        out[o] = '\0';
        return out;
}

/* @returns part @p idx (0 header, 1 payload) of @p token, decoded. */
static char *token_part(const char *token, int idx) {
        const char *p = token, *dot;

        while (idx-- > 0) {
                p = strchr(p, '.');
                TEST_ASSERT(p != NULL, "token has too few parts");
                p++;
        }
        dot = strchr(p, '.');
        TEST_ASSERT(dot != NULL, "token has too few parts");
        return b64url_decode(p, (size_t)(dot - p));
}

/* Signs @p grants_json (an object of claims) with libjwt directly. */
static char *raw_token(jwt_alg_t alg, const char *secret,
                       const char *grants_json) {
        jwt_t *jwt = NULL;
        char *tok;

        TEST_ASSERT(jwt_new(&jwt) == 0, "jwt_new");
        if (alg == JWT_ALG_NONE)
                TEST_ASSERT(jwt_set_alg(jwt, alg, NULL, 0) == 0, "set alg");
        else
                TEST_ASSERT(jwt_set_alg(jwt, alg,
                                        (const unsigned char *)secret,
                                        (int)strlen(secret)) == 0,
                            "set alg");
        TEST_ASSERT(jwt_add_grants_json(jwt, grants_json) == 0,
                    "grants json: %s", grants_json);
        tok = jwt_encode_str(jwt);
        TEST_ASSERT(tok != NULL, "jwt_encode_str");
        jwt_free(jwt);
        return tok;
}

/* Mints with the test key and secret at NOW for 60 s. */
static char *mint(const char *user, const char *room, const char *name,
                  const char *meta) {
        cs_token_claims_t claims = {user, room, name, meta};
        char *tok = cs_token_mint(KEY, SECRET, 60, NOW, &claims, errstr,
                                  sizeof(errstr));

        TEST_ASSERT(tok != NULL, "mint: %s", errstr);
        return tok;
}

/* Asserts that verify fails and its reason contains @p why. */
static void expect_reject(const char *key, const char *secret,
                          const char *tok, int64_t now, const char *why) {
        cs_token_info_t info = {0};
        int r;

        errstr[0] = '\0';
        r = cs_token_verify(key, secret, tok, now, LEEWAY, &info, errstr,
                            sizeof(errstr));
        TEST_ASSERT(r == -1, "expected rejection (%s)", why);
        TEST_ASSERT(strstr(errstr, why) != NULL,
                    "reason \"%s\" lacks \"%s\"", errstr, why);
        TEST_ASSERT(info.user_id == NULL && info.room_id == NULL,
                    "info written on failure");
}

/* Verifies a raw claims document at NOW with the test key and secret. */
static void expect_raw_reject(const char *grants_json, const char *why) {
        char *tok = raw_token(JWT_ALG_HS256, SECRET, grants_json);

        expect_reject(KEY, SECRET, tok, NOW, why);
        free(tok);
}

static void expect_mint_fail(const char *key, const char *secret,
                             int64_t ttl, int64_t now,
                             const cs_token_claims_t *claims,
                             const char *why) {
        char *tok;

        errstr[0] = '\0';
        tok = cs_token_mint(key, secret, ttl, now, claims, errstr,
                            sizeof(errstr));
        TEST_ASSERT(tok == NULL, "mint should fail (%s)", why);
        TEST_ASSERT(strstr(errstr, why) != NULL,
                    "reason \"%s\" lacks \"%s\"", errstr, why);
}

/* Mints with @p meta etc., verifies, and checks every field comes back. */
static void round_trip(const char *user, const char *room, const char *name,
                       const char *meta) {
        cs_token_info_t info = {0};
        char *tok = mint(user, room, name, meta);

        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW, LEEWAY, &info,
                                    errstr, sizeof(errstr)) == 0,
                    "verify: %s", errstr);
        TEST_STREQ(info.user_id, user);
        TEST_STREQ(info.room_id, room);
        if (name && *name)
                TEST_STREQ(info.name, name);
        else
                TEST_ASSERT(info.name == NULL, "name should be absent");
        if (meta && *meta)
                TEST_STREQ(info.metadata, meta);
        else
                TEST_ASSERT(info.metadata == NULL, "metadata absent");
        TEST_INTEQ(info.room_join, 1);
        TEST_INTEQ(info.nbf, NOW);
        TEST_INTEQ(info.exp, NOW + 60);
        cs_token_info_clear(&info);
        TEST_ASSERT(info.user_id == NULL && info.exp == 0, "clear zeroes");
        free(tok);
}

/*
 * Appends @p s to @p out the way JavaScript's JSON.stringify() writes a
 * string, to predict what lk-verify prints.
 */
static void js_stringify(char *out, size_t size, const char *s) {
        size_t o = strlen(out);
        const unsigned char *p;

#define PUT(c)                                                               \
        do {                                                                 \
                if (o + 1 >= size)                                           \
                        TEST_FAIL("js_stringify overflow");                  \
                out[o++] = (char)(c);                                        \
        } while (0)
        PUT('"');
        for (p = (const unsigned char *)s; *p; p++) {
                const char *esc = NULL;
                char hex[8];

                switch (*p) {
                case '"': esc = "\\\""; break;
                case '\\': esc = "\\\\"; break;
                case '\b': esc = "\\b"; break;
                case '\f': esc = "\\f"; break;
                case '\n': esc = "\\n"; break;
                case '\r': esc = "\\r"; break;
                case '\t': esc = "\\t"; break;
                default:
                        if (*p < 0x20) {
                                snprintf(hex, sizeof(hex), "\\u%04x", *p);
                                esc = hex;
                        }
                }
                if (!esc) {
                        PUT(*p);
                        continue;
                }
                for (; *esc; esc++)
                        PUT(*esc);
        }
        PUT('"');
        out[o] = '\0';
#undef PUT
}

/* Quotes @p s for /bin/sh into @p out. */
static void sh_quote(char *out, size_t size, const char *s) {
        size_t o = strlen(out);

        if (o + 1 >= size)
                TEST_FAIL("sh_quote overflow");
        out[o++] = '\'';
        for (; *s; s++) {
                if (*s == '\'') {
                        if (o + 4 >= size)
                                TEST_FAIL("sh_quote overflow");
                        memcpy(out + o, "'\\''", 4);
                        o += 4;
                        continue;
                }
                if (o + 1 >= size)
                        TEST_FAIL("sh_quote overflow");
                out[o++] = *s;
        }
        if (o + 2 >= size)
                TEST_FAIL("sh_quote overflow");
        out[o++] = '\'';
        out[o] = '\0';
}

/* Runs @p cmd with popen; stores its stdout (malloc) in *outp.
 * @returns the exit status (-1 if it did not exit normally). */
static int run(const char *cmd, char **outp) {
        size_t len = 0, size = 4096;
        char *out = malloc(size);
        FILE *fp;
        size_t n;
        int st;

        TEST_ASSERT(out != NULL, "malloc");
        fflush(NULL);
        fp = popen(cmd, "r");
        TEST_ASSERT(fp != NULL, "popen: %s", strerror(errno));
        while ((n = fread(out + len, 1, size - len - 1, fp)) > 0) {
                len += n;
                if (size - len < 2) {
                        size *= 2;
                        out = realloc(out, size);
                        TEST_ASSERT(out != NULL, "realloc");
                }
        }
        out[len] = '\0';
        st = pclose(fp);
        *outp = out;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char js_dir[1024];
static char lk_verify[1100];

/* Fails unless node and the pinned SDK are installed. */
static void need_sdk(void) {
        const char *src = getenv("CALLSIG_TEST_SOURCE_DIR");
        char path[1200], buf[4096];
        FILE *fp;
        size_t n;

        if (!src || !*src)
                src = getenv("CALLSIG_SOURCE_DIR");
        if (!src || !*src)
                TEST_FAIL("CALLSIG_TEST_SOURCE_DIR is not set (ctest sets "
                          "it; or run with CALLSIG_SOURCE_DIR=<repo>)");
        snprintf(js_dir, sizeof(js_dir), "%s/tests/js", src);
        snprintf(lk_verify, sizeof(lk_verify), "%s/lk-verify.mjs", js_dir);
        snprintf(path, sizeof(path),
                 "%s/node_modules/livekit-server-sdk/package.json", js_dir);
        fp = fopen(path, "r");
        if (!fp)
                TEST_FAIL("tests/js/node_modules is missing: "
                          "run: npm ci --prefix tests/js");
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
        TEST_ASSERT(strstr(buf, "\"version\": \"2.19.2\"") != NULL,
                    "livekit-server-sdk is not 2.19.2: "
                    "run: npm ci --prefix tests/js");
}

/* Runs lk-verify.mjs on one token; output in *outp (stdout, plus stderr
 * when @p with_stderr). */
static int lk_verify_one(const char *opt, const char *tok, const char *key,
                         const char *secret, bool with_stderr,
                         char **outp) {
        char cmd[8192] = "node ";
        size_t len;

        sh_quote(cmd, sizeof(cmd), lk_verify);
        if (opt) {
                len = strlen(cmd);
                snprintf(cmd + len, sizeof(cmd) - len, " %s", opt);
        }
        strcat(cmd, " ");
        sh_quote(cmd, sizeof(cmd), tok);
        strcat(cmd, " ");
        sh_quote(cmd, sizeof(cmd), key);
        strcat(cmd, " ");
        sh_quote(cmd, sizeof(cmd), secret);
        strcat(cmd, with_stderr ? " 2>&1" : "");
        return run(cmd, outp);
}

static void assert_contains(const char *hay, const char *needle) {
        TEST_ASSERT(strstr(hay, needle) != NULL, "output lacks %s; got: %s",
                    needle, hay);
}


/* ---- tests ------------------------------------------------------------ */

static void test_exact_claims(void) {
        char *tok, *head, *body;
        jwt_t *jwt = NULL;
        char *json;

        TEST_SAY("exact claims on the wire");
        tok = mint("u1", "r1", NULL, NULL);
        head = token_part(tok, 0);
        body = token_part(tok, 1);
        TEST_STREQ(head, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
        /* libjwt writes sorted, compact JSON: the whole payload is known. */
        TEST_STREQ(body, "{\"exp\":1795270060,\"iss\":\"devkey\","
                         "\"nbf\":1795270000,\"sub\":\"u1\","
                         "\"video\":{\"canPublish\":true,"
                         "\"canPublishData\":true,\"canSubscribe\":true,"
                         "\"room\":\"r1\",\"roomJoin\":true}}");
        free(head);
        free(body);

        /* Strings that need escaping or are not ASCII (jansson encodes
         * them) beside plain ones (copied): the same sorted, compact text. */
        char *tok2 = mint("u1", "r/1", "A \"B\" \xc3\xa9", "{\"k\":\"v\\n\"}\x01");
        body = token_part(tok2, 1);
        TEST_STREQ(body, "{\"exp\":1795270060,\"iss\":\"devkey\","
                         "\"metadata\":\"{\\\"k\\\":\\\"v\\\\n\\\"}\\u0001\","
                         "\"name\":\"A \\\"B\\\" \xc3\xa9\","
                         "\"nbf\":1795270000,\"sub\":\"u1\","
                         "\"video\":{\"canPublish\":true,"
                         "\"canPublishData\":true,\"canSubscribe\":true,"
                         "\"room\":\"r/1\",\"roomJoin\":true}}");
        free(body);
        free(tok2);

        /* And through libjwt's typed getters. */
        TEST_ASSERT(jwt_decode(&jwt, tok, (const unsigned char *)SECRET,
                               (int)strlen(SECRET)) == 0,
                    "jwt_decode");
        TEST_INTEQ(jwt_get_alg(jwt), JWT_ALG_HS256);
        TEST_INTEQ(jwt_get_grant_int(jwt, "nbf"), NOW);
        TEST_INTEQ(jwt_get_grant_int(jwt, "exp"), NOW + 60);
        json = jwt_get_grants_json(jwt, "exp");
        TEST_STREQ(json, "1795270060"); /* a number, not "1795270060" */
        free(json);
        TEST_STREQ(jwt_get_grant(jwt, "iss"), KEY);
        TEST_STREQ(jwt_get_grant(jwt, "sub"), "u1");
        TEST_ASSERT(jwt_get_grant(jwt, "name") == NULL, "no name");
        TEST_ASSERT(jwt_get_grant(jwt, "metadata") == NULL, "no metadata");
        json = jwt_get_grants_json(jwt, "video");
        TEST_STREQ(json, "{\"canPublish\":true,\"canPublishData\":true,"
                         "\"canSubscribe\":true,\"room\":\"r1\","
                         "\"roomJoin\":true}");
        free(json);
        jwt_free(jwt);
        free(tok);

        /* name and metadata are JSON strings, even when metadata is JSON. */
        tok = mint("u1", "r1", "Alice", "{\"a\":1}");
        body = token_part(tok, 1);
        TEST_STREQ(body, "{\"exp\":1795270060,\"iss\":\"devkey\","
                         "\"metadata\":\"{\\\"a\\\":1}\",\"name\":\"Alice\","
                         "\"nbf\":1795270000,\"sub\":\"u1\","
                         "\"video\":{\"canPublish\":true,"
                         "\"canPublishData\":true,\"canSubscribe\":true,"
                         "\"room\":\"r1\",\"roomJoin\":true}}");
        free(body);
        free(tok);

        /* Empty name and metadata are left out. */
        tok = mint("u1", "r1", "", "");
        body = token_part(tok, 1);
        TEST_ASSERT(!strstr(body, "name") && !strstr(body, "metadata"),
                    "empty optional claims must be omitted: %s", body);
        free(body);
        free(tok);
}

static void test_round_trips(void) {
        static const char meta[] =
                "{\"k\":\"v \\\"q\\\" \\\\ back\"}\nline2\r\n\ttab "
                "\x01\x02\x1f\x7f ctl / slash Zo\xc3\xab \xf0\x9f\x98\x80 "
                "\xe4\xb8\xad\xe6\x96\x87 \xef\xbf\xbf \xf4\x8f\xbf\xbf "
                "\xe0\xa0\x80 \\u0041 end";
        char *tok;
        jwt_t *jwt = NULL;

        TEST_SAY("round trips");
        round_trip("u1", "r1", NULL, NULL);
        round_trip("u1", "r1", "Alice", NULL);
        round_trip("u1", "r1", NULL, meta);
        round_trip("user \"one\" \\ \xc3\xa9\t\x01", "room \"1\" \\ \n\x1f/",
                   "N\xc3\xa4me \"q\" \\", meta);

        /* libjwt itself reads the same metadata back. */
        tok = mint("u1", "r1", NULL, meta);
        TEST_ASSERT(jwt_decode(&jwt, tok, (const unsigned char *)SECRET,
                               (int)strlen(SECRET)) == 0,
                    "jwt_decode");
        TEST_STREQ(jwt_get_grant(jwt, "metadata"), meta);
        jwt_free(jwt);
        free(tok);

        /* info may be NULL. */
        tok = mint("u1", "r1", NULL, NULL);
        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW, 0, NULL, errstr,
                                    sizeof(errstr)) == 0,
                    "verify: %s", errstr);
        free(tok);
}

static void test_limits(void) {
        char id[CS_TOKEN_ID_MAX + 2];
        char *meta = malloc(CS_TOKEN_METADATA_MAX + 2);
        cs_token_claims_t claims = {"u1", "r1", NULL, NULL};
        cs_token_info_t info = {0};
        char *tok;

        TEST_SAY("size limits");
        TEST_ASSERT(meta != NULL, "malloc");
        memset(id, 'i', CS_TOKEN_ID_MAX);
        id[CS_TOKEN_ID_MAX] = '\0';
        /* Worst-case escaping: every byte a control character. */
        memset(meta, 0x01, CS_TOKEN_METADATA_MAX);
        meta[CS_TOKEN_METADATA_MAX] = '\0';
        tok = mint(id, id, id, meta);
        TEST_ASSERT(strlen(tok) <= CS_TOKEN_MAX, "token %zu > CS_TOKEN_MAX",
                    strlen(tok));
        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW, LEEWAY, &info,
                                    errstr, sizeof(errstr)) == 0,
                    "verify at limits: %s", errstr);
        TEST_STREQ(info.metadata, meta);
        TEST_STREQ(info.room_id, id);
        cs_token_info_clear(&info);
        free(tok);

        id[CS_TOKEN_ID_MAX] = 'i';
        id[CS_TOKEN_ID_MAX + 1] = '\0';
        claims.user_id = id;
        expect_mint_fail(KEY, SECRET, 60, NOW, &claims, "too long");
        claims.user_id = "u1";
        claims.room_id = id;
        expect_mint_fail(KEY, SECRET, 60, NOW, &claims, "too long");
        claims.room_id = "r1";
        claims.name = id;
        expect_mint_fail(KEY, SECRET, 60, NOW, &claims, "too long");
        claims.name = NULL;
        meta[CS_TOKEN_METADATA_MAX] = 'x';
        meta[CS_TOKEN_METADATA_MAX + 1] = '\0';
        claims.metadata = meta;
        expect_mint_fail(KEY, SECRET, 60, NOW, &claims, "too long");
        free(meta);
}

static void test_mint_errors(void) {
        static const char *bad_utf8[] = {
                "a\xc0\xaf",         /* overlong '/' */
                "a\xed\xa0\x80",     /* surrogate U+D800 */
                "a\xf4\x90\x80\x80", /* above U+10FFFF */
                "a\xe2\x82",         /* truncated */
                "a\x80",             /* lone continuation byte */
                "a\xff",             /* never valid */
        };
        cs_token_claims_t claims = {"u1", "r1", NULL, NULL};
        cs_token_claims_t c;
        size_t i;

        TEST_SAY("mint errors");
        expect_mint_fail(NULL, SECRET, 60, NOW, &claims, "must not be empty");
        expect_mint_fail("", SECRET, 60, NOW, &claims, "must not be empty");
        expect_mint_fail(KEY, NULL, 60, NOW, &claims, "must not be empty");
        expect_mint_fail(KEY, "", 60, NOW, &claims, "must not be empty");
        expect_mint_fail(KEY, SECRET, 60, NOW, NULL, "must not be empty");
        c = claims;
        c.user_id = "";
        expect_mint_fail(KEY, SECRET, 60, NOW, &c, "must not be empty");
        c = claims;
        c.room_id = NULL;
        expect_mint_fail(KEY, SECRET, 60, NOW, &c, "must not be empty");
        expect_mint_fail(KEY, SECRET, 0, NOW, &claims, "invalid time");
        expect_mint_fail(KEY, SECRET, -5, NOW, &claims, "invalid time");
        expect_mint_fail(KEY, SECRET, 60, -1, &claims, "invalid time");
        expect_mint_fail(KEY, SECRET, INT64_MAX, NOW, &claims,
                         "invalid time");

        for (i = 0; i < CS_ARRAY_SIZE(bad_utf8); i++) {
                c = claims;
                c.user_id = bad_utf8[i];
                expect_mint_fail(KEY, SECRET, 60, NOW, &c,
                                 "user ID is not valid UTF-8");
                c = claims;
                c.room_id = bad_utf8[i];
                expect_mint_fail(KEY, SECRET, 60, NOW, &c,
                                 "room ID is not valid UTF-8");
                c = claims;
                c.name = bad_utf8[i];
                expect_mint_fail(KEY, SECRET, 60, NOW, &c,
                                 "name is not valid UTF-8");
                c = claims;
                c.metadata = bad_utf8[i];
                expect_mint_fail(KEY, SECRET, 60, NOW, &c,
                                 "metadata is not valid UTF-8");
        }
}

static void test_verify_rejects_all(void) {
        char *tok, *t2;
        char grants[1024];
        char *big;
        size_t len;
        cs_token_info_t info = {0};

        TEST_SAY("verify rejections");
        tok = mint("u1", "r1", NULL, NULL);
        expect_reject(KEY, "wrong-secret-0123456789-abcdefghijklmn", tok,
                      NOW, "bad signature");
        expect_reject(KEY, SECRET "x", tok, NOW, "bad signature");
        expect_reject("otherkey", SECRET, tok, NOW, "iss");
        expect_reject(KEY, "", tok, NOW, "must not be empty");
        expect_reject("", SECRET, tok, NOW, "must not be empty");
        expect_reject(KEY, SECRET, tok, -1, "invalid time");

        /* Expiry: exp = NOW + 60; accepted up to exp + leeway. */
        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW + 60 + LEEWAY,
                                    LEEWAY, &info, errstr,
                                    sizeof(errstr)) == 0,
                    "at exp + leeway: %s", errstr);
        cs_token_info_clear(&info);
        expect_reject(KEY, SECRET, tok, NOW + 60 + LEEWAY + 1, "expired");
        expect_reject(KEY, SECRET, tok, NOW + 100000, "expired");

        /* nbf = NOW; accepted from nbf - leeway. */
        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW - LEEWAY, LEEWAY,
                                    &info, errstr, sizeof(errstr)) == 0,
                    "at nbf - leeway: %s", errstr);
        cs_token_info_clear(&info);
        expect_reject(KEY, SECRET, tok, NOW - LEEWAY - 1, "not valid for");

        /* Tampering with the payload breaks the signature. */
        t2 = strdup(tok);
        TEST_ASSERT(t2 != NULL, "strdup");
        t2[strchr(t2, '.') - t2 + 5] ^= 0x01;
        expect_reject(KEY, SECRET, t2, NOW, "bad signature");
        free(t2);
        free(tok);

        /* Other algs signed with the same secret: libjwt accepts them. */
        snprintf(grants, sizeof(grants),
                 "{\"iss\":\"devkey\",\"sub\":\"u1\",\"nbf\":%" PRId64
                 ",\"exp\":%" PRId64 ",\"video\":{\"room\":\"r1\","
                 "\"roomJoin\":true}}",
                 NOW, NOW + 60);
        tok = raw_token(JWT_ALG_HS256, SECRET, grants);
        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW, LEEWAY, NULL,
                                    errstr, sizeof(errstr)) == 0,
                    "raw HS256 control: %s", errstr);
        free(tok);
        tok = raw_token(JWT_ALG_HS512, SECRET, grants);
        expect_reject(KEY, SECRET, tok, NOW, "alg HS512 is not HS256");
        free(tok);
        tok = raw_token(JWT_ALG_HS384, SECRET, grants);
        expect_reject(KEY, SECRET, tok, NOW, "alg HS384 is not HS256");
        free(tok);
        tok = raw_token(JWT_ALG_NONE, NULL, grants);
        TEST_ASSERT(tok[strlen(tok) - 1] == '.', "alg none has no sig");
        expect_reject(KEY, SECRET, tok, NOW, "malformed");
        free(tok);
        /* alg none with a forged signature part. */
        {
                char forged[2048];

                tok = raw_token(JWT_ALG_NONE, NULL, grants);
                snprintf(forged, sizeof(forged), "%sAAAA", tok);
                expect_reject(KEY, SECRET, forged, NOW, "malformed");
                free(tok);
        }

        /* Garbage. */
        expect_reject(KEY, SECRET, "", NOW, "empty");
        expect_reject(KEY, SECRET, NULL, NOW, "empty");
        expect_reject(KEY, SECRET, "abc", NOW, "malformed");
        expect_reject(KEY, SECRET, "a.b.c", NOW, "malformed");
        expect_reject(KEY, SECRET, "...", NOW, "malformed");
        expect_reject(KEY, SECRET, "e30.e30.", NOW, "malformed");
        expect_reject(KEY, SECRET, "eyJhbGciOiJIUzI1NiJ9.!!!!.AAAA", NOW,
                      "malformed");
        len = CS_TOKEN_MAX + 10;
        big = malloc(len + 1);
        TEST_ASSERT(big != NULL, "malloc");
        memset(big, 'A', len);
        big[len] = '\0';
        big[10] = '.';
        big[20] = '.';
        expect_reject(KEY, SECRET, big, NOW, "longer than");
        free(big);

        /* Missing or mistyped claims, correctly signed. */
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"nbf\":"
                          "1795270000,\"video\":{\"room\":\"r1\","
                          "\"roomJoin\":true}}",
                          "exp claim missing");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "\"1795270060\"}",
                          "exp claim is not an integer");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060.0}",
                          "exp claim is not an integer");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":null}",
                          "exp claim is not an integer");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060,\"nbf\":\"0\"}",
                          "nbf claim is not an integer");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060,\"nbf\":1795270061}",
                          "not valid for"); /* NOW + 61 > NOW + leeway */
        expect_raw_reject("{\"sub\":\"u1\",\"exp\":1795270060}", "iss");
        expect_raw_reject("{\"iss\":7,\"sub\":\"u1\",\"exp\":1795270060}",
                          "iss");
        expect_raw_reject("{\"iss\":\"devkey\",\"exp\":1795270060}",
                          "sub claim missing");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"\",\"exp\":"
                          "1795270060}",
                          "sub claim missing");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":5,\"exp\":"
                          "1795270060}",
                          "sub claim is not a string");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060,\"name\":5}",
                          "name claim is not a string");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060,\"metadata\":{\"a\":1}}",
                          "metadata claim is not a string");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060,\"video\":\"{}\"}",
                          "video claim is not an object");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060,\"video\":[1]}",
                          "video claim is not an object");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060,\"video\":{\"room\":1}}",
                          "video.room is not a string");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060,\"video\":{\"roomJoin\":\"true\"}}",
                          "video.roomJoin is not a boolean");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "1795270060,\"video\":{\"roomJoin\":1}}",
                          "video.roomJoin is not a boolean");
}

/* Correctly typed tokens from other minters, read through the scanner. */
static void test_verify_shapes(void) {
        cs_token_info_t info = {0};
        char *tok;

        TEST_SAY("verify: grant shapes");
        /* Extra grant members of every JSON type are skipped. */
        tok = raw_token(JWT_ALG_HS256, SECRET,
                        "{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                        "1795270060,\"video\":{\"a\":[1,-2.5e3,null,true,"
                        "false,\"s\\\"]\",{\"x\":{}}],\"b\":{},\"c\":[],"
                        "\"canPublishSources\":[\"camera\"],\"room\":"
                        "\"r\\\"1\\\\\\u0001\\u00e9\\ud83d\\ude00/\","
                        "\"roomJoin\":true,\"zz\":-1},"
                        "\"attributes\":{\"k\":\"v\"},\"iat\":1}");
        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW, LEEWAY, &info,
                                    errstr, sizeof(errstr)) == 0,
                    "verify: %s", errstr);
        TEST_STREQ(info.room_id, "r\"1\\\x01\xc3\xa9\xf0\x9f\x98\x80/");
        TEST_INTEQ(info.room_join, 1);
        TEST_INTEQ(info.nbf, 0); /* absent */
        TEST_INTEQ(info.exp, NOW + 60);
        cs_token_info_clear(&info);
        free(tok);

        /* roomJoin false, video absent: valid tokens, reported as such. */
        tok = raw_token(JWT_ALG_HS256, SECRET,
                        "{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                        "1795270060,\"video\":{\"roomJoin\":false,"
                        "\"room\":\"r\"}}");
        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW, LEEWAY, &info,
                                    errstr, sizeof(errstr)) == 0,
                    "verify: %s", errstr);
        TEST_STREQ(info.room_id, "r");
        TEST_INTEQ(info.room_join, 0);
        cs_token_info_clear(&info);
        free(tok);
        tok = raw_token(JWT_ALG_HS256, SECRET,
                        "{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                        "1795270060}");
        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW, LEEWAY, &info,
                                    errstr, sizeof(errstr)) == 0,
                    "verify: %s", errstr);
        TEST_STREQ(info.room_id, "");
        TEST_INTEQ(info.room_join, 0);
        TEST_ASSERT(info.name == NULL && info.metadata == NULL, "absent");
        cs_token_info_clear(&info);
        free(tok);

        /* nbf inside the leeway is fine; huge values do not overflow. */
        tok = raw_token(JWT_ALG_HS256, SECRET,
                        "{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                        "9223372036854775807,\"nbf\":1795270060}");
        TEST_ASSERT(cs_token_verify(KEY, SECRET, tok, NOW, LEEWAY, NULL,
                                    errstr, sizeof(errstr)) == 0,
                    "nbf within leeway: %s", errstr);
        free(tok);
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "-9223372036854775807,\"nbf\":"
                          "-9223372036854775807}",
                          "expired");
        expect_raw_reject("{\"iss\":\"devkey\",\"sub\":\"u1\",\"exp\":"
                          "9223372036854775807,\"nbf\":"
                          "9223372036854775807}",
                          "not valid for");
}

static void test_participant_json(void) {
        char *json;

        TEST_SAY("participant json");
        TEST_ASSERT(cs_token_participant_json(NULL, NULL, NULL, NULL, NULL,
                                              NULL, 0) == NULL,
                    "all empty");
        TEST_ASSERT(cs_token_participant_json("", "", "", "", "", "", 0) ==
                            NULL,
                    "all empty strings");

        json = cs_token_participant_json("u1", "Zo\xc3\xab \"Z\"",
                                         "https://x/y.png?a=1&b=2", "g1",
                                         "Group", "gnick", 3);
        TEST_STREQ(json, "{\"userID\":\"u1\",\"nickname\":\"Zo\xc3\xab "
                         "\\\"Z\\\"\",\"faceURL\":\"https://x/y.png?a=1&b=2\""
                         ",\"groupID\":\"g1\",\"groupName\":\"Group\","
                         "\"groupNickname\":\"gnick\",\"roleLevel\":3}");
        free(json);

        json = cs_token_participant_json(NULL, "n", "", NULL, "", "", 0);
        TEST_STREQ(json, "{\"nickname\":\"n\"}");
        free(json);
        json = cs_token_participant_json(NULL, NULL, NULL, NULL, NULL, NULL,
                                         -1);
        TEST_STREQ(json, "{\"roleLevel\":-1}");
        free(json);
        json = cs_token_participant_json("u", NULL, NULL, NULL, NULL, NULL,
                                         INT32_MIN);
        TEST_STREQ(json, "{\"userID\":\"u\",\"roleLevel\":-2147483648}");
        free(json);
        json = cs_token_participant_json(NULL, NULL, NULL, "g", NULL, "gn",
                                         0);
        TEST_STREQ(json, "{\"groupID\":\"g\",\"groupNickname\":\"gn\"}");
        free(json);

        /* Escaping (jansson's): short escapes where JSON has them, other
         * control characters as \u00XX, DEL and UTF-8 kept; a JSON parser
         * gives back the input. */
        json = cs_token_participant_json("a\\b\n\x01\x1f\x7f\"", NULL, NULL,
                                         NULL, NULL, NULL, 0);
        TEST_STREQ(json, "{\"userID\":\"a\\\\b\\n\\u0001\\u001F\x7f"
                         "\\\"\"}");
        {
                json_t *obj = json_loads(json, 0, NULL);

                TEST_STREQ(json_string_value(json_object_get(obj, "userID")),
                           "a\\b\n\x01\x1f\x7f\"");
                json_decref(obj);
        }
        free(json);
        /* Invalid UTF-8 becomes U+FFFD per byte instead of failing. */
        json = cs_token_participant_json(NULL, "a\xff\xc3z\xed\xa0\x80", NULL,
                                         NULL, NULL, NULL, 0);
        TEST_STREQ(json, "{\"nickname\":\"a\xef\xbf\xbd\xef\xbf\xbdz"
                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}");
        free(json);

        /* Its output is valid metadata. */
        json = cs_token_participant_json("u1", "Zo\xc3\xab \"Z\" \xf0\x9f\x98\x80",
                                         NULL, "g1", NULL, NULL, 2);
        round_trip("u1", "r1", "Zo\xc3\xab", json);
        free(json);
}

/* Our tokens through the official SDK. */
static void test_sdk_verifies_ours(void) {
        int64_t now = (int64_t)time(NULL);
        cs_token_claims_t claims = {"u1", "r1", NULL, NULL};
        char *meta, *tok, *out;
        char want[4096];
        int rc;

        TEST_SAY("livekit-server-sdk verifies our tokens");
        need_sdk();

        /* Plain. */
        tok = cs_token_mint(KEY, SECRET, 60, now, &claims, errstr,
                            sizeof(errstr));
        TEST_ASSERT(tok != NULL, "mint: %s", errstr);
        rc = lk_verify_one(NULL, tok, KEY, SECRET, false, &out);
        TEST_ASSERT(rc == 0, "lk-verify exit %d, output: %s", rc, out);
        assert_contains(out, "\"sub\":\"u1\"");
        assert_contains(out, "\"iss\":\"devkey\"");
        assert_contains(out, "\"video\":{\"canPublish\":true,"
                             "\"canPublishData\":true,\"canSubscribe\":true,"
                             "\"room\":\"r1\",\"roomJoin\":true}");
        snprintf(want, sizeof(want), "\"exp\":%" PRId64 ",", now + 60);
        assert_contains(out, want);
        snprintf(want, sizeof(want), "\"nbf\":%" PRId64 ",", now);
        assert_contains(out, want);
        free(out);

        /* --strict (HS256 only, 60 s leeway, like the server) agrees. */
        rc = lk_verify_one("--strict", tok, KEY, SECRET, false, &out);
        TEST_ASSERT(rc == 0, "lk-verify --strict exit %d: %s", rc, out);
        free(out);

        /* Wrong secret: exit 1 with the FAIL line. */
        rc = lk_verify_one(NULL, tok, KEY, "not-the-secret", true, &out);
        TEST_INTEQ(rc, 1);
        assert_contains(out, "lk-verify: FAIL "
                             "ERR_JWS_SIGNATURE_VERIFICATION_FAILED: ");
        free(out);
        /* Wrong key (iss). */
        rc = lk_verify_one(NULL, tok, "otherkey", SECRET, true, &out);
        TEST_INTEQ(rc, 1);
        assert_contains(out, "lk-verify: FAIL ERR_JWT_CLAIM_VALIDATION_FAILED");
        free(out);
        free(tok);

        /* Minted with another secret, checked with ours. */
        tok = cs_token_mint(KEY, "another-secret-0123456789-abcdefghijk",
                            60, now, &claims, errstr, sizeof(errstr));
        TEST_ASSERT(tok != NULL, "mint: %s", errstr);
        rc = lk_verify_one(NULL, tok, KEY, SECRET, true, &out);
        TEST_INTEQ(rc, 1);
        assert_contains(out, "FAIL ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
        free(out);
        free(tok);

        /* With a name. */
        claims.name = "Alice \xc3\x9c \"A\"";
        tok = cs_token_mint(KEY, SECRET, 60, now, &claims, errstr,
                            sizeof(errstr));
        TEST_ASSERT(tok != NULL, "mint: %s", errstr);
        rc = lk_verify_one(NULL, tok, KEY, SECRET, false, &out);
        TEST_ASSERT(rc == 0, "lk-verify exit %d: %s", rc, out);
        snprintf(want, sizeof(want), "\"name\":");
        js_stringify(want, sizeof(want), claims.name);
        assert_contains(out, want);
        free(out);
        free(tok);

        /* Metadata holding JSON with quotes and non-ASCII text, and a room
         * ID that needs escaping. */
        meta = cs_token_participant_json(
                "u1", "Zo\xc3\xab \"Z\" \xf0\x9f\x98\x80 \xe4\xb8\xad", NULL,
                "g1", "G\\1\n", NULL, 2);
        TEST_ASSERT(meta != NULL, "participant json");
        claims.name = NULL;
        claims.metadata = meta;
        claims.room_id = "room \"q\" \\ \xc3\xa9\t";
        tok = cs_token_mint(KEY, SECRET, 60, now, &claims, errstr,
                            sizeof(errstr));
        TEST_ASSERT(tok != NULL, "mint: %s", errstr);
        rc = lk_verify_one(NULL, tok, KEY, SECRET, false, &out);
        TEST_ASSERT(rc == 0, "lk-verify exit %d: %s", rc, out);
        snprintf(want, sizeof(want), "\"metadata\":");
        js_stringify(want, sizeof(want), meta);
        assert_contains(out, want);
        snprintf(want, sizeof(want), "\"room\":");
        js_stringify(want, sizeof(want), claims.room_id);
        assert_contains(out, want);
        assert_contains(out, "\"sub\":\"u1\"");
        free(out);
        free(tok);
        free(meta);

        /* Control characters in metadata. */
        claims.room_id = "r1";
        claims.metadata = "line1\nline2\r\t\x01\x1f\x7f end";
        tok = cs_token_mint(KEY, SECRET, 60, now, &claims, errstr,
                            sizeof(errstr));
        TEST_ASSERT(tok != NULL, "mint: %s", errstr);
        rc = lk_verify_one(NULL, tok, KEY, SECRET, false, &out);
        TEST_ASSERT(rc == 0, "lk-verify exit %d: %s", rc, out);
        snprintf(want, sizeof(want), "\"metadata\":");
        js_stringify(want, sizeof(want), claims.metadata);
        assert_contains(out, want);
        free(out);
        free(tok);

        /* Expired beyond the SDK's 10 s tolerance. */
        claims.metadata = NULL;
        tok = cs_token_mint(KEY, SECRET, 60, now - 120, &claims, errstr,
                            sizeof(errstr));
        TEST_ASSERT(tok != NULL, "mint: %s", errstr);
        rc = lk_verify_one(NULL, tok, KEY, SECRET, true, &out);
        TEST_INTEQ(rc, 1);
        assert_contains(out, "FAIL ERR_JWT_EXPIRED");
        free(out);
        free(tok);
}

/* Why cs_token_verify checks alg itself: the SDK takes HS512. */
static void test_sdk_alg(void) {
        int64_t now = (int64_t)time(NULL);
        char grants[512], *tok, *out;
        int rc;

        TEST_SAY("HS512: SDK accepts, --strict and we reject");
        snprintf(grants, sizeof(grants),
                 "{\"iss\":\"devkey\",\"sub\":\"u1\",\"nbf\":%" PRId64
                 ",\"exp\":%" PRId64 ",\"video\":{\"room\":\"r1\","
                 "\"roomJoin\":true}}",
                 now, now + 60);
        tok = raw_token(JWT_ALG_HS512, SECRET, grants);
        rc = lk_verify_one(NULL, tok, KEY, SECRET, false, &out);
        TEST_ASSERT(rc == 0, "SDK on HS512: exit %d: %s", rc, out);
        free(out);
        rc = lk_verify_one("--strict", tok, KEY, SECRET, true, &out);
        TEST_INTEQ(rc, 1);
        assert_contains(out, "FAIL ERR_STRICT_ALG");
        free(out);
        expect_reject(KEY, SECRET, tok, now, "alg HS512");
        free(tok);

        /* No exp: the SDK (2.19) and we both refuse. */
        snprintf(grants, sizeof(grants),
                 "{\"iss\":\"devkey\",\"sub\":\"u1\",\"nbf\":%" PRId64
                 ",\"video\":{\"room\":\"r1\",\"roomJoin\":true}}",
                 now);
        tok = raw_token(JWT_ALG_HS256, SECRET, grants);
        rc = lk_verify_one(NULL, tok, KEY, SECRET, true, &out);
        TEST_INTEQ(rc, 1);
        assert_contains(out, "FAIL ERR_JWT_CLAIM_VALIDATION_FAILED");
        free(out);
        expect_reject(KEY, SECRET, tok, now, "exp claim missing");
        free(tok);
}

/* --batch: many tokens, one node start. */
static void test_sdk_batch(void) {
        int64_t now = (int64_t)time(NULL);
        cs_token_claims_t claims = {"u1", "r1", NULL, NULL};
        char path[] = "/tmp/test_token_batch_XXXXXX";
        char cmd[4096] = "node ";
        char *tok, *out, *line;
        FILE *fp;
        int fd, rc, i, n;

        TEST_SAY("lk-verify --batch");
        fd = mkstemp(path);
        TEST_ASSERT(fd >= 0, "mkstemp: %s", strerror(errno));
        fp = fdopen(fd, "w");
        TEST_ASSERT(fp != NULL, "fdopen");
        for (i = 0; i < 20; i++) {
                char user[32];

                snprintf(user, sizeof(user), "user-%d", i);
                claims.user_id = user;
                tok = cs_token_mint(KEY, SECRET, 60, now, &claims, errstr,
                                    sizeof(errstr));
                TEST_ASSERT(tok != NULL, "mint: %s", errstr);
                /* Token 7 is checked with the wrong secret. */
                fprintf(fp, "%s %s %s\n", tok, KEY,
                        i == 7 ? "wrong-secret" : SECRET);
                free(tok);
        }
        fclose(fp);

        sh_quote(cmd, sizeof(cmd), lk_verify);
        strcat(cmd, " --batch < ");
        sh_quote(cmd, sizeof(cmd), path);
        rc = run(cmd, &out);
        TEST_INTEQ(rc, 1);
        n = 0;
        for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
                char want[64];

                if (n == 7) {
                        static const char fail[] =
                                "FAIL ERR_JWS_SIGNATURE_VERIFICATION_FAILED: ";

                        TEST_ASSERT(!strncmp(line, fail, sizeof(fail) - 1),
                                    "line %d: %s", n, line);
                } else {
                        snprintf(want, sizeof(want), "\"sub\":\"user-%d\"",
                                 n);
                        TEST_ASSERT(line[0] == '{' && strstr(line, want),
                                    "line %d: %s", n, line);
                }
                n++;
        }
        TEST_INTEQ(n, 20);
        free(out);

        /* All good: exit 0. */
        fp = fopen(path, "w");
        TEST_ASSERT(fp != NULL, "fopen");
        claims.user_id = "u1";
        for (i = 0; i < 3; i++) {
                tok = cs_token_mint(KEY, SECRET, 60, now, &claims, errstr,
                                    sizeof(errstr));
                TEST_ASSERT(tok != NULL, "mint: %s", errstr);
                fprintf(fp, "%s %s %s\n\n", tok, KEY, SECRET);
                free(tok);
        }
        fclose(fp);
        rc = run(cmd, &out);
        TEST_INTEQ(rc, 0);
        n = 0;
        for (line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
                n++;
        TEST_INTEQ(n, 3);
        free(out);
        unlink(path);
}

/* SDK-minted tokens through cs_token_verify. */
static void test_we_verify_sdk(void) {
        static const char script[] =
                "import {AccessToken} from \"livekit-server-sdk\";"
                "const e = process.env;"
                "const t = new AccessToken(e.LK_KEY, e.LK_SECRET, "
                "{identity: e.LK_ID, name: e.LK_NAME, metadata: e.LK_META, "
                "ttl: 60});"
                "t.addGrant({roomJoin: true, room: e.LK_ROOM, "
                "canPublish: false, canUpdateOwnMetadata: true});"
                "console.log(await t.toJwt());";
        const char *id = "u \"1\" \\ \xc3\xa9";
        const char *room = "r \"x\" \xf0\x9f\x98\x80 \x01";
        const char *name = "N\xc3\xa4me";
        const char *meta = "{\"a\":\"b\\n\"}\nline \xe4\xb8\xad\t";
        char cmd[4096] = "cd ";
        cs_token_info_t info = {0};
        char *out;
        int rc;

        TEST_SAY("cs_token_verify accepts SDK-minted tokens");
        setenv("LK_KEY", KEY, 1);
        setenv("LK_SECRET", SECRET, 1);
        setenv("LK_ID", id, 1);
        setenv("LK_ROOM", room, 1);
        setenv("LK_NAME", name, 1);
        setenv("LK_META", meta, 1);
        sh_quote(cmd, sizeof(cmd), js_dir);
        strcat(cmd, " && node --input-type=module -e ");
        sh_quote(cmd, sizeof(cmd), script);
        rc = run(cmd, &out);
        TEST_ASSERT(rc == 0, "node mint exit %d", rc);
        out[strcspn(out, "\n")] = '\0';
        TEST_ASSERT(cs_token_verify(KEY, SECRET, out, (int64_t)time(NULL),
                                    LEEWAY, &info, errstr,
                                    sizeof(errstr)) == 0,
                    "verify SDK token: %s", errstr);
        TEST_STREQ(info.user_id, id);
        TEST_STREQ(info.room_id, room);
        TEST_STREQ(info.name, name);
        TEST_STREQ(info.metadata, meta);
        TEST_INTEQ(info.room_join, 1);
        TEST_INTEQ(info.exp - info.nbf, 60);
        cs_token_info_clear(&info);
        expect_reject("otherkey", SECRET, out, (int64_t)time(NULL), "iss");
        expect_reject(KEY, "wrong-secret", out, (int64_t)time(NULL),
                      "bad signature");
        free(out);
}

int main(void) {
        test_exact_claims();
        test_round_trips();
        test_limits();
        test_mint_errors();
        test_verify_rejects_all();
        test_verify_shapes();
        test_participant_json();
        test_sdk_verifies_ours();
        test_sdk_alg();
        test_sdk_batch();
        test_we_verify_sdk();
        return test_done();
}
