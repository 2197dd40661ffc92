"""Where the web app listens: without login only on the loopback address."""
from __future__ import annotations

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def resolve_bind(host: str | None, users: list) -> tuple[str, str | None]:
    """(host to bind, warning). Without login the app binds 127.0.0.1 only."""
    host = (host or "127.0.0.1").strip()
    if not users and host not in LOOPBACK:
        return "127.0.0.1", (f"未设置登录，不监听 {host}，仅监听 127.0.0.1（设置 FAZHI_AUTH=用户:密码 或 --auth 后才可对外提供服务）"
                             f" / no login configured: binding 127.0.0.1 instead of {host}")
    return host, None
