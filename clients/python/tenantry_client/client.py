"""The generated client, configured once for the Tenantry API, and a person's session for it.

``Tenantry(base_url, api_key=...)`` (or ``bearer_token=...``) sends a fixed credential.
``Tenantry(base_url, session=...)`` sends the access token of a person's session and
refreshes it, once and transparently, when the server refuses it::

    auth = SessionAuth(on_session_change=save)        # save(AuthSession | None)
    with Tenantry(base_url, session=auth) as client:
        log_in(client, LoginIn(email=email, password=password))
        projects = unwrap(list_projects.sync_detailed(client=client))
        switch_tenant(client, "analytical-engines")   # the same session, in another tenant
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, overload

import httpx
from attrs import define, field

from .errors import ProblemError, unwrap
from .generated.api.auth import login, logout, refresh_session, signup
from .generated.api.auth import switch_tenant as switch_tenant_operation
from .generated.client import AuthenticatedClient
from .generated.errors import UnexpectedStatus
from .generated.models import AuthSession, LoginIn, Problem, RefreshIn, SignupIn, SwitchTenantIn
from .generated.types import Response

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_REFRESH_LEEWAY",
    "DEFAULT_TIMEOUT",
    "RateLimitRetry",
    "SessionAuth",
    "SessionChange",
    "SessionClient",
    "SessionTokens",
    "Tenantry",
    "alog_in",
    "alog_out",
    "asign_up",
    "aswitch_tenant",
    "log_in",
    "log_out",
    "sign_up",
    "switch_tenant",
]

#: The header that carries an API key (the spec's ``ApiKeyAuth`` scheme).
API_KEY_HEADER = "X-API-Key"
#: Seconds a request may take (connect, read, write and pool each).
DEFAULT_TIMEOUT = 30.0
#: Seconds before its known expiry at which an access token is refreshed before a request.
DEFAULT_REFRESH_LEEWAY = 5.0

#: Called with the new ``AuthSession`` after a refresh, ``sign_up``, ``log_in`` or ``switch_tenant``, and with
#: ``None`` when the session ended (a refused refresh token, ``log_out``).
SessionChange = Callable[[AuthSession | None], None]

# The endpoints that take no access token and are never refreshed for.
_AUTH_ENDPOINTS = ("/v1/auth/signup", "/v1/auth/login", "/v1/auth/refresh")
_AUTHORIZATION = "Authorization"

# The SessionAuth whose switch runs in this context (the thread, or the task): that switch holds
# the refresh lock, so its own request is sent as it is (it handles a 401 itself).
_switching: contextvars.ContextVar[SessionAuth | None] = contextvars.ContextVar("_switching", default=None)


@dataclass(frozen=True)
class RateLimitRetry:
    """How ``Tenantry(..., retry_rate_limited=...)`` sends a request again after a spent budget.

    A ``429`` with code ``rate_limited`` means the request budget was spent before anything
    was done, so sending the request again is always safe: it is sent again after the seconds
    of its ``Retry-After``, up to ``max_retries`` times, unless that is more than ``max_wait``
    seconds (then the ``429`` is the answer). Other ``429``s (a throttled sign-in) are answered.
    """

    max_retries: int = 3
    max_wait: float = 60.0


def _rate_limited_wait(response: httpx.Response, policy: RateLimitRetry) -> float | None:
    """The seconds to wait before sending again, or ``None`` when ``response`` is to be answered."""
    if response.status_code != 429:
        return None
    value = response.headers.get("Retry-After", "").strip()
    if not value.isdigit() or float(value) > policy.max_wait:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return float(value) if isinstance(body, dict) and body.get("code") == "rate_limited" else None


def _once(request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
    yield request


async def _aonce(request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
    yield request


_Flow = Generator[httpx.Request, httpx.Response, None]


def _drive(flow: _Flow) -> Generator[httpx.Request, httpx.Response, httpx.Response]:
    """Runs an auth flow to its end inside another one; answers its last response."""
    request = next(flow)
    while True:
        response = yield request
        try:
            request = flow.send(response)
        except StopIteration:
            return response


class _RetryRateLimited(httpx.Auth):
    """Sends a request again after a ``rate_limited`` ``429`` (see ``RateLimitRetry``), around ``inner``."""

    def __init__(self, inner: httpx.Auth | None, policy: RateLimitRetry) -> None:
        self._inner = inner
        self._policy = policy

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.read()  # so that the body can be sent again
        for attempt in range(max(0, self._policy.max_retries) + 1):
            flow = self._inner.sync_auth_flow(request) if self._inner is not None else _once(request)
            response = yield from _drive(flow)
            if response.status_code != 429 or attempt == self._policy.max_retries:
                return
            response.read()
            wait = _rate_limited_wait(response, self._policy)
            if wait is None:
                return
            time.sleep(wait)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        await request.aread()
        for attempt in range(max(0, self._policy.max_retries) + 1):
            flow = self._inner.async_auth_flow(request) if self._inner is not None else _aonce(request)
            sending = await flow.__anext__()
            while True:
                response = yield sending
                try:
                    sending = await flow.asend(response)
                except StopAsyncIteration:
                    break
            if response.status_code != 429 or attempt == self._policy.max_retries:
                return
            await response.aread()
            wait = _rate_limited_wait(response, self._policy)
            if wait is None:
                return
            await asyncio.sleep(wait)


@dataclass(frozen=True)
class SessionTokens:
    """The tokens of a person's session, as a client holds them.

    ``expires_at`` is when the access token expires, in seconds since the epoch
    (``time.time()``); ``None`` when unknown.
    """

    access_token: str
    refresh_token: str
    expires_at: float | None = None

    @classmethod
    def from_auth_session(cls, session: AuthSession, *, now: float | None = None) -> SessionTokens:
        """The tokens of a ``signup``, ``login`` or ``refresh_session`` answer received at ``now`` (default: now)."""
        received = time.time() if now is None else now
        return cls(
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            expires_at=received + session.expires_in,
        )


def _as_tokens(session: AuthSession | SessionTokens | None) -> SessionTokens | None:
    if isinstance(session, AuthSession):
        return SessionTokens.from_auth_session(session)
    return session


def _is_auth_endpoint(request: httpx.Request) -> bool:
    return request.url.path.endswith(_AUTH_ENDPOINTS)


class SessionAuth(httpx.Auth):
    """A person's session for a ``SessionClient``: sends its access token and keeps it fresh.

    Every request (but ``signup``, ``login`` and ``refresh``, which get no token) carries
    ``Authorization: Bearer <access token>``. When one is answered 401, the session is
    refreshed once at ``POST /v1/auth/refresh`` and the request is sent once more with the
    new token. Refreshes are single-flight: requests refused at the same time (threads of
    the sync client, tasks of the async one) wait for one refresh, behind a
    ``threading.Lock`` / ``asyncio.Lock``; a waiter that finds the token already replaced
    just sends its request again. When the server refuses the refresh token (a 4xx) the
    session is forgotten and ``on_session_change(None)`` is called; when the refresh cannot
    be made (network, 5xx) the session is kept. Either way the request's own 401 is the
    answer, and nothing is retried twice. An access token whose expiry is known is also
    refreshed before a request, ``refresh_leeway`` seconds ahead (0: only after a 401).
    ``switch_tenant`` / ``aswitch_tenant`` hold the same lock while they move the session to
    another tenant, so that no refresh answered late puts back a pair of the previous tenant.

    ``on_session_change`` is called while the refresh lock is held: keep it quick, and send
    no request through the client from it. It is not called for ``set``.
    """

    def __init__(
        self,
        session: AuthSession | SessionTokens | None = None,
        *,
        on_session_change: SessionChange | None = None,
        refresh_leeway: float = DEFAULT_REFRESH_LEEWAY,
    ) -> None:
        self._tokens = _as_tokens(session)
        self._on_change = on_session_change
        self._leeway = max(0.0, refresh_leeway)
        self._client: SessionClient | None = None
        self._sync_lock = threading.Lock()
        self._async_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def tokens(self) -> SessionTokens | None:
        """The tokens held now; ``None`` when signed out. (A method: a refresh may replace them at any time.)"""
        return self._tokens

    def set(self, session: AuthSession | SessionTokens | None) -> None:
        """Replaces the held session (``None`` forgets it) without calling ``on_session_change``."""
        self._tokens = _as_tokens(session)

    def refresh(self) -> AuthSession:
        """Exchanges the refresh token for a new pair now (sync client), stores it and tells ``on_session_change``.

        Raises ProblemError when there is no session or the server refuses (a refused
        refresh token, 4xx, also forgets the session), and httpx errors when the server
        cannot be reached.
        """
        with self._sync_lock:
            tokens = self._held()
            response = refresh_session.sync_detailed(
                client=self._bound(), body=RefreshIn(refresh_token=tokens.refresh_token)
            )
            return self._settle(tokens, response)

    async def arefresh(self) -> AuthSession:
        """The async twin of ``refresh``, through the async client."""
        async with self._lock_for_loop():
            tokens = self._held()
            response = await refresh_session.asyncio_detailed(
                client=self._bound(), body=RefreshIn(refresh_token=tokens.refresh_token)
            )
            return self._settle(tokens, response)

    # The flows httpx runs for every request of the sync and the async client.

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _is_auth_endpoint(request):
            request.headers.pop(_AUTHORIZATION, None)
            yield request
            return
        if _switching.get() is self:
            yield self._as_it_is(request)
            return
        tokens = self._tokens
        if tokens is not None and self._due(tokens):
            with self._sync_lock:
                tokens = self._tokens
                if tokens is not None and self._due(tokens):
                    self._sync_refresh_quietly(tokens)
                tokens = self._tokens
        if tokens is None:
            request.headers.pop(_AUTHORIZATION, None)
            yield request
            return
        request.read()  # so that the body can be sent again
        sent = tokens.access_token
        request.headers[_AUTHORIZATION] = f"Bearer {sent}"
        response = yield request
        if response.status_code != 401:
            return
        response.read()
        with self._sync_lock:
            tokens = self._tokens
            if tokens is not None and tokens.access_token == sent:
                self._sync_refresh_quietly(tokens)
            tokens = self._tokens
        if tokens is None or tokens.access_token == sent:
            return
        request.headers[_AUTHORIZATION] = f"Bearer {tokens.access_token}"
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if _is_auth_endpoint(request):
            request.headers.pop(_AUTHORIZATION, None)
            yield request
            return
        if _switching.get() is self:
            yield self._as_it_is(request)
            return
        tokens = self._tokens
        if tokens is not None and self._due(tokens):
            async with self._lock_for_loop():
                tokens = self._tokens
                if tokens is not None and self._due(tokens):
                    await self._async_refresh_quietly(tokens)
                tokens = self._tokens
        if tokens is None:
            request.headers.pop(_AUTHORIZATION, None)
            yield request
            return
        await request.aread()  # so that the body can be sent again
        sent = tokens.access_token
        request.headers[_AUTHORIZATION] = f"Bearer {sent}"
        response = yield request
        if response.status_code != 401:
            return
        await response.aread()
        async with self._lock_for_loop():
            tokens = self._tokens
            if tokens is not None and tokens.access_token == sent:
                await self._async_refresh_quietly(tokens)
            tokens = self._tokens
        if tokens is None or tokens.access_token == sent:
            return
        request.headers[_AUTHORIZATION] = f"Bearer {tokens.access_token}"
        yield request

    # Internals.

    def _bound(self) -> SessionClient:
        if self._client is None:
            raise RuntimeError("this SessionAuth belongs to no client: pass it to Tenantry(base_url, session=...)")
        return self._client

    def _held(self, purpose: str = "refresh") -> SessionTokens:
        tokens = self._tokens
        if tokens is None:
            raise ProblemError(
                status=401,
                type="about:blank",
                title="Not signed in",
                detail=f"the client holds no session to {purpose}",
                code="unauthenticated",
            )
        return tokens

    def _as_it_is(self, request: httpx.Request) -> httpx.Request:
        """``request`` with the access token held now, and nothing more (no refresh)."""
        tokens = self._tokens
        if tokens is None:
            request.headers.pop(_AUTHORIZATION, None)
        else:
            request.headers[_AUTHORIZATION] = f"Bearer {tokens.access_token}"
        return request

    def _lock_for_loop(self) -> asyncio.Lock:
        # An asyncio.Lock belongs to one event loop; a client may outlive one (asyncio.run).
        loop = asyncio.get_running_loop()
        if self._async_lock is None or self._async_lock[0] is not loop:
            self._async_lock = (loop, asyncio.Lock())
        return self._async_lock[1]

    def _due(self, tokens: SessionTokens) -> bool:
        return self._leeway > 0 and tokens.expires_at is not None and time.time() >= tokens.expires_at - self._leeway

    def _adopt(self, session: AuthSession) -> None:
        self._tokens = SessionTokens.from_auth_session(session)
        if self._on_change is not None:
            self._on_change(session)

    def _forget(self) -> None:
        if self._tokens is not None:
            self._tokens = None
            if self._on_change is not None:
                self._on_change(None)

    def _settle(self, tokens: SessionTokens, response: Response[AuthSession | Problem]) -> AuthSession:
        """Stores the pair of a successful refresh of ``tokens``, or forgets them if it was refused; raises then."""
        status = int(response.status_code)
        # A set(), log_out() or another refresh while this one ran wins.
        current = self._tokens is tokens
        if 200 <= status < 300 and isinstance(response.parsed, AuthSession):
            if current:
                self._adopt(response.parsed)
            return response.parsed
        if current and 400 <= status < 500:
            self._forget()
        raise ProblemError.from_response(response)

    def _switch(self, tenant: str) -> AuthSession:
        """``switch_tenant``: under the refresh lock, so that no refresh runs meanwhile.

        The access token is refreshed first when it is about to expire, and once when the
        switch is answered 401, as for any request.
        """
        client = self._bound()
        body = SwitchTenantIn(tenant=tenant)
        with self._sync_lock:
            switching = _switching.set(self)
            try:
                tokens = self._tokens
                if tokens is not None and self._due(tokens):
                    self._sync_refresh_quietly(tokens)
                tokens = self._held("switch")
                response = switch_tenant_operation.sync_detailed(client=client, body=body)
                if response.status_code == 401 and self._tokens is tokens:
                    self._sync_refresh_quietly(tokens)
                    if self._tokens is not None and self._tokens is not tokens:
                        tokens = self._tokens
                        response = switch_tenant_operation.sync_detailed(client=client, body=body)
                return self._settle_switch(tokens, response)
            finally:
                _switching.reset(switching)

    async def _aswitch(self, tenant: str) -> AuthSession:
        """The async twin of ``_switch``, under the async client's refresh lock."""
        client = self._bound()
        body = SwitchTenantIn(tenant=tenant)
        async with self._lock_for_loop():
            switching = _switching.set(self)
            try:
                tokens = self._tokens
                if tokens is not None and self._due(tokens):
                    await self._async_refresh_quietly(tokens)
                tokens = self._held("switch")
                response = await switch_tenant_operation.asyncio_detailed(client=client, body=body)
                if response.status_code == 401 and self._tokens is tokens:
                    await self._async_refresh_quietly(tokens)
                    if self._tokens is not None and self._tokens is not tokens:
                        tokens = self._tokens
                        response = await switch_tenant_operation.asyncio_detailed(client=client, body=body)
                return self._settle_switch(tokens, response)
            finally:
                _switching.reset(switching)

    def _settle_switch(self, tokens: SessionTokens, response: Response[AuthSession | Problem]) -> AuthSession:
        """Holds the pair of a successful switch sent with ``tokens``, or raises (keeping the session)."""
        status = int(response.status_code)
        if 200 <= status < 300 and isinstance(response.parsed, AuthSession):
            # A set() or log_out() while the switch ran wins, as for a refresh.
            if self._tokens is tokens:
                self._adopt(response.parsed)
            return response.parsed
        raise ProblemError.from_response(response)

    def _sync_refresh_quietly(self, tokens: SessionTokens) -> None:
        try:
            response = refresh_session.sync_detailed(
                client=self._bound(), body=RefreshIn(refresh_token=tokens.refresh_token)
            )
            self._settle(tokens, response)
        except (ProblemError, UnexpectedStatus, httpx.TransportError):
            pass  # the request's own 401 is the answer

    async def _async_refresh_quietly(self, tokens: SessionTokens) -> None:
        try:
            response = await refresh_session.asyncio_detailed(
                client=self._bound(), body=RefreshIn(refresh_token=tokens.refresh_token)
            )
            self._settle(tokens, response)
        except (ProblemError, UnexpectedStatus, httpx.TransportError):
            pass  # the request's own 401 is the answer


