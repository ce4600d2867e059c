/*
 * cli.h - the switchyard subcommands. Each takes the arguments after its own
 * name (argv[0] is the subcommand name) and returns the process exit code:
 * 0 success, 1 the input is invalid / the job failed, 2 usage error.
 */
#ifndef SY_CLI_H
#define SY_CLI_H

int cmd_validate(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_simulate(int argc, char **argv);

#endif
