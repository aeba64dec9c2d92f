"""Reports: a view model built from stored results (``viewmodel``, and one ``*view`` module per section),
figures, and jinja2 rendering (autoescaped) of the templates in the repository's ``reports/templates/``."""
