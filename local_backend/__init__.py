"""The local backend: launch profiles for vLLM, the capacity probe and local cost.

Never imports `router`: the gateway depends on this package, not the other way round.
"""
