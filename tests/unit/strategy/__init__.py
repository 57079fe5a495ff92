"""Tests of the strategy core: indicators, validation, signals, confidence, decision."""
