"""A recording stand-in for ``py_clob_client_v2``'s HTTP layer: no sockets, real code.

The client sends every request through ``ClobClient._get/_post/_delete``; replacing those on
one instance captures exactly the headers and body bytes the real transport would put on the
wire (``http_helpers.request`` encodes a ``str`` body as UTF-8 and nothing else), while
every signing and serialising step runs unmodified.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from py_clob_client_v2 import ClobClient


@dataclass(frozen=True, slots=True)
class Call:
    """One request the client made."""

    method: str
    url: str
    headers: dict[str, str] | None
    data: object
    params: dict[str, object] | None

    @property
    def path(self) -> str:
        """The URL path, as the server sees it before the query string."""
        return urlsplit(self.url).path

    @property
    def target(self) -> str:
        """The request target on the wire: path plus the query string httpx appends."""
        query = urlencode(self.params) if self.params else ""
        return self.path + (f"?{query}" if query else "")

    @property
    def body(self) -> bytes | None:
        """The body bytes: signed requests pass pre-serialised ``str`` data."""
        if self.data is None:
            return None
        if isinstance(self.data, str):
            return self.data.encode("utf-8")
        return json.dumps(self.data).encode("utf-8")


Handler = Callable[[Call], object]


def default_answer(call: Call) -> object:
    """A reply every client method can digest: an empty last page."""
    return {"next_cursor": "LTE=", "data": []}


@dataclass
class FakeTransport:
    """Records calls and answers them with ``handler``."""

    handler: Handler = default_answer
    calls: list[Call] = field(default_factory=list)

    def attach(self, client: ClobClient) -> ClobClient:
        """Route ``client``'s requests here; returns the client for chaining."""
        client._get = self._get
        client._post = self._post
        client._delete = self._delete
        return client

    def _record(
        self, method: str, endpoint: str, headers: object, data: object, params: object
    ) -> object:
        call = Call(
            method=method,
            url=endpoint,
            headers=dict(headers) if isinstance(headers, dict) else None,
            data=data,
            params=dict(params) if isinstance(params, dict) and params else None,
        )
        self.calls.append(call)
        return self.handler(call)

    def _get(self, endpoint: str, headers: object = None, params: object = None) -> object:
        return self._record("GET", endpoint, headers, None, params)

    def _post(
        self,
        endpoint: str,
        headers: object = None,
        data: object = None,
        params: object = None,
    ) -> object:
        return self._record("POST", endpoint, headers, data, params)

    def _delete(
        self,
        endpoint: str,
        headers: object = None,
        data: object = None,
        params: object = None,
    ) -> object:
        return self._record("DELETE", endpoint, headers, data, params)

    @property
    def last(self) -> Call:
        """The most recent call."""
        return self.calls[-1]