@define
class SessionClient(AuthenticatedClient):
    """The generated ``AuthenticatedClient``, sending a person's session (``session``) instead of a fixed token.

    Made by ``Tenantry(base_url, session=...)``; pass it as ``client=`` to every generated
    operation. Its ``token`` is unused: ``session`` sets ``Authorization`` on each request.
    """

    session: SessionAuth = field(kw_only=True)

    def __attrs_post_init__(self) -> None:
        # The session refreshes through this client's connections (and event hooks, transport, ...).
        self.session._client = self


@overload
def Tenantry(  # noqa: N802
    base_url: str,
    api_key: None = None,
    bearer_token: None = None,
    timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
    *,
    session: SessionAuth | AuthSession | SessionTokens,
    on_session_change: SessionChange | None = None,
    headers: Mapping[str, str] | None = None,
    verify_ssl: bool = True,
    raise_on_unexpected_status: bool = False,
    httpx_args: Mapping[str, Any] | None = None,
    retry_rate_limited: bool | RateLimitRetry = False,
) -> SessionClient: ...


@overload
def Tenantry(  # noqa: N802
    base_url: str,
    api_key: str | None = None,
    bearer_token: str | None = None,
    timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
    *,
    session: None = None,
    on_session_change: None = None,
    headers: Mapping[str, str] | None = None,
    verify_ssl: bool = True,
    raise_on_unexpected_status: bool = False,
    httpx_args: Mapping[str, Any] | None = None,
    retry_rate_limited: bool | RateLimitRetry = False,
) -> AuthenticatedClient: ...


