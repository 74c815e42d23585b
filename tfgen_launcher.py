"""The `tfgen` console script: runs `tfgen.cli` without importing TensorFlow up front.

It lives outside the `tfgen` package because importing anything inside runs
`tfgen/__init__.py`, which registers every serializable class (and so imports TensorFlow).
"""

import sys

# Read by tfgen/__init__.py. A module attribute rather than an environment variable: a flag in
# the environment would reach child processes (a multi-worker run's workers, a user's scripts)
# and leave their `import tfgen` unregistered.
LAZY = False


def main(argv=None):
    import tfgen_launcher  # this module under its own name, also when run as __main__

    tfgen_launcher.LAZY = True
    from tfgen.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
