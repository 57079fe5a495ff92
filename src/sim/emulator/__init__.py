"""The local Polymarket + Binance emulator: the venue's APIs served from a ``SimVenue``.

``auth`` and ``orders`` are the venue's door checks (pure; see ``docs/EMULATOR_AUTH.md``);
``server`` runs everything on one aiohttp port (see ``docs/SIMULATOR.md``, "Emulator")::

    from src.sim.emulator import Emulator, EmulatorConfig

    handle = Emulator(EmulatorConfig(port=0, speed=None)).start()
    url, env = handle.base_url, handle.env_lines()  # point the bot here
    handle.stop()

The server is imported lazily, so the pure modules stay cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from src.sim.emulator.config import EmulatorConfig
    from src.sim.emulator.server import Emulator, EmulatorHandle, EmulatorUrls

__all__ = ["Emulator", "EmulatorConfig", "EmulatorHandle", "EmulatorUrls"]


def __getattr__(name: str) -> Any:
    if name == "EmulatorConfig":
        from src.sim.emulator.config import EmulatorConfig

        return EmulatorConfig
    if name in ("Emulator", "EmulatorHandle", "EmulatorUrls"):
        from src.sim.emulator import server

        return getattr(server, name)
    raise AttributeError(name)
