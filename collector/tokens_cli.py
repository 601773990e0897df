"""``collector tokens create|list|revoke``: API tokens from the command line.

While ``collector serve`` runs on the same data directory the command goes
through the service's admin socket (the service holds the embedded store, see
collector/admin.py); otherwise it opens the store itself.
"""
from __future__ import annotations

import argparse
import sys

from collector import admin, tokens
from collector.cli import command, open_store
from collector.config import Config
from collector.keys import KeyCommandError


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("create", "list", "revoke"))
    parser.add_argument("token_id", nargs="?", default="", help="revoke: the id of the token (as tokens list shows it)")
    parser.add_argument("--apps", default="", help="create: comma-separated application ids the token grants")
    parser.add_argument("--name", default="", help="create: a label for the token")


@command("tokens", "create, list or revoke API tokens (create prints the token once)", _arguments)
def tokens_command(cfg: Config, args: argparse.Namespace) -> int:
    request = {"apps": args.apps, "name": args.name, "id": args.token_id}
    try:
        # refuse a malformed command before reaching for the store
        if args.action == "create":
            tokens.parse_apps(args.apps)
        if args.action == "revoke" and not args.token_id:
            raise tokens.TokenError("revoke: name the id of the token (tokens list shows it)")
        result = _run(cfg, args.action, request)
    except (tokens.TokenError, KeyCommandError) as exc:
        print(f"collector: {exc}", file=sys.stderr)
        return 1
    _print(args.action, result)
    return 0


def _run(cfg: Config, action: str, request: dict):
    path = admin.socket_path(cfg.data_dir)
    if admin.service_answers(path):
        return admin.call(path, action, request, group="tokens")
    store = open_store(cfg)
    try:
        return tokens.run_action(store, action, request)
    finally:
        store.close()


def _print(action: str, answer) -> None:
    if action == "create":
        print(answer["token"])
        print(f"token {answer['id']} grants {','.join(answer['apps'])}; it is shown only this once", file=sys.stderr)
    elif action == "revoke":
        print(f"revoked {answer['revoked']}")
    else:
        for t in answer:
            state = f"revoked {t['revokedAt']}" if t["revokedAt"] else "active"
            print("\t".join((t["id"], t["name"] or "-", ",".join(t["apps"]), t["createdAt"], state)))
