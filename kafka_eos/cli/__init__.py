"""The ``kafka-eos`` command line: one module per subcommand, dispatched by ``main``."""
