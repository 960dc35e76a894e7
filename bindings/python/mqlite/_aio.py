"""Serving a broker from an asyncio event loop, on the loop's own thread.

The C library lets a host drive the broker from its own loop: the
broker's poll is one file descriptor (``mqlite_broker_fd``), readable when
a pass has work; ``mqlite_broker_next_deadline_ms`` says when its timers
need a pass even if the descriptor stays quiet; ``mqlite_broker_run_once``
with a timeout of 0 does one pass without waiting. Here the descriptor is
watched with ``loop.add_reader`` and the deadline with ``loop.call_later``,
so the broker, its hooks and its local subscriptions all run on the event
loop's thread, between the loop's other callbacks, with no thread of its
own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Any, Callable, Optional, TypeVar

from .errors import BrokerStateError

log = logging.getLogger("mqlite")
_E = TypeVar("_E", bound="_EventLoop")

# How long closing a broker attached to a loop may drive its last passes
# (stopping closes every client and flushes, which takes a pass or two).
_FINISH_SECONDS = 10.0
# The wait of each of those passes, in milliseconds: long enough not to
# spin, short enough to notice the stop at once.
_FINISH_PASS_MS = 50


class _Attachment:
    """A broker's place on one event loop: the loop, the future that ends
    with the broker, and the pass scheduled by time (at most one)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.done: "asyncio.Future[None]" = loop.create_future()
        self.timer: Optional[asyncio.Handle] = None


