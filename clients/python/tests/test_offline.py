"""Tests of the hand-written layer that need no server: canned answers through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from tenantry_client import (
    AuthenticatedClient,
    ProblemError,
    SessionAuth,
    SessionClient,
    SessionTokens,
    Tenantry,
    alog_in,
    apaginate,
    aswitch_tenant,
    log_in,
    log_out,
    pages,
    paginate,
    switch_tenant,
    unwrap,
)
from tenantry_client.generated.api.auth import get_me
from tenantry_client.generated.api.projects import create_project, delete_project, get_project, list_projects
from tenantry_client.generated.api.tasks import list_project_tasks, list_tasks
from tenantry_client.generated.models import AuthSession, LoginIn, Project, ProjectIn, TaskSort, TaskStatus

BASE = "http://tenantry.test"
PROBLEM = "application/problem+json"


def _project(n: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=n)),
        "name": f"p{n}",
        "description": None,
        "created_at": "2026-01-02T03:04:05.123456+00:00",
        "updated_at": "2026-01-02T03:04:05Z",
    }


def _problem(status: int, code: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": f"https://tenantry.dev/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": f"detail of {code}",
        "code": code,
        **extra,
    }


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> AuthenticatedClient:
    client = Tenantry(BASE, api_key="tnt_test")
    client.set_httpx_client(
        httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler), headers={"X-API-Key": "tnt_test"})
    )
    client.set_async_httpx_client(
        httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(handler), headers={"X-API-Key": "tnt_test"})
    )
    return client


def _paged_handler(total: int, seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        limit = int(request.url.params.get("limit", "20"))
        start = int(request.url.params.get("cursor", "0"))
        rows = [_project(n) for n in range(start, min(start + limit, total))]
        nxt = str(start + limit) if start + limit < total else None
        return httpx.Response(200, json={"items": rows, "next_cursor": nxt})

    return handler


def test_tenantry_sends_the_api_key_header() -> None:
    client = Tenantry(BASE + "/", api_key="tnt_abc", timeout=5)
    httpx_client = client.get_httpx_client()
    assert httpx_client.headers["X-API-Key"] == "tnt_abc"
    assert "Authorization" not in httpx_client.headers
    assert str(httpx_client.base_url) == BASE
    assert httpx_client.timeout.read == 5


def test_tenantry_sends_a_bearer_token() -> None:
    client = Tenantry(BASE, bearer_token="tok")
    assert client.get_httpx_client().headers["Authorization"] == "Bearer tok"


def test_tenantry_wants_exactly_one_credential() -> None:
    with pytest.raises(ValueError):
        Tenantry(BASE)
    with pytest.raises(ValueError):
        Tenantry(BASE, api_key="a", bearer_token="b")


def test_paginate_follows_cursors_and_passes_filters() -> None:
    seen: list[httpx.Request] = []
    with _client(_paged_handler(45, seen)) as client:
        items = list(paginate(list_projects.sync_detailed, client, limit=20))
    assert [p.name for p in items] == [f"p{n}" for n in range(45)]
    assert all(isinstance(p, Project) for p in items)
    assert [r.url.params.get("cursor") for r in seen] == [None, "20", "40"]
    assert {r.url.params["limit"] for r in seen} == {"20"}
    assert {r.headers["X-API-Key"] for r in seen} == {"tnt_test"}


def test_paginate_is_lazy() -> None:
    seen: list[httpx.Request] = []
    with _client(_paged_handler(100, seen)) as client:
        iterator = paginate(list_projects.sync_detailed, client, limit=10)
        assert seen == []
        first = next(iterator)
    assert first.name == "p0"
    assert len(seen) == 1


def test_paginate_empty_list() -> None:
    seen: list[httpx.Request] = []
    with _client(_paged_handler(0, seen)) as client:
        assert list(paginate(list_projects.sync_detailed, client)) == []
    assert len(seen) == 1


def test_paginate_path_parameters_and_filters() -> None:
    project_id = uuid.uuid4()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    with _client(handler) as client:
        list(
            paginate(list_project_tasks, client, project_id=project_id, status=TaskStatus.DONE, sort=TaskSort.DUE_DATE)
        )
    assert seen[0].url.path == f"/v1/projects/{project_id}/tasks"
    assert seen[0].url.params["status"] == "done"
    assert seen[0].url.params["sort"] == "due_date"


def test_paginate_stops_on_a_repeated_cursor() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [_project(1)], "next_cursor": "same"})

    with _client(handler) as client, pytest.raises(RuntimeError, match="same cursor"):
        list(paginate(list_projects.sync_detailed, client, cursor="same"))


def test_paginate_raises_problem_error_mid_walk() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("cursor") is None:
            return httpx.Response(200, json={"items": [_project(1)], "next_cursor": "bad"})
        return httpx.Response(400, json=_problem(400, "bad_request"), headers={"Content-Type": PROBLEM})

    with _client(handler) as client:
        walk = paginate(list_projects.sync_detailed, client)
        assert next(walk).name == "p1"
        with pytest.raises(ProblemError) as caught:
            next(walk)
    assert caught.value.code == "bad_request"
    assert caught.value.status == 400


def test_apaginate() -> None:
    seen: list[httpx.Request] = []

    async def walk() -> list[Project]:
        async with _client(_paged_handler(25, seen)) as client:
            return [p async for p in apaginate(list_projects.asyncio_detailed, client, limit=10)]

    items = asyncio.run(walk())
    assert [p.id for p in items] == [uuid.UUID(int=n) for n in range(25)]
    assert len(seen) == 3


def test_modules_and_functions_both_work() -> None:
    seen: list[httpx.Request] = []

    async def walk() -> list[uuid.UUID]:
        async with _client(_paged_handler(12, seen)) as client:
            return [p.id async for p in apaginate(list_projects, client, limit=5)]

    assert asyncio.run(walk()) == [uuid.UUID(int=n) for n in range(12)]
    with _client(_paged_handler(12, seen)) as client:
        assert [p.id for p in paginate(list_projects, client, limit=5)] == [uuid.UUID(int=n) for n in range(12)]
        assert [len(page.items) for page in pages(list_projects, client, limit=5)] == [5, 5, 2]


def test_unwrap_returns_the_parsed_model() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_project(7))

    with _client(handler) as client:
        project = unwrap(get_project.sync_detailed(uuid.UUID(int=7), client=client))
    assert project.name == "p7"
    assert project.description is None
    assert project.created_at.microsecond == 123456
    assert project.updated_at.utcoffset() is not None


def test_unwrap_204_is_none() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    with _client(handler) as client:
        assert unwrap(delete_project.sync_detailed(uuid.uuid4(), client=client)) is None


def test_unwrap_raises_a_parsed_problem_with_field_errors() -> None:
    errors = [
        {"field": "name", "message": "at most 200 characters", "code": "too_long"},
        {"field": "description", "message": "at most 10000 characters", "code": "too_long"},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422, json=_problem(422, "validation_failed", errors=errors), headers={"Content-Type": PROBLEM}
        )

    with _client(handler) as client:
        response = list_projects.sync_detailed(client=client)
        with pytest.raises(ProblemError) as caught:
            unwrap(response)
    error = caught.value
    assert (error.status, error.code, error.title) == (422, "validation_failed", "validation failed")
    assert error.type == "https://tenantry.dev/problems/validation_failed"
    assert error.detail == "detail of validation_failed"
    assert error.field_codes() == {"name": "too_long", "description": "too_long"}
    assert error.errors[0].message == "at most 200 characters"
    assert "422 validation_failed" in str(error)


def test_unwrap_parses_a_problem_of_an_undocumented_status() -> None:
    # list_tasks documents no 404: the generated code leaves `parsed` as None.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, content=json.dumps(_problem(404, "not_found")), headers={"Content-Type": PROBLEM})

    with _client(handler) as client:
        response = list_tasks.sync_detailed(client=client)
        assert response.parsed is None
        with pytest.raises(ProblemError) as caught:
            unwrap(response)
    assert (caught.value.status, caught.value.code, caught.value.errors) == (404, "not_found", [])


def test_unwrap_describes_a_body_that_is_no_problem() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    with _client(handler) as client:
        with pytest.raises(ProblemError) as caught:
            unwrap(list_tasks.sync_detailed(client=client))
    assert caught.value.status == 502
    assert caught.value.code == "unexpected_response"
    assert caught.value.title == "Bad Gateway"
    assert "bad gateway" in caught.value.detail


# Sessions, against a stand-in for the API that accepts one access token (`valid`) and
# rotates tnr_refresh-0 into access-1 / tnr_refresh-1 at /v1/auth/refresh.

STALE = SessionTokens(access_token="access-0", refresh_token="tnr_refresh-0")


def _auth_session(n: int, expires_in: int = 900) -> dict[str, Any]:
    at = "2026-11-26T00:00:00Z"
    return {
        "access_token": f"access-{n}",
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_token": f"tnr_refresh-{n}",
        "session_id": str(uuid.UUID(int=1)),
        "user": {"id": str(uuid.UUID(int=2)), "email": "ada@example.com", "name": "Ada", "created_at": at},
        "tenant": {
            "id": str(uuid.UUID(int=3)),
            "slug": "engines",
            "name": "Engines",
            "created_at": at,
            "updated_at": at,
            "plan": None,
        },
        "role": "owner",
    }


def _switched(n: int) -> dict[str, Any]:
    """What /v1/auth/switch-tenant answers: the same session, in the tenant ``looms``."""
    session = _auth_session(n)
    tenant = {**session["tenant"], "id": str(uuid.UUID(int=4)), "slug": "looms", "name": "Looms"}
    return {**session, "tenant": tenant, "role": "viewer"}


def _refused(detail: str, status: int = 401, code: str = "unauthenticated") -> httpx.Response:
    body = {**_problem(status, code), "detail": detail}
    return httpx.Response(status, json=body, headers={"Content-Type": PROBLEM})


class FakeApi:
    """Answers like the API; ``seen`` holds (method, path, Authorization) of every request."""

    def __init__(self) -> None:
        self.valid = "access-1"
        self.seen: list[tuple[str, str, str | None]] = []
        self.bodies: list[bytes] = []
        #: Answers /v1/auth/refresh, given the refresh token.
        self.refresh: Callable[[str], httpx.Response] = self.rotate
        #: Answers /v1/auth/switch-tenant (sent with the valid token), given the tenant.
        self.switch_to: Callable[[str], httpx.Response] = self.switch

    def switch(self, tenant: str) -> httpx.Response:
        if tenant != "looms":
            return _refused(f"no tenant {tenant} of yours", status=404, code="not_found")
        self.valid = "access-7"
        return httpx.Response(200, json=_switched(7))

    def rotate(self, refresh_token: str) -> httpx.Response:
        assert refresh_token == "tnr_refresh-0"
        self.valid = "access-1"
        return httpx.Response(200, json=_auth_session(1))

    def record(self, request: httpx.Request) -> None:
        self.seen.append((request.method, request.url.path, request.headers.get("Authorization")))
        self.bodies.append(request.content)

    def answer(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("Authorization")
        path = request.url.path
        if path == "/v1/auth/refresh":
            return self.refresh(json.loads(request.content)["refresh_token"])
        if path == "/v1/auth/login":
            if b"wrong" in request.content:
                return _refused("the email or password is wrong")
            return httpx.Response(200, json=_auth_session(5))
        if token != f"Bearer {self.valid}":
            return _refused(f"refused {token}")
        if path == "/v1/auth/logout":
            return httpx.Response(204)
        if path == "/v1/auth/switch-tenant":
            return self.switch_to(json.loads(request.content)["tenant"])
        if request.method == "POST":
            return httpx.Response(201, json={**_project(9), **json.loads(request.content)})
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.record(request)
        return self.answer(request)

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.seen]

    def tokens(self, path: str) -> list[str | None]:
        return [token for _, p, token in self.seen if p == path]


def _session_client(
    handler: Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]],
    session: SessionAuth | SessionTokens = STALE,
    changes: list[AuthSession | None] | None = None,
) -> SessionClient:
    return Tenantry(
        BASE,
        session=session,
        on_session_change=None if changes is None else changes.append,
        httpx_args={"transport": httpx.MockTransport(handler)},
    )


def test_session_sends_its_access_token_and_none_to_the_auth_endpoints() -> None:
    api = FakeApi()
    api.valid = "access-5"
    changes: list[AuthSession | None] = []
    with _session_client(api, SessionAuth(on_session_change=changes.append)) as client:
        with pytest.raises(ProblemError):
            unwrap(list_projects.sync_detailed(client=client))
        with pytest.raises(ProblemError) as caught:
            log_in(client, LoginIn(email="ada@example.com", password="wrong"))
        assert caught.value.status == 401
        assert client.session.tokens() is None and changes == []
        started = time.time()
        session = log_in(client, LoginIn(email="ada@example.com", password="right"))
        assert changes == [session]
        tokens = client.session.tokens()
        assert tokens is not None
        assert (tokens.access_token, tokens.refresh_token) == ("access-5", "tnr_refresh-5")
        assert tokens.expires_at is not None and started + 900 <= tokens.expires_at <= time.time() + 900
        unwrap(list_projects.sync_detailed(client=client))
    assert api.seen == [
        ("GET", "/v1/projects", None),  # signed out: no Authorization at all
        ("POST", "/v1/auth/login", None),
        ("POST", "/v1/auth/login", None),
        ("GET", "/v1/projects", "Bearer access-5"),
    ]


def test_sync_refresh_is_single_flight_across_threads() -> None:
    api = FakeApi()
    both_refused = threading.Barrier(2, timeout=5)

    def handler(request: httpx.Request) -> httpx.Response:
        api.record(request)
        if request.url.path == "/v1/auth/refresh":
            time.sleep(0.05)  # the other thread waits for this refresh meanwhile
        response = api.answer(request)
        if response.status_code == 401:
            both_refused.wait()  # both requests are refused before either refreshes
        return response

    changes: list[AuthSession | None] = []
    with _session_client(handler, changes=changes) as client:
        threads = [
            threading.Thread(target=lambda: unwrap(list_projects.sync_detailed(client=client))) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert api.paths().count("/v1/auth/refresh") == 1
    assert api.tokens("/v1/projects") == ["Bearer access-0"] * 2 + ["Bearer access-1"] * 2
    assert [c.refresh_token if c else None for c in changes] == ["tnr_refresh-1"]


def test_async_refresh_is_single_flight_across_tasks() -> None:
    api = FakeApi()
    refused = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal refused
        api.record(request)
        if request.url.path == "/v1/auth/refresh":
            await asyncio.sleep(0.05)
        response = api.answer(request)
        if response.status_code == 401:
            refused += 1
            while refused < 2:  # both requests are refused before either refreshes
                await asyncio.sleep(0.001)
        return response

    async def go() -> list[Project]:
        async with _session_client(handler) as client:

            async def create(name: str) -> Project:
                return unwrap(await create_project.asyncio_detailed(client=client, body=ProjectIn(name=name)))

            return list(await asyncio.gather(create("a"), create("b")))

    created = asyncio.run(asyncio.wait_for(go(), 5))
    assert sorted(p.name for p in created) == ["a", "b"]
    assert api.paths().count("/v1/auth/refresh") == 1
    assert api.tokens("/v1/projects") == ["Bearer access-0"] * 2 + ["Bearer access-1"] * 2
    sent = [
        json.loads(body)["name"]
        for body, (_, path, _) in zip(api.bodies, api.seen, strict=True)
        if path == "/v1/projects"
    ]
    assert sorted(sent) == ["a", "a", "b", "b"], "each body is sent again"


def test_a_refused_refresh_forgets_the_session_and_the_original_401_surfaces() -> None:
    api = FakeApi()
    api.refresh = lambda refresh_token: _refused("the session has ended; sign in again")
    changes: list[AuthSession | None] = []
    with _session_client(api, changes=changes) as client:
        with pytest.raises(ProblemError) as caught:
            unwrap(list_projects.sync_detailed(client=client))
        assert (caught.value.status, caught.value.detail) == (401, "refused Bearer access-0"), "the request's own 401"
        assert client.session.tokens() is None
        assert changes == [None]
        with pytest.raises(ProblemError):
            unwrap(get_me.sync_detailed(client=client))
    assert api.seen == [
        ("GET", "/v1/projects", "Bearer access-0"),
        ("POST", "/v1/auth/refresh", None),
        ("GET", "/v1/me", None),
    ]


@pytest.mark.parametrize("failure", ["503", "network"])
def test_a_refresh_that_cannot_be_made_keeps_the_session(failure: str) -> None:
    api = FakeApi()

    def broken(refresh_token: str) -> httpx.Response:
        if failure == "network":
            raise httpx.ConnectError("connection refused")
        return _refused("try again", status=503, code="unavailable")

    api.refresh = broken
    changes: list[AuthSession | None] = []
    with _session_client(api, changes=changes) as client:
        with pytest.raises(ProblemError) as caught:
            unwrap(list_projects.sync_detailed(client=client))
        assert caught.value.detail == "refused Bearer access-0"
        assert client.session.tokens() == STALE
        assert changes == []
    assert api.paths() == ["/v1/projects", "/v1/auth/refresh"]


def test_a_request_refused_again_is_not_retried_twice() -> None:
    api = FakeApi()

    def rotate_to_a_token_refused_too(refresh_token: str) -> httpx.Response:
        api.valid = "access-never"
        return httpx.Response(200, json=_auth_session(1))

    api.refresh = rotate_to_a_token_refused_too

    async def go() -> None:
        async with _session_client(api) as client:
            with pytest.raises(ProblemError) as caught:
                unwrap(await get_me.asyncio_detailed(client=client))
            assert caught.value.detail == "refused Bearer access-1"

    asyncio.run(go())
    assert api.paths() == ["/v1/me", "/v1/auth/refresh", "/v1/me"]


def test_an_access_token_about_to_expire_is_refreshed_first() -> None:
    api = FakeApi()
    soon = SessionTokens(access_token="access-0", refresh_token="tnr_refresh-0", expires_at=time.time() + 2)
    with _session_client(api, soon) as client:
        unwrap(list_projects.sync_detailed(client=client))
    assert api.seen == [("POST", "/v1/auth/refresh", None), ("GET", "/v1/projects", "Bearer access-1")]

    api = FakeApi()
    lazy = SessionAuth(soon, refresh_leeway=0)
    with _session_client(api, lazy) as client:
        unwrap(list_projects.sync_detailed(client=client))
    assert api.paths() == ["/v1/projects", "/v1/auth/refresh", "/v1/projects"]


def test_explicit_refresh_and_log_out() -> None:
    api = FakeApi()
    changes: list[AuthSession | None] = []
    with _session_client(api, changes=changes) as client:
        fresh = client.session.refresh()
        assert fresh.refresh_token == "tnr_refresh-1"
        assert (held := client.session.tokens()) is not None and held.access_token == "access-1"
        log_out(client)
        log_out(client)  # nothing held: nothing sent
        assert client.session.tokens() is None
        with pytest.raises(ProblemError) as caught:
            client.session.refresh()
        assert caught.value.code == "unauthenticated"
    assert [c.access_token if c else None for c in changes] == ["access-1", None]
    assert api.seen == [("POST", "/v1/auth/refresh", None), ("POST", "/v1/auth/logout", "Bearer access-1")]


def test_log_out_forgets_a_session_that_had_already_ended() -> None:
    api = FakeApi()
    api.refresh = lambda refresh_token: _refused("the session has ended")
    changes: list[AuthSession | None] = []
    with _session_client(api, changes=changes) as client:
        log_out(client)
        assert client.session.tokens() is None
    assert changes == [None], "told once"
    assert api.paths() == ["/v1/auth/logout", "/v1/auth/refresh"]


def test_alog_in_and_a_session_across_event_loops() -> None:
    api = FakeApi()
    api.valid = "access-5"
    auth = SessionAuth()
    client = _session_client(api, auth)

    async def sign_in() -> None:
        await alog_in(client, LoginIn(email="ada@example.com", password="right"))

    async def read() -> None:
        unwrap(await list_projects.asyncio_detailed(client=client))

    asyncio.run(sign_in())
    auth.set(STALE)
    api.valid = "access-1"
    asyncio.run(read())  # the refresh lock of a new event loop
    assert (held := auth.tokens()) is not None and held.access_token == "access-1"


def test_tenantry_session_arguments() -> None:
    with pytest.raises(ValueError):
        Tenantry(BASE, api_key="tnt_x", session=STALE)  # type: ignore[call-overload]
    with pytest.raises(ValueError):
        Tenantry(BASE, session=SessionAuth(), on_session_change=print)
    with pytest.raises(ValueError):
        Tenantry(BASE, session=STALE, httpx_args={"auth": None})
    with pytest.raises(RuntimeError, match="belongs to no client"):
        SessionAuth(STALE).refresh()
    client = Tenantry(BASE, session=STALE)
    assert isinstance(client, SessionClient) and isinstance(client, AuthenticatedClient)
    assert client.session.tokens() == STALE


# Switching tenants: the same session, a new pair for the tenant `looms`.

CURRENT = SessionTokens(access_token="access-1", refresh_token="tnr_refresh-1")


def _switch(mode: str, client: SessionClient, tenant: str) -> AuthSession:
    """``switch_tenant``, or ``aswitch_tenant`` in an event loop of its own."""
    if mode == "sync":
        return switch_tenant(client, tenant)
    return asyncio.run(aswitch_tenant(client, tenant))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_switch_tenant_holds_the_new_pair_and_tells_the_callback_once(mode: str) -> None:
    api = FakeApi()
    changes: list[AuthSession | None] = []
    with _session_client(api, CURRENT, changes) as client:
        session = _switch(mode, client, "looms")
        assert (session.tenant.slug, session.role) == ("looms", "viewer")
        assert changes == [session], "told once, with the whole session"
        tokens = client.session.tokens()
        assert tokens is not None and (tokens.access_token, tokens.refresh_token) == ("access-7", "tnr_refresh-7")
        unwrap(list_projects.sync_detailed(client=client))
    assert api.seen == [
        ("POST", "/v1/auth/switch-tenant", "Bearer access-1"),
        ("GET", "/v1/projects", "Bearer access-7"),
    ]
    assert json.loads(api.bodies[0]) == {"tenant": "looms"}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_refused_switch_raises_and_keeps_the_session(mode: str) -> None:
    api = FakeApi()
    changes: list[AuthSession | None] = []
    with _session_client(api, CURRENT, changes) as client:
        with pytest.raises(ProblemError) as caught:
            _switch(mode, client, "elsewhere")
        assert (caught.value.status, caught.value.code) == (404, "not_found")
        assert client.session.tokens() == CURRENT
        assert changes == []
        unwrap(list_projects.sync_detailed(client=client))
    assert api.seen == [
        ("POST", "/v1/auth/switch-tenant", "Bearer access-1"),
        ("GET", "/v1/projects", "Bearer access-1"),
    ]


def test_a_switch_waits_for_the_refresh_in_flight_and_is_sent_with_its_new_token() -> None:
    api = FakeApi()
    refreshing = threading.Event()
    release = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        api.record(request)
        if request.url.path == "/v1/auth/refresh":
            refreshing.set()
            assert release.wait(5)
        return api.answer(request)

    changes: list[AuthSession | None] = []
    with _session_client(handler, changes=changes) as client:
        refresh = threading.Thread(target=client.session.refresh)
        refresh.start()
        assert refreshing.wait(5)
        switched: list[AuthSession] = []
        switch = threading.Thread(target=lambda: switched.append(switch_tenant(client, "looms")))
        switch.start()
        time.sleep(0.05)
        assert api.paths() == ["/v1/auth/refresh"], "no switch while the refresh is out"
        release.set()
        refresh.join(5)
        switch.join(5)
        assert len(switched) == 1
        assert (held := client.session.tokens()) is not None and held.access_token == "access-7"
    assert api.seen == [
        ("POST", "/v1/auth/refresh", None),
        ("POST", "/v1/auth/switch-tenant", "Bearer access-1"),
    ]
    assert [c.refresh_token if c else None for c in changes] == ["tnr_refresh-1", "tnr_refresh-7"]


def test_a_request_refused_during_a_switch_waits_for_it_without_a_refresh() -> None:
    api = FakeApi()
    switch_arrived = asyncio.Event()
    release = asyncio.Event()
    listing_left = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/projects" and request.headers.get("Authorization") == "Bearer access-1":
            listing_left.set()
            await switch_arrived.wait()  # it reaches the server after the switch
        api.record(request)
        if request.url.path == "/v1/auth/switch-tenant":
            response = api.answer(request)  # from now on access-1 is refused
            switch_arrived.set()
            await release.wait()
            return response
        return api.answer(request)

    async def go() -> None:
        async with _session_client(handler, CURRENT) as client:
            listing = asyncio.create_task(list_projects.asyncio_detailed(client=client))
            await listing_left.wait()  # left with access-1, before the switch started
            switching = asyncio.create_task(aswitch_tenant(client, "looms"))
            while len(api.seen) < 2:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.02)  # the listing's 401 is in
            release.set()
            await switching
            unwrap(await listing)

    asyncio.run(asyncio.wait_for(go(), 5))
    assert api.paths().count("/v1/auth/refresh") == 0, "the switch gave the new pair: nothing to refresh"
    assert api.seen == [
        ("POST", "/v1/auth/switch-tenant", "Bearer access-1"),
        ("GET", "/v1/projects", "Bearer access-1"),
        ("GET", "/v1/projects", "Bearer access-7"),
    ]
