"""Running cnnpipe jobs in containers: the job image (:mod:`.image`) and the runner (:mod:`.runner`).

The Docker SDK is imported inside functions only, so that ``cnnpipe --help`` never pays for it.
"""
