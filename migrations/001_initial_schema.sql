-- 001: the first schema. Money and shares are integer micro-units (6 decimals, as the
-- venue counts them); times are Unix milliseconds (UTC). Probabilities are REAL.

CREATE TABLE windows (
    id              INTEGER PRIMARY KEY,
    symbol          TEXT    NOT NULL,
    slug            TEXT    NOT NULL UNIQUE,
    condition_id    TEXT    UNIQUE,
    up_token_id     TEXT,
    down_token_id   TEXT,
    start_ms        INTEGER NOT NULL,
    end_ms          INTEGER NOT NULL,
    strike_micro    INTEGER,              -- underlying price at the start
    tick_size_micro INTEGER,
    fee_rate_bps    INTEGER,
    outcome         TEXT    CHECK (outcome IN ('UP', 'DOWN')),
    resolved_ms     INTEGER,
    created_ms      INTEGER NOT NULL,
    CHECK (end_ms > start_ms)
);
CREATE INDEX idx_windows_symbol_start ON windows (symbol, start_ms);

CREATE TABLE decisions (
    id                  INTEGER PRIMARY KEY,
    window_id           INTEGER REFERENCES windows (id),
    symbol              TEXT    NOT NULL,
    decided_ms          INTEGER NOT NULL,
    mode                TEXT    NOT NULL CHECK (mode IN ('backtest', 'sim', 'paper', 'live')),
    action              TEXT    NOT NULL CHECK (action IN ('UP', 'DOWN', 'PASS')),
    reason              TEXT    NOT NULL,
    method              TEXT    NOT NULL CHECK (method IN ('additive', 'bayesian')),
    confidence          REAL,                 -- the selected method's value
    confidence_additive REAL,
    confidence_bayesian REAL,
    fair_value          REAL,                 -- P(Up) from the underlying
    market_price        REAL,                 -- Up mid at decision time
    price_micro         INTEGER,              -- limit price of the intended order
    size_micro          INTEGER,
    fee_micro           INTEGER,
    expected_value      REAL,                 -- per share, after fees
    time_left_s         REAL,
    signals_json        TEXT,                 -- every signal's direction and strength
    inputs_json         TEXT                  -- the snapshot the decision was made from
);
CREATE INDEX idx_decisions_window ON decisions (window_id);
CREATE INDEX idx_decisions_symbol_time ON decisions (symbol, decided_ms);

CREATE TABLE positions (
    id                  INTEGER PRIMARY KEY,
    window_id           INTEGER REFERENCES windows (id),
    token_id            TEXT    NOT NULL UNIQUE,
    symbol              TEXT    NOT NULL,
    outcome             TEXT    NOT NULL CHECK (outcome IN ('UP', 'DOWN')),
    size_micro          INTEGER NOT NULL DEFAULT 0 CHECK (size_micro >= 0),
    cost_micro          INTEGER NOT NULL DEFAULT 0,   -- cash paid for the shares held
    fees_micro          INTEGER NOT NULL DEFAULT 0,   -- all fees, collateral value
    realized_pnl_micro  INTEGER NOT NULL DEFAULT 0,
    status              TEXT    NOT NULL DEFAULT 'open'
                        CHECK (status IN ('open', 'closed', 'settled', 'redeemed')),
    exit_reason         TEXT    CHECK (exit_reason IN
                        ('exit_plan', 'stop_loss', 'reversal', 'settlement', 'manual')),
    confidence          REAL,
    adopted             INTEGER NOT NULL DEFAULT 0 CHECK (adopted IN (0, 1)),
    opened_ms           INTEGER NOT NULL,
    closed_ms           INTEGER,
    updated_ms          INTEGER NOT NULL
);
CREATE INDEX idx_positions_status ON positions (status);
CREATE INDEX idx_positions_window ON positions (window_id);

