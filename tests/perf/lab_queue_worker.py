"""A procrastinate worker with benchbench's engine settings (schema, pool, search path) and a no-op task, for
tests/perf/test_lab_queue_throughput.py: measures the engine alone, without boards. Prints its CPU time as
JSON."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

from benchbench.lab.engine import async_app

NOOP = "bbperf.noop"


def main() -> None:
    url, mode, name = sys.argv[1], sys.argv[2], sys.argv[3]
    app = async_app(url)
    done = [0]

    @app.task(name=NOOP)  # type: ignore[misc]
    def noop(**_: Any) -> None:
        done[0] += 1

    async def serve() -> None:
        async with app.open_async():
            task = asyncio.create_task(app.run_worker_async(
                queues=["bbperf"], name=name, concurrency=1, wait=(mode == "serve"),
                install_signal_handlers=False, fetch_job_polling_interval=1.0, update_heartbeat_interval=5.0))
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
            try:
                await task
            except asyncio.CancelledError:
                pass

    cpu0 = time.process_time()
    asyncio.run(serve())
    print(json.dumps({"name": name, "jobs": done[0], "cpu_s": time.process_time() - cpu0}))


if __name__ == "__main__":
    main()
