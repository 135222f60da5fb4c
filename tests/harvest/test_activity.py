"""IIIF Change Discovery at /activity: every committed write, in order, and nothing else.

Real parts: SQLite and PostgreSQL (with triggers that make a write fail half-way), manifests
served over HTTP and registered through ``POST /manifests``, a job run by the in-process
executor against the IIIF reference image server, concurrent writer threads.
"""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from annoserver.app import create_app
from tests.harvest import test_review
from tests.harvest.test_review import BASE, local, machine, post, problem, review
from tests.jobs.conftest import canvas, manifest, wait_for

# The review tests' fixtures: a registered manifest, the models, PAGE_SIZE 2, no executor.
book, manifests = test_review.book, test_review.manifests
settings, harvest_models_dir = test_review.settings, test_review.harvest_models_dir

DISCOVERY = "http://iiif.io/api/discovery/1/context.json"
ACTIVITIES = {"Create", "Update", "Delete", "Move", "Add", "Remove", "Refresh"}
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
PAGE_SIZE = 2  # from the settings fixture


def _ref(value, kind):
    assert set(value) == {"id", "type"} and value["type"] == kind, value
    return local(value["id"])


def _check_collection(collection):
    """What Change Discovery 1.0 requires of the OrderedCollection."""
    assert collection["@context"] == DISCOVERY
    assert collection["id"] == BASE + "activity"
    assert collection["type"] == "OrderedCollection"
    assert isinstance(collection["totalItems"], int)
    return _ref(collection["first"], "OrderedCollectionPage"), _ref(
        collection["last"], "OrderedCollectionPage")