def Tenantry(  # noqa: N802 - reads as the SDK's entry point
    base_url: str,
    api_key: str | None = None,
    bearer_token: str | None = None,
    timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
    *,
    session: SessionAuth | AuthSession | SessionTokens | None = None,
    on_session_change: SessionChange | None = None,
    headers: Mapping[str, str] | None = None,
    verify_ssl: bool = True,
    raise_on_unexpected_status: bool = False,
    httpx_args: Mapping[str, Any] | None = None,
    retry_rate_limited: bool | RateLimitRetry = False,
) -> AuthenticatedClient:
    """Returns the generated ``AuthenticatedClient``, configured for the Tenantry API.

    Give exactly one credential: ``api_key`` (sent as ``X-API-Key: <key>``),
    ``bearer_token`` (sent as ``Authorization: Bearer <token>``, never refreshed) or
    ``session``: a person's session, as a ``SessionAuth``, or the ``AuthSession`` of
    ``signup`` / ``login`` / ``refresh_session``, or stored ``SessionTokens`` (then
    ``on_session_change`` is the callback, see ``SessionAuth``). With ``session`` the
    result is a ``SessionClient`` whose access token is refreshed when it expires;
    ``SessionAuth()`` with no session makes a client for ``sign_up`` / ``log_in``.

    ``timeout`` is in seconds (``None`` waits forever). ``httpx_args`` go to the
    ``httpx.Client`` and ``httpx.AsyncClient`` (e.g. ``event_hooks``, ``transport``; not
    ``auth``). Pass the result as ``client=`` to every generated operation; use it in a
    ``with`` (or ``async with``) block, or call ``get_httpx_client().close()``, to close
    its connections::

        with Tenantry("http://127.0.0.1:8080", api_key=key) as client:
            project = unwrap(get_project.sync_detailed(project_id, client=client))

    ``retry_rate_limited`` (off by default; ``True`` for ``RateLimitRetry()``) sends a request
    again after the ``Retry-After`` of a ``429`` whose code is ``rate_limited``.
    """
    if sum(credential is not None for credential in (api_key, bearer_token, session)) != 1:
        raise ValueError("give exactly one of api_key, bearer_token and session")
    if on_session_change is not None and not isinstance(session, AuthSession | SessionTokens):
        raise ValueError("on_session_change goes with a session given as AuthSession or SessionTokens")
    if httpx_args is not None and "auth" in httpx_args:
        raise ValueError("httpx_args cannot hold auth: give api_key, bearer_token or session")
    if not isinstance(timeout, httpx.Timeout):
        timeout = httpx.Timeout(timeout)
    common: dict[str, Any] = {
        "base_url": base_url.rstrip("/"),
        "timeout": timeout,
        "headers": dict(headers or {}),
        "verify_ssl": verify_ssl,
        "raise_on_unexpected_status": raise_on_unexpected_status,
        "httpx_args": dict(httpx_args or {}),
    }
    retry = RateLimitRetry() if retry_rate_limited is True else retry_rate_limited or None
    if api_key is not None or bearer_token is not None:
        if retry is not None:
            common["httpx_args"]["auth"] = _RetryRateLimited(None, retry)
        if api_key is not None:
            return AuthenticatedClient(token=api_key, prefix="", auth_header_name=API_KEY_HEADER, **common)
        token = bearer_token or ""
        return AuthenticatedClient(token=token, prefix="Bearer", auth_header_name="Authorization", **common)
    assert session is not None
    auth = session if isinstance(session, SessionAuth) else SessionAuth(session, on_session_change=on_session_change)
    common["httpx_args"]["auth"] = auth if retry is None else _RetryRateLimited(auth, retry)
    return SessionClient(token="", prefix="Bearer", auth_header_name="Authorization", session=auth, **common)


