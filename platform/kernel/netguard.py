"""Outbound HTTP to addresses someone else typed in (webhooks today): never to the platform's own
network. One place decides which addresses may be called, for every feature that calls out.

Refused: anything that is not a plain public unicast address — loopback, private (RFC 1918, ULA),
link-local, unspecified, multicast, reserved, shared (100.64/10, where Alibaba Cloud's metadata server
100.100.100.200 lives), IPv4-mapped / 6to4 / NAT64 IPv6 wrapping such an address, and the cloud metadata
endpoints (169.254.169.254, fd00:ec2::254, metadata.google.internal). Only http and https, no user or
password in the URL.

Two moments, two checks:
- ``check_url`` when a URL is saved: the URL's form, then the host's current addresses. A host that
  does not resolve (yet) is accepted: nothing is called then, and the call itself checks again.
- ``post`` when it is called: resolve once, check every address, then connect to a checked address
  (pinned: a DNS answer that changes between check and connect — DNS rebinding — is never used), with
  the URL's host in the Host header and in TLS SNI / certificate check. Redirects are never followed.

The operator may allow hosts on a private network (an on-prem hotline) with a list of entries: a
host name ("hotline.gov.local"), a domain with its sub-domains (".gov.local"), an address
("10.20.0.5") or a network ("10.20.0.0/16"). The metadata endpoints stay refused even then."""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(map(ipaddress.ip_address, (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Tencent Cloud …
    "169.254.170.2",  # AWS ECS task credentials
    "100.100.100.200",  # Alibaba Cloud
    "fd00:ec2::254",  # AWS over IPv6
)))
METADATA_NAMES = frozenset(("metadata.google.internal", "metadata.goog", "metadata"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(ValueError):
    """The URL or an address of its host may not be called. ``str()`` says why, in words."""


class Unresolvable(OSError):
    """The host has no address (now)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written, lower case, without brackets
    port: int
    path: str  # path and query, never empty

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.scheme == "https" else 80) else f"{host}:{self.port}"


# --- which addresses ------------------------------------------------------------------------------------

def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str:
    """Why ``ip`` may not be called ("loopback", "private", …), or "" when it is a public unicast address."""
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    if ip.version == 6 and ip.ipv4_mapped:
        return "IPv4-mapped"
    inner = _embedded_v4(ip)
    if inner is not None and (reason := blocked_reason(inner)):
        return reason
    for reason, hit in (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback),
                        ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
                        ("shared", ip.version == 4 and ip in ipaddress.IPv4Network("100.64.0.0/10")),
                        ("reserved", ip.is_reserved), ("private", ip.is_private),
                        ("private", ip.version == 6 and ip.is_site_local)):
        if hit:
            return reason
    return "" if ip.is_global else "reserved"


@dataclass(frozen=True)
class Allowed:
    """The operator's allow-list, parsed once."""
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str] | str | None) -> Allowed:
        if isinstance(entries, str):
            entries = entries.split(",")
        names, suffixes, networks = set(), [], []
        for entry in (e.strip().lower().strip("[]") for e in entries or ()):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if entry.startswith("."):
                    suffixes.append(entry)
                else:
                    names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(suffixes), tuple(networks))

    def host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.names or any(host.endswith(s) or host == s[1:] for s in self.suffixes)

    def address(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.networks if net.version == ip.version)


KINDS = {"cloud metadata": gettext_noop("cloud metadata"), "IPv4-mapped": gettext_noop("IPv4-mapped"),
         "unspecified": gettext_noop("unspecified"), "loopback": gettext_noop("loopback"),
         "link-local": gettext_noop("link-local"), "multicast": gettext_noop("multicast"),
         "shared": gettext_noop("shared"), "reserved": gettext_noop("reserved"), "private": gettext_noop("private")}


