"""Outgoing notifications (Discord) that never block trading."""
