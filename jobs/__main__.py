"""`python -m jobs`: run a worker (the Procfile's `worker` process)."""

import argparse
import asyncio
import gc

from jobs import tracing
from jobs.logs import setup_logging
from jobs.settings import Settings, get_settings
from jobs.worker.loop import Worker
from jobs.worker.process_exit import end_now_if_threads_run, own_default_executor


async def serve(settings: Settings, *, burst: bool = False) -> None:
    worker = Worker(settings, burst=burst)
    executor = own_default_executor()
    # What start-up built (the catalog, its models and schemas) lives as long as the process:
    # frozen, the collector stops scanning it in every full collection.
    gc.collect()
    gc.freeze()
    try:
        await worker.main()
    finally:
        await worker.pool.aclose()
        tracing.shutdown()  # export the last tries' spans (the process may end below)
    # Tries are settled or re-queued and the worker said goodbye: a thread one of them left
    # running (cancelling its await cannot stop it) must not hold the process past the grace.
    end_now_if_threads_run(executor)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m jobs", description=__doc__)
    parser.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    args = parser.parse_args()
    settings = get_settings()
    setup_logging(settings)
    tracing.configure_from_environment("worker")
    try:
        import uvloop

        uvloop.run(serve(settings, burst=args.burst))
    except ImportError:
        asyncio.run(serve(settings, burst=args.burst))


if __name__ == "__main__":
    main()