def check_address(ip: IPAddress, *, host: str, allowed: Allowed) -> None:
    """Refused unless ``ip`` is public, or allowed by the operator (by host or by address)."""
    reason = blocked_reason(ip)
    if not reason or (reason != "cloud metadata" and (allowed.host(host) or allowed.address(ip))):
        return
    values = {"host": host, "ip": ip, "kind": _(KINDS[reason])}
    if _literal(host) == ip:
        raise Refused(_("%(ip)s is an internal address (%(kind)s): the platform does not call it.") % values)
    # Which address a name has stays unsaid: a district administrator is not to map the platform's network.
    raise Refused(_("%(host)s resolves to an internal address (%(kind)s): the platform does not call it.") % values)


# --- URLs -------------------------------------------------------------------------------------------------

def parse_url(url: str) -> Target:
    """The URL's parts, or Refused when it is not a plain http(s) URL to a host that may be named."""
    url = url or ""
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise Refused(_("The address may not contain spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused(_("This is not a valid address.")) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise Refused(_("An http(s) address."))
    if parts.username is not None or parts.password is not None:
        raise Refused(_("No user name or password in the address: the request is signed instead."))
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise Refused(_("The address names no host."))
    if host in METADATA_NAMES or host == "localhost" or host.endswith(".localhost"):
        raise Refused(_("%(host)s is an internal host: the platform does not call it.") % {"host": host})
    scheme = parts.scheme.lower()
    path = parts.path or "/"
    return Target(scheme, host, port or (443 if scheme == "https" else 80),
                  f"{path}?{parts.query}" if parts.query else path)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def resolve(target: Target, *, allowed: Allowed) -> list[IPAddress]:
    """Every address of the target's host, each checked: Refused if any of them is refused (a host
    with one internal address is treated as internal), Unresolvable if it has none."""
    literal = _literal(target.host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Unresolvable(f"{target.host}: {exc}") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos))
        if not addresses:
            raise Unresolvable(target.host)
    for ip in addresses:
        check_address(ip, host=target.host, allowed=allowed)
    return addresses


def check_url(url: str, *, allowed: Allowed) -> Target:
    """For saving a URL: Refused (with a message for the field) or the parsed target. A host that
    does not resolve now passes; ``post`` checks again when it calls."""
    target = parse_url(url)
    try:
        resolve(target, allowed=allowed)
    except Unresolvable:
        pass
    return target


# --- calling ----------------------------------------------------------------------------------------------

def _pinned(cls, address: IPAddress):
    class Pinned(cls):
        """Connects to the checked address, whatever DNS says now; Host, SNI and the certificate check
        keep the URL's host name."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._create_connection = lambda addr, timeout=None, source=None: socket.create_connection(
                (str(address), addr[1]), timeout, source)

    return Pinned


@dataclass
class Answer:
    status: int
    body: bytes  # the first bytes of the body only


def post(url: str, *, body: bytes, headers: dict, timeout: float, allowed: Allowed,
         read_limit: int = 200, context: ssl.SSLContext | None = None) -> Answer:
    """POST ``body`` to ``url`` after the checks above. Raises Refused, Unresolvable, OSError (refused
    connection, timeout, TLS) or http.client.HTTPException; any status (3xx included) is an Answer.
    ``context``: the TLS context for https (default: the system's CAs, host name checked)."""
    target = parse_url(url)
    addresses = resolve(target, allowed=allowed)
    last_error: Exception | None = None
    for address in addresses:  # like socket.create_connection: the first that connects
        if target.scheme == "https":
            conn = _pinned(http.client.HTTPSConnection, address)(
                target.host, target.port, timeout=timeout, context=context or ssl.create_default_context())
        else:
            conn = _pinned(http.client.HTTPConnection, address)(target.host, target.port, timeout=timeout)
        try:
            try:
                conn.connect()
            except OSError as exc:
                last_error = exc
                continue
            conn.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", target.host_header)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                conn.putheader(name, value)
            conn.endheaders(body)
            response = conn.getresponse()
            return Answer(response.status, response.read(read_limit))
        finally:
            conn.close()
    raise last_error or Unresolvable(target.host)
