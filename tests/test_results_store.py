"""Machine results keyed by what produced them: reruns replace, never duplicate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.protocol.helpers import annotation


def test_rerun_replaces_and_identical_requests_never_duplicate(app):
    store = app.extensions["annoserver.annotations"]
    first = store.put_results("k1", [annotation(label="a"), annotation(label="b")])
    assert [s.document["body"]["value"] for s in store.results("k1")] == ["a", "b"]
    second = store.put_results("k1", [annotation(label="c")])
    assert [s.slug for s in store.results("k1")] == [second[0].slug]
    with store.reading() as reader:
        from annoserver.store.listing import Filters

        assert reader.summary(Filters()).total == 1
    assert first[0].slug != second[0].slug
    store.put_results("k2", [annotation(label="other")])
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: store.put_results("k1", [annotation(label=f"r{n}")] * 2),
                      range(16)))
    assert len(store.results("k1")) == 2
    assert len(store.results("k2")) == 1
    with store.reading() as reader:
        assert reader.summary(Filters()).total == 3