CREATE TABLE orders (
    id               INTEGER PRIMARY KEY,
    client_order_id  TEXT    NOT NULL UNIQUE,
    venue_order_id   TEXT    UNIQUE,          -- the signed order's hash
    window_id        INTEGER REFERENCES windows (id),
    decision_id      INTEGER REFERENCES decisions (id),
    position_id      INTEGER REFERENCES positions (id),
    token_id         TEXT    NOT NULL,
    symbol           TEXT    NOT NULL,
    outcome          TEXT    NOT NULL CHECK (outcome IN ('UP', 'DOWN')),
    side             TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    intent           TEXT    NOT NULL CHECK (intent IN
                     ('entry', 'exit_plan', 'scale_in', 'stop_loss', 'reversal', 'close',
                      'manual')),
    order_type       TEXT    NOT NULL CHECK (order_type IN ('GTC', 'GTD', 'FOK', 'FAK')),
    post_only        INTEGER NOT NULL DEFAULT 0 CHECK (post_only IN (0, 1)),
    price_micro      INTEGER NOT NULL CHECK (price_micro > 0 AND price_micro < 1000000),
    size_micro       INTEGER NOT NULL CHECK (size_micro > 0),
    filled_micro     INTEGER NOT NULL DEFAULT 0 CHECK (filled_micro >= 0),
    status           TEXT    NOT NULL DEFAULT 'intent' CHECK (status IN
                     ('intent', 'posting', 'ambiguous', 'live', 'partially_filled',
                      'filled', 'cancelled', 'rejected', 'expired')),
    error            TEXT,
    expires_ms       INTEGER,
    mode             TEXT    NOT NULL CHECK (mode IN ('backtest', 'sim', 'paper', 'live')),
    created_ms       INTEGER NOT NULL,
    updated_ms       INTEGER NOT NULL,
    CHECK (filled_micro <= size_micro)
);
CREATE INDEX idx_orders_status ON orders (status);
CREATE INDEX idx_orders_window ON orders (window_id);
CREATE INDEX idx_orders_position ON orders (position_id);

CREATE TABLE fills (
    id              INTEGER PRIMARY KEY,
    venue_trade_id  TEXT    NOT NULL UNIQUE,
    order_id        INTEGER NOT NULL REFERENCES orders (id),
    token_id        TEXT    NOT NULL,
    side            TEXT    NOT NULL CHECK (side IN ('BUY', 'SELL')),
    role            TEXT    NOT NULL CHECK (role IN ('maker', 'taker')),
    price_micro     INTEGER NOT NULL CHECK (price_micro > 0 AND price_micro < 1000000),
    size_micro      INTEGER NOT NULL CHECK (size_micro > 0),
    -- collateral exchanged, exactly as the venue settled it (an average price is rounded)
    notional_micro  INTEGER NOT NULL CHECK (notional_micro > 0),
    fee_micro       INTEGER NOT NULL DEFAULT 0 CHECK (fee_micro >= 0),
    fee_asset       TEXT    NOT NULL DEFAULT 'collateral'
                    CHECK (fee_asset IN ('collateral', 'shares')),
    status          TEXT    NOT NULL CHECK (status IN
                    ('MATCHED', 'MINED', 'CONFIRMED', 'RETRYING', 'FAILED')),
    matched_ms      INTEGER NOT NULL,
    confirmed_ms    INTEGER,
    updated_ms      INTEGER NOT NULL
);
CREATE INDEX idx_fills_order ON fills (order_id);
CREATE INDEX idx_fills_status ON fills (status);

CREATE TABLE settlements (
    id              INTEGER PRIMARY KEY,
    position_id     INTEGER NOT NULL UNIQUE REFERENCES positions (id),
    window_id       INTEGER REFERENCES windows (id),
    outcome         TEXT    NOT NULL CHECK (outcome IN ('UP', 'DOWN')),
    won             INTEGER NOT NULL CHECK (won IN (0, 1)),
    size_micro      INTEGER NOT NULL CHECK (size_micro >= 0),
    payout_micro    INTEGER NOT NULL CHECK (payout_micro >= 0),
    pnl_micro       INTEGER NOT NULL,
    settled_ms      INTEGER NOT NULL,
    redeemed_micro  INTEGER,
    redeemed_ms     INTEGER,
    redeem_ref      TEXT
);

-- Every cash movement; the ledger's cash balance is SUM(amount_micro).
CREATE TABLE cash_ledger (
    id              INTEGER PRIMARY KEY,
    at_ms           INTEGER NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN
                    ('deposit', 'withdrawal', 'trade', 'fee', 'redemption', 'adjustment')),
    amount_micro    INTEGER NOT NULL,
    fill_id         INTEGER REFERENCES fills (id),
    settlement_id   INTEGER REFERENCES settlements (id),
    note            TEXT
);
CREATE INDEX idx_cash_ledger_fill ON cash_ledger (fill_id);

CREATE TABLE audit_events (
    id               INTEGER PRIMARY KEY,
    at_ms            INTEGER NOT NULL,
    kind             TEXT    NOT NULL,
    symbol           TEXT,
    window_id        INTEGER REFERENCES windows (id),
    client_order_id  TEXT,
    venue_order_id   TEXT,
    size_micro       INTEGER,
    price_micro      INTEGER,
    message          TEXT    NOT NULL,
    data_json        TEXT
);
CREATE INDEX idx_audit_kind_time ON audit_events (kind, at_ms);
CREATE INDEX idx_audit_order ON audit_events (client_order_id);

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    created_ms      INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    dedupe_key      TEXT    NOT NULL UNIQUE,
    title           TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    sent_ms         INTEGER
);
CREATE INDEX idx_notifications_status ON notifications (status);
