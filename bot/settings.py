"""The bot's settings, read from the environment and a `.env` file."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_URL = re.compile(r"^https?://[^\s/]+")
_USER_OR_GROUP_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")


class SettingsError(Exception):
    """One or more settings are missing or malformed; the message names each of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    """Everything the bot needs to reach Slack and AMP and to serve its own routes."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Slack
    slack_bot_token: SecretStr
    slack_signing_secret: SecretStr
    slack_api_url: str = "https://slack.com/api/"
    slack_review_channel: str

    # Slack connection mode: with an app-level token, Slack traffic comes over Socket Mode
    slack_app_token: SecretStr | None = None

    # CrewAI AMP
    crewai_url: str
    crewai_token: SecretStr
    crewai_timeout: float = Field(default=30.0, gt=0)

    # The bot itself
    bot_public_url: str
    bot_api_token: SecretStr
    bot_webhook_token: SecretStr | None = None
    bot_database: Path = Path("crew-review.db")
    bot_host: str = "0.0.0.0"
    bot_port: int = Field(default=3000, ge=1, le=65535)
    bot_resume_deadline: float = Field(default=3600.0, gt=0)
    bot_slack_deadline: float = Field(default=86400.0, gt=0)
    bot_retry_base: float = Field(default=1.0, gt=0)
    bot_retry_cap: float = Field(default=60.0, gt=0)
    bot_log_level: str = "INFO"

    # Logging format
    bot_log_format: str = "plain"

    # Polling AMP's status of executions the bot started, for pauses no notification told of
    bot_poll_interval: float = Field(default=15.0, ge=0)
    bot_poll_max_interval: float = Field(default=300.0, gt=0)
    bot_poll_deadline: float = Field(default=86400.0, gt=0)

    # Reviewing in Slack: thread replies, reminders and expiry
    bot_approval_words: str = "approve,approved,lgtm,:white_check_mark:"
    bot_reviewers: str = ""
    bot_remind_after: float = Field(default=3600.0, ge=0)
    bot_remind_again_after: float = Field(default=14400.0, ge=0)
    bot_expire_after: float | None = Field(default=None, gt=0)

    # Who may decide, and what the bot accepts
    bot_approvers: str = ""
    bot_channel_approvers: str = ""
    bot_forbid_self_approval: bool = False
    bot_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_signing_secret", "crewai_token", "bot_api_token")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("bot_webhook_token")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @field_validator("slack_review_channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL_ID.match(value):
            raise ValueError("must be a channel ID such as C0123456789, not a channel name")
        return value

    @field_validator("slack_api_url", "crewai_url", "bot_public_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.match(value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("crewai_url", "bot_public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("bot_log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("bot_log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.lower() not in {"plain", "json"}:
            raise ValueError("must be plain or json")
        return value.lower()

    @property
    def socket_mode(self) -> bool:
        """Whether Slack traffic comes over Socket Mode rather than HTTP."""
        return self.slack_app_token is not None

    @field_validator("bot_reviewers")
    @classmethod
    def _reviewers(cls, value: str) -> str:
        for reviewer in _words(value):
            if not _USER_OR_GROUP_ID.match(reviewer):
                raise ValueError(f"must be user IDs (U...) or user group IDs (S...): {reviewer!r}")
        return value

    @field_validator("bot_expire_after", mode="before")
    @classmethod
    def _blank_is_off(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def approval_words(self) -> frozenset[str]:
        """The replies that approve a review, compared in lower case."""
        words = (word.strip().lower() for word in self.bot_approval_words.split(","))
        return frozenset(word for word in words if word)

    def reviewers(self) -> list[str]:
        """The user and user group IDs that reminders mention."""
        return _words(self.bot_reviewers)

    @field_validator("bot_approvers")
    @classmethod
    def _approvers(cls, value: str) -> str:
        return ",".join(_approver_ids(value))

    @field_validator("bot_channel_approvers")
    @classmethod
    def _channel_approvers(cls, value: str) -> str:
        return ";".join(
            f"{channel}={','.join(ids)}" for channel, ids in _per_channel(value).items()
        )

    @property
    def approvers(self) -> tuple[str, ...]:
        """The user and user-group IDs that may decide; empty when anyone may."""
        return _approver_ids(self.bot_approvers)

    @property
    def channel_approvers(self) -> dict[str, tuple[str, ...]]:
        """Channels whose reviews have approvers of their own, instead of `approvers`."""
        return _per_channel(self.bot_channel_approvers)

    def secrets(self) -> list[str]:
        """The secret values, for redaction and for tests that prove they never leak."""
        values = [self.slack_bot_token, self.slack_signing_secret, self.crewai_token]
        values.append(self.bot_api_token)
        if self.bot_webhook_token is not None:
            values.append(self.bot_webhook_token)
        if self.slack_app_token is not None:
            values.append(self.slack_app_token)
        return [value.get_secret_value() for value in values]


def _words(value: str) -> list[str]:
    """The items of a setting separated by commas or spaces."""
    return [word for word in re.split(r"[,\s]+", value) if word]


def _approver_ids(text: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in text.split(",") if part.strip())
    wrong = [value for value in ids if not _USER_OR_GROUP_ID.match(value)]
    if wrong:
        raise ValueError(
            "must list Slack user IDs (U...) or user-group IDs (S...), separated by commas;"
            f" not {', '.join(wrong[:3])}"
        )
    return ids


def _per_channel(text: str) -> dict[str, tuple[str, ...]]:
    """`C123=U1,S2;C456=U3` as a mapping of channel ID to approver IDs."""
    channels: dict[str, tuple[str, ...]] = {}
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        channel, equals, ids = entry.partition("=")
        channel = channel.strip()
        if not equals or not _CHANNEL_ID.match(channel):
            raise ValueError("must look like C123=U1,S2;C456=U3 (channel IDs, then approvers)")
        channels[channel] = _approver_ids(ids)
    return channels


def load_settings(**overrides: object) -> Settings:
    """Read the settings, raising `SettingsError` with one line naming every bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "settings"
            if error["type"] == "missing":
                problems.append(f"{name} is not set")
            else:
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(f"{name} {message}")
        raise SettingsError(problems) from None
