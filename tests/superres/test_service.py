"""``/iiif/sr/…`` over the real IIIF reference server and the shipped ESPCN models."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from annoserver.app import create_app
from annoserver.iiif import fetch_region, make_session
from annoserver.superres import encode_upstream
from tests.superres.conftest import sr_path, upstream_id


def _decode(response) -> np.ndarray:
    assert response.status_code == 200, response.get_data(as_text=True)
    image = cv2.imdecode(np.frombuffer(response.data, np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image


def _difference(a: np.ndarray, b: np.ndarray) -> tuple[int, float]:
    delta = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(delta.max()), float(delta.mean())


def _model(app, model_id="espcn-x2"):
    return app.extensions["annoserver.runtime"].get(model_id).kind("superres")


def _count_runs(monkeypatch, app, delay: float = 0.0) -> list[tuple[int, ...]]:
    """Spy on the real model: record every tile it enhances (optionally slowly)."""
    kind = _model(app)
    real = kind.enhance
    calls: list[tuple[int, ...]] = []

    def enhance(tile):
        calls.append(tile.shape)
        time.sleep(delay)
        return real(tile)

    monkeypatch.setattr(kind, "enhance", enhance)
    return calls


@pytest.mark.parametrize(("version", "model", "scale"), [("3.0", "espcn-x2", 2),
                                                        ("2.1", "espcn-x4", 4)])
def test_info_json(sr_client, sr_upstream, version, model, scale):
    path = sr_path(sr_upstream, "cat", version, model)
    response = sr_client.get(f"{path}/info.json", headers={"Accept": "application/ld+json",
                                                            "Origin": "http://viewer.example"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == (
        'application/ld+json;profile="http://iiif.io/api/image/3/context.json"')
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    info = response.get_json()
    assert info["id"] == f"http://localhost{path}"
    assert (info["type"], info["protocol"], info["profile"]) == (
        "ImageService3", "http://iiif.io/api/image", "level2")
    assert (info["width"], info["height"]) == (451 * scale, 300 * scale)  # the cat: 451 × 300
    assert info["maxArea"] == 4_194_304
    assert info["sizes"][-1] == {"width": 451 * scale, "height": 300 * scale}
    assert info["tiles"][0]["width"] == 512
    assert sr_client.get(f"{path}/info.json").headers["Content-Type"] == "application/json"


def test_base_uri_redirects_to_info(sr_client, sr_upstream):
    path = sr_path(sr_upstream)
    response = sr_client.get(path)
    assert response.status_code == 303
    assert response.headers["Location"] == f"http://localhost{path}/info.json"


def test_pixels_are_the_model_on_the_upstream_region(sr_app, sr_client, sr_upstream):
    """Full image at max: 902 × 600 output from 451 × 300 upstream pixels.

    That is two model windows across (cores of at most 320 px); the result equals one
    untiled run of the model on the upstream pixels.
    """
    response = sr_client.get(f"{sr_path(sr_upstream)}/full/max/0/default.png")
    assert response.headers["Content-Type"] == "image/png"
    link = response.headers["Link"]
    assert '/0,0,902,600/902,600/0/default.png>;rel="canonical"' in link
    assert '<http://iiif.io/api/image/3/level2.json>;rel="profile"' in link
    served = _decode(response)
    assert served.shape == (600, 902, 3)
    with make_session(allowed_hosts=["127.0.0.1"]) as session:
        upstream = fetch_region(upstream_id(sr_upstream), "full", session=session,
                                fmt="png").pixels
    worst, mean = _difference(served, _model(sr_app).enhance(upstream))
    assert worst <= 2 and mean < 0.05, (worst, mean)
    # and not merely an interpolation: the model differs from bicubic
    bicubic = cv2.resize(upstream, (902, 600), interpolation=cv2.INTER_CUBIC)
    assert _difference(served, bicubic)[1] > 0.5


def test_adjacent_tiles_join_without_seams(sr_client, sr_upstream):
    path = sr_path(sr_upstream)
    left = _decode(sr_client.get(f"{path}/0,0,512,512/512,/0/default.png"))
    right = _decode(sr_client.get(f"{path}/512,0,390,512/390,/0/default.png"))
    whole = _decode(sr_client.get(f"{path}/0,0,902,512/902,/0/default.png"))
    worst, mean = _difference(np.hstack([left, right]), whole)
    assert worst <= 2 and mean < 0.05, (worst, mean)


def test_reduced_sizes_rotation_and_qualities(sr_client, sr_upstream):
    path = sr_path(sr_upstream)
    small = _decode(sr_client.get(f"{path}/full/451,/0/default.png"))
    assert small.shape == (300, 451, 3)
    rotated = _decode(sr_client.get(f"{path}/full/451,/90/default.png"))
    assert rotated.shape == (451, 300, 3)
    assert np.array_equal(rotated, np.rot90(small, k=-1))
    mirrored = _decode(sr_client.get(f"{path}/full/451,/!0/default.png"))
    assert np.array_equal(mirrored, small[:, ::-1])
    gray = _decode(sr_client.get(f"{path}/full/451,/0/gray.png"))
    assert gray.ndim == 2
    bitonal = _decode(sr_client.get(f"{path}/full/451,/0/bitonal.png"))
    assert set(np.unique(bitonal)) <= {0, 255}
    webp = sr_client.get(f"{path}/full/200,/0/default.webp")
    assert webp.headers["Content-Type"] == "image/webp" and webp.data[8:12] == b"WEBP"


def test_cache_and_single_flight(monkeypatch, sr_app, sr_upstream):
    calls = _count_runs(monkeypatch, sr_app, delay=0.3)
    url = f"{sr_path(sr_upstream)}/0,0,256,256/max/0/default.jpg"
    start = threading.Barrier(6)
    bodies = []

    def fetch():
        client = sr_app.test_client()
        start.wait()
        bodies.append(client.get(url).data)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1  # one model run for six concurrent identical requests
    assert len(bodies) == 6 and len(set(bodies)) == 1 and bodies[0][:2] == b"\xff\xd8"
    # Later requests, in any spelling of the same image, come from the disk cache.
    sr_app.test_client().get(f"{sr_path(sr_upstream)}/0,0,256,256/256,256/0/color.jpg")
    assert len(calls) == 1
    kept = [path for path in (Path(sr_app.config["DATA_DIR"]) / "sr-cache").iterdir()
            if not path.name.startswith(".lock-")]  # the cross-process lock stripes
    assert len(kept) == 1


def test_cache_stays_within_its_bound(monkeypatch, sr_settings, sr_upstream, tmp_path):
    app = create_app({**sr_settings, "SR_CACHE_BYTES": 20_000,
                      "SR_CACHE_DIR": str(tmp_path / "bounded")})
    client = app.test_client()
    calls = _count_runs(monkeypatch, app)
    for x in range(0, 800, 100):
        assert client.get(f"{sr_path(sr_upstream)}/{x},0,100,100/max/0/default.jpg"
                          ).status_code == 200
    total = sum(p.stat().st_size for p in (tmp_path / "bounded").iterdir())
    assert 0 < total <= 20_000
    runs = len(calls)
    client.get(f"{sr_path(sr_upstream)}/0,0,100,100/max/0/default.jpg")  # evicted: recomputed
    assert len(calls) == runs + 1
    app.extensions["annoserver.db"].dispose()


def test_pixel_limit(sr_settings, sr_upstream):
    app = create_app({**sr_settings, "SR_MAX_PIXELS": 100_000})
    client = app.test_client()
    path = sr_path(sr_upstream)
    assert client.get(f"{path}/info.json").get_json()["maxArea"] == 100_000
    confined = _decode(client.get(f"{path}/full/max/0/default.jpg"))
    assert confined.shape[0] * confined.shape[1] <= 100_000 and confined.shape[1] == 387
    refused = client.get(f"{path}/full/902,600/0/default.jpg")
    assert refused.status_code == 400
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "maxArea" in refused.get_json()["detail"]
    app.extensions["annoserver.db"].dispose()


@pytest.mark.parametrize(("suffix", "status"), [
    ("/full/100,/0/default.jpg", 200),
    ("/full/full/0/default.jpg", 400), ("/0,0,0,5/max/0/default.jpg", 400),
    ("/5000,0,10,10/max/0/default.jpg", 400), ("/full/max/x/default.jpg", 400),
    ("/full/max/0/default.gif", 415), ("/full/max/0/best.jpg", 400),
    ("/full/max/45/default.jpg", 501), ("/full/^max/0/default.jpg", 501),
])
def test_request_errors(sr_client, sr_upstream, suffix, status):
    response = sr_client.get(sr_path(sr_upstream) + suffix)
    assert response.status_code == status, response.get_data(as_text=True)
    if status != 200:
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.get_json()["detail"]


def test_unknown_model_upstream_and_refused_host(sr_settings, sr_client, sr_upstream):
    good = sr_path(sr_upstream).split("/")[-1]
    for path, status in [(f"/iiif/sr/espcn-x9/{good}/info.json", 404),
                         (f"/iiif/sr/efficientnet-lite0/{good}/info.json", 404),
                         ("/iiif/sr/espcn-x2/[frob]/info.json", 404),
                         ("/iiif/sr/espcn-x2/bm9wZQ/info.json", 404),
                         (f"{sr_path(sr_upstream, 'no-such-image')}/info.json", 404),
                         (f"{sr_path(sr_upstream, 'no-such-image')}/full/max/0/default.jpg", 404)]:
        response = sr_client.get(path)
        assert response.status_code == status, (path, response.get_data(as_text=True))
        assert response.headers["Content-Type"] == "application/problem+json"
    strict = create_app({**sr_settings, "ALLOWED_HOSTS": []})  # loopback not allowed
    refused = strict.test_client().get(f"{sr_path(sr_upstream)}/info.json")
    assert refused.status_code == 403
    strict.extensions["annoserver.db"].dispose()


def test_level0_upstream_tiles(sr_client, static_server, sources):
    """A static level-0 upstream (256-px tiles, v3): the region is assembled from its tiles."""
    path = f"/iiif/sr/espcn-x2/{encode_upstream(static_server.info_url(3, 'tiled')[:-10])}"
    info = sr_client.get(f"{path}/info.json").get_json()
    assert (info["width"], info["height"]) == (2000, 1400)
    served = _decode(sr_client.get(f"{path}/400,300,600,500/max/0/default.png"))
    assert served.shape == (500, 600, 3)
    # the generated image is smooth: the ×2 view of its pixels 200,150,300,250 is close to
    # a plain bicubic enlargement of them
    upstream = sources["tiled"][150:400, 200:500]
    bicubic = cv2.resize(upstream, (600, 500), interpolation=cv2.INTER_CUBIC)
    assert _difference(served, bicubic)[1] < 3
