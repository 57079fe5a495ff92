"""Integration tests: the emulator over real HTTP on 127.0.0.1 with the official clients."""
