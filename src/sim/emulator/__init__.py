"""The local Polymarket emulator: the venue's door checks, done the way the venue does.

``auth`` verifies L1 (EIP-712 ``ClobAuth``) and L2 (HMAC) headers and derives API
credentials; ``orders`` parses and verifies the V2 signed orders ``py_clob_client_v2``
posts. Both are pure: no sockets, no clock (``now`` is always a parameter), so an HTTP
server can call them from any thread. See ``docs/EMULATOR_AUTH.md``.
"""
