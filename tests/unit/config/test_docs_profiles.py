"""docs/RISK_PROFILES.md shows exactly the values in src/config/profiles.py."""

from pathlib import Path

from src.config.profiles import PROFILES

DOC = Path(__file__).resolve().parents[3] / "docs" / "RISK_PROFILES.md"


def test_profiles_table_matches_the_code() -> None:
    text = DOC.read_text()
    table = text.split("<!-- profiles-table:start -->")[1].split(
        "<!-- profiles-table:end -->"
    )[0]
    rows = [line.strip("|").split("|") for line in table.strip().splitlines()]
    header = [cell.strip() for cell in rows[0]]
    assert header[1:] == list(PROFILES)
    documented = {
        cells[0].strip().strip("`"): [c.strip() for c in cells[1:]] for cells in rows[2:]
    }
    expected = {key: [PROFILES[p][key] for p in PROFILES] for key in PROFILES["balanced"]}
    assert documented == expected
