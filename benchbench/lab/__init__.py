"""A lab bigger than one controller: many controllers share one PostgreSQL results database and coordinate
through procrastinate (jobs, per-board locks, heartbeats and stalled-job recovery live in PostgreSQL).

``engine`` — the procrastinate app, its schema and names; ``plan`` — ``benchbench submit``;
``worker`` — ``benchbench worker``; ``lease`` — board leases for ``benchbench run``; ``status`` —
``benchbench queue``; ``recovery`` — stalled jobs of dead controllers go back to the queue.
"""
