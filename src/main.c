/*
 * main.c: argv, configuration, signals, run, exit code. Nothing else.
 *
 * Exit codes: 0 clean stop (SIGINT/SIGTERM) or a finished one-shot option,
 * 1 runtime failure, 2 usage or configuration error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mongoc/mongoc.h>

#include "cli.h"
#include "clientconf.h"
#include "common.h"
#include "config.h"
#include "kafka.h"
#include "log.h"
#include "worker.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
        (void)sig;
        stop_requested = 1;
}

static void usage(FILE *fp) {
        fprintf(fp,
                "usage: callsig [--config FILE] [--check-config | --dump-config]\n"
                "       callsig --config-reference | --help | --version\n"
                "       callsig history (--user ID | --room ID) | stats  [--help]\n"
                "\n"
                "callsig %s: the OpenIM call-signaling worker. It consumes SignalCommands\n"
                "from Kafka, keeps call records in MongoDB, mints LiveKit tokens and\n"
                "produces replies and notifications onto per-user push topics.\n"
                "\n"
                "  -c, --config FILE     read FILE (YAML); without it: defaults + environment\n"
                "      --check-config    validate the configuration and exit\n"
                "      --dump-config     print the effective configuration (secrets redacted)\n"
                "      --config-reference  print the key reference (docs/CONFIGURATION.md)\n"
                "  -h, --help            this text\n"
                "  -V, --version         print the version\n"
                "\n"
                "Every key can be set from the environment as CALLSIG_<KEY>, the key\n"
                "uppercased with dots turned into underscores; the environment wins.\n"
                "Exit codes: 0 clean stop, 1 runtime failure, 2 usage or configuration error.\n"
                "\n"
                "Keys:\n",
                CALLSIG_VERSION);
        cs_config_write_help(fp);
}

int main(int argc, char **argv) {
        const char *path = NULL;
        bool check = false, dump = false;
        char errstr[1024];
        int rc = 2;
        cs_config_t *conf = NULL;

        /* callsig history | stats: the operators' CLI (cli.c). */
        if (argc > 1 && cs_cli_is_command(argv[1]))
                return cs_cli_main(argc - 1, argv + 1, environ);

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if ((!strcmp(a, "--config") || !strcmp(a, "-c")) && i + 1 < argc) {
                        path = argv[++i];
                } else if (!strncmp(a, "--config=", 9)) {
                        path = a + 9;
                } else if (!strcmp(a, "--check-config")) {
                        check = true;
                } else if (!strcmp(a, "--dump-config")) {
                        dump = true;
                } else if (!strcmp(a, "--config-reference")) {
                        cs_config_write_reference(stdout);
                        return 0;
                } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                        usage(stdout);
                        return 0;
                } else if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
                        printf("callsig %s (librdkafka %s)\n", CALLSIG_VERSION,
                               cs_kafka_lib_version());
                        return 0;
                } else {
                        fprintf(stderr, "callsig: unknown or incomplete option '%s'\n\n", a);
                        usage(stderr);
                        return 2;
                }
        }

        conf = cs_config_new();
        if ((path && cs_config_load_file(conf, path, errstr, sizeof(errstr))) ||
            cs_config_apply_env(conf, environ, errstr, sizeof(errstr)) ||
            cs_config_validate(conf, errstr, sizeof(errstr))) {
                fprintf(stderr, "callsig: %s\n", errstr);
                goto done;
        }
        cs_log_level_t level = CS_LOG_INFO;
        (void)cs_log_level_parse(conf->log_level, &level);
        cs_log_set_level(level);
        if (dump)
                cs_config_dump(conf, stdout);
        if (check) {
                /* What the worker's start would refuse, without connecting. */
                int bad = cs_clientconf_check(conf, errstr, sizeof(errstr));
                mongoc_cleanup();
                if (bad) {
                        fprintf(stderr, "callsig: %s\n", errstr);
                        goto done;
                }
                fprintf(stderr, "callsig: configuration OK\n");
        }
        if (dump || check) {
                rc = 0;
                goto done;
        }

        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        cs_log(CS_LOG_INFO, "MAIN", "callsig %s starting (librdkafka %s)",
               CALLSIG_VERSION, cs_kafka_lib_version());
        rc = cs_worker_run(conf, &stop_requested);
        cs_log(CS_LOG_INFO, "MAIN", "callsig stopped (exit %d)", rc);
        mongoc_cleanup();
done:
        cs_config_destroy(conf);
        return rc;
}