class _EventLoop:
    """The asyncio half of :class:`~mqlite.Broker` (a mixin: the state
    below is made by ``Broker.__init__``)."""

    _state: threading.Lock
    _loop_thread: Optional[int]
    _installed_event: threading.Condition
    _fd: int
    _wake_r: int
    _thread: Optional[threading.Thread]
    _aio: Optional[_Attachment]
    _require_open: Callable[[], None]
    _pass: Callable[[int], bool]
    _next_deadline_ms: Callable[[], int]
    stop: Callable[..., None]
    close: Callable[[], None]

    def attach(self) -> "asyncio.Future[None]":
        """Serves the broker on the running asyncio event loop, on its
        thread: the broker's descriptor is watched with
        ``loop.add_reader`` and its timers with ``loop.call_later``; no
        thread is started. Hooks and local subscriptions then run on the
        loop's thread, between its other callbacks (they may schedule
        tasks, and must not block).

        Call it from a coroutine (or callback) of the loop. Returns a
        future that is done when the broker stops (:meth:`stop`, from
        anywhere), or holds the error that stopped it. While attached,
        every method may be called from the loop's coroutines
        (:meth:`stats`, :meth:`reload` and the bridge calls go straight to
        the broker there) and the thread-safe ones from other threads.
        ``async with broker`` and :meth:`serve` call it for you.

        Raises:
            BrokerStateError: no running event loop in this thread; the
                broker is closed or already running (in a thread or on a
                loop).
            NotImplementedError: the loop cannot watch file descriptors
                (Windows' proactor loop).
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise BrokerStateError("attach() needs a running asyncio event loop in this "
                                   "thread (call it from a coroutine)") from None
        with self._state:
            self._require_open()
            if self._loop_thread is not None or (self._thread and self._thread.is_alive()):
                raise BrokerStateError("the broker is already running")
            self._loop_thread = threading.get_ident()
        attachment = _Attachment(loop)
        self._aio = attachment
        try:
            loop.add_reader(self._fd, self._aio_pass)
            loop.add_reader(self._wake_r, self._aio_woken)
        except BaseException:
            # NotImplementedError from a loop without add_reader: leave no
            # trace, so the broker can still be started in a thread.
            self._aio = None
            for fd in (self._fd, self._wake_r):
                try:
                    loop.remove_reader(fd)
                except Exception:
                    pass
            with self._state:
                self._loop_thread = None
            raise
        # A first pass soon: work may wait already (a publish made before).
        attachment.timer = loop.call_soon(self._aio_pass)
        return attachment.done

    async def serve(self) -> None:
        """Serves the broker on the running event loop (:meth:`attach`)
        until it stops. Cancelling it stops the broker (clients are
        closed, state is saved) before the cancellation goes on.

        Raises:
            BrokerStateError: as :meth:`attach`.
            MqliteError: a pass failed (the broker's poll, ``MQLITE_IO``).
        """
        done = self.attach()
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            self.stop(timeout=None)
            self._aio_finish()
            raise

    async def __aenter__(self: _E) -> _E:
        """Attaches the broker to the running loop (unless it is already
        served, by a thread or a loop)."""
        if self._loop_thread is None:
            self.attach()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, traceback: Any) -> None:
        """Stops the broker, lets the loop run its last passes (up to 10 s),
        and frees it. A failure of the broker's own (its future's error) is
        raised when the block itself raised nothing."""
        self.stop(timeout=None)
        attachment = self._aio
        failure: Optional[BaseException] = None
        if attachment is not None and attachment.loop is asyncio.get_running_loop():
            # Let the loop run the last passes, as it runs everything else;
            # close() below finishes the job itself if they do not come.
            try:
                await asyncio.wait_for(asyncio.shield(attachment.done), _FINISH_SECONDS)
            except asyncio.TimeoutError:
                pass
            except Exception as error:  # the broker's own failure
                failure = error
        self.close()
        if failure is not None and exc_type is None:
            raise failure

    def _aio_woken(self) -> None:
        """The wake pipe: another thread queued a hook to install."""
        try:
            while os.read(self._wake_r, 512):
                pass
        except BlockingIOError:
            pass
        self._aio_pass()

    def _aio_pass(self) -> None:
        """One pass, then the next one scheduled by the broker's deadline."""
        attachment = self._aio
        if attachment is None:
            return  # a callback that was already queued when it detached
        if attachment.timer is not None:
            attachment.timer.cancel()
            attachment.timer = None
        try:
            if not self._pass(0):
                self._aio_detach(None)
                return
            deadline = self._next_deadline_ms()
        except Exception as error:
            self._aio_detach(error)
            return
        if deadline == 0:
            attachment.timer = attachment.loop.call_soon(self._aio_pass)
        elif deadline > 0:
            attachment.timer = attachment.loop.call_later(deadline / 1000.0, self._aio_pass)

    def _aio_detach(self, error: Optional[BaseException]) -> None:
        """Leaves the loop; the future ends with ``error`` or None."""
        attachment = self._aio
        if attachment is None:
            return
        self._aio = None
        if attachment.timer is not None:
            attachment.timer.cancel()
        attachment.loop.remove_reader(self._fd)
        attachment.loop.remove_reader(self._wake_r)
        with self._state:
            self._loop_thread = None
            self._installed_event.notify_all()
        if not attachment.done.done():
            try:
                if error is None:
                    attachment.done.set_result(None)
                else:
                    attachment.done.set_exception(error)
            except RuntimeError:
                # The loop was closed with the broker still attached (its
                # coroutine ended without closing it); close() still works,
                # from plain code, and nobody can await the future any more.
                pass

    def _aio_finish(self) -> None:
        """Runs the passes of a stop here and now, on the loop's thread
        (from close(), or a cancelled serve()), then leaves the loop.

        Raises:
            BrokerStateError: the broker did not stop in time.
        """
        if self._aio is None:
            return
        give_up = time.monotonic() + _FINISH_SECONDS
        try:
            while time.monotonic() < give_up:
                if not self._pass(_FINISH_PASS_MS):
                    self._aio_detach(None)
                    return
        except Exception:
            # close() must still free the broker: the failure is logged,
            # not raised.
            log.exception("the broker failed while stopping")
            self._aio_detach(None)
            return
        raise BrokerStateError(f"the broker did not stop within {_FINISH_SECONDS:g} s")
