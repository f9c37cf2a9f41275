"""Tests of the hand-written layer that need no server: canned answers through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tenantry_client import AuthenticatedClient, ProblemError, Tenantry, apaginate, pages, paginate, unwrap
from tenantry_client.generated.api.projects import delete_project, get_project, list_projects
from tenantry_client.generated.api.tasks import list_project_tasks, list_tasks
from tenantry_client.generated.models import Project, TaskSort, TaskStatus

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
