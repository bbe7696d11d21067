"""One PyTorch run on its device: both splits preloaded there, batches gathered there, no per-batch sync."""

from __future__ import annotations

import contextlib
import os

import numpy as np
import torch
from torch import nn

from cnnpipe.backend import Session, build_network, network_input
from cnnpipe.specs import CLASSIFICATION

from . import distributed, malloc
from .devices import PRECISIONS, device_of
from cnnpipe.augment import wanted

from .layers import augmented, gluon_batch_norm, initialize, resized, to_float
from .optimizers import optimizer


class TorchSession(Session):
    """A ``torch.nn.Module``, its optimizer, and both splits as tensors on the device."""

    def __init__(self, run):
        cfg, data = run.config, run.data
        self.cfg = cfg
        self.world = run.world
        self.device = device_of(cfg.device if run.world.size == 1 else
                                distributed.rank_device(cfg.device, run.world.engine.local_rank))
        self.classify = run.model.task == CLASSIFICATION
        self.dtype = PRECISIONS[cfg.precision]
        cuda = self.device.type == "cuda"
        if self.device.type == "cpu":
            malloc.keep_batch_buffers()
            # The count the core settled (threads.settle); torch may have started before it was set.
            torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or torch.get_num_threads()))
        # Tensor Cores read convolutions' inputs fastest channels-last; on the CPU, and in fp32, NCHW is kept.
        self.memory_format = torch.channels_last if cuda and self.dtype is not None else torch.contiguous_format
        if cuda:
            torch.backends.cudnn.benchmark = True  # every batch but the last has one shape
        torch.manual_seed(cfg.seed)
        self.own_init = run.model.own_init
        self.net = build_network(run.model, "torch", cfg.arch, data.num_classes,
                                 network_input(cfg, data.input_shape)).to(self.device)
        gluon_batch_norm(self.net)
        self.loss = nn.CrossEntropyLoss(reduction="none") if self.classify else (lambda y_hat, y: (y_hat - y) ** 2)
        self.train_X, self.train_y = self._tensors(data.train_X, data.train_y)
        self.test_X, self.test_y = self._tensors(data.test_X, data.test_y)
        with torch.no_grad():  # lazy layers take their shapes from one example, as Gluon's deferred init does
            self.net.eval()
            self.net(self._input(self.train_X[:1]))
        if self.train_X.dim() == 4:
            self.net.to(memory_format=self.memory_format)
        # fp16 needs its gradients scaled against underflow; bf16 has fp32's range and does not.
        self.scaler = torch.amp.GradScaler(self.device.type) if self.dtype is torch.float16 else None
        self.optimizer = None
        self.eval_net = self.net
        self._zero()

    def _tensors(self, X, y):
        X = torch.from_numpy(np.array(X)).to(self.device)  # a copy: the dataset may be a read-only memory map
        y = np.asarray(y)
        y = torch.from_numpy(y.astype(np.int64) if self.classify else y.astype(np.float32)).to(self.device)
        return to_float(X), y

    def _input(self, X):
        X = resized(X, self.cfg.resize)
        return X.contiguous(memory_format=self.memory_format) if X.dim() == 4 else X

    def _autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def _zero(self):
        self.loss_sum = torch.zeros((), device=self.device)
        self.correct = torch.zeros((), device=self.device, dtype=torch.int64)

    def _ready(self):
        self.optimizer = optimizer(self.cfg.optimizer, self.net.parameters(), self.cfg.lr, self.cfg.momentum,
                                   self.cfg.weight_decay, self.cfg.nesterov)
        self.train_net = distributed.wrap(self.net, self.world, self.device)  # averages gradients over the ranks
        self.eval_net = self.net
        if self.cfg.compile:
            # Every batch but the last has one shape: static shapes, and the short last batch compiles once more.
            self.train_net = torch.compile(self.train_net, dynamic=False)
            self.eval_net = torch.compile(self.net, dynamic=False)

    def initialize(self) -> None:
        torch.manual_seed(self.cfg.seed)
        if not self.own_init:  # else the build's own parameters, drawn after the same seed in __init__
            initialize(self.net, self.cfg.init)
        self._ready()

    def load(self, params, optimizer) -> None:
        self.net.load_state_dict(torch.load(params, map_location=self.device, weights_only=True))
        self._ready()
        if optimizer is not None:
            state = torch.load(optimizer, map_location=self.device, weights_only=True)
            if "optimizer" not in state:  # written before the loss scale was saved with it
                state = {"optimizer": state, "scaler": None}
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scaler is not None and state["scaler"]:
                self.scaler.load_state_dict(state["scaler"])

    def begin_epoch(self, epoch: int, seed: int) -> None:
        torch.manual_seed(seed)
        self.epoch_seed = seed
        self.net.train()
        self._zero()

    def batches(self, order):
        order = torch.from_numpy(np.asarray(order, dtype=np.int64)).to(self.device)
        bs, cfg = self.cfg.batch_size, self.cfg
        for batch, start in enumerate(range(0, len(order), bs)):
            idx = order[start:start + bs]
            X = self.train_X.index_select(0, idx)
            if wanted(cfg):
                X = augmented(X, self.epoch_seed, batch, cfg.crop, cfg.flip)
            yield self._input(X), self.train_y.index_select(0, idx)

    def step(self, batch) -> None:
        X, y = batch
        with self._autocast():
            y_hat = self.train_net(X)
        l = self.loss(y_hat.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        # As the book's train_ch5: the summed loss over batch_size, also on the short last batch.
        objective = l.sum() / self.cfg.batch_size
        if self.scaler is None:
            objective.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(objective).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        with torch.no_grad():
            self.loss_sum += l.sum()
            if self.classify:
                self.correct += (y_hat.argmax(dim=1) == y).sum()

    def wait(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def end_epoch(self):
        return float(self.loss_sum.item()), float(self.correct.item()) if self.classify else None

    def _outputs(self, X):
        self.net.eval()
        try:
            with torch.no_grad(), self._autocast():
                for start in range(0, len(X), self.cfg.batch_size):
                    yield self.eval_net(self._input(X[start:start + self.cfg.batch_size]))
        finally:
            self.net.train()

    def evaluate(self):
        if not self.classify:
            return None
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        start = 0
        for out in self._outputs(self.test_X):
            correct += (out.argmax(dim=1) == self.test_y[start:start + len(out)]).sum()
            start += len(out)
        return float(correct.item()) / len(self.test_X)

    def predict(self, X):
        X = to_float(torch.from_numpy(np.array(X)).to(self.device))
        outputs = [out.float().cpu().numpy() for out in self._outputs(X)]
        return np.concatenate(outputs) if outputs else np.zeros((0,))

    def save_params(self, path) -> None:
        torch.save(self.net.state_dict(), path)

    def save_optimizer(self, path) -> None:
        scaler = self.scaler.state_dict() if self.scaler is not None else None
        torch.save({"optimizer": self.optimizer.state_dict(), "scaler": scaler}, path)
