"""A client printing exactly what `afb-client --sync --echo --human` prints.

Each input line `API VERB [JSON]` is sent once the previous reply came; events are
printed as they arrive; messages are json-c pretty-printed (test/jsonc.py).
"""
from __future__ import annotations

import json
from collections.abc import Iterable

import aiohttp
from jsonc import dumps

REPLY_OK, REPLY_ERROR, EVENT = 3, 4, 5


async def transcript(url: str, lines: Iterable[str]) -> str:
    """Run the calls of `lines` over one x-afb-ws-json1 connection; return the printed text."""
    out: list[str] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(url, protocols=("x-afb-ws-json1",)) as ws:
        for number, line in enumerate(lines, start=1):
            api, verb, *rest = line.split(" ", 2)
            text = rest[0] if rest else "null"
            out.append(f"SEND-CALL {api}/{verb} {text}\n")
            await ws.send_str(json.dumps([2, str(number), f"{api}/{verb}", json.loads(text)]))
            await _until_reply(ws, str(number), f"{api}/{verb}", out)
    return "".join(out)


async def _until_reply(ws: aiohttp.ClientWebSocketResponse, call_id: str, name: str, out: list[str]) -> None:
    while True:
        message = await ws.receive()
        if message.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"connection ended before the reply to {name}: {message.type}")
        frame = json.loads(message.data)
        if frame[0] == EVENT:
            out.append(f"ON-EVENT {frame[1]}:\n{dumps(frame[2])}\n")
        elif frame[0] in (REPLY_OK, REPLY_ERROR) and frame[1] == call_id:
            verdict = "OK" if frame[0] == REPLY_OK else "ERROR"
            out.append(f"ON-REPLY {call_id}:{name}: {verdict}\n{dumps(frame[2])}\n")
            return
