"""Pure analysis: statistics, per-job summaries, comparisons, history. No I/O here."""
