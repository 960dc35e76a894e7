"""Host names where the C library takes IP addresses.

The library binds ``IP:PORT`` and resolves nothing (its listeners are
made before any event loop runs, and a resolver call there would block
it). The bindings resolve a name here, with ``getaddrinfo``, when the
broker is made, and hand the library the first address: the one a client
resolving the same name on this machine tries first.
"""

from __future__ import annotations

import ipaddress
import socket

from . import _codes
from .errors import _invalid


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(host: str, function: str) -> str:
    """``host`` as an IP address: itself when it is one, else the first
    address ``getaddrinfo`` gives for it (IPv4 or IPv6).

    Raises:
        InvalidArgument: an empty host, or a name that does not resolve
            (``MQLITE_INVALID_ADDRESS``; the detail has the resolver's
            word).
    """
    if _is_ip(host):
        return host
    if not host:
        raise _invalid(function, _codes.MQLITE_INVALID_ADDRESS,
                       "host is empty (give an IP address or a host name)")
    try:
        found = socket.getaddrinfo(host, None, socket.AF_UNSPEC, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        # UnicodeError: a name IDNA cannot encode (an empty label, one over
        # 63 characters), which is as unresolvable as a gaierror.
        raise _invalid(function, _codes.MQLITE_INVALID_ADDRESS,
                       f"host {host!r} cannot be resolved: {error}") from None
    for family, _type, _proto, _name, sockaddr in found:
        if family in (socket.AF_INET, socket.AF_INET6):
            # An IPv6 link-local address may come with "%scope", which
            # the library's address parser does not take.
            return str(sockaddr[0]).split("%", 1)[0]
    raise _invalid(function, _codes.MQLITE_INVALID_ADDRESS,
                   f"host {host!r} has no IPv4 or IPv6 address")


def address(host: str, port: int) -> str:
    """``IP:PORT`` (``[IP]:PORT`` for IPv6) for the library."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def resolve_listener(text: str, function: str) -> str:
    """A listener given as ``"HOST:PORT"``, with ``HOST`` resolved when it
    is a name. Anything that is not of that form (``[::1]:0``, ``::1``, no
    port) goes to the library unchanged, which accepts it or says what is
    wrong with it."""
    if text.startswith("["):
        return text
    host, colon, port = text.rpartition(":")
    if not colon or not host or ":" in host or _is_ip(host):
        return text
    return address(resolve(host, function), int(port)) if port.isdigit() else text
