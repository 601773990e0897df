"""The receiving stage assembled: key cache, admin socket, gRPC and HTTP receivers."""
from __future__ import annotations

from aiohttp import web

from collector.admin import AdminSocket, socket_path
from collector.config import Config
from collector.keys import KeyCache
from collector.receiver import Ingest
from collector.receiver_grpc import GrpcReceiver
from collector.receiver_http import HttpReceiver
from collector.service import HttpServer
from collector.sink import Sink
from collector.store import Store


def build_receivers(config: Config, store: Store, sink: Sink) -> list:
    """Components in start order: the keys before the receivers that need them."""
    keys = KeyCache(store, config.key_reload_seconds)
    ingest = Ingest(config, keys, sink)
    app = web.Application(client_max_size=config.max_body_bytes)
    app.add_routes(HttpReceiver(ingest).routes())
    return [
        keys,
        AdminSocket(store, keys, socket_path(config.data_dir)),
        GrpcReceiver(ingest, config.host, config.grpc_port),
        HttpServer(app, config.host, config.http_port, "http_port", auto_decompress=False),
    ]
