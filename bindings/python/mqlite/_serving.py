"""Serving a broker from a thread: :meth:`~mqlite.Broker.start` (a
background thread) and :meth:`~mqlite.Broker.run` (the calling one), and
the pass that every way of serving it runs (the event loop's too, in
``_aio``)."""

from __future__ import annotations

import os
import select
import threading
from ctypes import byref, c_bool, c_int64
from typing import Any, Callable, Optional, TypeVar

from .errors import BrokerStateError, _check

_B = TypeVar("_B", bound="_Serving")


class _Serving:
    """The serving half of :class:`~mqlite.Broker` (a mixin: the state
    below is made by ``Broker.__init__``)."""

    _lib: Any
    _broker: Optional[int]
    _handle: Optional[int]
    _fd: int
    _wake_r: int
    _wake_w: int
    _state: threading.Lock
    _installed_event: threading.Condition
    _thread: Optional[threading.Thread]
    _loop_thread: Optional[int]
    _in_pass: bool
    _require_open: Callable[[], None]
    _apply_installs: Callable[[], None]
    _name: Callable[[], str]

    def start(self: _B) -> _B:
        """Serves in a background (daemon) thread; returns self.

        Raises:
            BrokerStateError: already running, or closed.
        """
        with self._state:
            self._require_open()
            if self._loop_thread is not None or (self._thread and self._thread.is_alive()):
                raise BrokerStateError("the broker is already running")
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._serve, args=(ready,), name=f"mqlite:{self._name()}",
                daemon=True
            )
            self._thread.start()
        ready.wait()
        return self

    def run(self) -> None:
        """Serves in the calling thread until :meth:`stop` (from a hook or
        another thread) or Ctrl-C, which stops the broker cleanly and is
        then raised again.

        Raises:
            BrokerStateError: already running, or closed.
            MqliteError: the poll failed.
        """
        with self._state:
            self._require_open()
            if self._loop_thread is not None:
                raise BrokerStateError("the broker is already running")
        self._serve(None)

    def _runs_here(self) -> bool:
        """Whether this thread may call the broker itself (``mqlite_broker_*``)
        rather than through the handle: nobody serves it, or this thread
        does and is between two passes (an event loop it is attached to).
        Called with ``_state`` held."""
        return self._loop_thread is None or (
            self._loop_thread == threading.get_ident() and not self._in_pass)

    def _pass(self, timeout_ms: int) -> bool:
        """Installs the hooks set meanwhile, then runs one pass, waiting up
        to ``timeout_ms``; False once the broker has stopped."""
        self._apply_installs()
        running = c_bool(True)
        self._in_pass = True
        try:
            _check("mqlite_broker_run_once",
                   self._lib.mqlite_broker_run_once(self._broker, timeout_ms, byref(running)))
        finally:
            self._in_pass = False
        return running.value

    def _next_deadline_ms(self) -> int:
        """Milliseconds until the broker needs a pass anyway; -1: never."""
        deadline = c_int64(-1)
        _check("mqlite_broker_next_deadline_ms",
               self._lib.mqlite_broker_next_deadline_ms(self._broker, byref(deadline)))
        return deadline.value

    def _serve(self, ready: Optional[threading.Event]) -> None:
        """The thread's loop: waits on the broker's descriptor and the wake
        pipe, runs passes."""
        with self._state:
            self._loop_thread = threading.get_ident()
        if ready is not None:
            ready.set()
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        interrupted: Optional[BaseException] = None
        try:
            while True:
                try:
                    self._apply_installs()
                    deadline = self._next_deadline_ms()
                    events = poller.poll(None if deadline < 0 else deadline)
                    if any(fd == self._wake_r for fd, _ in events):
                        try:
                            while os.read(self._wake_r, 512):
                                pass
                        except BlockingIOError:
                            pass
                    if not self._pass(0):
                        break
                except KeyboardInterrupt as error:
                    # Ctrl-C in run(): stop cleanly, then raise it again.
                    interrupted = error
                    self._lib.mqlite_handle_stop(self._handle)
        finally:
            with self._state:
                self._loop_thread = None
                self._installed_event.notify_all()
        if interrupted is not None:
            raise interrupted

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # the pipe is full: a wake-up is already pending
