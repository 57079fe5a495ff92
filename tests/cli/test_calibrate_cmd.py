"""``polyflup calibrate`` through click's runner, and the commands that read its file."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from click.testing import CliRunner, Result

from src.cli import cli
from src.sim.market_model import MarketModelParams
from src.sim.market_model.calibration import FITTED
from src.sim.market_model.params_file import load_market_params
from tests.unit.market_model.calibration_support import (
    SimulatedRecording,
    simulated_recording,
    write_recording,
)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


@functools.lru_cache(maxsize=1)
def _recording() -> SimulatedRecording:
    return simulated_recording(MarketModelParams(), 4, seed=3)


def _files(folder: Path) -> tuple[Path, Path]:
    return write_recording(_recording(), folder)


def test_calibrate_writes_the_file_and_prints_the_tables(tmp_path: Path) -> None:
    quotes, klines = _files(tmp_path)
    out = tmp_path / "market.json"
    result = invoke(
        "calibrate", "--quotes", str(quotes), "--data", str(klines), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "Fitted market-model parameters" in result.output
    assert "Goodness of fit" in result.output
    assert "Brier of the mid, minute 14" in result.output
    assert "4 windows" in result.output and str(out) in result.output
    params = load_market_params(out)
    document = json.loads(out.read_text())
    assert document["fitted"]["windows"] == 4
    assert document["fitted"]["recordings"] == [str(quotes)]
    for name in FITTED:
        assert document["fitted"]["fitted"][name] == getattr(params, name)


def test_calibrate_json_holds_what_it_is_told(tmp_path: Path) -> None:
    quotes, klines = _files(tmp_path)
    result = invoke(
        "calibrate",
        "--quotes",
        str(quotes),
        "--data",
        f"BTCUSDT={klines}",
        "--hold",
        "noise_sd_logit",
        "--hold",
        "noise_half_life_s",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["fit"]["held"] == ["noise_sd_logit", "noise_half_life_s"]
    assert data["params"]["noise_sd_logit"] == MarketModelParams().noise_sd_logit
    assert {row["measure"] for row in data["fit"]["goodness_of_fit"]} >= {
        "top of book changes"
    }


def test_a_bad_recording_line_is_exit_2_naming_the_file_and_line(tmp_path: Path) -> None:
    quotes, klines = _files(tmp_path)
    lines = quotes.read_text().splitlines()
    lines[5] = lines[5].replace("btc-updown-15m", "btc-updown-1m")
    quotes.write_text("\n".join(lines) + "\n")
    result = invoke("calibrate", "--quotes", str(quotes), "--data", str(klines))
    assert result.exit_code == 2
    assert f"{quotes}:6" in result.output and "--quotes" in result.output


def test_bad_klines_and_uncovered_windows_are_exit_2(tmp_path: Path) -> None:
    quotes, klines = _files(tmp_path)
    bad = tmp_path / "BTCUSDT-1m-bad.csv"
    bad.write_text("1,2,3\n")
    result = invoke("calibrate", "--quotes", str(quotes), "--data", str(bad))
    assert result.exit_code == 2 and str(bad) in result.output and "--data" in result.output
    missing = invoke("calibrate", "--quotes", str(quotes), "--data", "nope.csv")
    assert missing.exit_code == 2 and "cannot tell the symbol" in missing.output
    other = invoke("calibrate", "--quotes", str(quotes), "--data", f"ETHUSDT={klines}")
    assert other.exit_code == 2 and "none of the 4 recorded windows" in other.output
    hold = invoke(
        "calibrate", "--quotes", str(quotes), "--data", str(klines), "--hold", "levels"
    )
    assert hold.exit_code == 2 and "not a fitted parameter" in hold.output


def test_a_bad_parameter_file_is_exit_2_for_the_setting_and_the_emulator(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"params": {"levels": 0}}))
    result = invoke("config", "validate", env={"SIM_MARKET_PARAMS": str(bad)})
    assert result.exit_code == 2
    assert "SIM_MARKET_PARAMS" in result.output and "levels must be in" in result.output
    emulator = invoke("emulator", "--market-params", str(bad))
    assert emulator.exit_code == 2
    assert "--market-params" in emulator.output and str(bad) in emulator.output
