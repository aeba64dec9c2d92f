"""The command line: the only place that prints, configures logging and chooses exit codes. ``main`` holds
run, report and workloads; every other command is one module named after it (``compare``, ``history``,
``publish``, ``exchange`` = export/import, ``devices``, ``fleet``, ``queuecmd`` = the lab queue), with the
shared plumbing in ``common``."""
