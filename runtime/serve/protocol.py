"""uvicorn's HTTP/1.1 protocol (h11) with a header timeout: uvicorn closes idle keep-alive connections, but a client
that opens a connection and sends its request line and headers a byte at a time (or nothing at all) would hold it
forever. Here a connection must have complete request headers within ``header_timeout_s`` of opening, or of the
first byte of its next request; otherwise it is closed. Bodies are bounded by the app (runtime/serve/uploads.py)."""
from __future__ import annotations

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


def timed_h11(header_timeout_s: float):
    """The protocol class for ``uvicorn.Config(http=...)``."""

    class HeaderTimeoutH11(H11Protocol):
        """H11Protocol whose connections must finish their request headers in time (see the module docstring)."""

        _header_timer = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self._arm()  # still waiting for the rest of a request's headers
            else:
                self._disarm()

        def connection_lost(self, exc):
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutH11
