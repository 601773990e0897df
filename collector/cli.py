"""Command line: ``collector serve``, ``collector migrate`` and the admin commands.

Every setting of ``Config`` is a flag of every subcommand (and a ``COLLECTOR_*``
variable). A bad setting ends the command with one line per problem and exit
status 2; this module is the only place that exits.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Callable

from collector import config as config_mod
from collector import logs
from collector.config import Config, ConfigError
from collector.service import StartupError, _first_line

log = logging.getLogger("collector")

# name -> (help, add_arguments(parser), run(config, args) -> exit status)
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}


def command(name: str, help: str, arguments: Callable = lambda p: None):
    def register(run: Callable) -> Callable:
        COMMANDS[name] = (help, arguments, run)
        return run
    return register


def add_settings(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (also COLLECTOR_<NAME> environment variables)")
    for f in config_mod.settings_fields():
        group.add_argument(
            "--" + f.name.replace("_", "-"), dest=f.name, default=None, metavar=f.name.upper(),
            help=f"{f.metadata.get('help', '')} (default: {f.default!r})",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="collector", description="OTLP trace collector and HTTP analytics store")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, arguments, _) in COMMANDS.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        arguments(child)
        add_settings(child)
    return parser


def load_config(args: argparse.Namespace) -> Config:
    overrides = {f.name: getattr(args, f.name, None) for f in config_mod.settings_fields()}
    cfg = config_mod.load(overrides)
    problems = cfg.validate()
    if problems:
        raise ConfigError("\n".join(problems))
    return cfg


def open_store(cfg: Config):
    """The store with the schema applied, for the admin commands."""
    from collector import migrate
    from collector.store import Store, StoreError

    store = Store(cfg.resolved_store_url)
    try:
        store.open()
        migrate.migrate(store, cfg.cluster, cfg.retention_days)
    except StoreError as exc:
        raise StartupError(f"store_url: cannot use {store.url.split('@')[-1]} ({_first_line(exc)})") from exc
    return store


@command("serve", "run the receivers, the pipeline and the API")
def serve(cfg: Config, args: argparse.Namespace) -> int:
    from collector.service import Service

    asyncio.run(Service(cfg).run())
    return 0


def _migrate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="list the migrations that would run")


@command("migrate", "apply the schema migrations and exit", _migrate_arguments)
def migrate_command(cfg: Config, args: argparse.Namespace) -> int:
    from collector import migrate

    if args.dry_run:
        for m in migrate.discover():
            print(f"{m.version:03d} {m.name}")
        return 0
    store = open_store(cfg)
    try:
        applied = migrate.migrate(store, cfg.cluster, cfg.retention_days)
        versions = sorted(migrate.applied_versions(store))
    finally:
        store.close()
    print(f"applied {len(applied)} migration(s); schema at version {versions[-1] if versions else 0:03d}")
    return 0


def _sql_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="one SQL statement; a SELECT prints tab-separated rows")


@command("sql", "run one SQL statement against the store (for operators of the embedded store)", _sql_arguments)
def sql_command(cfg: Config, args: argparse.Namespace) -> int:
    from collector.store import StoreError

    store = open_store(cfg)
    try:
        result = store.query(args.query)
    except StoreError as exc:
        print(f"collector: {_first_line(exc)}", file=sys.stderr)
        return 1
    finally:
        store.close()
    for row in result.result_rows:
        print("\t".join(str(v) for v in row))
    return 0


def _keys_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("create", "list", "revoke"), help="what to do")
    parser.add_argument("key", nargs="?", default="", help="revoke: the key's id (snk_live_ and 8 characters) or the key")
    parser.add_argument("--app", default="", help="create: the application the key belongs to")
    parser.add_argument("--name", default="", help="create: a label for the key")


@command("keys", "create (printed once), list or revoke runtime keys snk_live_...", _keys_arguments)
def keys_command(cfg: Config, args: argparse.Namespace) -> int:
    from collector.keys import KeyCommandError

    request = {"app": args.app, "name": args.name, "key": args.key}
    try:
        result = _run_keys(cfg, args.action, request)
    except KeyCommandError as exc:
        print(f"collector: {exc}", file=sys.stderr)
        return 1
    if args.action == "list":
        for k in result:
            state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
            print(f"{k['id']}\t{k['app_id']}\t{k['name']}\t{k['created_at']}\t{state}")
    elif args.action == "create":
        print(result["key"])
        print(f"key id {result['id']} for application {result['app_id']}; store the key now, it is not shown again", file=sys.stderr)
    else:
        print(f"revoked {result['id']} (application {result['app_id']})")
    return 0


def _run_keys(cfg: Config, action: str, request: dict):
    """Through the running service's admin socket when it answers (it holds the
    embedded store), else on the store directly."""
    from collector import admin

    path = admin.socket_path(cfg.data_dir)
    if admin.service_answers(path):
        return admin.call(path, action, request)
    store = open_store(cfg)
    try:
        return admin.run_action(store, action, request)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args)
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"collector: {line}", file=sys.stderr)
        return 2
    logs.setup(cfg.log_level, cfg.log_format)
    _, _, run = COMMANDS[args.command]
    try:
        return run(cfg, args)
    except StartupError as exc:
        print(f"collector: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


from collector import tokens_cli  # noqa: E402,F401  (registers the 'tokens' command)
