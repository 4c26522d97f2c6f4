"""A learned per-prompt router at run time: hashed-text features, per-model logistic scores.

`runtime.LearnedRouter` is what the gateway calls. Training, evaluation, calibration and dataset
conversion live in the separate `router_training` package (`junction router train|eval|...`).
"""
