"""Runs a service's ``python -m`` entry point under cProfile (for ``python -m bench --profile``).

The service is named by ``BENCH_PROFILE_TARGET`` (e.g. ``order_svc``); the stats are written to
``BENCH_PROFILE_OUT`` when the service exits (SIGTERM drains it and returns normally).
Only the main thread is profiled (its CPU time): that is where grpc.aio, asyncpg and SQLAlchemy
run; the Kafka consumer's blocking ``consume`` runs in a worker thread and is not included.
"""

from __future__ import annotations

import cProfile
import os
import runpy
import time


def main() -> None:
    target = os.environ["BENCH_PROFILE_TARGET"]
    out = os.environ["BENCH_PROFILE_OUT"]
    # Thread CPU time, not wall time: on a saturated 2-core machine wall time would charge
    # whatever function was running with the time the process spent waiting for a core.
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    try:
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    except SystemExit:
        pass
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
