"""Guarded, capped, polite downloads against a local server that misbehaves on purpose."""

from __future__ import annotations

import json
import threading
import time

import pytest

from annoserver.iiif import (
    ImageTooLarge,
    Limits,
    UpstreamError,
    UpstreamTimeout,
    fetch_bytes,
    fetch_json,
    make_session,
)
from annoserver.iiif.cache import TTLCache
from annoserver.iiif.session import USER_AGENT, HostSlots
from tests.services import free_port


def test_user_agent_and_final_url(fault_server, session):
    fetched = fetch_bytes(fault_server.url + "/headers", session=session)
    assert json.loads(fetched.content)["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("annoserver/")
    assert fetched.content_type == "application/json"


def test_429_with_retry_after_is_retried_after_waiting(fault_server, session):
    started = time.monotonic()
    fetched = fetch_bytes(fault_server.url + "/flaky/a?fail=1&retry_after=1", session=session)
    assert fetched.content == b"finally" and fault_server.hits["/flaky/a"] == 2
    assert time.monotonic() - started >= 0.9  # the server's Retry-After, not the tiny backoff


def test_503_is_retried_then_succeeds(fault_server, session):
    fetched = fetch_bytes(fault_server.url + "/flaky/b?fail=2&code=503&retry_after=0",
                          session=session)
    assert fetched.content == b"finally" and fault_server.hits["/flaky/b"] == 3


def test_retry_after_is_capped(fault_server):
    with make_session(allowed_hosts=["127.0.0.1"], retry_after_cap=0.2) as capped:
        started = time.monotonic()
        fetch_bytes(fault_server.url + "/flaky/c?fail=1&retry_after=3", session=capped)
        assert time.monotonic() - started < 2


def test_retry_after_beyond_the_deadline_gives_up_at_once(fault_server, session):
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="retry after 3600 s") as caught:
        fetch_bytes(fault_server.url + "/flaky/d?fail=1&retry_after=3600", session=session,
                    limits=Limits(deadline=5.0))
    assert time.monotonic() - started < 1 and fault_server.hits["/flaky/d"] == 1
    # a 429 keeps its status, so a batch job knows to come back later
    assert caught.value.status == 502 and caught.value.extra["upstream_status"] == 429


def test_no_host_slot_is_held_while_waiting_to_retry(fault_server):
    with make_session(allowed_hosts=["127.0.0.1"], per_host=1) as polite:
        waiting = threading.Thread(target=fetch_bytes, kwargs={
            "url": fault_server.url + "/flaky/e?fail=1&retry_after=1", "session": polite})
        waiting.start()
        time.sleep(0.3)  # the first answer (429) is in; the fetch now waits a second
        started = time.monotonic()
        assert fetch_bytes(fault_server.url + "/slow?for=0.05", session=polite).content == b"done"
        assert time.monotonic() - started < 0.5  # not queued behind the sleeping retry
        waiting.join()
    assert fault_server.hits["/flaky/e"] == 2


def test_500_is_an_upstream_error_after_the_retries(fault_server, session):
    with pytest.raises(UpstreamError) as caught:
        fetch_bytes(fault_server.url + "/status/500", session=session)
    assert caught.value.status == 502 and caught.value.extra["upstream_status"] == 500
    assert fault_server.hits["/status/500"] == 3  # the first try and two retries


def test_404_is_not_retried(fault_server, session):
    with pytest.raises(UpstreamError) as caught:
        fetch_bytes(fault_server.url + "/status/404", session=session)
    assert caught.value.extra["upstream_status"] == 404 and fault_server.hits["/status/404"] == 1


def test_refused_connection_is_an_upstream_error(session):
    with pytest.raises(UpstreamError) as caught:
        fetch_bytes(f"http://127.0.0.1:{free_port()}/", session=session)
    assert caught.value.status == 502


def test_dripping_server_hits_the_deadline(fault_server, session):
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        fetch_bytes(fault_server.url + "/drip", session=session,
                    limits=Limits(deadline=1.0, read_timeout=0.5))
    assert caught.value.status == 504 and time.monotonic() - started < 3


def test_stalled_body_hits_the_read_timeout(fault_server, session):
    with pytest.raises(UpstreamTimeout):
        fetch_bytes(fault_server.url + "/stall?for=3", session=session,
                    limits=Limits(read_timeout=0.3))


