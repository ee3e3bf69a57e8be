"""A webhook receiver for tests: Starlette under uvicorn on a thread, on 127.0.0.1, checking
every request's Standard Webhooks signature with `upward.integrations.webhooks.verify`."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from upward.integrations.webhooks import InvalidSignature, verify


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_error: str | None


@dataclass
class Receiver:
    """Starlette under uvicorn in a thread; records every request that reaches a handler."""

    secret: str = ""  # signatures are checked with it (set it once the endpoint has one)
    certfile: Path | None = None
    script: list[int] = field(default_factory=list)  # /scripted answers these, then 204
    keyfile: Path | None = None
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"{'https' if self.certfile else 'http'}://127.0.0.1:{self.port}"

    async def _record(self, request: Request) -> Received:
        body = await request.body()
        try:
            verify(self.secret, request.headers, body)
            error = None
        except InvalidSignature as exc:
            error = str(exc)
        item = Received(request.url.path, dict(request.headers), body, error)
        self.received.append(item)
        return item

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            item = await self._record(request)
            if item.signature_error:
                return PlainTextResponse(item.signature_error, status_code=401)
            return Response(status_code=204)

        async def status(request: Request) -> Response:
            await self._record(request)
            code = int(request.path_params["code"])
            headers = {"retry-after": "120"} if code in (429, 503) else {}
            return PlainTextResponse(f"status {code}", status_code=code, headers=headers)

        async def slow(request: Request) -> Response:
            await self._record(request)
            await asyncio.sleep(3)
            return Response(status_code=204)

        async def trickle(request: Request) -> Response:
            await self._record(request)

            async def drip() -> Any:
                for _ in range(30):
                    yield b"x"
                    await asyncio.sleep(0.1)

            return StreamingResponse(drip(), status_code=200)

        async def redirect(request: Request) -> Response:
            await self._record(request)
            return Response(status_code=302, headers={"location": "/hook"})

        async def scripted(request: Request) -> Response:
            item = await self._record(request)
            if item.signature_error:
                return PlainTextResponse(item.signature_error, status_code=401)
            code = self.script.pop(0) if self.script else 204
            return PlainTextResponse(f"status {code}", status_code=code)

        async def big(request: Request) -> Response:
            await self._record(request)
            return PlainTextResponse("y" * 100_000, status_code=500)

        return Starlette(
            routes=[
                Route("/hook", hook, methods=["POST"]),
                Route("/status/{code:int}", status, methods=["POST"]),
                Route("/slow", slow, methods=["POST"]),
                Route("/trickle", trickle, methods=["POST"]),
                Route("/redirect", redirect, methods=["POST"]),
                Route("/big", big, methods=["POST"]),
                Route("/scripted", scripted, methods=["POST"]),
            ]
        )

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(),
            lifespan="off",
            loop="asyncio",
            log_level="error",
            access_log=False,
            timeout_graceful_shutdown=1,
            ssl_certfile=str(self.certfile) if self.certfile else None,
            ssl_keyfile=str(self.keyfile) if self.keyfile else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "receiver did not start"
            assert self._thread.is_alive(), "receiver crashed on start"
            time.sleep(0.02)

    def stop(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)
