"""The seam between the receivers and the pipeline.

A receiver hands each authenticated, checked request to a ``Sink`` and answers
the client only when ``accept`` returns: by then the request is durable. A sink
that cannot take more now raises ``BackPressure`` (the client is told to retry
after a delay); one that cannot take anything raises ``SinkUnavailable``.
"""
from __future__ import annotations

from typing import Protocol


class BackPressure(Exception):
    """Full for now: retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class SinkUnavailable(Exception):
    """Cannot accept anything now (for example the log's disk failed)."""


class Sink(Protocol):
    async def accept(self, app_id: str, fmt: str, body: bytes, spans: int) -> None:
        """Make ``body`` (a decompressed OTLP request in ``fmt``, "protobuf" or
        "json", holding ``spans`` valid spans) durable for ``app_id``."""
        ...