def sign_up(client: SessionClient, body: SignupIn) -> AuthSession:
    """Signs up (a person, a tenant they own and a session) and makes ``client`` use the new session.

    Returns the session after calling ``on_session_change``. Raises ProblemError (409 for an
    email already signed up, 422 for a weak password, ...).
    """
    session = unwrap(signup.sync_detailed(client=client, body=body))
    client.session._adopt(session)
    return session


def log_in(client: SessionClient, body: LoginIn) -> AuthSession:
    """Signs in (to ``body.tenant``, by id or slug, or the tenant last used) and makes ``client`` use the session.

    Returns the session after calling ``on_session_change``. Raises ProblemError (401 for a
    wrong email or password, 429 while throttled, ...).
    """
    session = unwrap(login.sync_detailed(client=client, body=body))
    client.session._adopt(session)
    return session


def log_out(client: SessionClient) -> None:
    """Ends the client's session on the server and forgets it (``on_session_change(None)``).

    The session is forgotten whatever the answer; a 401 (the session had already ended)
    counts as done, any other error is raised afterwards. Does nothing when no session is held.
    """
    if client.session.tokens() is None:
        return
    try:
        response = logout.sync_detailed(client=client)
        if response.status_code != 401:
            unwrap(response)
    finally:
        client.session._forget()


