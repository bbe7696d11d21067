"""``cnnpipe info`` for any Gluon network: forward hooks on the top-level blocks, in the order they run."""

from __future__ import annotations

from mxnet import nd


def _count(block, recurse: bool = True) -> int:
    params = block.collect_params().values() if recurse else block._reg_params.values()
    return int(sum(p.data().size for p in params))


def layer_table(net, X) -> list[tuple[str, tuple, int]]:
    """``[(name, output shape, parameters)]`` of ``net``'s top-level blocks for input ``X`` (``net`` initialised):
    one row per call (a block called twice counts its parameters once), then blocks that never ran and the
    network's own parameters, so that the parameters add up to the network's."""
    rows, seen, handles = [], set(), []
    children = list(net._children.items())
    for name, block in children:
        def hook(block, inputs, output):
            shape = tuple(output.shape) if isinstance(output, nd.NDArray) else type(output).__name__
            rows.append((block.name, shape, 0 if id(block) in seen else _count(block)))
            seen.add(id(block))
        handles.append(block.register_forward_hook(hook))
    try:
        out = net(X)
    finally:
        for handle in handles:
            handle.detach()
    if not children:
        return [(net.name, tuple(out.shape), _count(net))]
    rows += [(block.name + " (not run)", "-", _count(block)) for _, block in children if id(block) not in seen]
    if _count(net, recurse=False):
        rows.append(("(own parameters)", "-", _count(net, recurse=False)))
    return rows
