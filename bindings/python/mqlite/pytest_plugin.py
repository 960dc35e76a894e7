"""pytest fixtures for testing MQTT clients against an mqlite broker in the
test's own process. Installing the package registers this plugin (entry
point ``pytest11``); nothing needs importing::

    import paho.mqtt.publish

    def test_publish(mqlite_broker):
        got = []
        mqlite_broker.subscribe("sensors/#", got.append)
        paho.mqtt.publish.single("sensors/t", "21", hostname="127.0.0.1",
                                 port=mqlite_broker.port)
        ...

- ``mqlite_broker``: a :class:`~mqlite.Broker` on ``127.0.0.1`` and a free
  port (:attr:`~mqlite.Broker.port`), in memory only, served by a
  background thread; stopped and freed after the test.
- ``mqlite_broker_factory``: a function taking :class:`~mqlite.Broker`'s
  arguments (``db=``, ``listeners=``, limits, ...) that makes and starts a
  broker (port 0 by default); every broker it made is stopped and freed
  after the test, in reverse order.

Both are function-scoped: no state leaks from one test to the next. The
broker runs in its own thread, so blocking clients (paho-mqtt's
``publish.single``, a ``loop_forever`` client) and asyncio clients both
work against it.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, List

import pytest

from .broker import Broker


@pytest.fixture
def mqlite_broker_factory() -> Iterator[Callable[..., Broker]]:
    """Makes and starts brokers (``Broker(**options).start()``, port 0
    unless given); closes them all after the test."""
    made: List[Broker] = []

    def make(**options: Any) -> Broker:
        if "listeners" not in options:
            options.setdefault("port", 0)
        broker = Broker(**options)
        made.append(broker)
        return broker.start()

    yield make
    errors: List[BaseException] = []
    for broker in reversed(made):
        try:
            broker.close()
        except Exception as error:  # close the others all the same
            errors.append(error)
    if errors:
        raise errors[0]


@pytest.fixture
def mqlite_broker(mqlite_broker_factory: Callable[..., Broker]) -> Broker:
    """A running broker on 127.0.0.1 and a free port (``.port``), in
    memory only; closed after the test."""
    return mqlite_broker_factory()
