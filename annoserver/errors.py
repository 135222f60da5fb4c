"""The one error hierarchy of annoserver (no Flask: the core, workers and CLI raise these).

Every error a client can cause or observe is an :class:`AnnoserverError` with a fixed HTTP
status and a human ``detail``; ``annoserver.web.problems`` turns them (and Werkzeug's own HTTP
errors, and anything unexpected) into RFC 9457 problem documents. Subsystems subclass the
base in their own ``errors`` modules (``annoserver.inference.errors``,
``annoserver.iiif.errors``)::

    AnnoserverError
    ├── BadRequest                 400
    │   ├── MalformedJSON          400
    │   └── InvalidAnnotation      400  (carries the schema errors)
    ├── Unauthorized               401
    ├── Forbidden                  403
    ├── NotFound                   404
    ├── MethodNotAllowed           405
    ├── NotAcceptable              406
    ├── Gone                       410
    ├── PreconditionFailed         412
    ├── PayloadTooLarge            413
    ├── UnsupportedMediaType       415
    ├── PreconditionRequired       428
    ├── ServiceUnavailable         503
    ├── inference.InferenceError   (model repository, plugins, sessions, batching)
    ├── iiif.IIIFError             (fetching and decoding IIIF images)
    ├── presentation.PresentationError (reading and writing IIIF manifests)
    ├── training.TrainingError     (training a classifier on the user's data)
    └── packs.PackError            (installing an opt-in model pack)
"""

from __future__ import annotations

from typing import Any, ClassVar


class AnnoserverError(Exception):
    """Base of every client-visible error; ``status`` and ``title`` are fixed per class."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """Return the RFC 9457 problem document for this error."""
        return {"type": "about:blank", "title": self.title, "status": self.status,
                "detail": self.detail, **self.extra}


def _error(name: str, status: int, title: str, base: type = AnnoserverError) -> type:
    return type(name, (base,), {"status": status, "title": title, "__doc__": f"{status} {title}."})


BadRequest = _error("BadRequest", 400, "Bad Request")
MalformedJSON = _error("MalformedJSON", 400, "Malformed JSON", BadRequest)
InvalidAnnotation = _error("InvalidAnnotation", 400, "Invalid Annotation", BadRequest)
Unauthorized = _error("Unauthorized", 401, "Unauthorized")
Forbidden = _error("Forbidden", 403, "Forbidden")
NotFound = _error("NotFound", 404, "Not Found")
MethodNotAllowed = _error("MethodNotAllowed", 405, "Method Not Allowed")
NotAcceptable = _error("NotAcceptable", 406, "Not Acceptable")
Gone = _error("Gone", 410, "Gone")
PreconditionFailed = _error("PreconditionFailed", 412, "Precondition Failed")
PayloadTooLarge = _error("PayloadTooLarge", 413, "Payload Too Large")
UnsupportedMediaType = _error("UnsupportedMediaType", 415, "Unsupported Media Type")
PreconditionRequired = _error("PreconditionRequired", 428, "Precondition Required")
ServiceUnavailable = _error("ServiceUnavailable", 503, "Service Unavailable")
