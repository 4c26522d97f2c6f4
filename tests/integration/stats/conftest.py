import pytest


@pytest.fixture
def anyio_backend() -> str:
    """redis.asyncio and the stores run on asyncio only."""
    return "asyncio"
