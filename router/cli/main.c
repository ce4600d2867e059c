/* main.c - switchyard's command dispatcher. */
#include <stdio.h>
#include <string.h>
#include <switchyard/plugin.h>

#include "cli.h"

#ifndef SY_VERSION
#define SY_VERSION "0.0.0"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "usage: switchyard <command> [options]\n"
            "\n"
            "commands:\n"
            "  serve -c POLICY [--listen ADDR] [--workers N]   run the router\n"
            "  validate POLICY...                              check policies; bind nothing\n"
            "  explain POLICY --model M [--user U] [--header K=V] [--json]\n"
            "                                                  show the plan for one request\n"
            "  simulate POLICY --scenario FILE [--replay LOG] [--seed N] [--json]\n"
            "                                                  dry run of traffic on a simulated clock\n"
            "  plugins [--path DIR]                            list plugins and their keys\n"
            "  version                                         version and plugin ABI\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve")) return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "validate")) return cmd_validate(argc - 1, argv + 1);
    if (!strcmp(cmd, "explain")) return cmd_explain(argc - 1, argv + 1);
    if (!strcmp(cmd, "plugins")) return cmd_plugins(argc - 1, argv + 1);
    if (!strcmp(cmd, "simulate")) return cmd_simulate(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("switchyard %s (plugin ABI %d.%d)\n", SY_VERSION, SY_PLUGIN_ABI_MAJOR,
               SY_PLUGIN_ABI_MINOR);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "switchyard: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
