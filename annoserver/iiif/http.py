"""Guarded, capped downloads through the IIIF client's session.

:func:`fetch_bytes` follows redirects itself (a bounded number, each hop checked by the
session's guard), sends ``Authorization`` only to the origin it was given for, holds one of the
host's concurrency slots while it talks to it (and not while it waits to try again: 429/5xx
answers and refused connections are retried here, after ``Retry-After`` or a backoff, giving up
at once when the server asks for more time than the deadline leaves), maps every failure to an
:mod:`~annoserver.iiif.errors` class, and stops a response that is too large, too slow, or never
ends. :func:`fetch_json` adds parsing and the session's TTL cache.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from urllib3.exceptions import NewConnectionError

from annoserver.iiif.errors import ImageTooLarge, UnknownHost, UpstreamError, UpstreamTimeout
from annoserver.iiif.session import IIIFSession, Limits

JSON_ACCEPT = "application/ld+json, application/json;q=0.9, */*;q=0.1"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """A completed download: the final URL, its body and its media type."""

    url: str
    content: bytes
    content_type: str | None


def origin(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``url``, the unit ``Authorization`` is confined to."""
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def fetch_bytes(url: str, *, session: IIIFSession, limits: Limits | None = None,
                authorization: str | None = None, auth_origin: str | None = None,
                accept: str | None = None, max_bytes: int | None = None) -> Fetched:
    """Download ``url`` through the guard, following redirects, within the limits.

    Args:
        url: What to fetch.
        session: The session from :func:`make_session`.
        limits: Per-call limits; the session's when omitted.
        authorization: An ``Authorization`` header value for a restricted image.
        auth_origin: The URL whose origin may receive ``authorization``; ``url`` if omitted.
            Redirect hops to any other origin never get it.
        accept: An ``Accept`` header value.
        max_bytes: Body cap; ``limits.max_bytes`` when omitted.

    Returns:
        The final URL, body and media type.

    Raises:
        ForbiddenHost: A hop's scheme or host is refused by the guard.
        UpstreamError: Connection refused, a 4xx/5xx answer, or a bad redirect.
        UpstreamTimeout: A timeout, or the whole download overran ``limits.deadline``.
        ImageTooLarge: The body is larger than the cap.
    """
    limits = limits or session.limits
    deadline = time.monotonic() + limits.deadline
    trusted = origin(auth_origin or url) if authorization else None
    tries = redirects = 0
    while True:
        host, port = session.guard.check_url(url)
        headers = {"Accept": accept} if accept else {}
        if trusted is not None and origin(url) == trusted:
            headers["Authorization"] = authorization
        with session.host_slots.hold(f"{host}:{port}", deadline - time.monotonic()):
            try:
                response = _send(session, url, headers, limits, deadline)
            except (UpstreamTimeout, UnknownHost):
                raise
            except UpstreamError as error:  # refused or reset: worth another try
                failure, retry_after = error, None
            else:
                try:
                    status = response.status_code
                    if response.is_redirect:
                        redirects += 1
                        if redirects > limits.max_redirects:
                            raise UpstreamError(
                                f"more than {limits.max_redirects} redirects fetching {url}")
                        url = urljoin(url, response.headers["Location"])
                        continue
                    if 200 <= status < 300:
                        content = _read_capped(response, max_bytes or limits.max_bytes,
                                               deadline, url)
                        return Fetched(url, content, response.headers.get("Content-Type"))
                    failure = UpstreamError(f"{url} answered HTTP {status}",
                                            upstream_status=status)
                    if status not in session.retry.statuses:
                        raise failure
                    retry_after = session.retry.retry_after(response.headers.get("Retry-After"))
                finally:
                    response.close()
        failure.retry_after = retry_after
        tries += 1
        if tries > session.retry.retries:
            raise failure
        _pause(session, failure, retry_after, tries, deadline, url)


def _pause(session: IIIFSession, failure: UpstreamError, retry_after: float | None,
           tries: int, deadline: float, url: str) -> None:
    """Wait before the next try (never holding a host slot), or give up if it is too late.

    Raises:
        UpstreamError: The server asked for a pause longer than what is left of the deadline
            (with the answer's ``upstream_status``, so a job may try again much later).
    """
    remaining = deadline - time.monotonic()
    if retry_after is not None and retry_after > remaining:
        late = UpstreamError(f"{url} asked to retry after {retry_after:g} s, more than the "
                             f"{max(remaining, 0):.3g} s left before the fetch deadline; "
                             "giving up instead", **failure.extra)
        late.retry_after = retry_after
        raise late
    wait = (session.retry.backoff(tries) if retry_after is None
            else min(retry_after, session.retry.retry_after_cap))
    if wait >= remaining:
        raise failure
    time.sleep(wait)


def fetch_json(url: str, *, session: IIIFSession, limits: Limits | None = None,
               authorization: str | None = None, auth_origin: str | None = None) -> Any:
    """Fetch and parse a JSON document, reusing a cached copy when no credentials are sent.

    Raises:
        UpstreamError: The answer is not JSON (besides everything :func:`fetch_bytes` raises).
    """
    limits = limits or session.limits
    cached = session.json_cache.get(url) if authorization is None else None
    content = cached or fetch_bytes(
        url, session=session, limits=limits, authorization=authorization,
        auth_origin=auth_origin, accept=JSON_ACCEPT, max_bytes=limits.max_json_bytes).content
    try:
        data = json.loads(content)
    except ValueError as error:
        raise UpstreamError(f"{url} did not answer JSON ({error})") from error
    if cached is None and authorization is None:
        session.json_cache.put(url, content)
    return data


def _send(session: IIIFSession, url: str, headers: dict[str, str], limits: Limits,
          deadline: float) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise UpstreamTimeout(f"{url} did not answer within {limits.deadline:g} s")
    timeout = (limits.connect_timeout, min(limits.read_timeout, remaining))
    try:
        return session.get(url, headers=headers, stream=True, allow_redirects=False,
                           timeout=timeout)
    except requests.RequestException as error:
        if _timed_out(error):
            raise UpstreamTimeout(f"{url} did not answer in time ({error})") from error
        raise UpstreamError(f"could not fetch {url} ({error})") from error


def _timed_out(error: requests.RequestException) -> bool:
    """Whether ``error`` is a timeout, including one requests wraps as a ConnectionError."""
    if isinstance(error, requests.Timeout):
        return True
    reason = getattr(error.args[0] if error.args else None, "reason", None)
    # urllib3 makes NewConnectionError (refused, unreachable) a subclass of its timeouts.
    return (isinstance(reason, urllib3.exceptions.TimeoutError)
            and not isinstance(reason, NewConnectionError))


def _read_capped(response: requests.Response, cap: int, deadline: float, url: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ImageTooLarge(f"{url} is {declared} bytes; the limit is {cap}")
    chunks, total = [], 0
    while True:
        if time.monotonic() > deadline:
            raise UpstreamTimeout(f"{url} did not finish within the deadline")
        try:
            # read1 returns as soon as any bytes arrive, so a server that drips bytes
            # cannot hold a read open past the deadline by more than one read timeout.
            chunk = response.raw.read1(_CHUNK, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as error:
            raise UpstreamTimeout(f"{url} stalled while sending its body") from error
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise UpstreamError(f"{url} broke off its answer ({error})") from error
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > cap:
            raise ImageTooLarge(f"{url} sent more than {cap} bytes")
        chunks.append(chunk)
