"""``python -m cnnpipe`` is the ``cnnpipe`` command."""

from cnnpipe.cli import main

main(prog_name="cnnpipe")
