"""Settings for API keys, budgets and rate limits (`Settings.accounts`).

The model lives in `router.settings`, a leaf module, so that importing settings never pulls in
the accounts service (which itself needs `Settings`).
"""

from router.settings import AccountsSettings

__all__ = ["AccountsSettings"]
