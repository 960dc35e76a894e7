"""Code a user type-checks against the installed package (PEP 561:
py.typed): `mypy --strict` must pass it, and must reject the same calls
with a wrong argument type (run.sh makes that copy)."""

import asyncio
from typing import List

import mqlite


async def serve_and_read(port: int) -> List[str]:
    topics: List[str] = []
    async with mqlite.Broker(host="localhost", port=port) as broker:
        broker.subscribe("sensors/#", lambda message: topics.append(message.topic), qos=1)
        broker.publish("sensors/t", b"21.5", qos=1, retain=True)
        stats: mqlite.Stats = broker.stats()
        sent: int = stats.messages_sent
        topics.append(str(sent))
    return topics


def check(broker: mqlite.Broker) -> None:
    try:
        broker.kick("device-1")
    except mqlite.InvalidArgument as error:
        code: int = error.code
        print(code, error.detail)
    except mqlite.MqliteError as error:
        print(error.text)


def main() -> None:
    print(asyncio.run(serve_and_read(0)))
