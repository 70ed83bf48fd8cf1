"""One module per command of `python -m bench` (bench.cli imports only the chosen one).

Each has HELP, add_arguments(parser) and run(args) -> ExitCode, and nothing else: it reads the parsed options
and calls the domain with plain keyword arguments. Options several commands share are bench.model.options'.
"""
