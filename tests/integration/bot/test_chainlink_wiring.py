"""``CHAINLINK_REFERENCE``: ``run --sim`` reads the embedded emulator's real-time data
socket when it is on, and nothing when it is off or in lockstep (whose world is a
backtest's)."""

from __future__ import annotations

import pytest

from src.bot.wiring import SimWorld, connect
from src.config.modes import Mode
from src.config.settings import Settings, load_settings
from src.data.market_data.chainlink import ChainlinkStream
from src.data.market_data.windows import window_start
from src.sim.emulator.rtds import reference_at

pytestmark = pytest.mark.integration

WAIT_S = 10.0


def settings(reference: str) -> Settings:
    return load_settings(
        environ={"CHAINLINK_REFERENCE": reference, "MARKETS": "BTC"}, env_file=None
    )


def test_off_by_default_nothing_reads_the_reference() -> None:
    assert load_settings(environ={}, env_file=None).chainlink_reference == "off"
    adapters = connect(settings("off"), Mode.SIM, 1.0)
    try:
        assert adapters.reference is None
        assert not any(isinstance(s, ChainlinkStream) for s in adapters.streams)
    finally:
        adapters.close()


def test_lockstep_never_reads_it() -> None:
    adapters = connect(settings("on"), Mode.SIM, None, SimWorld(lockstep=True))
    try:
        assert adapters.reference is None and adapters.streams == []
    finally:
        adapters.close()


def test_sim_reads_the_emulators_reference_when_on() -> None:
    adapters = connect(settings("on"), Mode.SIM, 1.0)
    try:
        stream = adapters.reference
        assert isinstance(stream, ChainlinkStream) and stream in adapters.streams
        handle = adapters.emulator
        url = handle.env()["RTDS_WS_URL"]  # type: ignore[attr-defined]
        assert stream.url == url == adapters.settings.rtds_ws_url
        assert stream.coins == ("BTC",)
        stream.start()
        start = window_start(adapters.clock.now())
        assert stream.signal.wait_for(
            lambda: stream.quote("BTC", start) is not None, WAIT_S
        )
        quote = stream.quote("BTC", start)
        assert quote is not None
        source = handle.context.source  # type: ignore[attr-defined]
        expected = reference_at(source, "BTCUSDT", quote.spot_time)
        assert expected is not None and quote.spot == pytest.approx(expected, abs=1e-8)
        assert abs(adapters.clock.now() - quote.spot_time) < 5
    finally:
        adapters.close()
