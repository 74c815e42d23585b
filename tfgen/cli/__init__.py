"""The `tfgen` command line: `main` (parser assembly, error handling) and one module per
command (`train`, `finetune`, `sample`, `translate`, `export`, `models_config`, `evaluate`,
`list`), each adding its sub-parser and its run function."""

from tfgen.cli.main import EXIT_FAILURE, EXIT_USAGE, build_parser, main

__all__ = ["EXIT_FAILURE", "EXIT_USAGE", "build_parser", "main"]
