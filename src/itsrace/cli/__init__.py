"""The ``itsrace`` command line: one module per subcommand, registered in :mod:`itsrace.cli.main`."""
