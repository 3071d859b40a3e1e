/*
 * webhook.c: LiveKit webhook verification (see webhook.h).
 */
#include "webhook.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void cs_webhook_body_hash(const uint8_t *body, size_t len, char out[45]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        if (!EVP_Digest(body ? body : (const uint8_t *)"", len, md, &md_len,
                        EVP_sha256(), NULL))
                md_len = 0; /* leaves a hash nothing matches */
        out[0] = '\0';
        if (md_len == 32)
                EVP_EncodeBlock((unsigned char *)out, md, 32);
}

static cs_err_t deny(char *errstr, size_t errstr_size, const char *why) {
        snprintf(errstr, errstr_size, "%s", why);
        return CS_ERR_NOT_PERMITTED;
}

cs_err_t cs_webhook_verify(const char *api_key, const char *api_secret,
                           const char *auth, const uint8_t *body, size_t len,
                           int64_t now_s, char *errstr, size_t errstr_size) {
        jwt_t *jwt = NULL;
        char *claims_text = NULL;
        json_t *claims = NULL;
        cs_err_t err = CS_ERR_NOT_PERMITTED;

        if (!auth || !*auth)
                return deny(errstr, errstr_size, "no Authorization header");
        if (strlen(auth) > CS_WEBHOOK_MAX_TOKEN)
                return deny(errstr, errstr_size, "Authorization header too long");
        if (!api_key || !api_secret || !*api_secret)
                return deny(errstr, errstr_size, "no LiveKit key configured");
        if (jwt_decode(&jwt, auth, (const unsigned char *)api_secret,
                       (int)strlen(api_secret)) != 0 || !jwt) {
                deny(errstr, errstr_size, "token not signed with the API secret");
                goto done;
        }
        if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
                deny(errstr, errstr_size, "token algorithm is not HS256");
                goto done;
        }
        claims_text = jwt_get_grants_json(jwt, NULL);
        json_error_t jerr;
        claims = claims_text ? json_loads(claims_text, 0, &jerr) : NULL;
        if (!json_is_object(claims)) {
                deny(errstr, errstr_size, "token claims are not a JSON object");
                goto done;
        }
        json_t *iss = json_object_get(claims, "iss");
        if (!json_is_string(iss) || strcmp(json_string_value(iss), api_key)) {
                deny(errstr, errstr_size, "token issuer is not the API key");
                goto done;
        }
        json_t *exp = json_object_get(claims, "exp");
        if (!json_is_integer(exp)) {
                deny(errstr, errstr_size, "token has no numeric exp");
                goto done;
        }
        if (now_s > (int64_t)json_integer_value(exp) + CS_WEBHOOK_LEEWAY_S) {
                deny(errstr, errstr_size, "token expired");
                goto done;
        }
        json_t *nbf = json_object_get(claims, "nbf");
        if (nbf && !json_is_integer(nbf)) {
                deny(errstr, errstr_size, "token nbf is not a number");
                goto done;
        }
        if (nbf && (int64_t)json_integer_value(nbf) > now_s + CS_WEBHOOK_LEEWAY_S) {
                deny(errstr, errstr_size, "token not valid yet (nbf)");
                goto done;
        }
        json_t *sha = json_object_get(claims, "sha256");
        if (!json_is_string(sha)) {
                deny(errstr, errstr_size, "token has no sha256 claim");
                goto done;
        }
        char want[45];
        cs_webhook_body_hash(body, len, want);
        const char *got = json_string_value(sha);
        if (strlen(got) != strlen(want) || !want[0] ||
            CRYPTO_memcmp(got, want, strlen(want)) != 0) {
                deny(errstr, errstr_size, "sha256 claim does not match the body");
                goto done;
        }
        err = CS_OK;
done:
        json_decref(claims);
        free(claims_text); /* libjwt allocates with the system malloc */
        jwt_free(jwt);
        return err;
}
