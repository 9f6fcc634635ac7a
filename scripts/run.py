"""`make run`: an embedded Valkey when `REDIS_URL` is unset, then the Procfile via honcho;
its worker serves every queue (`WORKER_QUEUES=*`) unless `WORKER_QUEUES` says otherwise.

Ctrl-C (or SIGTERM to this process) stops the web and worker processes first, giving the worker
its `SHUTDOWN_GRACE_S` to finish running jobs while Redis is still up, then the embedded server:
nothing is left running.
"""

import os
import signal
import sys
from pathlib import Path
from types import FrameType

import honcho.manager
from honcho.environ import expand_processes, parse_procfile
from honcho.printer import Printer

from scripts.embedded_redis import EmbeddedRedis, port_in_use
from settings import get_settings

ROOT = Path(__file__).resolve().parents[1]

KILL_MARGIN_S = 10.0
"""Beyond the worker's grace, how long honcho waits before it SIGKILLs what is left: time for
the worker to cancel and re-queue what outlived the grace, and to close its connections."""


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    # Until honcho takes over the signals: unwind (and stop the server) instead of dying.
    raise SystemExit(128 + signum)


def run_procfile(port: int, kill_wait_s: float) -> int:
    """Run the Procfile's processes under honcho, in this process, until they have stopped.

    honcho (in its own loop) answers SIGINT/SIGTERM by sending SIGTERM to every child's process
    group (each child runs in its own session, so a terminal's Ctrl-C reaches only honcho), and
    SIGKILLs survivors `KILL_WAIT` seconds after the first one exited: 5 s by default, shorter
    than the worker's grace, hence set here."""
    honcho.manager.KILL_WAIT = kill_wait_s
    manager = honcho.manager.Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
    procfile = parse_procfile((ROOT / "Procfile").read_text())
    for process in expand_processes(procfile.processes, port=port):
        manager.add_process(
            process.name, process.cmd, quiet=process.quiet, env={**os.environ, **process.env}
        )
    manager.loop()
    return int(manager.returncode or 0)


def start_embedded(port: int, data_dir: Path) -> EmbeddedRedis:
    """The embedded server on its fixed port, keeping its data in `data_dir` across runs."""
    if port_in_use(port):
        raise SystemExit(
            f"port {port} is already in use (another `make run`?): stop that, or set "
            f"EMBEDDED_REDIS_PORT to a free port, or REDIS_URL to a server of your own"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedRedis(port, data_dir=data_dir).start()


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The README's tour enqueues the example jobs: on unless the environment says otherwise.
    os.environ.setdefault("EXAMPLES", "true")
    # ...and names two queues besides the default one (`?queue=critical`, a workflow node on
    # `other`): declared, since an enqueue may name no other (`jobs.declare.queues`).
    os.environ.setdefault("QUEUES", "critical,other")
    settings = get_settings()
    # The Procfile's commands (uvicorn, python) must be this virtualenv's.
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    server = None
    try:
        if not settings.redis_url or "redis_url" not in settings.model_fields_set:
            data_dir = ROOT / settings.embedded_redis_dir
            server = start_embedded(settings.embedded_redis_port, data_dir)
            os.environ["REDIS_URL"] = server.url
            print(f"embedded Valkey at {server.url}, data in {server.data_dir}", flush=True)
        if not settings.worker_queues:
            # One local worker serves every queue (`?queue=critical`, a workflow node on
            # another queue): nothing stays queued for want of a worker.
            os.environ["WORKER_QUEUES"] = "*"
        port = settings.port
        base = f"http://127.0.0.1:{port}"
        print(f"API: {base}   docs: {base}/docs   dashboard: {base}/", flush=True)
        return run_procfile(port, kill_wait_s=settings.shutdown_grace_s + KILL_MARGIN_S)
    except KeyboardInterrupt:  # Ctrl-C before honcho took over the signals
        return 130
    finally:
        if server:
            server.stop()  # last: the worker needed Redis during its grace


if __name__ == "__main__":
    sys.exit(main())
