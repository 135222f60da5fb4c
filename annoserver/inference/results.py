"""Plain results of a model kind, in the pixel coordinates of the image it was given.

Plugins return these; the annotation builder (not the plugin) scales them to canvas
coordinates and makes W3C JSON, so they carry no IIIF or JSON-LD notions. They are frozen:
one result may be shared by every caller of a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

Item = TypeVar("Item")


@dataclass(frozen=True)
class Label:
    """One class name and its confidence in [0, 1]."""

    label: str
    score: float


@dataclass(frozen=True)
class _Results(Generic[Item]):
    """An immutable, indexable sequence of results for one image, best first."""

    items: tuple[Item, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __getitem__(self, index: int) -> Item:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Labels(_Results[Label]):
    """The labels given to a whole image, best first."""


@dataclass(frozen=True)
class Box:
    """A region ``x, y, w, h`` (image pixels, top-left origin) with a label and confidence."""

    x: float
    y: float
    w: float
    h: float
    label: str | None
    score: float
    text: str | None = None


@dataclass(frozen=True)
class Boxes(_Results[Box]):
    """The regions found in an image, best first."""


@dataclass(frozen=True)
class Text:
    """Text read from a whole image, with a confidence when the model gives one."""

    text: str
    score: float | None = None


def _frozen_array(values: Iterable, dtype: type | None = None) -> np.ndarray:
    array = np.array(values, dtype=dtype, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class ImageResult:
    """An image made by a model: ``array`` is height × width × 3 RGB ``uint8``.

    ``scale`` is output pixels per input image pixel (2.0 for a ×2 super-resolution).
    """

    array: np.ndarray
    scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "array", _frozen_array(self.array, np.uint8))


@dataclass(frozen=True, eq=False)
class Vector:
    """An embedding of a whole image (``float32``; unit length when the plugin normalises)."""

    values: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", _frozen_array(self.values, np.float32))

    def __len__(self) -> int:
        return len(self.values)


Result = Labels | Boxes | Text | ImageResult | Vector
