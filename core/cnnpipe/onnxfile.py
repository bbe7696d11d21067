"""ONNX files that describe themselves: class names and the training preprocessing in the file's metadata,
and a network run from such a file in onnxruntime alone, fed exactly what training fed it.

``cnnpipe export --format onnx`` writes these properties (``metadata_props``, values JSON):

- ``cnnpipe.classes``: the class names, in score order (``null`` for a regression model);
- ``cnnpipe.input``: ``[C, H, W]`` of the dataset's examples, before any resize;
- ``cnnpipe.scaling``: ``"divide-255"`` (uint8 pictures scaled to [0, 1]) or ``"none"`` (float data);
- ``cnnpipe.resize``: the side the run resized to on the device, or ``null``;
- ``cnnpipe.resize_mode``: ``"bilinear-align-corners"`` (MXNet's ``BilinearResize2D``; the torch backend's too);
- ``cnnpipe.model``, ``cnnpipe.dataset``, ``cnnpipe.backend``, ``cnnpipe.data_options``, ``cnnpipe.version``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import UsageError, one_line

PREFIX = "cnnpipe."
RESIZE_MODE = "bilinear-align-corners"


def properties(opened) -> dict:
    """The metadata of ``opened``'s exported network (values as Python data)."""
    from . import __version__

    config, data = opened.run.config, opened.run.data
    return {
        "classes": opened.class_names if opened.classifies else None,
        "input": list(data.test_X.shape[1:]),
        "scaling": "divide-255" if data.test_X.dtype == np.uint8 else "none",
        "resize": config.resize,
        "resize_mode": RESIZE_MODE,
        "model": config.model, "dataset": config.dataset, "backend": config.backend,
        "data_options": dict(config.data), "version": __version__,
    }


def add_properties(path: Path, props: dict) -> None:
    """Write ``props`` into the ONNX file ``path`` as ``cnnpipe.*`` metadata."""
    import onnx

    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if not p.key.startswith(PREFIX)]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in kept},
                                        **{PREFIX + k: json.dumps(v) for k, v in props.items()}})
    onnx.save(model, str(path))


def resize_aligned(X: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of float32 ``(N, C, H, W)`` to ``size`` x ``size``, corners aligned (as the backends do)."""
    h, w = X.shape[2:]
    if (h, w) == (size, size):
        return X

    def axis(n):
        pos = np.linspace(0, n - 1, size) if size > 1 else np.zeros(1)
        low = np.floor(pos).astype(np.int64).clip(0, n - 1)
        return low, np.minimum(low + 1, n - 1), (pos - low).astype(np.float32)

    (y0, y1, fy), (x0, x1, fx) = axis(h), axis(w)
    fy, fx = fy[:, None], fx[None, :]
    top = X[:, :, y0][:, :, :, x0] * (1 - fx) + X[:, :, y0][:, :, :, x1] * fx
    bottom = X[:, :, y1][:, :, :, x0] * (1 - fx) + X[:, :, y1][:, :, :, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


class OnnxModel:
    """An exported network in onnxruntime, with the preprocessing its metadata names."""

    def __init__(self, path):
        try:
            import onnxruntime
        except ImportError:
            raise UsageError("running an ONNX file needs onnxruntime: pip install onnxruntime")
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for unreadable or invalid files
            raise UsageError(f"{path} is not a readable ONNX model ({one_line(exc)})")
        meta = self.session.get_modelmeta().custom_metadata_map
        missing = [k for k in ("classes", "input", "scaling", "resize") if PREFIX + k not in meta]
        if missing:
            raise UsageError(f"{path} lacks cnnpipe's metadata ({PREFIX}{missing[0]}); export it again with "
                             "cnnpipe export --format onnx")
        self.meta = {k[len(PREFIX):]: json.loads(v) for k, v in meta.items() if k.startswith(PREFIX)}
        self.input_name = self.session.get_inputs()[0].name

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.meta["input"])

    def preprocess(self, X: np.ndarray) -> np.ndarray:
        """Examples as training fed them to the network: scaled, then resized."""
        X = X.astype(np.float32) / 255 if X.dtype == np.uint8 else X.astype(np.float32)
        return resize_aligned(X, self.meta["resize"]) if self.meta["resize"] else X

    def scores(self, X: np.ndarray) -> np.ndarray:
        """The network's scores (before softmax) for examples of :attr:`shape`."""
        return self.session.run(None, {self.input_name: self.preprocess(X)})[0]


def evaluate_file(registry, path, dataset=None, split="test", data_dir=None, batch_size=256) -> dict:
    """``cnnpipe evaluate model.onnx``: the exported network on a split of its dataset (or ``dataset``), loaded
    with the options its metadata records, fed as training fed it; no run folder, no framework."""
    from .pipeline import plugin_call
    from .inference import classification

    model = OnnxModel(path)
    if not model.meta["classes"]:
        raise UsageError(f"{path} is not a classifier's export (it records no class names)")
    spec = registry.dataset(dataset or model.meta.get("dataset"))
    options = model.meta.get("data_options") or {} if spec.name == model.meta.get("dataset") else {}
    data = plugin_call(f"dataset '{spec.name}' ({spec.dist}) failed to load", spec.load, data_dir=data_dir, **options)
    X, y = (data.test_X, data.test_y) if split == "test" else (data.train_X, data.train_y)
    if tuple(X.shape[1:]) != model.shape or list(data.class_names) != model.meta["classes"]:
        raise UsageError(f"{path} takes {model.shape} examples of classes {model.meta['classes']}; dataset "
                         f"'{spec.name}' has {tuple(X.shape[1:])} examples of classes {list(data.class_names)}")
    scores = np.concatenate([model.scores(np.asarray(X[i:i + batch_size])) for i in range(0, len(X), batch_size)])
    return {"examples": len(X), "params": str(path), "checkpoint": None, **classification(scores, y, data.class_names),
            "model": model.meta.get("model", "?"), "backend": "onnxruntime", "dataset": spec.name, "split": split}
