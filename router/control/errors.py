"""The control plane's domain errors; the app maps them to OpenAI-shaped bodies once."""

from __future__ import annotations

from router.errors import ClientError


class PolicyInvalid(ClientError):
    """A policy text that `junction policy check` would refuse; `details` lists every error."""

    status_code = 422
    default_code = "invalid_policy"


class PreconditionFailed(ClientError):
    """`If-Match` named a policy hash that is no longer the active one."""

    status_code = 412
    default_code = "policy_changed"
