/* cmd_serve.c - not written yet. */
#include <stdio.h>
#include "cli.h"

int cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "switchyard: serve is not written yet\n");
    return 2;
}
