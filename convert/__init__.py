"""Conversion stage: a trained run folder -> full-integer LiteRT model + its sidecar contract.

`python -m convert` (needs TensorFlow) converts and verifies; `python -m convert.evaluate` (LiteRT only,
runs on the Pi) measures any converted model on any dataset. Modules that the evaluator imports must
stay TensorFlow-free: errors, runfolder, litert, opcheck, sidecar, evaluate.
"""
