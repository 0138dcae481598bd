"""The demo on a phone: `make run` serves plain http on a port of this machine, and the demo districts
live at ``<slug>.localhost``, which only this machine resolves. So that a printed (or on-screen) code
opens on a phone on the same network, one demo district also answers at the machine's LAN address
(a Domain row) and its codes point there: the codes setting ``base_url`` = ``http://<LAN address>:<port>``.
One address serves one district (the host picks the district); the others keep their *.localhost codes.
"""
from __future__ import annotations

import ipaddress
import os
import socket

from django.db import connection, transaction
from django_tenants.utils import tenant_context


def lan_address() -> str | None:
    """This machine's address on its network (``DEMO_LAN_HOST`` if set; "none" turns it off), or
    None without one. Connecting a UDP socket sends nothing: it only picks the outgoing interface."""
    configured = os.environ.get("DEMO_LAN_HOST", "").strip()
    if configured:
        return None if configured.lower() == "none" else configured
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere, nothing is sent
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback or address == "0.0.0.0" else address


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def open_to_lan(district, *, host: str, port: str | int) -> str:
    """Serve ``district`` at ``host`` too and point its codes at ``http://host:port``; an address
    given to this or another district by an earlier run (the machine moved networks) is taken back.
    Returns the new base URL of the district's codes."""
    from kernel.services import update_module_config
    from modules.codes.selectors import config
    from tenants.models import Domain

    origin = f"http://{host}:{port}" if str(port) not in ("", "80") else f"http://{host}"
    connection.set_schema_to_public()
    with transaction.atomic():
        stale = [d.pk for d in Domain.objects.filter(is_primary=False) if _is_address(d.domain) and d.domain != host]
        Domain.objects.filter(pk__in=stale).delete()
        Domain.objects.update_or_create(domain=host, defaults={"tenant": district, "is_primary": False})
    with tenant_context(district):
        data = config()
        if data.get("base_url") != origin:
            update_module_config(actor=None, module_key="codes", data={**data, "base_url": origin},
                                 note="demo: codes open on phones on this network")
    return origin


def allow_lan_host(allowed_hosts: list[str]) -> str | None:
    """Add the LAN address to ``allowed_hosts`` (the demo server's settings); returns it."""
    host = lan_address()
    if host and "*" not in allowed_hosts and host not in allowed_hosts:
        allowed_hosts.append(host)
    return host
