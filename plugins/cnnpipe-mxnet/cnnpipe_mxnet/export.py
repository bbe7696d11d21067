"""Exports of a Gluon network: MXNet's own symbol and parameters (``HybridBlock.export``) and ONNX."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from mxnet import nd

from cnnpipe.errors import UsageError

FORMATS = {"mxnet": "-symbol.json", "onnx": ".onnx"}
ONNX_INSTALL = "pip install 'onnx<1.16' (newer onnx needs numpy 2, which MXNet 1.9.1 cannot use)"
INPUT, OUTPUT = "data", "scores"


def input_shape(session) -> tuple[int, ...]:
    """One example as the network sees it: the data's shape, resized when the run resized."""
    shape = tuple(session.test_X.shape[1:])
    if session.cfg.resize:
        shape = shape[:1] + (session.cfg.resize, session.cfg.resize)
    return (1,) + shape


def export(session, format: str, path: Path) -> list[Path]:
    """Write ``session.net`` as ``format`` to ``path`` (see :meth:`cnnpipe.backend.Backend.export`)."""
    path = Path(path)
    if format == "mxnet":
        prefix = path.with_name(path.name[: -len(FORMATS["mxnet"])])
        return symbol_files(session, prefix)
    if format == "onnx":
        return [onnx_file(session, path)]
    raise UsageError(f"backend 'mxnet' cannot export {format}; it exports: {', '.join(FORMATS)}")


def symbol_files(session, prefix: Path) -> list[Path]:
    """``PREFIX-symbol.json`` and ``PREFIX-0000.params``, loadable with ``gluon.SymbolBlock.imports``."""
    shape = input_shape(session)
    session.net(nd.zeros(shape, ctx=session.ctx))  # a hybridized block exports the graph of its last call
    session.net.export(str(prefix), epoch=0)
    return [Path(f"{prefix}-symbol.json"), Path(f"{prefix}-0000.params")]


def onnx_file(session, path: Path) -> Path:
    """An ONNX model with a dynamic batch dimension, input ``data`` and output ``scores``."""
    try:
        import onnx
    except ImportError as exc:
        raise UsageError(f"exporting to ONNX needs the onnx package ({exc}); {ONNX_INSTALL}")
    from mxnet import onnx as mx_onnx

    shape = input_shape(session)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        symbol, params = symbol_files(session, Path(tmp) / "model")
        mx_onnx.export_model(str(symbol), str(params), [shape], [np.float32], str(path),
                             dynamic=True, dynamic_input_shapes=[(None,) + shape[1:]])
    model = onnx.load(str(path))
    tidy(model.graph)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def tidy(graph) -> None:
    """Name the input and output as the PyTorch backend's exports do, and keep the weights out of the
    inputs: MXNet's exporter lists them there, which stops onnxruntime from folding them as constants."""
    weights = {init.name for init in graph.initializer}
    keep = [i for i in graph.input if i.name not in weights]
    del graph.input[:]
    graph.input.extend(keep)
    renames = {graph.input[0].name: INPUT, graph.output[0].name: OUTPUT}
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    graph.input[0].name, graph.output[0].name = INPUT, OUTPUT
