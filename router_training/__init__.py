"""Training, evaluating and calibrating learned routers, offline (`junction router ...`).

Kept apart from `router.learned`, which holds only what the gateway needs to score a prompt;
the gateway never imports this package.
"""
