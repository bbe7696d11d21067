"""Exports of a PyTorch network: ONNX, ``torch.export``'s program (``pt2``) and TorchScript (deprecated by PyTorch)."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from cnnpipe.errors import UsageError

FORMATS = {"onnx": ".onnx", "pt2": ".pt2", "torchscript": ".pt"}
ONNX_INSTALL = "install it with: pip install 'cnnpipe-torch[onnx]'"
INPUT, OUTPUT = "data", "scores"


def example(session) -> torch.Tensor:
    """One zero example as the network sees it: the data's shape, resized when the run resized."""
    shape = tuple(session.test_X.shape[1:])
    if session.cfg.resize:
        shape = shape[:1] + (session.cfg.resize, session.cfg.resize)
    return torch.zeros((1,) + shape, device=session.device)


def export(session, format: str, path: Path) -> list[Path]:
    """Write ``session.net`` as ``format`` to ``path`` (see :meth:`cnnpipe.backend.Backend.export`)."""
    path = Path(path)
    if format not in FORMATS:
        raise UsageError(f"backend 'torch' cannot export {format}; it exports: {', '.join(FORMATS)}")
    net = session.net
    was_training = net.training
    net.eval()
    try:
        with warnings.catch_warnings():
            # Both exporters announce their deprecation in favour of torch.export, which needs onnxscript
            # and with it onnx>=1.16; MXNet's exporter needs onnx<1.16, and one environment holds both.
            warnings.simplefilter("ignore", category=DeprecationWarning)
            warnings.simplefilter("ignore", category=FutureWarning)
            warnings.simplefilter("ignore", category=UserWarning)
            with torch.no_grad():
                if format == "onnx":
                    onnx_file(net, example(session), path)
                elif format == "pt2":
                    program_file(net, example(session), path)
                else:
                    torch.jit.trace(net, example(session)).save(str(path))
    finally:
        net.train(was_training)
    return [path]


def onnx_file(net, X, path: Path) -> None:
    """An ONNX model with a dynamic batch dimension, input ``data`` and output ``scores``."""
    batch = {0: "batch"}
    try:
        import onnx  # noqa: F401  (torch's exporter needs it, and says so only as "OnnxExporterError")
    except ImportError:
        raise UsageError(f"exporting to ONNX needs the onnx package, which is not installed; {ONNX_INSTALL}")
    try:
        torch.onnx.export(net, (X,), str(path), dynamo=False, input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: batch, OUTPUT: batch})
    except (ImportError, ModuleNotFoundError) as exc:
        raise UsageError(f"exporting to ONNX failed for want of a package ({exc}); {ONNX_INSTALL}")


def program_file(net, X, path: Path) -> None:
    """``torch.export``'s program with a dynamic batch dimension; load it with ``torch.export.load(path).module()``."""
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(net, (torch.cat([X, X]),), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(path))
