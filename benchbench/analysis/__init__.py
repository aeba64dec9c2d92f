"""Pure analysis: statistics, quality checks, comparisons, history on plain values and records. No I/O here,
and no agent protocol: turning agent results into metrics is ``benchbench.ingest``'s job."""
