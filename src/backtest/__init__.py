"""Backtests: the bot's own engine — strategy, execution, position management — stepped in
lockstep over a simulated world in this process, as fast as the machine allows."""
