/* core/main.c - the `miaw` command line: serve (the gateway), admin (the Admin API over
 * supervisord workers), version, help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "base/config.h"
#include "base/log.h"
#include "base/memstats.h"
#include "server.h"

static void usage(FILE *f)
{
    fprintf(f,
            "miaw %s - self-hosted WhatsApp gateway\n\n"
            "usage:\n"
            "  miaw serve [--config FILE] [--port N]   run the REST API server\n"
            "  miaw admin [--port N] [--host H]         run the Admin API (workers via supervisord)\n"
            "  miaw version\n\n"
            "Environment (overrides the file): API_PORT API_HOST API_KEY API_WEBHOOK_SECRET CORS_ORIGIN\n"
            "SESSION_PATH WEBHOOK_TIMEOUT_MS WEBHOOK_MAX_RETRIES WEBHOOK_RETRY_DELAY_MS LOG_LEVEL\n",
            MIAW_VERSION);
}

static int cmd_serve(int argc, char **argv)
{
    const char *file = NULL, *port = NULL;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) file = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "miaw serve: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    miaw_config cfg;
    char err[1024];
    int rc = 1;
    if (miaw_config_load(&cfg, file, err, sizeof err) != 0 || (port && miaw_config_set_port(&cfg, port, err, sizeof err)) ||
        miaw_config_validate(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "miaw: configuration error: %s\n", err);
    } else {
        rc = miaw_server_run(&cfg);
    }
    miaw_config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    miaw_memstats_install(); /* before anything allocates through OpenSSL */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "admin") == 0) return miaw_admin_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("miaw %s\n", MIAW_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "miaw: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
