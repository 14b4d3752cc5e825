"""``python -m pybundle ARGS``: runs the installed ``pybundle`` binary with ARGS.

On POSIX the binary replaces this process (``os.execv``): argv, stdin, signals and the exit
status are the binary's own. Elsewhere it runs as a child whose exit status is passed on.
"""

import os
import sys

from pybundle import find_pybundle_bin


def main():
    try:
        binary = find_pybundle_bin()
    except FileNotFoundError as err:
        sys.stderr.write("error: %s\n" % err)
        return 1
    argv = [binary] + sys.argv[1:]
    if os.name == "posix":
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(binary, argv)
    import subprocess

    return subprocess.call(argv)


if __name__ == "__main__":
    sys.exit(main())