def test_late_headers_hit_the_read_timeout(fault_server, session):
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        fetch_bytes(fault_server.url + "/slow-headers?for=3", session=session,
                    limits=Limits(read_timeout=0.3))
    assert time.monotonic() - started < 2


def test_declared_oversize_is_refused_before_reading(fault_server, session):
    with pytest.raises(ImageTooLarge) as caught:
        fetch_bytes(fault_server.url + "/big-declared", session=session)
    assert caught.value.status == 413


def test_endless_body_is_cut_at_the_byte_cap(fault_server, session):
    with pytest.raises(ImageTooLarge):
        fetch_bytes(fault_server.url + "/endless", session=session, max_bytes=200_000)


def test_json_has_its_own_cap(fault_server, session):
    with pytest.raises(ImageTooLarge):
        fetch_json(fault_server.url + "/headers", session=session,
                   limits=Limits(max_json_bytes=10))


def test_redirects_are_followed_and_bounded(fault_server, session):
    target = fault_server.url + "/json/x"
    assert fetch_json(f"{fault_server.url}/redirect?to={target}", session=session) == {
        "path": ["x"]}
    loop = f"{fault_server.url}/redirect?to=/redirect?to=/status/200"
    with pytest.raises(UpstreamError, match="redirects"):
        fetch_bytes(loop, session=session, limits=Limits(max_redirects=1))
    with pytest.raises(UpstreamError, match="redirects"):  # a real cycle: a -> b -> a -> ...
        fetch_bytes(f"{fault_server.url}/loop/a", session=session)
    assert 2 <= fault_server.hits["/loop/a"] + fault_server.hits["/loop/b"] <= 32


def test_authorization_only_goes_to_the_image_origin(fault_server, session):
    with type(fault_server)() as elsewhere:  # same host, another port: another origin
        same = f"{fault_server.url}/redirect?to={fault_server.url}/headers"
        other = f"{fault_server.url}/redirect?to={elsewhere.url}/headers"
        headers = json.loads(fetch_bytes(same, session=session, authorization="Bearer t").content)
        assert headers["Authorization"] == "Bearer t"
        headers = json.loads(fetch_bytes(other, session=session, authorization="Bearer t").content)
        assert "Authorization" not in headers
        assert fault_server.seen_headers[-1]["Authorization"] == "Bearer t"  # the first hop


def test_json_is_cached_but_not_with_credentials(fault_server, session):
    url = fault_server.url + "/json/cached"
    assert fetch_json(url, session=session) == fetch_json(url, session=session)
    assert fault_server.hits["/json/cached"] == 1
    fetch_json(url, session=session, authorization="Bearer t")
    assert fault_server.hits["/json/cached"] == 2


def test_non_json_is_an_upstream_error(fault_server, session):
    with pytest.raises(UpstreamError, match="JSON"):
        fetch_json(fault_server.url + "/notjson", session=session)


def test_per_host_concurrency_limit(fault_server):
    with make_session(allowed_hosts=["127.0.0.1"], per_host=2) as polite:
        threads = [threading.Thread(target=fetch_bytes, args=(f"{fault_server.url}/slow?n={i}",),
                                    kwargs={"session": polite}) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert fault_server.hits["/slow"] == 6 and fault_server.max_active == 2


def test_host_slots_forget_idle_hosts():
    slots = HostSlots(per_host=1)
    for n in range(100):
        with slots.hold(f"host-{n}:80", 1.0):
            assert len(slots) == 1
    assert len(slots) == 0
    with slots.hold("busy:80", 1.0), pytest.raises(UpstreamTimeout), slots.hold("busy:80", 0.05):
        pass
    assert len(slots) == 0  # a waiter that gave up leaves nothing behind either


def test_ttl_cache_expires_and_evicts():
    now = [0.0]
    cache = TTLCache(ttl=10, max_entries=2, clock=lambda: now[0])
    cache.put("a", b"1")
    cache.put("b", b"2")
    cache.put("c", b"3")
    assert cache.get("a") is None and cache.get("b") == b"2" and len(cache) == 2
    now[0] = 11
    assert cache.get("b") is None
