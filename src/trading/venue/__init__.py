"""The Venue port and its adapters: the only way trading code talks to an exchange."""
