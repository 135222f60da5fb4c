"""Visual similarity benchmark: near-duplicate recall through the server, and search latency.

    python bench/similar.py [--quick] [--sizes 10000,100000,1000000] [--queries 50]

(1) Recall. Distinct images: every photograph and page this repository carries
    (manifests/demo/images, the model fixtures in onnx_models/), scikit-image's sample images
    when scikit-image is installed, and the four quadrants of each image at least 400 px on
    both sides (distinct pictures, though related to their parent). Each original is stored
    through the real path: the IIIF reference server (a separate process) serves it,
    ``POST /analyze`` with ``persist`` embeds it with the shipped EfficientNet-Lite0 and stores
    the vector in SQLite. Each then gets five near-duplicates, never stored: a crop of 80 %
    rescaled to 60 %, a crop of a quarter of the area (half of each side: a detail),
    a JPEG re-encoding at quality 25, a tint (warmer, brighter), and a 40 % thumbnail at JPEG
    quality 50. Every duplicate is a ``GET /similar?image=...&k=5`` query
    (fetched and embedded on the fly); it counts as found when its original is among the 5.
(2) Latency. Synthetic unit vectors of the model's dimension (1280) at each size, one
    query at a time, through the server's exact search (numpy); and, when faiss-cpu is
    installed, its exact flat inner-product index on the same vectors for comparison.

The last line is ``ratio: X``, recall@5 (target >= 0.95).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annoserver.app import create_app  # noqa: E402
from annoserver.similarity import VectorIndex  # noqa: E402
from annoserver.store.embeddings import EmbeddingRef, VectorSet, normalized  # noqa: E402
from tests.iiif.servers import ReferenceServer  # noqa: E402

MODEL = "efficientnet-lite0"
DIMENSION = 1280
QUADRANT_MIN = 400


def source_images() -> dict[str, np.ndarray]:
    """Distinct BGR images by name: the repository's photographs and pages (+ scikit-image)."""
    paths = sorted((ROOT / "manifests" / "demo" / "images").glob("*.jpg"))
    paths += sorted(p for p in (ROOT / "onnx_models").glob("*/*") if p.suffix in (".jpg", ".png"))
    images = {f"{p.parent.name}-{p.stem}": cv2.imread(str(p)) for p in paths}
    try:
        from skimage import data
    except ImportError:
        print("scikit-image not installed: its sample images are left out")
    else:
        for name in ("astronaut", "camera", "coffee", "chelsea", "rocket", "hubble_deep_field",
                     "immunohistochemistry", "coins", "moon", "page", "text", "horse",
                     "clock", "checkerboard", "grass", "gravel", "brick"):
            try:
                image = getattr(data, name)()
            except Exception as error:  # noqa: BLE001 - a sample that needs a download
                print(f"skimage.data.{name}: {error}")
                continue
            image = image if image.ndim == 3 else np.dstack([image] * 3)
            images[f"skimage-{name}"] = cv2.cvtColor(image[..., :3].astype(np.uint8),
                                                     cv2.COLOR_RGB2BGR)
    for name, image in list(images.items()):
        height, width = image.shape[:2]
        if min(height, width) >= QUADRANT_MIN:
            for q, (y, x) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
                images[f"{name}-q{q}"] = image[y * height // 2:(y + 1) * height // 2,
                                               x * width // 2:(x + 1) * width // 2]
    return images


def near_duplicates(image: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Five copies of ``image`` as catalogues and aggregators make them (BGR)."""
    height, width = image.shape[:2]
    y, x = rng.integers(0, height // 5 + 1), rng.integers(0, width // 5 + 1)
    crop = image[y:y + int(height * 0.8), x:x + int(width * 0.8)]
    tint = np.clip(image.astype(np.float32) * [0.85, 1.0, 1.15] + 20, 0, 255).astype(np.uint8)
    small = cv2.resize(image, None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)
    y, x = rng.integers(0, height // 2 + 1), rng.integers(0, width // 2 + 1)
    half = image[y:y + height // 2, x:x + width // 2]
    return {"crop": cv2.resize(crop, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA),
            "crop50": half,
            "jpeg25": _jpeg(image, 25), "tint": tint, "thumb": _jpeg(small, 50)}


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def recall(quick: bool) -> tuple[float, dict[str, float], int, float]:
    """Recall@5 overall and per transformation, the number of originals, median query s."""
    images = source_images()
    if quick:
        images = dict(list(images.items())[::3])
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        queries: list[tuple[str, str, str]] = []  # (query image, original, transformation)
        for name, image in images.items():
            cv2.imwrite(str(folder / f"{name}.png"), image)
            for kind, copy in near_duplicates(image, rng).items():
                cv2.imwrite(str(folder / f"{name}--{kind}.png"), copy)
                queries.append((f"{name}--{kind}", name, kind))
        app = create_app({"DATABASE_URL": f"sqlite:///{tmp}/bench.db", "DATA_DIR": tmp,
                          "ALLOWED_HOSTS": ["127.0.0.1"], "PUBLIC_URL": "http://bench/"})
        client = app.test_client()
        _, token = app.extensions["annoserver.tokens"].create("write", "bench")
        headers = {"Authorization": f"Bearer {token}"}
        with ReferenceServer(folder, Path(tmp)) as server:
            for name in images:
                response = client.post("/analyze", headers=headers, json={
                    "image": server.info_url("3.0", name), "models": [MODEL],
                    "canvas": f"https://bench/canvas/{name}", "persist": True})
                assert response.status_code == 200, response.get_data(as_text=True)
            found: dict[str, list[bool]] = {}
            seconds = []
            for query, original, kind in queries:
                started = time.perf_counter()
                response = client.get("/similar", query_string={
                    "image": server.info_url("3.0", query), "k": 5, "model": MODEL})
                seconds.append(time.perf_counter() - started)
                assert response.status_code == 200, response.get_data(as_text=True)
                hits = [item["canvas"] for item in response.get_json()["items"]]
                found.setdefault(kind, []).append(f"https://bench/canvas/{original}" in hits)
        app.extensions["annoserver.db"].dispose()
    every = [hit for hits in found.values() for hit in hits]
    return (sum(every) / len(every), {k: sum(v) / len(v) for k, v in found.items()},
            len(images), statistics.median(seconds))


def latency(size: int, queries: int) -> dict[str, float]:
    """Median ms per query over ``size`` synthetic vectors: numpy and (if installed) faiss."""
    rng = np.random.default_rng(size)
    matrix = np.empty((size, DIMENSION), np.float32)
    for start in range(0, size, 100_000):  # generated in slices to bound the temporaries
        chunk = rng.standard_normal((min(100_000, size - start), DIMENSION), np.float32)
        matrix[start:start + len(chunk)] = normalized(chunk)
    refs = [EmbeddingRef(str(i), None, "") for i in range(size)]
    vectors = VectorSet(refs, matrix, (size, size))
    probes = rng.standard_normal((queries, DIMENSION), np.float32)
    searches = {"numpy": lambda probe: VectorIndex(vectors).search(probe, 20)}
    try:
        import faiss
    except ImportError:
        pass
    else:
        faiss.omp_set_num_threads(1)  # its fastest single query on this machine
        flat = faiss.IndexFlatIP(DIMENSION)
        flat.add(matrix)
        searches["faiss flat"] = lambda probe: flat.search(probe[None, :], 20)
    figures = {}
    for name, search in searches.items():
        search(probes[0])  # warm-up
        times = []
        for probe in probes:
            started = time.perf_counter()
            search(probe)
            times.append(time.perf_counter() - started)
        figures[name] = statistics.median(times) * 1e3
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a third of the originals, 10k only")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        figures = latency(size, args.queries)
        print(f"latency at {size:>9,} vectors × {DIMENSION}: "
              + ", ".join(f"{name} {ms:.2f} ms" for name, ms in figures.items()), flush=True)
    score, per_kind, originals, query_s = recall(args.quick)
    print(f"near-duplicates of {originals} originals ({5 * originals} queries), "
          f"median /similar?image= {query_s * 1e3:.0f} ms (fetch + embed + search)")
    print("recall@5 by copy: " + ", ".join(f"{k} {v:.3f}" for k, v in per_kind.items()))
    print(f"ratio: {score:.3f}")


if __name__ == "__main__":
    main()
