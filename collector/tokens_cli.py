"""``collector tokens create|list|revoke``: API tokens from the command line.

While ``collector serve`` runs on the same data directory the command goes
through the service's loopback admin endpoint (the service holds the embedded
store); otherwise it opens the store itself.
"""
from __future__ import annotations

import argparse
import sys
from urllib.parse import quote

from collector import admin, tokens
from collector.cli import command, open_store
from collector.config import Config


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("create", "list", "revoke"))
    parser.add_argument("token_id", nargs="?", help="revoke: the id of the token (as tokens list shows it)")
    parser.add_argument("--apps", help="create: comma-separated application ids the token grants")
    parser.add_argument("--name", default="", help="create: a label for the token")


@command("tokens", "create, list or revoke API tokens (create prints the token once)", _arguments)
def tokens_command(cfg: Config, args: argparse.Namespace) -> int:
    try:
        request = _request(args)
    except tokens.TokenError as exc:
        print(f"collector: {exc}", file=sys.stderr)
        return 2
    try:
        status, answer = admin.call(cfg.data_dir, *request)
    except admin.AdminUnreachable:
        status, answer = _direct(cfg, args, request[2])
    if status >= 400:
        print(f"collector: {answer.get('error', answer)}", file=sys.stderr)
        return 1
    _print(args.action, answer)
    return 0


def _request(args: argparse.Namespace) -> tuple[str, str, dict | None]:
    if args.action == "create":
        return "POST", "/admin/tokens", {"apps": ",".join(tokens.parse_apps(args.apps or "")), "name": args.name}
    if args.action == "revoke":
        if not args.token_id:
            raise tokens.TokenError("revoke: name the id of the token (see tokens list)")
        return "DELETE", "/admin/tokens/" + quote(args.token_id, safe=""), None
    return "GET", "/admin/tokens", None


def _direct(cfg: Config, args: argparse.Namespace, body: dict | None) -> tuple[int, dict]:
    store = open_store(cfg)
    try:
        if args.action == "create":
            return 201, tokens.create(store, body["apps"].split(","), body["name"])
        if args.action == "revoke":
            if tokens.revoke(store, args.token_id):
                return 200, {"revoked": args.token_id}
            return 404, {"error": "No active token has this id"}
        return 200, {"tokens": tokens.listing(store)}
    finally:
        store.close()


def _print(action: str, answer: dict) -> None:
    if action == "create":
        print(answer["token"])
        print(f"token {answer['id']} grants {','.join(answer['apps'])}; it is shown only this once", file=sys.stderr)
    elif action == "revoke":
        print(f"revoked {answer['revoked']}")
    else:
        for t in answer["tokens"]:
            state = f"revoked {t['revokedAt']}" if t["revokedAt"] else "active"
            print("\t".join((t["id"], t["name"] or "-", ",".join(t["apps"]), t["createdAt"], state)))
