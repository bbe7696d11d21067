"""Kubernetes manifests of cnnpipe's jobs: a schedule as a CronJob (:mod:`.cronjob`), a run of several workers as
Indexed Jobs or a TrainJob (:mod:`.distributed`), every pod locked down as a Docker job container is (:mod:`.pods`)."""
