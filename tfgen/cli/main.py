"""The `tfgen` command line: the parser assembled from one module per command, and its error
handling. Commands only parse arguments and call the library.

Usage errors print one line and exit 2; runtime failures print one line and exit 1; `--debug`
shows the traceback. Parsing and the usage checks import no TensorFlow, so they answer at once.
"""

import importlib
import os
import sys

from tfgen.cli.common import Parser, UsageError

# Quiet TensorFlow's C++ start-up logging before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EXIT_USAGE = 2
EXIT_FAILURE = 1
# The command modules of tfgen.cli, in the order `tfgen --help` lists them.
COMMANDS = (
    "train",
    "finetune",
    "sample",
    "translate",
    "export",
    "models_config",
    "evaluate",
    "rebuild",
    "experiment",
    "list",
)


def build_parser():
    parser = Parser(prog="tfgen", description="Image generative models for TensorFlow/Keras.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for name in COMMANDS:
        importlib.import_module(f"tfgen.cli.{name}").add_parser(sub)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("tfgen: no command given (see tfgen --help)")
        args.func(args)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tfgen: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line for the user; the traceback with --debug
        from tfgen.errors import TfgenUsageError

        if debug:
            raise
        code = EXIT_USAGE if isinstance(e, TfgenUsageError) else EXIT_FAILURE
        print(f"tfgen: error: {e}", file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
