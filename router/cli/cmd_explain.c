/* cmd_explain.c - not written yet. */
#include <stdio.h>
#include "cli.h"

int cmd_explain(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "switchyard: explain is not written yet\n");
    return 2;
}
