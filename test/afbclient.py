"""A small reusable x-afb-ws-json1 client for tests (aiohttp underneath).

    client = await AfbClient.connect(url)         # ws://host:port/api
    code, envelope = await client.call("monitor", "get", {"apis": False})
    event = await client.events.get()             # [5, name, {...}] frames, decoded
"""
from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any, Self

import aiohttp


class AfbClient:
    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._session = session
        self.ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[tuple[int, dict[str, Any]]]] = {}
        self.events: asyncio.Queue[list[Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, **kwargs: Any) -> AfbClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(url, protocols=("x-afb-ws-json1",), **kwargs)
        except BaseException:
            await session.close()
            raise
        return cls(session, ws)

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            if frame[0] == 5:
                self.events.put_nowait(frame)
            elif frame[1] in self._pending:
                self._pending.pop(frame[1]).set_result((frame[0], frame[2]))
        for future in self._pending.values():
            future.set_exception(ConnectionError("websocket closed"))

    async def call(self, api: str, verb: str, args: Any = None, token: str | None = None) -> tuple[int, dict[str, Any]]:
        """Send one call and wait for its reply: (3 or 4, envelope)."""
        call_id = str(next(self._ids))
        future = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        frame = [2, call_id, f"{api}/{verb}", args] + ([token] if token is not None else [])
        await self.ws.send_str(json.dumps(frame))
        return await future

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
        await self._session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
