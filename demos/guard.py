"""The web side of the trust boundary: an ASGI middleware in front of Gradio's routes, and who a request's caller
is (mmdemo.access says what that caller may do).

The middleware
- refuses a request whose ``Host`` is not a name the app is served as (DNS rebinding: a foreign site whose name
  resolves to this machine would otherwise be same-origin with the app);
- refuses a state-changing request (POST, PUT, PATCH, DELETE) sent by a page of another origin (CSRF: uploads,
  queue joins, flags);
- adds ``nosniff``, a framing policy (none, or the Hugging Face page on a Space) and ``Referrer-Policy``;
- exchanges the operator link's token (``/?mmdemo_token=...``) for an HttpOnly, SameSite=Strict cookie and
  redirects to the same page without it, so the secret leaves the address bar and the history;
- gives each browser a random client id cookie (its flags and search index survive a reload).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import os
import secrets
import socket
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse, RedirectResponse

from mmdemo import access, config

ALLOWED_HOSTS_VAR = "MMDEMO_ALLOWED_HOSTS"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
SHARE_HOSTS = ("*.gradio.live",)
SPACE_HOSTS = ("*.hf.space",)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
SPACE_PARENTS = "https://huggingface.co https://*.huggingface.co"


def _hostname(value: str) -> str:
    """The host part of a Host header or an origin's netloc, lower-case, without port or IPv6 brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def _wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


class HostPolicy:
    """The names the app answers to: loopback always; the bind address; with a wildcard bind, any IP literal
    (rebinding needs a domain name) and this machine's names; a share link's and a Space's domains; and
    MMDEMO_ALLOWED_HOSTS (comma-separated, ``*.example.org`` patterns, ``*`` for any)."""

    def __init__(self, bind_host: str | None = None, share: bool = False, on_space: bool = False):
        bind = _hostname(bind_host or "127.0.0.1")
        self.any_ip = _wildcard(bind)
        names = set(LOOPBACK_NAMES)
        if not self.any_ip:
            names.add(bind)
        else:
            names.update(n.lower() for n in (socket.gethostname(), socket.getfqdn()) if n)
        self.names = names
        extra = list(config.get(ALLOWED_HOSTS_VAR))
        space_host = os.environ.get("SPACE_HOST", "").strip().lower()
        own_space = [space_host] if on_space and space_host else []
        self.patterns = tuple(extra + (list(SHARE_HOSTS) if share else []) + own_space
                              + (list(SPACE_HOSTS) if on_space else []))
        # origins allowed beside the request's own host: the operator's names and the Space's own, never a
        # platform's wildcard (any other *.gradio.live or *.hf.space page is another site) nor "*"
        self.origins = tuple(p for p in extra + own_space if p != "*")

    def allows(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        name = _hostname(host_header)
        if name in self.names or (self.any_ip and _is_ip(name)):
            return True
        return any(fnmatch.fnmatchcase(name, p) for p in self.patterns)

    def named(self, host: str) -> bool:
        """An origin named explicitly by the operator or the Space (a proxy may rewrite Host to loopback)."""
        return any(fnmatch.fnmatchcase(_hostname(host), p) for p in self.origins)


class Guard:
    """The ASGI middleware (see the module's docstring)."""

    def __init__(self, app, policy: HostPolicy, on_space: bool = False):
        self.app, self.policy = app, policy
        frame = f"frame-ancestors {SPACE_PARENTS}" if on_space else "frame-ancestors 'none'"
        self.headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": frame,
                        "Referrer-Policy": "same-origin"}
        if not on_space:
            self.headers["X-Frame-Options"] = "DENY"

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        host = headers.get("host")
        if not self.policy.allows(host):
            return await self._refuse(scope, receive, send, 403, f"Host {host!r} is not one this app is served as "
                                      f"(set {ALLOWED_HOSTS_VAR} to add a name).")
        origin = headers.get("origin")
        if scope.get("method") in UNSAFE_METHODS and origin is not None and not self._same_origin(origin, host):
            return await self._refuse(scope, receive, send, 403, "Requests from other web sites are refused.")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["type"] == "http" and access.TOKEN_QUERY in query:
            return await self._sign_in(scope, receive, send, query)
        new_client = access.CLIENT_COOKIE not in cookie_parser(headers.get("cookie", ""))
        client_id = secrets.token_urlsafe(18) if new_client else None

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for key, value in self.headers.items():
                    if key not in out:
                        out[key] = value
                if client_id:
                    out.append("set-cookie", f"{access.CLIENT_COOKIE}={client_id}; Path=/; HttpOnly; "
                                             "SameSite=Lax; Max-Age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _same_origin(self, origin: str, host: str | None) -> bool:
        netloc = urlsplit(origin).netloc.lower()
        return bool(netloc) and (netloc == (host or "").lower() or self.policy.named(netloc))

    async def _refuse(self, scope, receive, send, status: int, message: str) -> None:
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        response = PlainTextResponse(message, status_code=status, headers=self.headers)
        await response(scope, receive, send)

    async def _sign_in(self, scope, receive, send, query: dict) -> None:
        """The operator link: a valid token becomes a cookie; the address loses it either way."""
        token = query.pop(access.TOKEN_QUERY)
        if not access.is_operator_token(token):
            return await self._refuse(scope, receive, send, 403, "This operator link is not valid (the token "
                                      f"changes at each start unless {access.TOKEN_VAR} is set).")
        target = scope.get("root_path", "") + scope["path"] + (f"?{urlencode(query)}" if query else "")
        response = RedirectResponse(target, status_code=303, headers=self.headers)
        # the cookie carries a value derived from the token, not the token (a cookie reaches every port of the
        # host); it lasts a week
        response.set_cookie(access.TOKEN_COOKIE, access.operator_cookie(), httponly=True, samesite="strict",
                            path="/", max_age=7 * 86400, secure=scope.get("scheme") == "https")
        await response(scope, receive, send)


def middleware(bind_host: str | None, share: bool, on_space: bool) -> Middleware:
    return Middleware(Guard, policy=HostPolicy(bind_host, share, on_space), on_space=on_space)


def caller(request=None) -> access.Caller:
    """The caller of a Gradio request (``gr.Request``, else the one the running event handles): the operator when
    it carries the token (the link's cookie, or the X-MMDemo-Token header a script sends), else a client keyed by
    its browser cookie or, for API clients without cookies, its session. Outside any event (a call from Python:
    a test, a script importing the tab): the operator, who runs that Python."""
    if request is None:
        from gradio.context import LocalContext

        if not LocalContext.in_event_listener.get(False):
            if access.direct_calls_trusted():  # a test or a script importing the tab, not the served app
                return access.Caller.the_operator()
            return _anonymous()  # the served app, outside any request (a thread): trust nothing
        request = LocalContext.request.get(None)
        if request is None:  # an event without its request: the least trusted caller
            return _anonymous()
    headers = getattr(request, "headers", None) or {}
    cookies = getattr(request, "cookies", None) or {}
    if access.is_operator_token(headers.get(access.TOKEN_HEADER)) or \
            access.is_operator_cookie(cookies.get(access.TOKEN_COOKIE)):
        return access.Caller.the_operator()
    identity = cookies.get(access.CLIENT_COOKIE) or f"session:{getattr(request, 'session_hash', '') or ''}"
    return access.Caller(False, access.private_key(identity), access.grants())


def _anonymous() -> access.Caller:
    return access.Caller(False, access.private_key("anonymous"), access.grants())
