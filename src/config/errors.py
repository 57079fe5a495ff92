"""Configuration errors: each names the setting, the bad value and what is allowed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid setting."""

    setting: str
    value: str
    allowed: str
    detail: str = ""
    rule: bool = False

    def __str__(self) -> str:
        if self.rule:
            return f"{self.setting}: {self.value} is invalid — {self.allowed}"
        why = f" ({self.detail})" if self.detail else ""
        return f"{self.setting}={self.value!s} is invalid{why} — allowed: {self.allowed}"


class ConfigError(ValueError):
    """One or more settings are invalid. The CLI turns this into exit code 2."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def settings(self) -> list[str]:
        """Names of the settings at fault, for tests and messages."""
        return [p.setting for p in self.problems]
