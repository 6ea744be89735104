"""Settings: built-in defaults < `coverwatch.toml` < `COVERWATCH_<SECTION>__<KEY>` env < `--db`.

Every section is a frozen pydantic model that forbids unknown keys, so a typo is a start-up
error naming `section.key`, not a silently ignored setting. Secrets are `SecretStr` (never in a
repr or a log line) and belong in the environment (ARCHITECTURE.md §3 "Config"). The file and
the environment are read by pydantic-settings sources; `environ` is injected, as in Starlette.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.alerts import URGENT_KINDS, AlertKind
from core.locales import DEFAULT_LOCALE, DEFAULT_TIMEZONE
from core.oncall import DEFAULT_SHIFT_DAYS, Rotation
from core.policy import AccountSettings
from core.quiet_hours import QuietHours
from storage.sealing import DataKeys

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("coverwatch.toml")
ENV_PREFIX = "COVERWATCH_"
ENV_DELIMITER = "__"


class ConfigError(ValueError):
    """A bad configuration; the one-line message names `section.key` and the reason."""


class SectionKeyError(ValueError):
    """Raised inside a section's validator so the error can name `section.key`."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key


class MissingKeyError(SectionKeyError):
    """A required key is unset; the message says where it can be set."""


Rate = Annotated[Decimal, Field(ge=0, le=1)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseConfig(_Section):
    url: str = Field(default="sqlite:///coverwatch.db", min_length=1, repr=False)
    """May hold a password (PostgreSQL DSN): kept out of the repr."""


class BotConfig(_Section):
    timezone: str = DEFAULT_TIMEZONE
    locale: str = Field(default=DEFAULT_LOCALE, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class SchedulerConfig(_Section):
    """Crontab strings (minute hour day month weekday) in `[bot] timezone`."""

    scan: str = "0 9 * * *"
    dues: str = "0 6 1 * *"
    escalation: str = "* * * * *"
    kpi_digest: str = "0 9 * * *"
    outbox_poll_seconds: float = Field(default=2, gt=0)
    outbox_claim_lease_seconds: float = Field(default=120, gt=0)
    """A delivery claimed by a process that died is sent again after this long."""

    @field_validator("scan", "dues", "escalation", "kpi_digest")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
        return value


class AlertsConfig(_Section):
    lead_days: tuple[Annotated[int, Field(ge=0)], ...] = (7, 3, 1)
    escalate_after_minutes: int = Field(default=60, gt=0)
    escalation_levels: int = Field(default=2, ge=0)
    quiet_hours: str = "22:00-08:00"
    urgent_bypass_quiet_hours: tuple[AlertKind, ...] = tuple(sorted(URGENT_KINDS))
    suspension_warning_days: int = Field(default=7, ge=0)
    enrollment_warning_days: int = Field(default=7, ge=0)
    funding_horizon_days: int = Field(default=30, gt=0)
    hr_leads: tuple[str, ...] = ()
    notify_employees: bool = False
    """Tell each employee privately when their account's cover is at risk, and when restored."""

    @field_validator("quiet_hours")
    @classmethod
    def _valid_quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value)  # the one rule, in core; raises ValueError naming the form
        return value

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """(start, end) in the recipient's time zone; may wrap midnight; None when disabled."""
        return QuietHours.parse(self.quiet_hours).window


class AccountConfig(_Section):
    policy: str | None = None
    """Policy id under core/policies/; the account id when absent."""
    injury_rate: Rate | None = None
    housing_fund_rate: Rate | None = None
    due_day: int | None = Field(default=None, ge=1, le=31)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    """How replies name the account in every language (else the policy's `[names]`)."""
    owners: tuple[str, ...] = ()
    """Employee ids who own the account's alerts: level-0 recipients, and managers among them
    may acknowledge its company-wide alerts (issue 14)."""


class OnCallConfig(_Section):
    members: tuple[str, ...] = ()
    shift_days: int = Field(default=DEFAULT_SHIFT_DAYS, ge=1)
    starts_on: date | None = None
    overrides: dict[date, str] = {}

    def rotation(self) -> Rotation:
        return Rotation(
            members=self.members,
            shift_days=self.shift_days,
            starts_on=self.starts_on,
            overrides=dict(self.overrides),
        )


class KpiConfig(_Section):
    thresholds: dict[str, Rate] = Field(
        default_factory=lambda: {"on_time": Decimal("0.95"), "enrollment": Decimal("0.9")}
    )
    digest_day: int = Field(default=2, ge=1, le=28)
    ack_sla_minutes: int = Field(default=60, gt=0)


MAX_BODY_BYTES = 1024 * 1024
"""1 MiB: Slack and WeCom payloads are a few KB; 10,000 API payment items about 0.9 MB."""


class CalendarConfig(_Section):
    closures: tuple[date, ...] = ()
    """Days the authorities were closed (typhoon signal 8, black rainstorm, system outages):
    a due date on one moves to the next working day, for every policy."""


class HttpConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=MAX_BODY_BYTES, ge=1024)
    """Larger request bodies are refused with 413 before they are verified or parsed."""
    api_rate_per_minute: int = Field(default=120, ge=1)
    """Requests per API token in any 60 s; more get 429 with Retry-After."""
    metrics_token: str = ""
    """When set, /metrics answers only `Authorization: Bearer <metrics_token>` (else 401);
    set it from the environment (COVERWATCH_HTTP__METRICS_TOKEN)."""


