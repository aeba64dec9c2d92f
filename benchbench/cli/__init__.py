"""The command line: the only place that prints, configures logging and chooses exit codes."""
