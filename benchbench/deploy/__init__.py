"""Getting the agent and workload artifacts onto a board: zipapp build, content-addressed cache, sync."""
