/*
 * test_webhook.c: the LiveKit webhook verifier (webhook.c), with tokens
 * minted here by libjwt the way LiveKit signs them.
 */
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "webhook.h"

TEST_MAIN_DEFS

#define KEY "devkey"
#define SECRET "a-secret-of-at-least-32-bytes-0123456789"
#define NOW 1795270000

static const char body[] =
        "{\"event\":\"participant_joined\",\"room\":{\"sid\":\"RM_xyz\",\"name\":\"r1\"},"
        "\"id\":\"EV_abc123\",\"createdAt\":\"1795270000\"}";

/* A token; sha NULL: the body's hash, "" : none; exp 0: none. */
static char *mint(jwt_alg_t alg, const char *key, const char *secret,
                  int64_t nbf, int64_t exp, const char *sha) {
        jwt_t *jwt = NULL;
        char hash[45];
        cs_webhook_body_hash((const uint8_t *)body, strlen(body), hash);
        jwt_new(&jwt);
        if (key)
                jwt_add_grant(jwt, "iss", key);
        if (!sha)
                jwt_add_grant(jwt, "sha256", hash);
        else if (*sha)
                jwt_add_grant(jwt, "sha256", sha);
        if (nbf)
                jwt_add_grant_int(jwt, "nbf", nbf);
        if (exp)
                jwt_add_grant_int(jwt, "exp", exp);
        jwt_set_alg(jwt, alg, (const unsigned char *)secret, (int)strlen(secret));
        char *t = jwt_encode_str(jwt);
        jwt_free(jwt);
        return t;
}

static cs_err_t check(const char *tok) {
        char errstr[256] = "";
        cs_err_t err = cs_webhook_verify(KEY, SECRET, tok, (const uint8_t *)body,
                                         strlen(body), NOW, errstr, sizeof(errstr));
        TEST_ASSERT(err == CS_OK || errstr[0], "a refusal says why");
        return err;
}

int main(void) {
        char hash[45];
        /* the example of the LiveKit reference: a known digest */
        const char *sample =
                "{\"event\":\"participant_joined\",\"room\":{\"sid\":\"RM_xyz\",\"name\":\"r1\","
                "\"emptyTimeout\":300,\"creationTime\":\"1795269990\",\"numParticipants\":1},"
                "\"participant\":{\"sid\":\"PA_123\",\"identity\":\"u1\",\"state\":\"ACTIVE\","
                "\"joinedAt\":\"1795270000\",\"name\":\"User One\"},\"id\":\"EV_abc123\","
                "\"createdAt\":\"1795270000\"}";
        cs_webhook_body_hash((const uint8_t *)sample, strlen(sample), hash);
        TEST_STREQ(hash, "swvlpkkFCI1O+WRE2YGRNjuaXJmwPTs73ml2phPoxcI=");

        char *t;
        t = mint(JWT_ALG_HS256, KEY, SECRET, NOW, NOW + 300, NULL);
        TEST_INTEQ(check(t), CS_OK);
        /* Bearer is not how LiveKit sends it */
        char bearer[2048];
        snprintf(bearer, sizeof(bearer), "Bearer %s", t);
        TEST_INTEQ(check(bearer), CS_ERR_NOT_PERMITTED);
        free(t);
        struct {
                jwt_alg_t alg;
                const char *key, *secret;
                int64_t nbf, exp;
                const char *sha;
                cs_err_t want;
                const char *what;
        } cases[] = {
                {JWT_ALG_HS256, KEY, "another-secret-of-32-bytes-0123456789", NOW, NOW + 300,
                 NULL, CS_ERR_NOT_PERMITTED, "wrong secret"},
                {JWT_ALG_HS384, KEY, SECRET, NOW, NOW + 300, NULL, CS_ERR_NOT_PERMITTED,
                 "HS384"},
                {JWT_ALG_HS512, KEY, SECRET, NOW, NOW + 300, NULL, CS_ERR_NOT_PERMITTED,
                 "HS512"},
                {JWT_ALG_HS256, "other", SECRET, NOW, NOW + 300, NULL, CS_ERR_NOT_PERMITTED,
                 "wrong iss"},
                {JWT_ALG_HS256, NULL, SECRET, NOW, NOW + 300, NULL, CS_ERR_NOT_PERMITTED,
                 "no iss"},
                {JWT_ALG_HS256, KEY, SECRET, NOW, 0, NULL, CS_ERR_NOT_PERMITTED, "no exp"},
                {JWT_ALG_HS256, KEY, SECRET, NOW - 400, NOW - 61, NULL, CS_ERR_NOT_PERMITTED,
                 "expired 61 s ago"},
                {JWT_ALG_HS256, KEY, SECRET, NOW - 400, NOW - 60, NULL, CS_OK,
                 "expired 60 s ago: within the leeway"},
                {JWT_ALG_HS256, KEY, SECRET, NOW + 61, NOW + 300, NULL, CS_ERR_NOT_PERMITTED,
                 "nbf 61 s ahead"},
                {JWT_ALG_HS256, KEY, SECRET, NOW + 60, NOW + 300, NULL, CS_OK,
                 "nbf 60 s ahead"},
                {JWT_ALG_HS256, KEY, SECRET, 0, NOW + 300, NULL, CS_OK, "no nbf"},
                {JWT_ALG_HS256, KEY, SECRET, NOW, NOW + 300, "", CS_ERR_NOT_PERMITTED,
                 "no sha256"},
                {JWT_ALG_HS256, KEY, SECRET, NOW, NOW + 300,
                 "swvlpkkFCI1O+WRE2YGRNjuaXJmwPTs73ml2phPoxcI=", CS_ERR_NOT_PERMITTED,
                 "sha256 of another body"},
                {JWT_ALG_HS256, KEY, SECRET, NOW, NOW + 300, "x", CS_ERR_NOT_PERMITTED,
                 "short sha256"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                t = mint(cases[i].alg, cases[i].key, cases[i].secret, cases[i].nbf,
                         cases[i].exp, cases[i].sha);
                TEST_ASSERT(t, "mint %s", cases[i].what);
                cs_err_t got = check(t);
                TEST_ASSERT(got == cases[i].want, "%s: got %d", cases[i].what, (int)got);
                free(t);
        }
        /* no header, garbage, alg none */
        TEST_INTEQ(check(NULL), CS_ERR_NOT_PERMITTED);
        TEST_INTEQ(check(""), CS_ERR_NOT_PERMITTED);
        TEST_INTEQ(check("abc.def.ghi"), CS_ERR_NOT_PERMITTED);
        TEST_INTEQ(check("eyJhbGciOiJub25lIn0.eyJpc3MiOiJkZXZrZXkifQ."), CS_ERR_NOT_PERMITTED);
        /* a body changed after signing */
        t = mint(JWT_ALG_HS256, KEY, SECRET, NOW, NOW + 300, NULL);
        char errstr[128];
        TEST_INTEQ(cs_webhook_verify(KEY, SECRET, t, (const uint8_t *)body,
                                     strlen(body) - 1, NOW, errstr, sizeof(errstr)),
                   CS_ERR_NOT_PERMITTED);
        free(t);
        return test_done();
}
