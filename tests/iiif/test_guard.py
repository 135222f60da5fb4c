"""The SSRF guard. Only loopback addresses are ever connected to; other addresses are only
classified or resolved numerically (no traffic leaves the machine)."""

from __future__ import annotations

import ipaddress
import socket
import time

import pytest
import requests

from annoserver.iiif import (
    ForbiddenHost,
    HostGuard,
    UpstreamError,
    fetch_bytes,
    load_service,
    make_session,
)
from annoserver.iiif import guard as guard_module
from annoserver.iiif.errors import UnknownHost
from annoserver.iiif.guard import is_public


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.0.0.2", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "255.255.255.255", "224.0.0.1", "239.1.2.3", "192.0.0.8",
    "198.18.0.1", "240.0.0.1", "::1", "::", "fe80::1", "fc00::1", "fec0::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
])
def test_non_public_addresses(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808",
])
def test_public_addresses(address):
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/", "http:///nohost",
    "http://[::1/", "javascript:alert(1)", "//127.0.0.1/x",
])
def test_only_http_and_https_urls(url):
    with pytest.raises(ForbiddenHost):
        HostGuard().check_url(url)


@pytest.mark.parametrize(("host", "port"), [
    ("127.0.0.1", 80), ("localhost", 80), ("127.0.0.2", 8080), ("10.1.2.3", 80),
    ("169.254.169.254", 80), ("::1", 443), ("0.0.0.0", 80), ("::ffff:127.0.0.1", 80),
])
def test_non_public_hosts_are_refused_when_resolved(host, port):
    with pytest.raises(ForbiddenHost) as caught:
        HostGuard().resolve(host, port)
    assert caught.value.status == 403 and host in caught.value.detail


def test_allowed_hosts_by_name_or_name_and_port():
    assert HostGuard.build(["127.0.0.1"]).resolve("127.0.0.1", 9)
    assert HostGuard.build(["LOCALHOST."]).resolve("localhost", 9)
    assert HostGuard.build(["127.0.0.1:9"]).resolve("127.0.0.1", 9)
    assert HostGuard.build(["[::1]:9"]).resolve("::1", 9)
    assert HostGuard.build("images.internal, 127.0.0.1:9").resolve("127.0.0.1", 9)
    with pytest.raises(ForbiddenHost):
        HostGuard.build(["127.0.0.1:9"]).resolve("127.0.0.1", 10)
    with pytest.raises(ForbiddenHost):  # allowing 127.0.0.1 does not allow all of loopback
        HostGuard.build(["127.0.0.1"]).resolve("127.0.0.2", 9)


def test_public_allow_list_is_checked_by_name_before_any_lookup():
    guard = HostGuard.build(public_allow_list=["images.example.org", "*.iiif.example.net"])
    assert guard.check_url("https://images.example.org/iiif/a/info.json") == (
        "images.example.org", 443)
    assert guard.check_url("http://tiles.iiif.example.net:8080/x") == (
        "tiles.iiif.example.net", 8080)
    for url in ("https://evil.example.org/x", "https://iiif.example.net.evil.test/x",
                "http://127.0.0.1/x"):
        with pytest.raises(ForbiddenHost):
            guard.check_url(url)
    # Allowed (internal) hosts need no public listing.
    assert HostGuard.build(["127.0.0.1"], ["images.example.org"]).check_url("http://127.0.0.1/")


def test_loopback_iiif_server_refused_unless_allow_listed(reference_server, strict_session):
    info = reference_server.info_url("3.0", "small")
    with pytest.raises(ForbiddenHost):
        load_service(info, session=strict_session)
    with make_session(allowed_hosts=[f"127.0.0.1:{reference_server.port}"]) as allowed:
        assert load_service(info, session=allowed).width == 600


def test_refused_before_any_byte_is_sent(fault_server, strict_session):
    with pytest.raises(ForbiddenHost):
        fetch_bytes(fault_server.url + "/json", session=strict_session)
    assert fault_server.hits["/json"] == 0


def test_redirect_from_an_allowed_host_to_a_forbidden_one(fault_server, session):
    # 127.0.0.1 is allow-listed; 127.0.0.2 is loopback and is not: the hop is refused
    # before any connection to it is made.
    for target in (f"http://127.0.0.2:{fault_server.port}/json", "http://localhost/json",
                   "file:///etc/passwd", "http://[::1]/json"):
        with pytest.raises(ForbiddenHost):
            fetch_bytes(f"{fault_server.url}/redirect?to={target}", session=session)
    assert fault_server.hits["/json"] == 0


def test_connections_are_guarded_even_without_the_url_check(fault_server, strict_session):
    # Whatever the caller does with the session, its connections only reach checked
    # addresses (what defeats DNS rebinding between the check and the connect).
    with pytest.raises(ForbiddenHost):
        strict_session.get(fault_server.url + "/json", timeout=5)
    assert fault_server.hits["/json"] == 0
    with requests.Session() as plain:  # the control: an unguarded session gets through
        plain.trust_env = False
        assert plain.get(fault_server.url + "/json", timeout=5).status_code == 200


def test_https_connections_are_guarded_too(fault_server, session, strict_session):
    url = f"https://127.0.0.1:{fault_server.port}/json"
    with pytest.raises(ForbiddenHost):
        fetch_bytes(url, session=strict_session)
    assert fault_server.hits["/json"] == 0
    with pytest.raises(UpstreamError):  # allowed through; then no TLS on a plain HTTP server
        fetch_bytes(url, session=session)


def test_a_name_that_does_not_exist_is_not_retried(monkeypatch, session):
    # A resolver's "no such name" cannot be produced here without asking a real DNS server
    # (traffic off this machine), so getaddrinfo is made to answer it.
    def no_such_name(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(guard_module.socket, "getaddrinfo", no_such_name)
    started = time.monotonic()
    with pytest.raises(UnknownHost, match="does not resolve"):
        fetch_bytes("http://archive.invalid/iiif/info.json", session=session)
    assert time.monotonic() - started < 0.5  # no backoff and retry


@pytest.mark.parametrize("path", [
    "/iiif/../admin", "/iiif/./x", "/iiif/%2e%2e/admin", "/iiif/.%2E/admin", "/iiif/%2E./x",
    "/iiif/a%2F..%2Fsecret/info.json", "/iiif/%252e%252e/x", "/iiif/..%5Cadmin", "/..",
])
def test_traversal_tricks_are_refused_before_any_byte_is_sent(fault_server, session, path):
    with pytest.raises(ForbiddenHost, match="path segment"):
        fetch_bytes(fault_server.url + path, session=session)
    with pytest.raises(ForbiddenHost, match="path segment"):  # a hop of a redirect, too
        fetch_bytes(f"{fault_server.url}/redirect?to={fault_server.url}{path}", session=session)
    assert not any(".." in hit or "%2" in hit.lower() for hit in fault_server.hits)


@pytest.mark.parametrize("path", ["/iiif/a%2Fb/info.json", "/iiif/..x/info.json",
                                  "/iiif/x../full/max/0/default.jpg", "/iiif/.well/info.json"])
def test_dots_inside_names_are_not_traversals(path):
    assert not guard_module.has_dot_segment(path)
