"""No lost or duplicated writes under concurrency, against real gunicorn workers."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine

from annoserver.store.tokens import TokenStore
from tests.protocol.helpers import annotation
from tests.services import GunicornServer

pytestmark = pytest.mark.slow
LD = 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'
CREATES, CONTESTED = 120, 40


@pytest.fixture
def server(database_url):
    with GunicornServer(database_url, workers=3, threads=4) as running:
        engine = create_engine(database_url)
        running.tokens = TokenStore(engine)
        _, secret = running.tokens.create("write", "concurrency")
        running.headers = {"Authorization": f"Bearer {secret}", "Content-Type": LD}
        yield running
        engine.dispose()


def _all_items(session, url):
    items, page_url = [], url + "/annotations/?iris=0"
    page = session.get(page_url).json().get("first")
    while page:
        items += page["items"]
        page = session.get(page["next"]).json() if "next" in page else None
    return items


def test_concurrent_creates_updates_deletes(server):
    session = requests.Session()
    post = lambda n: session.post(server.url + "/annotations/",  # noqa: E731
                                  json=annotation(label=f"create-{n}"), headers=server.headers)
    with ThreadPoolExecutor(32) as pool:
        created = list(pool.map(post, range(CREATES)))
    assert Counter(r.status_code for r in created) == {201: CREATES}
    ids = [r.headers["Location"] for r in created]
    assert len(set(ids)) == CREATES

    # Two writers race on each contested annotation with the same ETag: exactly one wins.
    contested = [(r.headers["Location"], r.headers["ETag"]) for r in created[:CONTESTED]]
    doomed = [(r.headers["Location"], r.headers["ETag"])
              for r in created[CONTESTED:2 * CONTESTED]]

    def put(job):
        (url, etag), writer = job
        return url, writer, session.put(url, json=annotation(label=f"{writer}-wins"),
                                        headers={**server.headers, "If-Match": etag})

    def delete(job):
        (url, etag), writer = job
        return url, writer, session.delete(url, headers={**server.headers, "If-Match": etag})

    with ThreadPoolExecutor(32) as pool:
        puts = list(pool.map(put, [(c, w) for c in contested for w in ("a", "b")]))
        deletes = list(pool.map(delete, [(d, w) for d in doomed for w in ("a", "b")]))
    responses = [r for _, _, r in puts + deletes] + created
    assert len(responses) >= 200
    assert [r.text for r in responses if r.status_code >= 500] == []
    winners = {}
    for url, writer, response in puts:
        assert response.status_code in (200, 412), response.text
        if response.status_code == 200:
            assert url not in winners
            winners[url] = writer
    assert len(winners) == CONTESTED
    delete_codes = Counter()
    for _, _, response in deletes:
        delete_codes[response.status_code] += 1
        assert response.status_code in (204, 412, 410), response.text
    assert delete_codes[204] == CONTESTED

    items = _all_items(session, server.url)
    assert len(items) == CREATES - CONTESTED
    assert len({item["id"] for item in items}) == len(items)
    for url, writer in winners.items():
        assert session.get(url).json()["body"]["value"] == f"{writer}-wins"
    for url, _ in doomed:
        assert session.get(url).status_code == 410
    assert session.get(server.url + "/annotations/").json()["total"] == CREATES - CONTESTED


def test_revoked_token_refused_by_every_worker(server):
    info, secret = server.tokens.create("write", "to-revoke")
    headers = {**server.headers, "Authorization": f"Bearer {secret}"}
    session = requests.Session()
    url = server.url + "/annotations/"
    assert session.post(url, json=annotation(), headers=headers).status_code == 201
    server.tokens.revoke(info.id)
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda _: requests.post(url, json=annotation(),
                                                      headers=headers).status_code, range(24)))
    assert set(codes) == {401}


def test_metrics_add_up_across_workers(server):
    for _ in range(12):
        requests.get(server.url + "/health")
    text = requests.get(server.url + "/metrics").text
    total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("annoserver_http_requests_total{")
                and 'endpoint="health.health"' in line)
    assert total >= 12
