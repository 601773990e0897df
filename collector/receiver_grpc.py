"""OTLP/gRPC: ``opentelemetry.proto.collector.trace.v1.TraceService/Export``.

A generic handler takes the request as raw bytes (no generated servicer, no
message objects built by gRPC): the bytes are what the sink stores. gRPC does
the decompression and refuses messages over ``max_body_bytes`` itself.
"""
from __future__ import annotations

import logging

import grpc

from collector.receiver import Ingest, key_from, outcome_of
from collector.rpc_status import Refusal, success
from collector.service import StartupError

log = logging.getLogger(__name__)

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
TRANSPORT = "grpc"


class GrpcReceiver:
    def __init__(self, ingest: Ingest, host: str, port: int):
        self.ingest, self.host, self.port = ingest, host, port
        self._server: grpc.aio.Server | None = None

    async def start(self) -> None:
        limit = self.ingest.max_body_bytes
        server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.so_reuseport", 0),
        ])
        handler = grpc.unary_unary_rpc_method_handler(self.export)  # no (de)serializers: raw bytes
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Export": handler}),))
        try:
            bound = server.add_insecure_port(f"{self.host}:{self.port}")
        except RuntimeError:
            bound = 0
        if not bound:
            raise StartupError(f"grpc_port: cannot listen on {self.host}:{self.port} (address in use?)")
        await server.start()
        self._server = server
        log.info("grpc_port listening on %s:%d", self.host, self.port)

    async def export(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        try:
            return await self.ingest.handle(TRANSPORT, lambda: self._export(request, context))
        except Refusal as refusal:
            status = refusal.status()
            await context.abort(
                refusal.grpc_code, refusal.message,
                trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
            )

    async def _export(self, request: bytes, context):
        self.ingest.admit()
        metadata = {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        app_id = self.ingest.authenticate(key_from(metadata.get), TRANSPORT)
        checked = await self.ingest.export(app_id, "protobuf", request, TRANSPORT)
        return success(checked.rejected, checked.message, "protobuf"), outcome_of(checked)

    async def shutdown(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop(grace=10)
