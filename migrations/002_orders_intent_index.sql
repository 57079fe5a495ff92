-- 002: orders by intent. The position monitor asks, on every step with a live position,
-- which tokens already scaled in and which windows already reversed; without this index
-- each question read the whole order history, which a month-long backtest or a long live
-- run makes slower every day.

CREATE INDEX idx_orders_intent ON orders (intent, window_id);
