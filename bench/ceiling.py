"""The HTTP layer's ceiling for uploads: an ASGI app that does nothing, under uvicorn with the
settings ``mailslot serve`` gives it. It reads every piece of the request body, discards it,
and answers ``303 /submitted`` as Mailslot does after a submission.

    .venv/bin/python bench/ceiling.py --port 8080

``bench/throughput.py`` starts it next to a real ``mailslot serve`` and sends both the same
multipart body, in turns: the ratio of the two rates is what Mailslot's own pipeline
(parsing, sealing, writing, the database) leaves of what the server can receive at all.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import uvicorn

from mailslot.config import Config
from mailslot.web.server import uvicorn_settings

# The keyword arguments of uvicorn.Config that `mailslot serve` gives both interfaces (its
# HTTP protocol with the header and body timeouts included), apart from the app, the address
# and the log level, with the default configuration: the same function, so they cannot drift
# apart.
SERVE_SETTINGS: dict[str, Any] = uvicorn_settings(Config())


async def discard(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", b"/submitted"), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        discard, host=args.host, port=args.port, log_level="warning", **SERVE_SETTINGS
    )
    # As `mailslot serve`: Server.serve() under asyncio.run, so the same (default) event loop.
    asyncio.run(uvicorn.Server(config).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
