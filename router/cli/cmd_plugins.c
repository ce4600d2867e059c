/* cmd_plugins.c - not written yet. */
#include <stdio.h>
#include "cli.h"

int cmd_plugins(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "switchyard: plugins is not written yet\n");
    return 2;
}
