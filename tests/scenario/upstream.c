/*
 * upstream.c: the OpenIM v3 schema as upstream publishes it, for tests and
 * the demo (upstream.h): scripts/upstream-schema.sh builds a decoder over
 * github.com/openimsdk/protocol's rtc.proto and sdkws.proto.
 */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tool[1024], desc[1024];

void upstream_prepare(void) {
        const char *src = getenv("CALLSIG_TEST_SOURCE_DIR");
        const char *cache = getenv("CALLSIG_CACHE_DIR");
        char script[1100];
        snprintf(script, sizeof(script), "'%s/scripts/upstream-schema.sh' >&2",
                 src ? src : ".");
        TEST_ASSERT(system(script) == 0, "%s failed", script);
        if (cache) {
                snprintf(tool, sizeof(tool), "%s/upstream/upstream-check", cache);
                snprintf(desc, sizeof(desc), "%s/upstream/desc.pb", cache);
        } else {
                snprintf(tool, sizeof(tool), "%s/.cache/upstream/upstream-check",
                         src ? src : ".");
                snprintf(desc, sizeof(desc), "%s/.cache/upstream/desc.pb",
                         src ? src : ".");
        }
}

/* Runs the upstream decoder/encoder; @returns its stdout (owned). */
char *upstream(const char *mode, const char *name, const char *arg) {
        size_t cap = strlen(arg) + 2048;
        char *cmdline = malloc(cap);
        TEST_ASSERT(cmdline && !strchr(arg, '\''), "argument");
        snprintf(cmdline, cap, "'%s' '%s' %s %s '%s'", tool, desc, mode, name, arg);
        FILE *fp = popen(cmdline, "r");
        TEST_ASSERT(fp, "popen");
        char *out = calloc(1, 1 << 20);
        size_t n = fread(out, 1, (1 << 20) - 1, fp);
        out[n] = '\0';
        int rc = pclose(fp);
        TEST_ASSERT(rc == 0, "upstream-check %s %s failed (%d): %s", mode, name,
                    rc, cmdline);
        free(cmdline);
        char *nl = strchr(out, '\n');
        if (nl)
                *nl = '\0';
        return out;
}

char *upstream_hex(const uint8_t *b, size_t n) {
        char *h = malloc(2 * n + 1);
        for (size_t i = 0; i < n; i++)
                sprintf(h + 2 * i, "%02x", b[i]);
        h[2 * n] = '\0';
        return h;
}

uint8_t *upstream_unhex(const char *h, size_t *np) {
        size_t n = strlen(h) / 2;
        uint8_t *b = malloc(n + 1);
        for (size_t i = 0; i < n; i++) {
                unsigned v;
                TEST_ASSERT(sscanf(h + 2 * i, "%2x", &v) == 1, "hex");
                b[i] = (uint8_t)v;
        }
        *np = n;
        return b;
}

static bool varint(const uint8_t *b, size_t n, size_t *pos, uint64_t *v) {
        *v = 0;
        for (int shift = 0; shift < 64 && *pos < n; shift += 7) {
                uint8_t c = b[(*pos)++];
                *v |= (uint64_t)(c & 0x7f) << shift;
                if (!(c & 0x80))
                        return true;
        }
        return false;
}

const uint8_t *upstream_field(const uint8_t *b, size_t n, unsigned fieldno,
                            size_t *lenp) {
        size_t pos = 0;
        while (pos < n) {
                uint64_t tag, v;
                TEST_ASSERT(varint(b, n, &pos, &tag), "tag");
                switch (tag & 7) {
                case 0: TEST_ASSERT(varint(b, n, &pos, &v), "varint"); break;
                case 1: pos += 8; break;
                case 5: pos += 4; break;
                case 2:
                        TEST_ASSERT(varint(b, n, &pos, &v) && v <= n - pos, "len");
                        if ((tag >> 3) == fieldno) {
                                *lenp = (size_t)v;
                                return b + pos;
                        }
                        pos += (size_t)v;
                        break;
                default: TEST_FAIL("wire type %d", (int)(tag & 7));
                }
        }
        TEST_FAIL("field %u absent", fieldno);
        return NULL;
}

char *upstream_describe(const seen_t *s) {
        size_t n1, n2, n3;
        char *hex, *json, *out;
        const uint8_t *reply, *rtc, *md, *content;
        const char *msg_name;
        if (!s->push)
                return NULL;
        if (s->push->body_case == CALLSIG__V1__PUSH_MESSAGE__BODY_REPLY) {
                /* the reply of a signal command: rtc case 1 */
                reply = upstream_field(s->value, s->len, 2, &n1);
                rtc = upstream_field(reply, n1, 9, &n2);
                const uint8_t *resp = upstream_field(rtc, n2, 1, &n3);
                hex = upstream_hex(resp, n3);
                json = upstream("decode", "openim.rtc.SignalResp", hex);
                free(hex);
                out = malloc(strlen(json) + 64);
                sprintf(out, "openim.rtc.SignalResp %s", json);
                free(json);
                return out;
        }
        md = upstream_field(s->value, s->len, 4, &n1);
        hex = upstream_hex(md, n1);
        char *mdj = upstream("decode", "openim.sdkws.MsgData", hex);
        free(hex);
        int ct = strstr(mdj, "\"contentType\":1602")   ? 1602
                 : strstr(mdj, "\"contentType\":1603") ? 1603
                                                        : 1601;
        msg_name = ct == 1602   ? "openim.rtc.SignalOnRoomParticipantConnectedReq"
                   : ct == 1603 ? "openim.rtc.SignalOnRoomParticipantDisconnectedReq"
                                : "openim.rtc.SignalReq";
        content = upstream_field(md, n1, 12, &n2);
        hex = upstream_hex(content, n2);
        json = upstream("decode", msg_name, hex);
        free(hex);
        out = malloc(strlen(json) + strlen(mdj) + 128);
        sprintf(out, "openim.sdkws.MsgData %s\n        content %s %s", mdj,
                msg_name, json);
        free(json);
        free(mdj);
        return out;
}
