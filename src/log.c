/*
 * log.c: level-filtered single-line logging to stderr.
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int log_level = CS_LOG_INFO;

void cs_log_set_level(cs_log_level_t level) {
        atomic_store(&log_level, (int)level);
}

bool cs_log_enabled(cs_log_level_t level) {
        return (int)level <= atomic_load(&log_level);
}

bool cs_log_level_parse(const char *name, cs_log_level_t *levelp) {
        static const struct {
                const char *name;
                cs_log_level_t level;
        } levels[] = {{"error", CS_LOG_ERR},
                      {"warn", CS_LOG_WARN},
                      {"info", CS_LOG_INFO},
                      {"debug", CS_LOG_DEBUG}};
        for (size_t i = 0; i < CS_ARRAY_SIZE(levels); i++) {
                if (strcmp(name, levels[i].name) == 0) {
                        *levelp = levels[i].level;
                        return true;
                }
        }
        return false;
}

static const char *level_name(cs_log_level_t level) {
        switch (level) {
        case CS_LOG_ERR: return "ERROR";
        case CS_LOG_WARN: return "WARN";
        case CS_LOG_INFO: return "INFO";
        case CS_LOG_DEBUG: return "DEBUG";
        }
        return "?";
}

void cs_log(cs_log_level_t level, const char *fac, const char *fmt, ...) {
        if (!cs_log_enabled(level))
                return;
        char line[2048];
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        int n = snprintf(line + len, sizeof(line) - len, ".%03ldZ %-5s %-6s ",
                         ts.tv_nsec / 1000000L, level_name(level), fac);
        if (n > 0)
                len += (size_t)n;
        va_list ap;
        va_start(ap, fmt);
        if (len < sizeof(line))
                vsnprintf(line + len, sizeof(line) - len, fmt, ap);
        va_end(ap);
        /* One fputs per line keeps concurrent lines whole; strip newlines
         * from the message so one event stays one line. */
        for (char *p = line; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        size_t end = strlen(line);
        if (end > sizeof(line) - 2)
                end = sizeof(line) - 2;
        line[end] = '\n';
        line[end + 1] = '\0';
        fputs(line, stderr);
}
