"""Balances, reservations and escrow in integer micro-units.

Each account holds free and reserved collateral, and free and reserved shares per token.
Resting BUYs reserve collateral, resting SELLs reserve shares. A MATCHED fill moves what
each side gives into **escrow**; CONFIRMED pays escrow out to the receivers (fees to the
fee collector), FAILED pays it back to the givers. Receivers are credited only at
confirmation, so a rollback never has to take back something already spent, and no balance
can go negative.

Collateral enters only by :meth:`Ledger.deposit` and leaves only by :meth:`Ledger.withdraw`;
complete sets are minted (1 collateral → 1 Up + 1 Down), merged, and redeemed after
resolution (1.00 per winning token). Hence, always::

    deposited − withdrawn == Σ account collateral + escrow + Σ market backing

and, for every market before resolution, each token's supply equals the market's backing.
"""

from __future__ import annotations

from src.sim.venue.errors import InsufficientFundsError, UnknownAccountError, VenueError
from src.sim.venue.markets import MarketState
from src.sim.venue.types import CollateralBalance, LedgerTotals

FEE_COLLECTOR = "0xfee" + "0" * 34 + "fee"
"""The account that receives taker fees (collateral and shares)."""


class Account:
    """One address's holdings. ``auto_fund`` accounts are topped up on demand."""

    __slots__ = (
        "address",
        "auto_fund",
        "collateral",
        "reserved",
        "reserved_tokens",
        "tokens",
    )

    def __init__(self, address: str, auto_fund: bool = False) -> None:
        self.address = address
        self.auto_fund = auto_fund
        self.collateral = 0
        self.reserved = 0
        self.tokens: dict[str, int] = {}
        self.reserved_tokens: dict[str, int] = {}

    def free_tokens(self, token_id: str) -> int:
        """Shares of ``token_id`` not reserved by resting SELLs."""
        return self.tokens.get(token_id, 0)

    def balance(self) -> CollateralBalance:
        """A snapshot of this account's collateral."""
        return CollateralBalance(
            self.address, self.collateral + self.reserved, self.collateral, self.reserved
        )


