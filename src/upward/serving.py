"""Running the API and the worker fleet: what `upward serve` and `upward worker` call.

A deploy stops old processes with SIGTERM, and both kinds drain before they exit:

- The API (uvicorn) stops accepting connections, finishes the requests in flight (each one
  commits or rolls back as usual), closes idle keep-alive connections, closes WebSockets with
  1012 (service restart: subscription clients reconnect elsewhere), runs the app's lifespan
  shutdown (the database pools) and exits 0. `graceful_timeout` caps the wait (then the
  requests still running are cancelled, which rolls their transactions back); unset, it waits
  for all of them. With `workers > 1` the supervisor also closes its copy of the listening
  socket, so that new connections are refused as with one process instead of queueing in the
  backlog of a socket nobody accepts on any more.
- A worker (dramatiq) stops taking messages, lets the running actors finish and acknowledges
  them, puts back the messages it had prefetched, and exits 0. `shutdown_timeout` caps the wait
  (dramatiq's default is 10 minutes); an actor still running then is abandoned unacknowledged
  and comes back through the broker and the sweepers, which idempotency makes harmless.

See docs/operations.md, "Graceful shutdown and deploys".
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from types import FrameType
from typing import Any

APP = "upward.app:create_app"


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """uvicorn handles SIGTERM itself and, once it has drained, raises the signal again for the
    handler it found: this one, which turns a graceful stop into exit status 0 (otherwise the
    default action kills the process and it reports -SIGTERM / 143). Before uvicorn runs, a
    SIGTERM simply ends the process."""
    raise SystemExit(0)


def _supervisor() -> Any:
    from uvicorn.supervisors import Multiprocess

    class Supervisor(Multiprocess):  # type: ignore[misc]
        """uvicorn's supervisor, closing its listening socket as soon as it is told to stop.

        The supervisor binds the socket and hands copies to its children. On SIGTERM the
        children close theirs, but the supervisor keeps its own until every child has exited,
        so the kernel would go on completing connections that nobody will ever accept (they
        hang, then are reset). Closed here, a new connection is refused (a load balancer
        retries it elsewhere), exactly as with a single process."""

        def _stop_listening(self) -> None:
            for sock in self.sockets:
                sock.close()

        def handle_term(self) -> None:
            self._stop_listening()
            super().handle_term()

        def handle_int(self) -> None:
            self._stop_listening()
            super().handle_int()

    return Supervisor


def serve(*, host: str, port: int, workers: int = 1, graceful_timeout: int | None = None) -> int:
    """Serve the API until SIGTERM (or SIGINT), then drain; returns the exit status."""
    import uvicorn

    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "log_config": None,
        "access_log": False,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "timeout_graceful_shutdown": graceful_timeout,
    }
    signal.signal(signal.SIGTERM, _exit_cleanly)
    if workers <= 1:
        uvicorn.run(APP, **options)
        return 0
    config = uvicorn.Config(APP, **options)
    sock = config.bind_socket()
    _supervisor()(config, sockets=[sock]).run()
    return 0


def worker_argv(
    *,
    processes: int,
    threads: int,
    shutdown_timeout: int | None = None,
    modules: Sequence[str] = (),
) -> list[str]:
    """The dramatiq command line of the fleet: the `workers` package (every actor), then any
    extra modules to import in each worker process (instrumentation, tests' hooks)."""
    argv = ["workers", *modules, "--processes", str(processes), "--threads", str(threads)]
    if shutdown_timeout is not None:
        argv += ["--worker-shutdown-timeout", str(int(shutdown_timeout * 1000))]
    return argv


def run_worker(
    *,
    processes: int,
    threads: int,
    shutdown_timeout: int | None = None,
    modules: Sequence[str] = (),
) -> int:
    """Run the worker fleet until SIGTERM, then drain; returns the exit status.

    Send the signal to this (the main) process only, as Docker and Kubernetes do: it forwards
    it to its worker processes, and a worker process that receives a second SIGTERM (say, one
    sent to the whole process group as well) stops waiting for its running actors ("Killing
    worker process...")."""
    from dramatiq.cli import main, make_argument_parser

    argv = worker_argv(
        processes=processes, threads=threads, shutdown_timeout=shutdown_timeout, modules=modules
    )
    return int(main(make_argument_parser().parse_args(argv)) or 0)
