"""What every command shares: loading settings, exit codes, output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from src.config.errors import ConfigError
from src.config.settings import DEFAULT_ENV_FILE, Settings, load_settings, secret_values
from src.utils.logger import configure_logging, log_error
from src.utils.redaction import REDACTOR, redact

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2

F = TypeVar("F", bound=Callable[..., Any])


def console() -> Console:
    """Console for tables and messages (stdout); wide enough for tables when piped."""
    return Console(
        highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 140
    )


def err_console() -> Console:
    """Console for errors (stderr)."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def parse_set_options(pairs: Iterable[str]) -> dict[str, str]:
    """``('MIN_EDGE=0.05', …)`` → ``{'MIN_EDGE': '0.05'}``; a malformed pair is a usage error."""
    result: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--set")
        key, value = pair.split("=", 1)
        result[key.strip()] = value
    return result


def set_option(func: F) -> F:
    """The ``--set NAME=VALUE`` flag (repeatable): a CLI override of any setting."""
    return click.option(
        "--set",
        "set_pairs",
        multiple=True,
        metavar="NAME=VALUE",
        help="Override a setting for this run (repeatable), e.g. --set MIN_EDGE=0.05.",
    )(func)


def db_option(func: F) -> F:
    """The ``--db PATH`` flag."""
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Database file (overrides POLYFLUP_DB).",
    )(func)


def build_settings(
    ctx: click.Context,
    profile: str | None = None,
    set_pairs: Iterable[str] = (),
    db_path: Path | None = None,
) -> Settings:
    """Load and validate settings for a command; on error print it and exit with code 2."""
    overrides = parse_set_options(set_pairs)
    if db_path is not None:
        overrides["POLYFLUP_DB"] = str(db_path)
    env_file: Path | None = ctx.obj.get("env_file") if ctx.obj else None
    try:
        settings = load_settings(env_file=env_file, profile=profile, overrides=overrides)
    except ConfigError as exc:
        report_config_error(exc)
        ctx.exit(EXIT_CONFIG)
    REDACTOR.register(*secret_values(settings))
    warn_if_readable_by_others(env_file if env_file is not None else DEFAULT_ENV_FILE)
    return settings


def warn_if_readable_by_others(env_file: Path) -> None:
    """A ``.env`` holds keys: say so when other users of the machine can read it."""
    try:
        mode = env_file.stat().st_mode
    except OSError:
        return
    if mode & 0o077:
        err_console().print(
            f"⚠️  {env_file} is readable by other users (mode {mode & 0o777:o}) and may "
            f"hold keys: run `chmod 600 {env_file}`",
            markup=False,
        )


def report_config_error(exc: ConfigError) -> None:
    """Print every configuration problem, one per line, with what to do."""
    out = err_console()
    out.print("❌ Invalid configuration:", style="bold red")
    for problem in exc.problems:
        out.print(f"   • {redact(str(problem))}", markup=False)
    out.print(
        "   Fix the value in the environment, .env or the flag, then run "
        "`polyflup config validate`.",
        markup=False,
    )


def setup_logging(settings: Settings, to_files: bool = True) -> None:
    """Configure logging for a command that does work (files only when it writes)."""
    configure_logging(
        settings.log_dir if to_files else None,
        settings.log_level,
        secrets=secret_values(settings),
    )


def emit_json(data: Any) -> None:
    """Print JSON to stdout (stable key order, decimals as strings)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def handle_errors(func: F) -> F:
    """Turn unexpected exceptions into a logged, redacted error and exit code 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except ConfigError as exc:
            report_config_error(exc)
            raise click.exceptions.Exit(EXIT_CONFIG) from None
        except Exception as exc:  # the last line of defence: log it, never leak it
            log_error(f"{func.__name__} failed: {exc}")
            err_console().print(f"❌ {redact(str(exc))}", markup=False)
            raise click.exceptions.Exit(EXIT_FAILURE) from None

    return wrapper  # type: ignore[return-value]
