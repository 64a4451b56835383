"""`act-edge` command line: one module per subcommand, each calling the public API only."""
