"""``vngeonet users add|del|list|passwd|grant``: manage caster accounts (password from stdin)."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("users", help="manage caster accounts",
                              description="Manage caster accounts. Passwords are read from standard input.")
    sub = p.add_subparsers(dest="users_cmd", metavar="ACTION", required=True)

    def common(q) -> None:
        q.add_argument("--db", default="var/caster.db", help="account database (default var/caster.db)")

    a = sub.add_parser("add", help="create an account (password: first line of stdin)")
    a.add_argument("name")
    common(a)
    a.add_argument("--mount", action="append", default=[], help="mountpoint the user may read ('*' = all); repeatable")
    a.add_argument("--group", action="append", default=[], help="group membership; repeatable")
    a.add_argument("--max-connections", type=int, help="concurrent sessions allowed")
    a.add_argument("--expires", help="last valid day, YYYY-MM-DD")
    a.add_argument("--admin", action="store_true", help="may read /admin/status")
    a.set_defaults(func=add)
    d = sub.add_parser("del", help="delete an account")
    d.add_argument("name")
    common(d)
    d.set_defaults(func=delete)
    li = sub.add_parser("list", help="list accounts")
    common(li)
    li.add_argument("--json", action="store_true", help="JSON output")
    li.set_defaults(func=list_)
    g = sub.add_parser("grant", help="let a user or a group read mountpoints; add a user to groups")
    g.add_argument("name", help="user name (or group name with --is-group)")
    common(g)
    g.add_argument("--is-group", action="store_true", help="NAME is a group")
    g.add_argument("--mount", action="append", default=[], help="mountpoint ('*' = all); repeatable")
    g.add_argument("--group", action="append", default=[], help="add the user to this group; repeatable")
    g.set_defaults(func=grant)
    pw = sub.add_parser("passwd", help="set a new password (first line of stdin)")
    pw.add_argument("name")
    common(pw)
    pw.set_defaults(func=passwd)


def _read_password() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise SystemExit("vngeonet users: error: no password on standard input")
    return line


def add(args) -> int:
    import datetime as dt

    from vngeonet.caster.auth import hash_password
    from vngeonet.store import open_store

    expires = dt.date.fromisoformat(args.expires) if args.expires else None
    store = open_store(args.db)
    try:
        store.add_user(args.name, hash_password(_read_password()), mounts=tuple(args.mount),
                       groups=tuple(args.group), max_connections=args.max_connections,
                       expires=expires, is_admin=args.admin)
    except KeyError as err:
        print(f"vngeonet users: error: {err.args[0]}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"user {args.name} added")
    return 0


def delete(args) -> int:
    from vngeonet.store import open_store

    store = open_store(args.db)
    try:
        ok = store.delete_user(args.name)
    finally:
        store.close()
    if not ok:
        print(f"vngeonet users: error: no user {args.name!r}", file=sys.stderr)
        return 1
    print(f"user {args.name} deleted")
    return 0


def list_(args) -> int:
    import json

    from vngeonet.store import open_store

    store = open_store(args.db)
    try:
        users = store.list_users()
    finally:
        store.close()
    rows = [{"name": u.name, "mounts": list(u.mounts), "groups": list(u.groups),
             "max_connections": u.max_connections, "expires": u.expires.isoformat() if u.expires else None,
             "admin": u.is_admin} for u in users]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        print(f"{r['name']:<20} mounts={','.join(r['mounts']) or '-'} groups={','.join(r['groups']) or '-'} "
              f"max_conn={r['max_connections'] or '-'} expires={r['expires'] or '-'}{' admin' if r['admin'] else ''}")
    return 0


def grant(args) -> int:
    from vngeonet.store import open_store

    store = open_store(args.db)
    try:
        if not args.is_group and store.get_user(args.name) is None:
            print(f"vngeonet users: error: no user {args.name!r}", file=sys.stderr)
            return 1
        for m in args.mount:
            if args.is_group:
                store.grant(m, group=args.name)
            else:
                store.grant(m, user=args.name)
        for grp in [] if args.is_group else args.group:
            store.add_to_group(args.name, grp)
    finally:
        store.close()
    print(f"{'group' if args.is_group else 'user'} {args.name}: granted {', '.join(args.mount) or '-'}"
          f"{'; groups ' + ', '.join(args.group) if args.group and not args.is_group else ''}")
    return 0


def passwd(args) -> int:
    from vngeonet.caster.auth import hash_password
    from vngeonet.store import open_store

    store = open_store(args.db)
    try:
        ok = store.set_password(args.name, hash_password(_read_password()))
    finally:
        store.close()
    if not ok:
        print(f"vngeonet users: error: no user {args.name!r}", file=sys.stderr)
        return 1
    print(f"password of {args.name} changed")
    return 0
