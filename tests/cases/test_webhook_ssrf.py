"""Webhooks never reach inside the platform's network (kernel/netguard.py): an internal webhook URL is
refused when saved (400 naming the field, nothing saved) and again when delivered (DNS can change),
the request goes to the address that was checked (a DNS answer that changes between check and connect
is never used), and the operator's allow-list lets an on-prem receiver through.

The receiver is a real HTTP server on 127.0.0.1. Name resolution of the made-up ``*.test`` hosts is
faked by swapping socket.getaddrinfo: there is no DNS server to change answers here, and that a DNS
answer changes is exactly the fault under test."""
import ipaddress
import socket
import threading

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from kernel import netguard
from kernel.events import relay_pending
from modules.cases import services
from modules.cases.intake import integrations, webhooks
from modules.cases.models import Integration, WebhookDelivery
from tests.cases.test_webhooks import Receiver
from tests.conftest import client_for

ADMIN = "/api/v1/cases/integrations/"
D = WebhookDelivery.Status
PUBLIC = "93.184.216.34"  # a public address; nothing here ever connects to it


@pytest.fixture
def receiver():
    rx = Receiver()
    thread = threading.Thread(target=rx.server.serve_forever, daemon=True)
    thread.start()
    yield rx
    rx.server.shutdown()
    rx.server.server_close()


