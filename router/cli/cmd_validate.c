/* cmd_validate.c - not written yet. */
#include <stdio.h>
#include "cli.h"

int cmd_validate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "switchyard: validate is not written yet\n");
    return 2;
}
