"""Trader accounts as the emulator sees them: opened on first contact with a starting
balance, and mapped from the API key's address to the wallet that trades (the funder)."""

from __future__ import annotations

import threading

from src.sim.emulator.eip712 import checksum, is_address
from src.sim.venue import SimVenue
from src.utils.logger import log


class AddressError(ValueError):
    """Not a 0x-prefixed 20-byte hex address."""


def canonical_address(text: str) -> str:
    """The EIP-55 spelling of an address (the venue keys accounts by it)."""
    if not is_address(text):
        raise AddressError(f"not an address: {text!r}")
    return checksum(text)


class Accounts:
    """Opens accounts with ``default_balance`` micro-units of collateral, once each.

    An order signed by a proxy or safe trades from its ``maker`` wallet while the API key
    belongs to the signing EOA; :meth:`funder_of` remembers that pairing so the key's
    account queries (orders, trades, balance) look at the wallet that trades.
    """

    def __init__(self, venue: SimVenue, default_balance: int) -> None:
        self._venue = venue
        self._default_balance = default_balance
        self._lock = threading.Lock()
        self._opened: set[str] = set()
        self._funders: dict[str, str] = {}

    @property
    def default_balance(self) -> int:
        """Collateral micro-units credited to a new account."""
        return self._default_balance

    def ensure(self, address: str) -> str:
        """Open ``address`` (EIP-55) with the default balance if new; returns it."""
        if address in self._opened:
            return address
        with self._lock:
            if address in self._opened:
                return address
            if not self._venue.has_account(address):
                self._venue.open_account(address, self._default_balance)
                log(
                    f"💰 opened {address} with {self._default_balance / 1e6:,.2f} collateral"
                )
            self._opened.add(address)
        return address

    def is_trader(self, address: str) -> bool:
        """True for an account the emulator opened (a client's, not the market model's)."""
        return address in self._opened

    def fund(self, address: str, amount: int) -> None:
        """Deposit ``amount`` micro-units into ``address`` (opened first if new)."""
        self.ensure(address)
        if amount:
            self._venue.deposit(address, amount)

    def link_funder(self, signer: str, funder: str) -> None:
        """Record that ``signer``'s key trades from ``funder`` (proxy/safe/deposit wallet)."""
        if signer != funder:
            with self._lock:
                self._funders[signer] = funder

    def funder_of(self, address: str) -> str:
        """The wallet ``address``'s key trades from (itself for an EOA)."""
        return self._funders.get(address, address)
