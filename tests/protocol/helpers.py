from __future__ import annotations

ANNO = "http://www.w3.org/ns/anno.jsonld"
CANVAS = "https://iiif.example.org/manifest/1/canvas/p1"
MANIFEST = "https://iiif.example.org/manifest/1"


def annotation(canvas: str = CANVAS, label: str = "ship", confidence: float | None = 0.9,
               model: str = "classifier-a", motivation: str = "tagging",
               xywh: str = "10,20,30,40") -> dict:
    body = {"type": "TextualBody", "value": label, "purpose": motivation}
    if confidence is not None:
        body["confidence"] = confidence
    return {
        "@context": ANNO,
        "type": "Annotation",
        "motivation": motivation,
        "creator": {"type": "Software", "name": model},
        "body": body,
        "target": {"type": "SpecificResource",
                   "source": {"id": canvas, "type": "Canvas",
                              "partOf": [{"id": MANIFEST, "type": "Manifest"}]},
                   "selector": {"type": "FragmentSelector",
                                "conformsTo": "http://www.w3.org/TR/media-frags/",
                                "value": f"xywh={xywh}"}},
    }


def create(client, headers, document=None, **kwargs):
    response = client.post("/annotations/", json=document or annotation(**kwargs),
                           headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response