class ChatConfig(_Section):
    """How inbound chat is handled: the durable queue, its workers and its bounds."""

    workers: int | None = Field(default=None, ge=0)
    """Handler worker processes `coverwatch run` starts; default the cores minus one (at
    least 1) on PostgreSQL; 0 handles chat inside the `run` process (the default on SQLite,
    which has one writer: there at most 1)."""
    max_backlog: int = Field(default=2000, ge=1)
    """Events written and not answered past which new ones are refused: platforms that retry
    get 503 with Retry-After, the others a short "busy, try again in a minute" answer."""
    spool_path: str = "coverwatch-spool.jsonl"
    """Where events from platforms that never retry wait while the database is unreachable."""
    spool_max_bytes: int = Field(default=16 * 1024 * 1024, ge=4096)
    claim_lease_seconds: float = Field(default=60, gt=0)
    """An inbound event claimed by a worker that died is answered by another after this long."""

    slow_workers: int = Field(default=1, ge=0)
    """Processes that draw KPI charts for chat answers beside the handlers, so a burst of
    `kpi` never delays `help` (bot/slow_lane.py); 0 draws them on the handler threads."""

    def worker_processes(self, *, sqlite: bool) -> int:
        """How many worker processes to start. SQLite has one writer: its single claimer is
        the `run` process itself unless `workers` names one process (never more: they would
        only queue for the write lock, docs/PERFORMANCE.md chat_http)."""
        if sqlite:
            return min(self.workers or 0, 1)
        if self.workers is not None:
            return self.workers
        return max(1, (os.cpu_count() or 1) - 1)


class LogConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    """`json`: one object per line for a log shipper; `text` for people and journald."""

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


def _data_key(value: SecretStr) -> SecretStr:
    try:
        DataKeys(value.get_secret_value())
    except ValueError:
        # Never the value itself: this message reaches stderr and logs.
        raise ValueError(
            "must be a data key (32 url-safe base64-encoded bytes): "
            "`coverwatch security generate-key` makes one"
        ) from None
    return value


