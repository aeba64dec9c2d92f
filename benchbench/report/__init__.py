"""Reports: a view model built from stored results, figures, and jinja2 rendering (autoescaped)."""
