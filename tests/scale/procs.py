"""Real API, worker and scheduler processes for the scale-out tests, on a broker namespace of
their own (so their Redis keys, queues and live channels are theirs alone), against the test
session's database.

`Stack` starts them the way a deploy does (`python -m upward serve|worker|scheduler`, or
`upward.serving` directly), sends their output to log files (`stack.log(proc)`), stops them
with a signal of your choice and returns the exit status, and removes everything it started
(processes and the namespace's Redis keys) on `close()`. The HTTP and WebSocket side reuses
tests/graphql/test_subscriptions.py (`Api`, `Client`, `wait_subscribed`, `gql`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from tests.graphql.test_subscriptions import Api, _free_port, _wait_healthy

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


class Stack:
    def __init__(self, *, cwd: Path = ROOT, unset: tuple[str, ...] = (), **env: str) -> None:
        self.cwd = cwd
        self.namespace = f"upward-test-procs-{uuid.uuid4().hex[:8]}"
        self.dir = Path(tempfile.mkdtemp(prefix="upward-procs-"))
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in unset},
            "PYTHONPATH": str(ROOT),
            "UPWARD_LOG_LEVEL": "WARNING",
            # every process has its own pool (each uvicorn process of `--workers N` too): keep
            # the stack's share of the shared server's max_connections small
            "UPWARD_DB_POOL_SIZE": "3",
            "UPWARD_DB_MAX_OVERFLOW": "2",
            **env,
            "UPWARD_DRAMATIQ_NAMESPACE": self.namespace,
        }
        self.procs: list[Proc] = []
        self.redis = redis.Redis.from_url(self.env["REDIS_URL"])
        self._broker: Any = None
        self.started = time.time()

    # --- starting ---------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], **env: str) -> Proc:
        log = self.dir / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
                [PY, *argv],
                env={**self.env, **env},
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a signal reaches it alone
            )
        p = Proc(name, proc, log)
        self.procs.append(p)
        return p

    def run(self, argv: list[str], *, stdin: str | None = None, **env: str) -> str:
        """Run `python <argv>` to its end in the stack's environment; returns its stdout."""
        done = subprocess.run(  # noqa: S603 - our own interpreter and modules
            [PY, *argv],
            env={**self.env, **env},
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stderr[-3000:]}"
        return done.stdout

    def api(
        self,
        name: str,
        *,
        workers: int = 1,
        serving: bool = False,
        graceful_timeout: int | None = None,
        **env: str,
    ) -> Api:
        """`upward serve` on a free port (`serving=True`: `upward.serving.serve`, which the
        command calls once cli.py delegates to it). Not yet healthy: `await healthy(api)`."""
        port = _free_port()
        if serving:
            code = (
                "from upward.serving import serve; raise SystemExit(serve(host='127.0.0.1', "
                f"port={port}, workers={workers}, graceful_timeout={graceful_timeout!r}))"
            )
            argv = ["-c", code]
        else:
            argv = ["-m", "upward", "serve", "--host", "127.0.0.1", "--port", str(port)]
            argv += ["--workers", str(workers)]
        p = self.spawn(name, argv, **env)
        return Api(name, port, p.proc)

    def worker(
        self,
        name: str,
        *,
        threads: int = 2,
        modules: tuple[str, ...] = (),
        shutdown_timeout: int | None = None,
        **env: str,
    ) -> Proc:
        """`upward worker --processes 1` (with `modules` or a shutdown timeout:
        `upward.serving.run_worker`, which the command calls once cli.py delegates to it)."""
        if modules or shutdown_timeout is not None:
            code = (
                "from upward.serving import run_worker; raise SystemExit(run_worker("
                f"processes=1, threads={threads}, shutdown_timeout={shutdown_timeout!r}, "
                f"modules={list(modules)!r}))"
            )
            return self.spawn(name, ["-c", code], **env)
        argv = ["-m", "upward", "worker", "--processes", "1", "--threads", str(threads)]
        return self.spawn(name, argv, **env)

    def scheduler(self, name: str, *, tenants: list[str], tick: float = 0.5) -> Proc:
        argv = ["-m", "upward", "scheduler", "--tick", str(tick)]
        for slug in tenants:
            argv += ["--tenant", slug]
        return self.spawn(name, argv)

    # --- waiting ----------------------------------------------------------------------------

    async def healthy(self, *apis: Api) -> None:
        try:
            await asyncio.gather(*(_wait_healthy(a) for a in apis))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.tails()}") from None

    async def consuming(self, n: int, within: float = 90) -> None:
        """Until `n` worker processes have polled the broker since the stack started (each
        broker fetch records its process's heartbeat)."""
        key = f"{self.namespace}:__heartbeats__"
        deadline = time.monotonic() + within
        while True:
            since = (self.started) * 1000
            got = len(self.redis.zrangebyscore(key, since, "+inf"))
            if got >= n:
                return
            dead = [p.name for p in self.procs if p.proc.poll() is not None]
            assert not dead, f"exited: {dead}\n{self.tails()}"
            assert time.monotonic() < deadline, f"{got} of {n} workers polling\n{self.tails()}"
            await asyncio.sleep(0.1)

    # --- the broker of the namespace --------------------------------------------------------

    @property
    def broker(self) -> Any:
        if self._broker is None:
            from workers.broker import make_broker

            self._broker = make_broker(namespace=self.namespace)
            for queue in ("default", "deliveries"):
                self._broker.declare_queue(queue)
        return self._broker

    def send(self, actor: Any, *args: Any, **kwargs: Any) -> Any:
        """Enqueue on this namespace (the test process's own broker uses another one); returns
        the message as enqueued (Redis keeps it under `options["redis_message_id"]`)."""
        return self.broker.enqueue(actor.message(*args, **kwargs))

    def channel(self, tenant_id: Any, topic: str, topic_id: Any) -> str:
        """A live channel as the stack's processes name it (`upward.graphql.live.channel`)."""
        return f"{self.namespace}:live:{tenant_id}:{topic}:{topic_id}"

    # --- stopping ---------------------------------------------------------------------------

    def send_signal(self, p: Proc | Api, sig: int = signal.SIGTERM, *, group: bool = False) -> None:
        proc = p.proc
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)

    async def wait(self, p: Proc | Api, within: float = 60) -> int:
        """Its exit status (negative: the signal that ended it)."""
        proc = p.proc
        try:
            return await asyncio.to_thread(proc.wait, within)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{p.name} still running after {within} s\n{self.tails()}"
            ) from None

    async def stop(self, p: Proc | Api, sig: int = signal.SIGTERM, within: float = 60) -> int:
        self.send_signal(p, sig)
        return await self.wait(p, within)

    def log(self, p: Proc | Api) -> str:
        return (self.dir / f"{p.name}.log").read_text(errors="replace")

    def tails(self, lines: int = 30) -> str:
        out = []
        for p in self.procs:
            text = self.log(p).splitlines()[-lines:]
            out.append(f"--- {p.name} (exit {p.proc.poll()}) ---\n" + "\n".join(text))
        return "\n".join(out)

    def close(self) -> None:
        for p in self.procs:
            if p.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.proc.pid, signal.SIGKILL)
                p.proc.wait(timeout=30)
        if self._broker is not None:
            self._broker.close()
        for key in self.redis.scan_iter(match=f"{self.namespace}:*", count=1000):
            self.redis.delete(key)
        self.redis.close()
        for f in self.dir.iterdir():
            f.unlink()
        self.dir.rmdir()
