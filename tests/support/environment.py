"""What the environment tells the test session."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class SuiteEnvironment(BaseSettings):
    """`CI`: true on CI, where a tool the suite needs (Chromium) must be there: a test that
    would skip without it fails instead. (`TEST_REDIS_URL` is the test kit's:
    `jobs.testing.plugin`.)"""

    model_config = SettingsConfigDict(env_ignore_empty=True)

    ci: bool = False
