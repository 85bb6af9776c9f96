"""Running tests: the executors (fresh process, fork server) and the pytest plugins of the child runs.

Also the project snapshots and the probes of this machine (busy cores, libfaketime).
"""