class SecurityConfig(_Section):
    """Keys that seal id numbers at rest (storage.sealing, docs/SECURITY.md). From the
    environment only: `load_settings` refuses them in the config file."""

    data_key: SecretStr | None = None
    """Seals new id numbers and opens those sealed with it (COVERWATCH_SECURITY__DATA_KEY)."""
    previous_data_keys: tuple[SecretStr, ...] = ()
    """Older keys that still open values during a rotation (a JSON list in
    COVERWATCH_SECURITY__PREVIOUS_DATA_KEYS); `coverwatch security rotate-key` reseals them."""

    @field_validator("data_key")
    @classmethod
    def _valid_key(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None or not value.get_secret_value() else _data_key(value)

    @field_validator("previous_data_keys")
    @classmethod
    def _valid_keys(cls, value: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        return tuple(_data_key(key) for key in value)

    @model_validator(mode="after")
    def _current_with_previous(self) -> SecurityConfig:
        if self.previous_data_keys and self.data_key is None:
            raise SectionKeyError("data_key", "required when previous_data_keys is set")
        return self

    def data_keys(self) -> DataKeys | None:
        """The keys of the database's engine; None: id numbers are stored plain."""
        if self.data_key is None:
            return None
        previous = [key.get_secret_value() for key in self.previous_data_keys]
        return DataKeys(self.data_key.get_secret_value(), previous)


class PlatformSection(_Section):
    """A platform section: when enabled, its required keys must be set."""

    enabled: bool = False
    renamed: ClassVar[Mapping[str, str]] = {}
    """Older key -> its name now; the older one stays accepted (`load_settings` warns)."""

    @model_validator(mode="before")
    @classmethod
    def _accept_older_names(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        values = dict(data)
        for old, new in cls.renamed.items():
            if old in values:
                if new in values:
                    raise SectionKeyError(old, f"the older name of {new}; set only {new}")
                values[new] = values.pop(old)
        return values

    def required_keys(self) -> tuple[str, ...]:
        return ()

    @model_validator(mode="after")
    def _required_when_enabled(self) -> PlatformSection:
        if not self.enabled:
            return self
        for key in self.required_keys():
            value = getattr(self, key)
            if (
                value is None
                or value == ""
                or (isinstance(value, SecretStr) and not value.get_secret_value())
            ):
                raise MissingKeyError(key, "required when the section is enabled")
        return self


class SlackConfig(PlatformSection):
    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None
    mode: Literal["http", "socket"] = "http"
    hr_groups: tuple[str, ...] = ()
    """Channel ids (C…) that hear every first notice."""
    renamed: ClassVar[Mapping[str, str]] = {"hr_channels": "hr_groups"}
    api_base_url: str = "https://slack.com/api/"

    def required_keys(self) -> tuple[str, ...]:
        # HTTP mode verifies every request with the signing secret; Socket Mode needs the
        # app-level token (xapp-…) to open the socket. https://api.slack.com/apis/socket-mode
        return ("bot_token", "signing_secret" if self.mode == "http" else "app_token")


class DingTalkConfig(PlatformSection):
    client_id: str | None = None
    client_secret: SecretStr | None = None
    robot_code: str | None = None
    """For an internal app's robot the robotCode is the app's client id (AppKey)."""
    hr_groups: tuple[str, ...] = ()
    card_template_id: str | None = None
    """Interactive alert cards (Acknowledge/Snooze buttons); unset: markdown with commands."""
    api_base_url: str = "https://api.dingtalk.com"
    gateway_url: str = "https://api.dingtalk.com"

    def required_keys(self) -> tuple[str, ...]:
        return ("client_id", "client_secret")

    @property
    def effective_robot_code(self) -> str | None:
        return self.robot_code or self.client_id


class WeComConfig(PlatformSection):
    corp_id: str | None = None
    secret: SecretStr | None = None
    agent_id: int | None = None
    token: SecretStr | None = None
    encoding_aes_key: SecretStr | None = None
    hr_groups: tuple[str, ...] = ()
    """Group chat ids (appchat) that hear every first notice."""
    renamed: ClassVar[Mapping[str, str]] = {"hr_chats": "hr_groups"}
    api_base_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"

    def required_keys(self) -> tuple[str, ...]:
        return ("corp_id", "secret", "agent_id", "token", "encoding_aes_key")

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key_length(cls, value: SecretStr | None) -> SecretStr | None:
        # WeCom's EncodingAESKey is 43 base64 characters (a 32-byte key without its "=").
        if value is not None and value.get_secret_value() and len(value.get_secret_value()) != 43:
            raise ValueError("must be 43 characters (WeCom EncodingAESKey)")
        return value


class WebhookConfig(PlatformSection):
    url: str | None = Field(default=None, pattern=r"^https?://")
    secret: SecretStr | None = None

    def required_keys(self) -> tuple[str, ...]:
        return ("url", "secret")


class Settings(BaseSettings):
    """The whole configuration; `Settings()` alone gives the built-in defaults."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        case_sensitive=False,
    )

    database: DatabaseConfig = DatabaseConfig()
    bot: BotConfig = BotConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    alerts: AlertsConfig = AlertsConfig()
    accounts: dict[str, AccountConfig] = {}
    oncall: OnCallConfig = OnCallConfig()
    kpi: KpiConfig = KpiConfig()
    calendar: CalendarConfig = CalendarConfig()
    http: HttpConfig = HttpConfig()
    log: LogConfig = LogConfig()
    chat: ChatConfig = ChatConfig()
    security: SecurityConfig = SecurityConfig()
    slack: SlackConfig = SlackConfig()
    dingtalk: DingTalkConfig = DingTalkConfig()
    wecom: WeComConfig = WeComConfig()
    webhook: WebhookConfig = WebhookConfig()
    _deprecations: tuple[str, ...] = PrivateAttr(default=())

    @property
    def deprecations(self) -> tuple[str, ...]:
        """Keys the loaded config set under an older name (the CLI shows them)."""
        return self._deprecations

    @model_validator(mode="before")
    @classmethod
    def _policy_defaults_to_account_id(cls, data: Any) -> Any:
        accounts = data.get("accounts") if isinstance(data, dict) else None
        if isinstance(accounts, dict):
            return {
                **data,
                "accounts": {
                    account_id: {"policy": account_id, **body} if isinstance(body, dict) else body
                    for account_id, body in accounts.items()
                },
            }
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only explicit values: `load_settings` reads the file and the injected environ itself,
        # so nothing here depends on the process environment or the working directory.
        return (init_settings,)

    def account_settings(self) -> dict[str, AccountSettings]:
        """The `[accounts.<id>]` tables as core's `AccountSettings`."""
        return {
            account_id: AccountSettings(
                account_id=account_id,
                policy_id=account.policy or account_id,
                injury_rate=account.injury_rate,
                housing_fund_rate=account.housing_fund_rate,
                due_day=account.due_day,
            )
            for account_id, account in self.accounts.items()
        }

    def account_owners(self) -> dict[str, tuple[str, ...]]:
        """`[accounts.<id>] owners` where set."""
        return {
            account_id: tuple(account.owners)
            for account_id, account in self.accounts.items()
            if account.owners
        }

    def account_names(self) -> dict[str, str]:
        """`[accounts.<id>] name` where set: the name replies use for the account."""
        return {
            account_id: account.name
            for account_id, account in self.accounts.items()
            if account.name is not None
        }


class _TomlSource(TomlConfigSettingsSource):
    """TOML with decimals read as `Decimal`: a rate like 0.0016 must never pass through float."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        with file_path.open(mode="rb") as toml_file:
            data: dict[str, Any] = tomllib.load(toml_file, parse_float=Decimal)
        return data


class _EnvSource(EnvSettingsSource):
    """The env source over an injected mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # An older key's variable is read under its newer name, so its value is decoded as
        # the field's type (JSON for a list) like any other.
        newer = dict(_renamed_env_names())
        loaded = {name.lower(): value for name, value in self._environ.items()}
        return {newer.get(name, name): value for name, value in loaded.items()}


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    database_url: str | None = None,
) -> Settings:
    """Read the config file (explicit `path`, else `./coverwatch.toml` if present), then env.

    `database_url` is the CLI's `--db` and wins over everything. Raises `ConfigError`.
    """
    environ = os.environ if environ is None else environ
    _check_env_sections(environ)
    file = _read_file(path)
    _check_file_secrets(file, path)
    values = _deep_merge(file, _EnvSource(Settings, environ)())
    if database_url is not None:
        values = _deep_merge(values, {"database": {"url": database_url}})
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    settings._deprecations = _older_names(file, environ)
    for note in settings.deprecations:
        log.warning("config: %s", note)
    return settings


def _renamed_keys() -> list[tuple[str, str, str]]:
    """(section, older key, newer key) for every `PlatformSection.renamed` entry."""
    found = []
    for name, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, PlatformSection):
            found += [(name, old, new) for old, new in model.renamed.items()]
    return found


def _env_name(section: str, key: str) -> str:
    """A key's variable, lower-cased as the env source reads it."""
    return f"{ENV_PREFIX}{section}{ENV_DELIMITER}{key}".lower()


def _renamed_env_names() -> list[tuple[str, str]]:
    """(older variable, newer variable) for every renamed key."""
    return [(_env_name(sec, old), _env_name(sec, new)) for sec, old, new in _renamed_keys()]


def _older_names(file: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[str, ...]:
    """A note for each key the file or the environment sets under its older name."""
    variables = {name.lower() for name in environ}
    return tuple(
        f"[{section}] {old} is deprecated: rename it to {new} (the older name still works)"
        for section, old, new in _renamed_keys()
        if (isinstance(file.get(section), Mapping) and old in file[section])
        or _env_name(section, old) in variables
    )


def _read_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        if not DEFAULT_CONFIG_PATH.is_file():
            return {}
        path = DEFAULT_CONFIG_PATH
    if not path.is_file():
        raise ConfigError(f"config file {path}: not found")
    try:
        return _TomlSource(Settings, toml_file=path)()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None


ENVIRONMENT_ONLY = {"security": ("data_key", "previous_data_keys")}
"""Keys refused in the config file: a file gets copied, committed and backed up with the data
its key protects (docs/SECURITY.md)."""


def _check_file_secrets(file: Mapping[str, Any], path: Path | None) -> None:
    for section, keys in ENVIRONMENT_ONLY.items():
        table = file.get(section)
        for key in keys:
            if isinstance(table, Mapping) and key in table:
                variable = f"{ENV_PREFIX}{section}{ENV_DELIMITER}{key}".upper()
                raise ConfigError(
                    f"{section}.{key}: not in the config file ({path or DEFAULT_CONFIG_PATH}); "
                    f"set it in the environment as {variable}"
                )


def _check_env_sections(environ: Mapping[str, str]) -> None:
    """pydantic-settings ignores env vars for sections that do not exist; a typo must not pass."""
    for name in environ:
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and ENV_DELIMITER in upper[len(ENV_PREFIX) :]:
            section = upper[len(ENV_PREFIX) :].split(ENV_DELIMITER, 1)[0].lower()
            if section not in Settings.model_fields:
                raise ConfigError(f"{name}: unknown section {section!r}")
    variables = {name.lower() for name in environ}
    for old, new in _renamed_env_names():
        if old in variables and new in variables:
            raise ConfigError(f"{old.upper()}: the older name of {new.upper()}; set only that")


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(exc: ValidationError) -> str:
    """The first error as one line: `section.key: reason` (+ how many more)."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"] if not isinstance(part, int)]
    index = "".join(f"[{part}]" for part in first["loc"] if isinstance(part, int))
    reason = first["msg"].removeprefix("Value error, ")
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, SectionKeyError):
        loc.append(cause.key)
    if isinstance(cause, MissingKeyError):
        env_name = f"{ENV_PREFIX}{loc[0]}{ENV_DELIMITER}{cause.key}".upper()
        reason = f"{reason} (set it in the file or as {env_name})"
    if first["type"] == "extra_forbidden":
        reason = "unknown section" if len(loc) == 1 else "unknown key"
    more = exc.error_count() - 1
    suffix = f" (and {more} more error{'s' if more > 1 else ''})" if more else ""
    return f"{'.'.join(loc) or 'config'}{index}: {reason}{suffix}"
