"""The investigation: reruns, orders, bisection, experiments, classification, hints and the gate.

Pure but for the executor the pipeline is given: nothing here imports render, github or a shell.
"""
