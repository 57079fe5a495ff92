"""Helpers of the strategy: signal types, math, fair value, directional signals, confidence.

``src.trading.strategy`` composes them; import from the submodules.
"""