class Ledger:
    """All accounts plus venue-wide totals (deposits, withdrawals, escrow)."""

    __slots__ = ("accounts", "deposited", "escrow_collateral", "escrow_tokens", "withdrawn")

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.deposited = 0
        self.withdrawn = 0
        self.escrow_collateral = 0
        self.escrow_tokens: dict[str, int] = {}
        self.open(FEE_COLLECTOR)

    # -- accounts and external flows -------------------------------------------------------

    def open(self, address: str, auto_fund: bool = False) -> Account:
        """Create the account of ``address`` (idempotent; may turn ``auto_fund`` on)."""
        account = self.accounts.get(address)
        if account is None:
            account = Account(address, auto_fund)
            self.accounts[address] = account
        elif auto_fund:
            account.auto_fund = True
        return account

    def get(self, address: str) -> Account:
        """The account of ``address``; raises :class:`UnknownAccountError`."""
        try:
            return self.accounts[address]
        except KeyError:
            raise UnknownAccountError(f"no account for {address!r}") from None

    def deposit(self, account: Account, amount: int) -> None:
        """Collateral entering the venue."""
        _require_amount(amount)
        account.collateral += amount
        self.deposited += amount

    def withdraw(self, account: Account, amount: int) -> None:
        """Collateral leaving the venue (free collateral only)."""
        _require_amount(amount)
        if amount > account.collateral:
            raise InsufficientFundsError(f"{account.address} has {account.collateral} free")
        account.collateral -= amount
        self.withdrawn += amount

    def mint(self, account: Account, market: MarketState, amount: int) -> None:
        """Split ``amount`` collateral into ``amount`` Up and ``amount`` Down shares."""
        _require_amount(amount)
        if amount > account.collateral:
            raise InsufficientFundsError(f"{account.address} has {account.collateral} free")
        account.collateral -= amount
        market.backing += amount
        tokens = account.tokens
        for state in market.tokens:
            tokens[state.token_id] = tokens.get(state.token_id, 0) + amount

    def merge(self, account: Account, market: MarketState, amount: int) -> None:
        """Turn ``amount`` Up + ``amount`` Down free shares back into collateral."""
        _require_amount(amount)
        tokens = account.tokens
        if any(tokens.get(s.token_id, 0) < amount for s in market.tokens):
            raise InsufficientFundsError(f"{account.address} lacks {amount} complete sets")
        for state in market.tokens:
            tokens[state.token_id] -= amount
        market.backing -= amount
        account.collateral += amount

    def redeem(
        self, account: Account, market: MarketState, winning_token: str
    ) -> tuple[int, int]:
        """Burn all free shares of a resolved market; pay 1.00 per winning share.

        Returns ``(winning_burned, losing_burned)``; the payout equals ``winning_burned``.
        """
        won = lost = 0
        for state in market.tokens:
            held = account.tokens.pop(state.token_id, 0)
            if state.token_id == winning_token:
                won = held
            else:
                lost = held
        market.backing -= won
        account.collateral += won
        return won, lost

    # -- order-time reservations -----------------------------------------------------------

    @staticmethod
    def can_pay(account: Account, is_buy: bool, token_id: str, needed: int) -> bool:
        """True if the account can commit ``needed`` collateral (BUY) or shares (SELL).

        Auto-fund accounts always can: :meth:`top_up` covers them once the order passed
        every other check, so a refused order never mints or deposits anything.
        """
        if account.auto_fund:
            return True
        if is_buy:
            return account.collateral >= needed
        return account.tokens.get(token_id, 0) >= needed

    def top_up(
        self,
        account: Account,
        market: MarketState,
        token_id: str,
        is_buy: bool,
        needed: int,
    ) -> None:
        """Deposit (BUY) or deposit-and-mint (SELL) what an auto-fund account lacks."""
        if not account.auto_fund:
            return
        if is_buy:
            gap = needed - account.collateral
            if gap > 0:
                self.deposit(account, gap)
            return
        gap = needed - account.tokens.get(token_id, 0)
        if gap > 0:
            self.deposit(account, gap)
            self.mint(account, market, gap)

    @staticmethod
    def reserve_collateral(account: Account, amount: int) -> None:
        """Free → reserved collateral (a BUY starts resting)."""
        account.collateral -= amount
        account.reserved += amount

    @staticmethod
    def release_collateral(account: Account, amount: int) -> None:
        """Reserved → free collateral (a resting BUY shrinks without trading)."""
        account.reserved -= amount
        account.collateral += amount

    @staticmethod
    def reserve_tokens(account: Account, token_id: str, amount: int) -> None:
        """Free → reserved shares (a SELL starts resting)."""
        account.tokens[token_id] -= amount
        reserved = account.reserved_tokens
        reserved[token_id] = reserved.get(token_id, 0) + amount

    @staticmethod
    def release_tokens(account: Account, token_id: str, amount: int) -> None:
        """Reserved → free shares (a resting SELL shrinks without trading)."""
        account.reserved_tokens[token_id] -= amount
        tokens = account.tokens
        tokens[token_id] = tokens.get(token_id, 0) + amount

    # -- two-phase settlement --------------------------------------------------------------

    def escrow_collateral_from(self, account: Account, amount: int, reserved: bool) -> None:
        """A matched BUY's payment leaves its owner (free or reserved) for escrow."""
        if reserved:
            account.reserved -= amount
        else:
            account.collateral -= amount
        self.escrow_collateral += amount

    def escrow_tokens_from(
        self, account: Account, token_id: str, amount: int, reserved: bool
    ) -> None:
        """A matched SELL's shares leave their owner (free or reserved) for escrow."""
        if reserved:
            account.reserved_tokens[token_id] -= amount
        else:
            account.tokens[token_id] -= amount
        escrow = self.escrow_tokens
        escrow[token_id] = escrow.get(token_id, 0) + amount

    def pay_collateral(self, account: Account, amount: int, reserved: bool = False) -> None:
        """Escrowed collateral → ``account`` (a confirmation, or a refund on failure)."""
        self.escrow_collateral -= amount
        if reserved:
            account.reserved += amount
        else:
            account.collateral += amount

    def pay_tokens(
        self, account: Account, token_id: str, amount: int, reserved: bool = False
    ) -> None:
        """Escrowed shares → ``account`` (a confirmation, or a refund on failure)."""
        self.escrow_tokens[token_id] -= amount
        book = account.reserved_tokens if reserved else account.tokens
        book[token_id] = book.get(token_id, 0) + amount

    # -- totals ----------------------------------------------------------------------------

    def supply(self, token_id: str) -> int:
        """Shares of ``token_id`` in existence: in accounts (free + reserved) and escrow."""
        total = self.escrow_tokens.get(token_id, 0)
        for account in self.accounts.values():
            total += account.tokens.get(token_id, 0) + account.reserved_tokens.get(
                token_id, 0
            )
        return total

    def totals(self, backing: int) -> LedgerTotals:
        """Venue-wide collateral sums (``backing``: Σ over markets, from the registry)."""
        held = sum(a.collateral + a.reserved for a in self.accounts.values())
        fees = self.accounts[FEE_COLLECTOR].collateral
        return LedgerTotals(
            self.deposited, self.withdrawn, held, self.escrow_collateral, backing, fees
        )


def _require_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise VenueError(f"amounts are positive int micro-units, got {amount!r}")
