"""What both USP socket machines do alike: hand a client message to its handler, refuse bad
input with 1007, and close when the shutdown's time for the socket is up; and what each must
provide (abstract, so a type checker or the first instantiation names a missing method)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from ..errors import BadRequest, SpeechError
from .effects import BAD_INPUT, SHUTDOWN_REASON, SHUTTING_DOWN
from .frames import FrameError, Message

E = TypeVar("E")


class Machine(ABC, Generic[E]):
    """A socket's state machine returning effects of type ``E``: what the socket loop calls.

    A subclass names in :attr:`binary_paths` the paths the client sends in binary frames (every
    other path it handles comes in text frames)."""

    binary_paths: frozenset[str] = frozenset()

    @abstractmethod
    def receive(self, message: Message) -> list[E]:
        """A client message."""

    @abstractmethod
    def fail(self, error: SpeechError) -> list[E]:
        """The service failed the turn in progress."""

    @abstractmethod
    def stalled(self) -> list[E]:
        """Neither the client nor the service made progress for the watchdog's limit."""

    @abstractmethod
    def drain(self) -> list[E]:
        """The service is shutting down: end the socket as soon as its turn allows."""

    @abstractmethod
    def expire(self, reason: str) -> list[E]:
        """The socket's time is up (idle too long, or its client stopped answering pings): close
        as an idle socket closes at shutdown, with ``reason``, so the SDK reconnects for its next
        request."""

    @property
    @abstractmethod
    def busy(self) -> bool:
        """Whether a turn holds upstream work (the watchdog watches only then)."""

    @property
    @abstractmethod
    def closed(self) -> bool:
        """Whether the socket is being closed (nothing more is sent)."""

    @abstractmethod
    def _close(self, code: int, reason: str) -> list[E]:
        """Close with ``code`` and ``reason``, ending any turn in progress."""

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
