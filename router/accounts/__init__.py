"""Keys, teams, budgets and rate limits, exact across replicas that share a Redis.

The request path uses `AccessService`; the admin API uses `AccessService.admin`.
"""

from router.accounts.models import (
    BudgetLine,
    BudgetStatus,
    Limits,
    Principal,
    Reservation,
    SpendReport,
)
from router.accounts.service import AccessService
from router.settings import AccountsSettings

__all__ = [
    "AccessService",
    "AccountsSettings",
    "BudgetLine",
    "BudgetStatus",
    "Limits",
    "Principal",
    "Reservation",
    "SpendReport",
]
