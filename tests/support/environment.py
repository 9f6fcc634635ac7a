"""What the environment tells the test session."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class SuiteEnvironment(BaseSettings):
    """`TEST_REDIS_URL`: another server than the embedded one the session starts (it is
    flushed). `CI`: true on CI, where a tool the suite needs (Chromium) must be there: a test
    that would skip without it fails instead."""

    model_config = SettingsConfigDict(env_ignore_empty=True)

    test_redis_url: str | None = None
    ci: bool = False