@pytest.fixture
def dns(monkeypatch):
    """``dns["hook.test"] = ["127.0.0.1"]`` sets what a name resolves to from now on; ``dns.asked``
    counts the look-ups. Names not set resolve as usual."""
    real = socket.getaddrinfo

    class Dns(dict):
        asked: list[str] = []

    answers = Dns()
    answers.asked = []

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
        name = host.decode() if isinstance(host, bytes) else host
        if name not in answers:
            return real(host, port, family, type, proto, flags)
        answers.asked.append(name)
        rows = []
        for ip in answers[name]:
            af = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
            rows.append((af, socket.SOCK_STREAM, 6, "", (ip, int(port or 0), 0, 0)[:4 if af == socket.AF_INET6 else 2]))
        return rows

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def error(response, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    return body["error"]


INTERNAL = ["http://127.0.0.1:8000/hook", "http://localhost/hook", "https://10.1.2.3/hook", "http://192.168.1.20/",
            "http://169.254.169.254/latest/meta-data/", "http://[::1]:8080/", "http://[::ffff:127.0.0.1]/",
            "http://[fd00:ec2::254]/", "http://metadata.google.internal/computeMetadata/v1/",
            "http://100.100.100.200/latest/meta-data/", "http://100.64.0.1/", "http://0.0.0.0/",
            "http://2130706433/", "http://127.1/", "http://224.0.0.1/", "http://intranet.test/hook",
            "http://both.test/hook", "ftp://hotline.example.cn/", "https://user:secret@hotline.example.cn/hook"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", INTERNAL)
def test_an_internal_webhook_url_is_refused_when_saved(world, dns, url):
    dns["intranet.test"] = ["127.0.0.1"]  # a name that resolves to loopback
    dns["both.test"] = [PUBLIC, "10.0.0.7"]  # one internal address of several is enough
    admin = client_for(world.district, world.admin)
    refused = error(admin.post(ADMIN, {"name": "12345", "kind": "hotline", "webhook_url": url}, format="json"))
    assert set(refused["fields"]) == {"webhook_url"} and refused["fields"]["webhook_url"][0]
    assert refused["message"] == refused["fields"]["webhook_url"][0]
    made = admin.post(ADMIN, {"name": "12345", "kind": "hotline", "webhook_url": "https://hotline.example.cn/h"},
                      format="json")
    assert made.status_code == 201
    pk = made.json()["id"]
    assert set(error(admin.patch(f"{ADMIN}{pk}/", {"webhook_url": url}, format="json"))["fields"]) == {"webhook_url"}
    with tenant_context(world.district):
        assert Integration.objects.get(pk=pk).webhook_url == "https://hotline.example.cn/h"
        assert Integration.objects.count() == 1


@pytest.mark.django_db
def test_a_public_address_a_name_that_does_not_resolve_yet_and_an_allowed_host_are_saved(world, dns, settings):
    dns["hotline.test"] = [PUBLIC]
    admin = client_for(world.district, world.admin)
    for url in (f"https://{PUBLIC}/hook", "https://hotline.test:8443/hook?x=1", "https://hotline.invalid/hook"):
        assert admin.post(ADMIN, {"name": "ok", "kind": "hotline", "webhook_url": url},
                          format="json").status_code == 201, url
    too_long = "https://hotline.example.cn/" + "a" * 300
    assert "webhook_url" in error(admin.post(ADMIN, {"name": "x", "kind": "hotline", "webhook_url": too_long},
                                             format="json"))["fields"]
    on_prem = {"name": "on-prem", "kind": "hotline", "webhook_url": "http://10.20.0.5:8080/hook"}
    assert admin.post(ADMIN, on_prem, format="json").status_code == 400
    settings.WEBHOOK_ALLOWED_HOSTS = ["10.20.0.0/16"]
    assert admin.post(ADMIN, on_prem, format="json").status_code == 201
    settings.WEBHOOK_ALLOWED_HOSTS = ["10.20.0.0/16", "169.254.0.0/16", "metadata.google.internal"]
    for url in ("http://169.254.169.254/", "http://metadata.google.internal/"):  # never, even when allowed
        assert admin.post(ADMIN, {"name": "m", "kind": "hotline", "webhook_url": url}, format="json").status_code == 400


def _owed_delivery(w, integration):
    services.submit_case(actor=None, channel="hotline", integration=integration, external_id="12345-0001",
                         category="corridor_clutter", title="楼道堆物", grid=w.places["g1"])
    relay_pending()
    return WebhookDelivery.objects.get()


@pytest.mark.django_db
def test_a_host_that_now_resolves_to_loopback_is_not_called_and_the_attempt_fails(in_district, dns, receiver):
    port = receiver.server.server_port
    dns["hook.test"] = [PUBLIC]  # public when saved …
    hotline, _key = integrations.create_integration(actor=in_district.admin, name="12345", kind="hotline",
                                                    webhook_url=f"http://hook.test:{port}/mashang")
    _owed_delivery(in_district, hotline)
    dns["hook.test"] = ["127.0.0.1"]  # … loopback, where the receiver listens, when delivered
    assert webhooks.deliver_due() == 0
    assert receiver.requests == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (D.PENDING, 1, None)
    assert delivery.last_error.startswith("Refused: hook.test resolves to an internal address (loopback)")
    WebhookDelivery.objects.update(attempts=webhooks.MAX_ATTEMPTS - 1, next_attempt_at=timezone.now())
    assert webhooks.deliver_due() == 0 and receiver.requests == []
    assert WebhookDelivery.objects.get().status == D.FAILED  # retried (and checked) like any failure, then given up


@pytest.mark.django_db
def test_a_url_saved_before_the_check_existed_is_refused_at_delivery(in_district, receiver):
    hotline, _key = integrations.create_integration(actor=in_district.admin, name="12345", kind="hotline",
                                                    webhook_url="https://hotline.invalid/hook")
    Integration.objects.filter(pk=hotline.pk).update(webhook_url=receiver.url)  # http://127.0.0.1:<port>/…
    _owed_delivery(in_district, hotline)
    assert webhooks.deliver_due() == 0 and receiver.requests == []
    assert "loopback" in WebhookDelivery.objects.get().last_error


@pytest.mark.django_db
def test_an_allowed_host_is_called_at_the_address_that_was_checked(in_district, dns, receiver, settings):
    """DNS answers 127.0.0.1 (allowed) to the check, and 127.0.0.2 (refused, and nothing listens there)
    to any later look-up: the request still reaches the receiver on 127.0.0.1, looked up once, with the
    URL's own host in the Host header."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    port = receiver.server.server_port

    class Rebinding(list):
        def __iter__(self):
            answer = ["127.0.0.1"] if not self else ["127.0.0.2"]
            self.append(1)
            return iter(answer)

    dns["hook.test"] = Rebinding()
    hotline, _key = integrations.create_integration(actor=in_district.admin, name="12345", kind="hotline",
                                                    webhook_url=f"http://hook.test:{port}/mashang?v=2")
    _owed_delivery(in_district, hotline)
    dns["hook.test"] = Rebinding()
    dns.asked.clear()
    assert webhooks.deliver_due() == 1
    assert dns.asked == ["hook.test"]
    assert len(receiver.requests) == 1
    headers, _body = receiver.requests[0]
    assert headers["host"] == f"hook.test:{port}"
    assert WebhookDelivery.objects.get().status == D.DELIVERED


def test_address_kinds():
    def reason(ip):
        return netguard.blocked_reason(ipaddress.ip_address(ip))

    assert {ip: reason(ip) for ip in ("127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.0.1", "169.254.1.1",
                                      "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.251", "240.0.0.1",
                                      "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254",
                                      "::ffff:8.8.8.8", "2002:a00:1::", "64:ff9b::7f00:1", "ff02::1")} == {
        "127.0.0.1": "loopback", "10.0.0.1": "private", "172.16.0.1": "private", "192.168.0.1": "private",
        "169.254.1.1": "link-local", "169.254.169.254": "cloud metadata", "100.64.0.1": "shared",
        "0.0.0.0": "unspecified", "224.0.0.251": "multicast", "240.0.0.1": "reserved",
        "255.255.255.255": "reserved", "::1": "loopback", "::": "unspecified", "fe80::1": "link-local",
        "fc00::1": "private", "fd00:ec2::254": "cloud metadata", "::ffff:8.8.8.8": "IPv4-mapped",
        "2002:a00:1::": "private", "64:ff9b::7f00:1": "loopback", "ff02::1": "multicast"}
    assert reason("8.8.8.8") == reason("2400:3200::1") == reason(PUBLIC) == ""
    allowed = netguard.Allowed.parse("hotline.gov.local, .intranet.local,10.20.0.0/16")
    assert allowed.host("hotline.gov.local") and allowed.host("a.intranet.local") and allowed.host("intranet.local")
    assert not allowed.host("gov.local") and allowed.address(ipaddress.ip_address("10.20.3.4"))
    assert not allowed.address(ipaddress.ip_address("10.21.0.1"))


def test_https_goes_to_the_checked_address_with_the_hosts_name_in_sni_and_the_certificate_check(dns, tmp_path):
    """A TLS receiver on 127.0.0.1 with a certificate for hook.test: the pinned connection still says
    "hook.test" in SNI, checks the certificate against that name and sends it as Host."""
    import datetime as dt
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hook.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("hook.test")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    seen = {"sni": [], "host": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["host"].append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server_context.sni_callback = lambda sock, server_name, ctx: seen["sni"].append(server_name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client_context = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        port = server.server_port
        dns["hook.test"] = ["127.0.0.1"]
        allowed = netguard.Allowed.parse("127.0.0.1")

        def post(url):
            return netguard.post(url, body=b"{}", headers={"Content-Type": "application/json"}, timeout=5,
                                 allowed=allowed, context=client_context)

        assert post(f"https://hook.test:{port}/hook").status == 204
        assert seen == {"sni": ["hook.test"], "host": [f"hook.test:{port}"]}
        with pytest.raises(ssl.SSLCertVerificationError):  # the address itself is not the certificate's name
            post(f"https://127.0.0.1:{port}/hook")
        with pytest.raises(netguard.Refused):  # and without the operator's allow-list, never called
            netguard.post(f"https://hook.test:{port}/hook", body=b"{}", headers={}, timeout=5,
                          allowed=netguard.Allowed(), context=client_context)
        assert len(seen["host"]) == 1
    finally:
        server.shutdown()
        server.server_close()
