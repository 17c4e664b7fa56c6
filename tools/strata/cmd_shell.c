/*
 * cmd_shell.c - strata shell: the interactive Python console of
 * `python3 -m strata shell`, started from the C tool so that both tools
 * list the same commands.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int run_shell(const cli_cmd *cmd, int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return cli_help(cmd);
  /* python3 -m strata shell ARGS... */
  char **av = calloc((size_t)argc + 4, sizeof *av);
  if (!av) {
    cli_err(cmd, "out of memory");
    return CLI_FAIL;
  }
  const char *py = getenv("STRATA_PYTHON");
  if (!py || !*py) py = "python3";
  av[0] = (char *)py;
  av[1] = "-m";
  av[2] = "strata";
  av[3] = "shell";
  for (int i = 1; i < argc; i++)
    av[3 + i] = argv[i];
  fflush(NULL);
  execvp(py, av);
  int e = errno;
  free(av);
  cli_err(cmd,
          "cannot run %s: %s (the shell is part of the Python package: python3 -m strata shell)",
          py, strerror(e));
  return CLI_FAIL;
}

const cli_cmd cli_cmd_shell = {
    "shell", "an interactive Python console with the database open (python3 -m strata)",
    "usage: strata shell [-d NAME] [-r] DBPATH\n"
    "\n"
    "Runs 'python3 -m strata shell' with the same arguments: an interactive\n"
    "Python console in which the database is open as `db` (py-lmdb's shell).\n"
    "It is part of the strata Python package, which must be installed for the\n"
    "python3 on PATH (or the interpreter named by the environment variable\n"
    "STRATA_PYTHON). See 'python3 -m strata shell --help' for its options.\n"
    "\n"
    "Exit status: the console's; 1 when the interpreter cannot be run.\n",
    run_shell};
