"""The broker's hooks (``on_auth``, ``on_acl``, ``on_message``,
``on_event``): setting them, installing their C trampolines, and the
trampolines that turn the C views into Python values and the answers back."""

from __future__ import annotations

import logging
import threading
from ctypes import byref, c_size_t, c_uint64
from typing import Any, Callable, Dict, List, Optional, Set, TypeVar

from . import _args, _native
from .errors import _check, _invalid
from .values import (
    AclAccess,
    AuthAcceptWith,
    AuthContinue,
    AuthDecision,
    AuthRefuse,
    CloseReason,
    Event,
    EventKind,
    Message,
    MessageDecision,
    _CProperties,
    _check_qos,
    _client,
    _connect_info,
    _encode_payload,
    _message,
)
from ._native import view_optional_str, view_str

log = logging.getLogger("mqlite")

F = TypeVar("F", bound=Callable[..., Any])

_HOOKS = ("auth", "acl", "message", "event")


class _Hooks:
    """The hook half of :class:`~mqlite.Broker` (a mixin: the state below is
    made by ``Broker.__init__``)."""

    _lib: Any
    _broker: Optional[int]
    _state: threading.Lock
    _loop_thread: Optional[int]
    _hooks: Dict[str, Optional[Callable[..., Any]]]
    _installed: Set[str]
    _pending_installs: List[str]
    _installed_event: threading.Condition
    _c_auth: Any
    _c_acl: Any
    _c_message: Any
    _c_event: Any
    _require_open: Callable[[], None]
    _runs_here: Callable[[], bool]
    _wake: Callable[[], None]
    # The place in the listeners given to Broker() of each C listener
    # number (plain listeners first, then custom ones).
    _listener_places: List[int]

    def _set_hook(self, kind: str, func: Optional[Callable[..., Any]]) -> None:
        _args.callback(func, f"the {kind} hook", optional=True)
        with self._state:
            self._require_open()
            self._hooks[kind] = func
            if func is None or kind in self._installed:
                return  # the installed trampoline now calls the new function
            if self._runs_here():
                self._install(kind)
                return
            # The loop holds the broker: it installs between two passes.
            if kind not in self._pending_installs:
                self._pending_installs.append(kind)
            if self._loop_thread == threading.get_ident():
                return  # from a hook: installed after this pass
            self._wake()
            while kind not in self._installed and self._loop_thread is not None:
                self._installed_event.wait(5.0)
            if kind not in self._installed and self._loop_thread is None:
                self._install(kind)

    def _apply_installs(self) -> None:
        with self._state:
            while self._pending_installs:
                self._install(self._pending_installs.pop(0))
            self._installed_event.notify_all()

    def _install(self, kind: str) -> None:
        """Sets the C trampoline of ``kind`` (lock held, broker not in a pass)."""
        if kind in self._installed:
            return
        lib = self._lib
        setter, pointer = {
            "auth": ("mqlite_broker_set_auth_callback", self._c_auth),
            "acl": ("mqlite_broker_set_acl_callback", self._c_acl),
            "message": ("mqlite_broker_set_message_callback", self._c_message),
            "event": ("mqlite_broker_set_event_callback", self._c_event),
        }[kind]
        _check(setter, getattr(lib, setter)(self._broker, pointer, None))
        self._installed.add(kind)

    def on_auth(self, func: Optional[F]) -> Optional[F]:
        """Sets the authentication hook (usable as a decorator); None removes
        it (everyone is accepted).

        ``func(info: ConnectInfo)`` returns True (accept), False or None
        (refused: CONNACK 5), or an :class:`AuthDecision` (``PENDING``:
        answer later with :meth:`complete_auth` and ``info.token``). An
        exception refuses the client.

        MQTT 5: it may also return :class:`AuthRefuse` (a chosen reason
        code) and, for enhanced authentication (``info.authentication_method``
        set), :class:`AuthContinue` (send a challenge; the hook is called
        again with the client's answer, ``info.auth_step`` one higher) or
        :class:`AuthAcceptWith` (accept with final data). It is also called
        when a connected client re-authenticates (``info.reauthentication``).
        """
        self._set_hook("auth", func)
        return func

    def on_acl(self, func: Optional[F]) -> Optional[F]:
        """Sets the ACL hook (usable as a decorator); None removes it
        (everything allowed).

        ``func(client: ClientInfo, access: AclAccess, topic: str)`` returns
        a truth value: allowed or not. It runs for each PUBLISH, each
        subscription filter, and each delivery (``RECEIVE``): keep it
        cheap. An exception denies.
        """
        self._set_hook("acl", func)
        return func

    def on_message(self, func: Optional[F]) -> Optional[F]:
        """Sets the message hook (usable as a decorator); None removes it.

        ``func(client: ClientInfo | None, message: Message)`` sees every
        accepted PUBLISH (``client`` is None for the host's own) and returns
        None or True (pass), False or ``MessageDecision.DROP`` (drop), or a
        :class:`Message` to deliver instead. An exception drops the message.
        """
        self._set_hook("message", func)
        return func

    def on_event(self, func: Optional[F]) -> Optional[F]:
        """Sets the event hook (usable as a decorator); None removes it.

        ``func(event: Event)`` is told of connections, disconnections,
        subscriptions and unsubscriptions. Exceptions are logged.
        """
        self._set_hook("event", func)
        return func

    def _auth_trampoline(self, userdata: Any, info_ptr: Any) -> int:
        try:
            hook = self._hooks["auth"]
            if hook is None:
                return int(AuthDecision.ACCEPT)
            answer = hook(_connect_info(self._lib, info_ptr, self._listener_places))
            if isinstance(answer, bool) or answer is None:
                return int(AuthDecision.ACCEPT if answer else AuthDecision.NOT_AUTHORIZED)
            if isinstance(answer, (AuthContinue, AuthAcceptWith)):
                function = "mqlite_connect_info_set_reply_data"
                _check(function, self._lib.mqlite_connect_info_set_reply_data(
                    info_ptr, answer.data, len(answer.data)))
                if isinstance(answer, AuthContinue):
                    return _native.MQLITE_AUTH_CONTINUE
                return _native.MQLITE_AUTH_ACCEPT_WITH_DATA
            if isinstance(answer, AuthRefuse):
                return answer.decision
            return int(AuthDecision(answer))
        except BaseException:
            log.exception("on_auth hook raised; the client is refused")
            return int(AuthDecision.NOT_AUTHORIZED)

    def _acl_trampoline(self, userdata: Any, client_ptr: Any, access: int, topic: Any,
                        topic_len: int) -> bool:
        try:
            hook = self._hooks["acl"]
            if hook is None:
                return True
            client = _client(client_ptr.contents, self._lib, self._listener_places)
            return bool(hook(client, AclAccess(access), view_str(topic, topic_len)))
        except BaseException:
            log.exception("on_acl hook raised; access denied")
            return False

    def _message_trampoline(self, userdata: Any, origin_ptr: Any, message_ptr: Any,
                            rewrite: Any) -> int:
        try:
            hook = self._hooks["message"]
            if hook is None:
                return int(MessageDecision.PASS)
            origin = (_client(origin_ptr.contents, self._lib, self._listener_places)
                      if origin_ptr else None)
            answer = hook(origin, _message(self._lib, message_ptr))
            if answer is None or answer is True:
                return int(MessageDecision.PASS)
            if answer is False:
                return int(MessageDecision.DROP)
            if isinstance(answer, Message):
                # With its properties; the original's expiry is kept.
                function = "mqlite_message_rewrite_set_with"
                topic = _args.c_string(answer.topic, "topic", function,
                                       _native.MQLITE_INVALID_TOPIC)
                payload = _encode_payload(answer.payload)
                with _CProperties(self._lib, answer.properties, function) as properties:
                    _check(function, self._lib.mqlite_message_rewrite_set_with(
                        rewrite, topic, len(topic), payload, len(payload),
                        _check_qos(answer.qos, function), bool(answer.retain), properties))
                return int(MessageDecision.REWRITE)
            decision = MessageDecision(answer)
            if decision == MessageDecision.REWRITE:
                raise _invalid("on_message", _native.MQLITE_INVALID_ARGUMENT,
                               "return a Message to rewrite, not MessageDecision.REWRITE")
            return int(decision)
        except BaseException:
            log.exception("on_message hook raised; the message is dropped")
            return int(MessageDecision.DROP)

    def _event_trampoline(self, userdata: Any, event_ptr: Any) -> None:
        try:
            hook = self._hooks["event"]
            if hook is None:
                return
            view = event_ptr.contents
            try:
                kind = EventKind(view.kind)
            except ValueError:
                return  # a kind of a later library: ignored, as C programs do
            try:
                reason = CloseReason(view.reason)
            except ValueError:
                reason = CloseReason.OTHER
            dropped, queued = c_uint64(), c_size_t()
            if kind == EventKind.QUEUE_OVERFLOW:
                _check("mqlite_event_queue_overflow", self._lib.mqlite_event_queue_overflow(
                    event_ptr, byref(dropped), byref(queued)))
            event = Event(
                kind=kind,
                client=_client(view.client, self._lib, self._listener_places),
                protocol_level=view.protocol_level,
                clean_session=bool(view.clean_session),
                session_present=bool(view.session_present),
                qos=view.qos,
                reason=reason,
                filter=view_optional_str(view.filter, view.filter_len),
                dropped=dropped.value,
                queued=queued.value,
            )
            hook(event)
        except BaseException:
            log.exception("on_event hook raised")