def switch_tenant(client: SessionClient, tenant: str) -> AuthSession:
    """Moves the client's session to another tenant the person belongs to (``tenant``: its id or slug).

    Sends ``POST /v1/auth/switch-tenant`` with the session's access token, holds the new pair
    and calls ``on_session_change`` with it, as a refresh does; returns it. The session stays
    the same (``session_id``); the previous access token is refused from now on. Runs under the
    refresh lock: after a refresh in flight, and requests refused meanwhile wait for it. Raises
    ProblemError (404 for a tenant the person does not belong to, ...) and keeps the current
    session then; httpx errors when the server cannot be reached.
    """
    return client.session._switch(tenant)


async def asign_up(client: SessionClient, body: SignupIn) -> AuthSession:
    """The async twin of ``sign_up``."""
    session = unwrap(await signup.asyncio_detailed(client=client, body=body))
    client.session._adopt(session)
    return session


async def alog_in(client: SessionClient, body: LoginIn) -> AuthSession:
    """The async twin of ``log_in``."""
    session = unwrap(await login.asyncio_detailed(client=client, body=body))
    client.session._adopt(session)
    return session


async def alog_out(client: SessionClient) -> None:
    """The async twin of ``log_out``."""
    if client.session.tokens() is None:
        return
    try:
        response = await logout.asyncio_detailed(client=client)
        if response.status_code != 401:
            unwrap(response)
    finally:
        client.session._forget()


async def aswitch_tenant(client: SessionClient, tenant: str) -> AuthSession:
    """The async twin of ``switch_tenant``."""
    return await client.session._aswitch(tenant)
