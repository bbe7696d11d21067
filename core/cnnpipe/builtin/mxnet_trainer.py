"""The built-in MXNet/Gluon trainer: the book's ``train_ch5`` loop.  MXNet is imported only when used."""

from cnnpipe.hookspecs import hookimpl
from cnnpipe.specs import TrainerSpec


def train(run):
    from cnnpipe import gluon_loop

    return gluon_loop.train(run)


def describe(model, arch, shape):
    from cnnpipe import gluon_loop

    return gluon_loop.describe(model, arch, shape)


def check(config, model, data=None):
    from cnnpipe import gluon_loop

    gluon_loop.check(config, model, data)


@hookimpl
def cnnpipe_register_trainers(register):
    register(TrainerSpec(
        name="mxnet",
        backend="mxnet",
        train=train,
        describe=describe,
        check=check,
        summary="the book's train_ch5 loop on MXNet/Gluon: hybridized, softmax cross-entropy",
    ))
