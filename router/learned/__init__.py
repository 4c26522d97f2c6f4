"""A learned per-prompt router: hashed-text features, per-model logistic win probabilities.

`runtime.LearnedRouter` is what the gateway calls; `cli` trains, evaluates and calibrates it
offline (`junction router ...`); `priors` turns MMLU-Pro results into the policy's quality table.
"""
