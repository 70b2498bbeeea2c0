"""What both USP socket machines do alike: hand a client message to its handler, refuse bad
input with 1007, and close when the shutdown's time for the socket is up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from ..errors import BadRequest
from .effects import BAD_INPUT, SHUTDOWN_REASON, SHUTTING_DOWN
from .frames import FrameError, Message

E = TypeVar("E")


class Machine(Generic[E]):
    """A socket's state machine returning effects of type ``E``; a subclass provides
    :attr:`closed` and :meth:`_close`, and names in :attr:`binary_paths` the paths the client
    sends in binary frames (every other path it handles comes in text frames)."""

    binary_paths: frozenset[str] = frozenset()

    @property
    def closed(self) -> bool:
        raise NotImplementedError

    def _close(self, code: int, reason: str) -> list[E]:
        raise NotImplementedError

    def refuse(self, reason: str) -> list[E]:
        """A frame the protocol does not allow: close 1007 with ``reason``."""
        return self._close(BAD_INPUT, reason)

    def drain_expired(self) -> list[E]:
        """The shutdown's time for this socket is up: close :data:`SHUTTING_DOWN` (no retry)."""
        return [] if self.closed else self._close(SHUTTING_DOWN, SHUTDOWN_REASON)

    def _dispatch(self, message: Message, handlers: Mapping[str, Callable[[Message], list[E]]]) -> list[E]:
        """Run the handler for ``message``'s path (case-insensitive); other paths (telemetry and
        anything newer) are tolerated. A message in the wrong kind of frame, with a request id
        that cannot be repeated, or that the handler cannot take is refused."""
        path = message.path.lower()
        handler = handlers.get(path)
        if handler is None:
            return []
        try:
            message.check(binary=path in self.binary_paths)
            return handler(message)
        except (FrameError, BadRequest) as exc:
            return self.refuse(str(exc))
