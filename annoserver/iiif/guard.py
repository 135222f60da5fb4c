"""The SSRF guard: which URLs, hosts and addresses the IIIF client may connect to.

The server fetches URLs that clients name, so without a guard it is an open proxy into the
network it runs in. :class:`HostGuard` refuses schemes other than http/https and any host that
resolves to an address that is not globally routable (loopback, private, link-local, multicast,
reserved, unspecified, shared, site-local, or a public-looking IPv6 address that embeds one of
those IPv4 addresses), unless the host (or ``host:port``) is in ``allowed_hosts``. An optional
``public_allow_list`` restricts public hosts too. The HTTP layer calls :meth:`HostGuard.check_url`
before every request and redirect hop, and :meth:`HostGuard.resolve` when it opens a
connection, connecting only to the addresses it checked (so DNS rebinding gains nothing).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from annoserver.iiif.errors import ForbiddenHost, UnknownHost, UpstreamError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# IANA's special-purpose blocks that are not globally reachable, listed here rather than left
# to ``ipaddress.is_global``, whose table differs between Python patch releases.
_NON_PUBLIC = tuple(ipaddress.ip_network(block) for block in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
SCHEMES = frozenset({"http", "https"})


def _normalise(entries: Iterable[str] | str | None) -> frozenset[str] | None:
    if entries is None:
        return None
    if isinstance(entries, str):  # "a.org, b.org:8182" as an environment variable gives it
        entries = entries.replace(",", " ").split()
    return frozenset(e.strip().lower().rstrip(".") for e in entries if e and e.strip())


@dataclass(frozen=True)
class HostGuard:
    """Which hosts may be fetched.

    Attributes:
        allowed_hosts: Hosts (``name``, ``name:port``, an IP, or ``[v6]:port``) fetched
            whatever they resolve to: the way to let the server reach an internal image
            server (``ANNOSERVER_ALLOWED_HOSTS``).
        public_allow_list: When given, public hosts must also match it: exact names,
            ``name:port``, or ``*.example.org`` for subdomains.
    """

    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    public_allow_list: frozenset[str] | None = None

    @classmethod
    def build(cls, allowed_hosts: Iterable[str] | str = (),
              public_allow_list: Iterable[str] | str | None = None) -> HostGuard:
        """Make a guard from host names (iterables or comma/space-separated strings).

        Case and trailing dots are ignored.
        """
        return cls(_normalise(allowed_hosts) or frozenset(), _normalise(public_allow_list))

    def is_allowed_host(self, host: str, port: int) -> bool:
        """Whether ``host`` (at ``port``) is explicitly allow-listed."""
        return bool(self.allowed_hosts & set(_names(host, port)))

    def check_url(self, url: str) -> tuple[str, int]:
        """Refuse a URL by scheme or name (no DNS); return its ``(host, port)``.

        Raises:
            ForbiddenHost: Not http/https, no host, or outside the public allow-list.
        """
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError as error:
            raise ForbiddenHost(f"{url!r} is not a valid URL ({error})") from error
        if parts.scheme not in SCHEMES:
            raise ForbiddenHost(f"only http and https URLs are fetched, not {url!r}")
        if not host:
            raise ForbiddenHost(f"{url!r} names no host")
        if has_dot_segment(parts.path):
            raise ForbiddenHost(f"{url!r} has a '.' or '..' path segment (plain or percent-"
                                "encoded): no IIIF URL needs one, and the server it names would "
                                "resolve it to some other resource")
        port = port or (443 if parts.scheme == "https" else 80)
        if not self.is_allowed_host(host, port) and not self._publicly_listed(host, port):
            raise ForbiddenHost(f"host {host!r} is not in the allow-list of image hosts")
        return host, port

    def resolve(self, host: str, port: int) -> list[tuple[int, tuple]]:
        """Resolve ``host`` and refuse it unless allow-listed or every address is public.

        Returns:
            ``(family, sockaddr)`` pairs to connect to, in resolver order.

        Raises:
            ForbiddenHost: One of the name's addresses is not public.
            UpstreamError: The name does not resolve.
        """
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            unknown = isinstance(error, socket.gaierror) and error.errno == socket.EAI_NONAME
            raise (UnknownHost if unknown else UpstreamError)(
                f"host {host!r} does not resolve ({error})") from error
        if not self.is_allowed_host(host, port):
            if not self._publicly_listed(host, port):
                raise ForbiddenHost(f"host {host!r} is not in the allow-list of image hosts")
            for *_, sockaddr in infos:
                address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
                if not is_public(address):
                    raise ForbiddenHost(
                        f"host {host!r} resolves to the non-public address {address}; "
                        "add it to the allowed hosts to fetch from it")
        return [(family, sockaddr) for family, _, _, _, sockaddr in infos]

    def _publicly_listed(self, host: str, port: int) -> bool:
        if self.public_allow_list is None:
            return True
        names = set(_names(host, port))
        if names & self.public_allow_list:
            return True
        host = host.lower().rstrip(".")
        return any(p.startswith("*.") and host.endswith(p[1:]) for p in self.public_allow_list)


def has_dot_segment(path: str) -> bool:
    """Whether a URL path walks up or stays put (``..``/``.``), however it is spelled.

    Percent-decoded first, ``%2F`` included: an identifier like ``a%2F..%2Fb`` is a
    traversal for image servers that decode it before looking the file up.
    """
    decoded = path
    for _ in range(3):  # double and triple encodings (%252e) too
        decoded = unquote(decoded)
    return any(segment in (".", "..") for segment in decoded.replace("\\", "/").split("/"))


def _names(host: str, port: int) -> tuple[str, ...]:
    host = host.lower().rstrip(".").strip("[]")
    bracketed = f"[{host}]" if ":" in host else host
    return host, bracketed, f"{bracketed}:{port}"


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable, looking inside IPv6 forms that embed IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    if any(address in block for block in _NON_PUBLIC if block.version == address.version):
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_private
        or address.is_loopback or address.is_link_local or address.is_unspecified)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
