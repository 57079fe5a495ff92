"""``polyflup config show`` and ``polyflup config validate``."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from src.cli.common import (
    build_settings,
    console,
    db_option,
    emit_json,
    handle_errors,
    set_option,
)
from src.config.settings import Settings, options

NOT_SET = "(not set)"
MASKED = "***"


def display_value(settings: Settings, env: str) -> str:
    """A setting's value as shown to people: secrets masked, empty values marked."""
    option = next(o for o in options() if o.env == env)
    value = getattr(settings, option.field)
    if option.secret:
        return MASKED if value else NOT_SET
    text = option.render(value)
    return text if text else NOT_SET


def profile_option(func):  # noqa: ANN001, ANN201 - click decorator
    """The ``--profile NAME`` flag."""
    return click.option(
        "--profile",
        type=str,
        default=None,
        metavar="NAME",
        help="Risk profile: conservative, balanced, aggressive or ultra.",
    )(func)


@click.group("config")
def config_group() -> None:
    """Show and check the effective configuration."""


@config_group.command("show")
@profile_option
@set_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
@handle_errors
def config_show(
    ctx: click.Context,
    profile: str | None,
    set_pairs: tuple[str, ...],
    db_path: Path | None,
    as_json: bool,
) -> None:
    """Print every setting with its value and where it came from (secrets masked).

    Sources: default < .env < env < profile:NAME < flag.
    """
    settings = build_settings(ctx, profile, set_pairs, db_path)
    rows = [
        (o.group, o.env, display_value(settings, o.env), settings.source_of(o.env), o.help)
        for o in options()
    ]
    if as_json:
        emit_json(
            {
                env: {"value": value, "source": source, "group": group}
                for group, env, value, source, _ in rows
            }
        )
        return
    table = Table(
        title=f"PolyFlup configuration — profile {settings.profile}", show_lines=False
    )
    table.add_column("Setting", style="bold", no_wrap=True)
    table.add_column("Value", no_wrap=True)
    table.add_column("Source", no_wrap=True)
    table.add_column("Description")
    last_group = None
    for group, env, value, source, help_text in rows:
        if group != last_group:
            table.add_section()
            table.add_row(f"[cyan]{group}[/cyan]", "", "", "")
            last_group = group
        style = "dim" if source == "default" else ""
        table.add_row(env, value, source, help_text, style=style)
    console().print(table)


@config_group.command("validate")
@profile_option
@set_option
@db_option
@click.pass_context
@handle_errors
def config_validate(
    ctx: click.Context,
    profile: str | None,
    set_pairs: tuple[str, ...],
    db_path: Path | None,
) -> None:
    """Check the configuration; exit 0 when valid, 2 naming each bad setting otherwise."""
    settings = build_settings(ctx, profile, set_pairs, db_path)
    wallet = "wallet configured" if settings.has_wallet else "no wallet (sim/paper only)"
    console().print(
        f"✅ Configuration valid — profile {settings.profile}, "
        f"markets {','.join(settings.markets)}, {wallet}."
    )
