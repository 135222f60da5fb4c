"""A IIIF image server answering 500s, then 429s with ``Retry-After: 1``, as a job starts.

The fetches and the job's own retries ride it out: every canvas done, one annotation each,
no error left in the job, and no URL asked again before its ``Retry-After`` passed.
"""

from __future__ import annotations

import cv2

from tests.faults.conftest import counts, register
from tests.iiif.fixtures import make_image
from tests.jobs.conftest import publish_book, wait_for

CANVASES = 8


def test_500s_and_429s_with_retry_after_are_ridden_out(
        client, write_headers, manifest_server, fault_server, database_url):
    name = f"flaky-{database_url[:6]}"
    jpeg = cv2.imencode(".jpg", make_image(600, 400))[1].tobytes()
    for n in range(1, CANVASES + 1):
        fault_server.payloads[f"{name}-{n}"] = (jpeg, (600, 400))
    manifest_id, url = publish_book(manifest_server, name, f"{fault_server.url}/svc/{name}-{{n}}",
                                    CANVASES)
    # The job's first eight requests fail: four 500s, then four 429s asking for a second,
    # more than one fetch's three retries when two units share them: units are retried too.
    fault_server.fail_svc(500, 4)
    fault_server.fail_svc(429, 4, retry_after="1")
    job = wait_for(client, register(client, write_headers, url), 60)
    assert (job["state"], job["done"], job["failed"], job["errors"]) == (
        "done", CANVASES, 0, []), job
    stored = counts(client, manifest_id)
    assert len(stored) == CANVASES and set(stored.values()) == {1}, stored

    answers = list(fault_server.svc_answers)
    assert [status for _, _, status in answers[:8]] == [500] * 4 + [429] * 4
    assert not fault_server.svc_failures  # every scripted failure was served
    for when, path, status in answers:
        if status == 429:  # the same URL was not asked again before Retry-After passed
            later = [t for t, p, _ in answers if p == path and t > when]
            assert later and later[0] - when >= 0.9, "\n".join(map(str, answers))
