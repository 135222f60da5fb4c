"""annoserver: a IIIF-native W3C Web Annotation server with ONNX machine-vision plugins."""

__version__ = "0.1.0"
