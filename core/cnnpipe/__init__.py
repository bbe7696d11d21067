"""cnnpipe: the convolutional networks of Dive into Deep Learning as a plugin-based pipeline."""

__version__ = "0.2.0"