def _check_page(page, path, total):
    """What Change Discovery 1.0 requires of an OrderedCollectionPage and its activities."""
    number = int(path.rsplit("/", 1)[1])
    last = max(0, (total - 1) // PAGE_SIZE)
    assert page["@context"] == DISCOVERY
    assert (page["id"], page["type"]) == (BASE + path.lstrip("/"), "OrderedCollectionPage")
    assert page["partOf"] == {"id": BASE + "activity", "type": "OrderedCollection"}
    assert page["startIndex"] == number * PAGE_SIZE
    assert ("prev" in page) == (number > 0)
    assert ("next" in page) == (number < last)
    if number > 0:
        assert _ref(page["prev"], "OrderedCollectionPage") == f"/activity/page/{number - 1}"
    if number < last:
        assert _ref(page["next"], "OrderedCollectionPage") == f"/activity/page/{number + 1}"
        assert len(page["orderedItems"]) == PAGE_SIZE
    for position, item in enumerate(page["orderedItems"], number * PAGE_SIZE + 1):
        assert item["id"] == f"{BASE}activity/{position}"
        assert item["type"] in ACTIVITIES
        assert set(item["object"]) == {"id", "type"}
        assert item["object"]["type"] in ("AnnotationPage", "Annotation")
        assert DATETIME.fullmatch(item["endTime"]), item["endTime"]


def harvest(client, seen: str | None = None) -> tuple[list[dict], int]:
    """What a harvester does: from ``last`` back along ``prev`` to the activity ``seen``.

    Returns the new activities, oldest first, and how many pages were read.
    """
    collection = client.get("/activity").get_json()
    _, path = _check_collection(collection)
    found, reads = [], 0
    while path:
        page = client.get(path).get_json()
        reads += 1
        _check_page(page, path, collection["totalItems"])
        for item in reversed(page["orderedItems"]):
            if item["id"] == seen:
                return found[::-1], reads
            found.append(item)
        path = _ref(page["prev"], "OrderedCollectionPage") if "prev" in page else None
    return found[::-1], reads


def _summary(items):
    return [(item["type"], item["object"]["type"], local(item["object"]["id"])) for item in items]


def test_every_kind_of_write_is_reported_in_order(app, client, write_headers, book):
    assert harvest(client) == ([], 1)
    page = local(book.pages[0])
    standalone = post(client, write_headers, machine("https://example.org/canvas/9", None))
    on_page = post(client, write_headers, machine(book.canvases[0], book.manifest_id))
    post(client, write_headers, machine(book.canvases[0], book.manifest_id, "boat"))
    etag = client.get(standalone).headers["ETag"]
    assert client.put(standalone, json=machine("https://example.org/canvas/9", None, "cat"),
                      headers={**write_headers, "If-Match": etag}).status_code == 200
    assert review(client, write_headers, standalone, "accepted").status_code == 201
    assert review(client, write_headers, on_page, "rejected").status_code == 201
    etag = client.get(standalone).headers["ETag"]
    assert client.delete(standalone, headers={**write_headers, "If-Match": etag}
                         ).status_code == 204
    # Moving an annotation from a page elsewhere updates both.
    etag = client.get(on_page).headers["ETag"]
    assert client.put(on_page, json=machine("https://example.org/canvas/9", None),
                      headers={**write_headers, "If-Match": etag}).status_code == 200
    # A model's results replacing earlier ones: one update of the page, however many.
    store = app.extensions["annoserver.annotations"]
    results = [machine(book.canvases[1], book.manifest_id, f"r{n}") for n in range(3)]
    store.put_results("result-key", results)
    store.put_results("result-key", results[:2])
    [first] = store.put_results("other-key", [machine("https://example.org/canvas/8", None)])
    [again] = store.put_results("other-key", [machine("https://example.org/canvas/8", None)])

    items, _ = harvest(client)
    second_page = local(book.pages[1])
    assert _summary(items) == [
        ("Create", "Annotation", standalone),
        ("Create", "AnnotationPage", page),
        ("Update", "AnnotationPage", page),
        ("Update", "Annotation", standalone),
        ("Update", "Annotation", standalone),
        ("Update", "AnnotationPage", page),
        ("Delete", "Annotation", standalone),
        ("Update", "AnnotationPage", page),
        ("Update", "Annotation", on_page),
        ("Create", "AnnotationPage", second_page),
        ("Update", "AnnotationPage", second_page),
        ("Create", "Annotation", f"/annotations/{first.slug}"),
        ("Delete", "Annotation", f"/annotations/{first.slug}"),
        ("Create", "Annotation", f"/annotations/{again.slug}"),
    ]
    times = [item["endTime"] for item in items]
    assert times == sorted(times)
    # The page objects are the pages enriched manifests list.
    assert book.pages[0] == BASE + page.lstrip("/")
    assert client.get(page).status_code == 200


def test_a_harvester_collects_exactly_what_is_new(client, write_headers):
    paths = [post(client, write_headers, machine(f"https://example.org/c/{n}", None))
             for n in range(7)]
    everything, reads = harvest(client)
    assert _summary(everything) == [("Create", "Annotation", path) for path in paths]
    assert reads == 4  # pages of 2: the harvester read them all
    remembered = everything[-1]["id"]
    assert harvest(client, remembered) == ([], 1)

    for path in paths[:3]:
        review(client, write_headers, path, "accepted")
    etag = client.get(paths[3]).headers["ETag"]
    client.delete(paths[3], headers={**write_headers, "If-Match": etag})
    fresh = post(client, write_headers, machine("https://example.org/c/new", None))
    new, reads = harvest(client, remembered)
    assert _summary(new) == [("Update", "Annotation", path) for path in paths[:3]] + [
        ("Delete", "Annotation", paths[3]), ("Create", "Annotation", fresh)]
    assert reads == 3  # from the last page back to the one holding the remembered activity
    assert new[0]["endTime"] >= everything[-1]["endTime"]
    for item in new:  # each activity is served at its id
        assert client.get(local(item["id"])).get_json() == {"@context": DISCOVERY, **item}


def test_pages_cache_and_errors(client, write_headers):
    empty = client.get("/activity/page/0")
    assert empty.status_code == 200
    assert empty.get_json()["orderedItems"] == []
    assert empty.headers["Content-Type"] == (
        f'application/ld+json;profile="{DISCOVERY}"')
    for n in range(3):
        post(client, write_headers, machine(f"https://example.org/c/{n}", None))
    full, tail = client.get("/activity/page/0"), client.get("/activity/page/1")
    assert full.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert tail.headers["Cache-Control"] == "no-cache"
    assert client.get("/activity/page/1", headers={"If-None-Match": tail.headers["ETag"]}
                      ).status_code == 304
    collection = client.get("/activity")
    assert collection.get_json()["totalItems"] == 3
    assert client.get("/activity", headers={"If-None-Match": collection.headers["ETag"]}
                      ).status_code == 304
    post(client, write_headers, machine("https://example.org/c/3", None))
    assert client.get("/activity/page/1", headers={"If-None-Match": tail.headers["ETag"]}
                      ).status_code == 200
    assert client.get("/activity", headers={"If-None-Match": collection.headers["ETag"]}
                      ).status_code == 200
    for path in ("/activity/page/2", f"/activity/page/{2**70}", "/activity/0", "/activity/5",
                 f"/activity/{2**70}"):
        problem(client.get(path), 404)
    assert client.get("/activity/page/-1").status_code == 404


REFUSE = {
    "sqlite": ["CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
               "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"],
    "postgresql": ["CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
                   "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION refuse()"],
}


def _refuse_inserts(app, table):
    """Make every INSERT into ``table`` fail, as a full disk or a constraint would."""
    engine = app.extensions["annoserver.db"]
    with engine.begin() as connection:
        for statement in REFUSE[engine.dialect.name]:
            connection.execute(text(statement.format(table=table)))


def test_a_rolled_back_write_leaves_no_activity(app, client, write_headers):
    store = app.extensions["annoserver.annotations"]
    path = post(client, write_headers, machine("https://example.org/canvas/1", None))
    stored = store.get(path.rsplit("/", 1)[1])
    _refuse_inserts(app, "annotation_targets")  # the write fails before it is logged
    with pytest.raises(DBAPIError):
        store.replace(stored.slug, machine("https://example.org/canvas/2", None), stored.etag)
    _refuse_inserts(app, "changes")  # the write fails as it is logged
    with pytest.raises(DBAPIError):
        store.delete(stored.slug, stored.etag)
    assert problem(review(client, write_headers, path, "accepted"), 500)
    assert client.get(path).headers["ETag"] == f'"{stored.etag}"'
    assert "review" not in client.get(path).get_json()
    assert client.get(f"{path}/reviews").get_json()["items"] == []
    assert _summary(harvest(client)[0]) == [("Create", "Annotation", path)]


def test_concurrent_writers_get_dense_positions_in_time_order(app, client):
    store = app.extensions["annoserver.annotations"]
    errors = []

    def write(worker: int) -> None:
        try:
            for n in range(8):
                store.create(machine(f"https://example.org/{worker}/{n}", None))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    items, _ = harvest(client)
    assert len(items) == 32
    assert len({item["object"]["id"] for item in items}) == 32
    assert [item["id"] for item in items] == [f"{BASE}activity/{n}" for n in range(1, 33)]
    times = [item["endTime"] for item in items]
    assert times == sorted(times)


def test_a_job_reports_the_pages_it_fills(settings, client, write_headers, manifests,
                                          reference_server):
    manifest_id = f"{manifests.url}/activity-job/manifest.json"
    service = reference_server.info_url("3.0", "small").removesuffix("/info.json")
    document = manifest(manifest_id, [canvas(manifest_id, n, 600, 400, service) for n in (1, 2)])
    url = manifests.publish("/activity-job/manifest.json", document)
    registered = client.post("/manifests", json={"url": url, "models": ["tiny-detector"]},
                             headers=write_headers)
    assert registered.status_code == 202, registered.get_data(as_text=True)
    runner = create_app({**settings, "JOB_THREADS": 2, "JOB_POLL_INTERVAL": 0.05,
                         "AUTO_MIGRATE": False})
    runner.extensions["annoserver.executor"].start()
    try:
        job = wait_for(client, local(registered.headers["Location"]))
    finally:
        runner.extensions["annoserver.executor"].stop()
        runner.extensions["annoserver.db"].dispose()
    assert (job["state"], job["done"]) == ("done", 2)
    enriched = client.get(f"/manifests/{registered.get_json()['key']}").get_json()
    pages = {item["annotations"][0]["id"] for item in enriched["items"]}
    items, _ = harvest(client)
    assert [item["type"] for item in items] == ["Create", "Create"]
    assert {item["object"]["id"] for item in items} == pages
    assert {item["object"]["type"] for item in items} == {"AnnotationPage"}
