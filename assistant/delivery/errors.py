"""The one user-facing error of the delivery layer."""
from __future__ import annotations


class ServiceError(Exception):
    """A user-facing failure: ``status`` is the HTTP status, the message is Chinese (and English)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
