"""End-to-end tests of the Python SDK against a live Tenantry server.

Set, all three (a missing one fails every test here):
    TENANTRY_BASE_URL      the server, e.g. http://127.0.0.1:8080
    TENANTRY_API_KEY       a key of the tenant holding every scope
    TENANTRY_READONLY_KEY  a key of the same tenant holding only projects:read and tasks:read

The rate-limit test needs a second server whose tenants may send 2 requests a second:
    TENANTRY_LIMITED_BASE_URL  that server
    TENANTRY_LIMITED_API_KEY   a key (every scope) of a tenant of its own

The tenant may hold data of other suites or earlier runs: every name made here
carries a fresh tag, the assertions look at what this run created, and each test
deletes what it created. The session tests sign up new people (each with a tenant
of their own) with fresh email addresses.

The tenant-switch test also runs the server's CLI (``tenantry member add``: no HTTP
endpoint adds an existing person to a tenant), and fails when any of these is missing:
    TENANTRY_BIN           the ``tenantry`` binary of that server
    DATABASE_URL           its database
    TENANTRY_DATA_DIR      its data directory
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import httpx
import pytest

from tenantry_client import (
    AuthenticatedClient,
    ProblemError,
    RateLimitRetry,
    SessionAuth,
    SessionClient,
    SessionTokens,
    Tenantry,
    alog_out,
    apaginate,
    asign_up,
    aswitch_tenant,
    log_in,
    log_out,
    paginate,
    sign_up,
    switch_tenant,
    unwrap,
)
from tenantry_client.generated.api.api_keys import (
    create_api_key,
    delete_api_key,
    get_current_api_key,
    list_api_keys,
)
from tenantry_client.generated.api.auth import get_me, list_sessions, logout, refresh_session
from tenantry_client.generated.api.projects import (
    create_project,
    delete_project,
    get_project,
    list_projects,
    update_project,
)
from tenantry_client.generated.api.tasks import (
    create_task,
    delete_task,
    get_task,
    list_project_tasks,
    list_tasks,
    update_task,
)
from tenantry_client.generated.api.tenant import get_tenant
from tenantry_client.generated.models import (
    ApiKeyIn,
    ApiScope,
    AuthSession,
    LoginIn,
    Project,
    ProjectIn,
    ProjectPatch,
    RefreshIn,
    Role,
    SignupIn,
    SortDirection,
    Task,
    TaskIn,
    TaskPatch,
    TaskSort,
    TaskStatus,
)

T = TypeVar("T")

ENV_VARS = ("TENANTRY_BASE_URL", "TENANTRY_API_KEY", "TENANTRY_READONLY_KEY")
RUN = uuid.uuid4().hex[:10]
# Parallel requests when creating or deleting many rows.
CONCURRENCY = 8
# A password the server's strength check accepts.
PASSWORD = "plum-orbit-lantern-47"


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str
    readonly_key: str


def settings() -> Settings:
    """The server and keys from the environment; fails the calling test when any is missing."""
    missing = [name for name in ENV_VARS if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"missing environment variable(s) {', '.join(missing)}: the end-to-end tests need a live "
            "Tenantry server. Set TENANTRY_BASE_URL (e.g. http://127.0.0.1:8080), TENANTRY_API_KEY "
            "(a key with every scope) and TENANTRY_READONLY_KEY (a key of the same tenant with only "
            "projects:read and tasks:read).",
            pytrace=False,
        )
    return Settings(
        base_url=os.environ["TENANTRY_BASE_URL"],
        api_key=os.environ["TENANTRY_API_KEY"],
        readonly_key=os.environ["TENANTRY_READONLY_KEY"],
    )


def full_client() -> AuthenticatedClient:
    s = settings()
    return Tenantry(s.base_url, api_key=s.api_key)


def readonly_client() -> AuthenticatedClient:
    s = settings()
    return Tenantry(s.base_url, api_key=s.readonly_key)


def unique(label: str) -> str:
    return f"py-e2e-{RUN}-{label}-{uuid.uuid4().hex[:8]}"


def raises_problem(call: Callable[[], object], status: int, code: str) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        call()
    error = caught.value
    assert (error.status, error.code) == (status, code), repr(error)
    assert error.title
    assert error.type
    return error


async def bounded(jobs: list[Callable[[], Awaitable[T]]], limit: int = CONCURRENCY) -> list[T]:
    """Runs the jobs with at most `limit` in flight; results in the order of the jobs."""
    semaphore = asyncio.Semaphore(limit)

    async def run(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs))


def delete_projects_named(prefix: str) -> None:
    """Deletes every project of the tenant whose name starts with `prefix` (and so their tasks)."""

    async def go() -> None:
        async with full_client() as client:
            ids = [
                p.id
                async for p in apaginate(list_projects.asyncio_detailed, client, limit=100)
                if p.name.startswith(prefix)
            ]

            def job(project_id: uuid.UUID) -> Callable[[], Awaitable[None]]:
                async def delete() -> None:
                    unwrap(await delete_project.asyncio_detailed(project_id, client=client))

                return delete

            await bounded([job(project_id) for project_id in ids])

    asyncio.run(go())


@contextmanager
def scratch_project(client: AuthenticatedClient, label: str) -> Iterator[Project]:
    """A project for one test, deleted (with its tasks) afterwards."""
    project = unwrap(create_project.sync_detailed(client=client, body=ProjectIn(name=unique(label))))
    try:
        yield project
    finally:
        response = delete_project.sync_detailed(project.id, client=client)
        assert response.status_code in (204, 404), response


def test_environment_keys_and_tenant() -> None:
    with full_client() as client, readonly_client() as readonly:
        me = unwrap(get_current_api_key.sync_detailed(client=client))
        assert set(me.api_key.scopes) == set(ApiScope), me.api_key.scopes
        tenant = unwrap(get_tenant.sync_detailed(client=client))
        assert tenant.id == me.tenant.id
        ro = unwrap(get_current_api_key.sync_detailed(client=readonly))
        assert set(ro.api_key.scopes) == {ApiScope.PROJECTSREAD, ApiScope.TASKSREAD}, ro.api_key.scopes
        assert ro.tenant.id == tenant.id, "both keys must belong to the same tenant"


def test_project_create_get_update_delete() -> None:
    with full_client() as client:
        name = unique("crud")
        created = unwrap(create_project.sync_detailed(client=client, body=ProjectIn(name=name, description="first")))
        try:
            assert isinstance(created, Project)
            assert (created.name, created.description) == (name, "first")
            assert created.created_at.utcoffset() is not None

            got = unwrap(get_project.sync_detailed(created.id, client=client))
            assert (got.id, got.name, got.description, got.created_at) == (
                created.id,
                name,
                "first",
                created.created_at,
            )

            renamed = unwrap(
                update_project.sync_detailed(created.id, client=client, body=ProjectPatch(name=name + "-renamed"))
            )
            assert renamed.name == name + "-renamed"
            assert renamed.description == "first", "an absent field keeps its value"
            assert renamed.updated_at >= created.updated_at

            clear = ProjectPatch(description=None)
            assert clear.to_dict() == {"description": None}, "null must be sent, not left out"
            cleared = unwrap(update_project.sync_detailed(created.id, client=client, body=clear))
            assert cleared.description is None
            assert cleared.name == name + "-renamed"
            assert unwrap(get_project.sync_detailed(created.id, client=client)).description is None

            described = unwrap(
                update_project.sync_detailed(created.id, client=client, body=ProjectPatch(description="again"))
            )
            assert described.description == "again"
        finally:
            deleted = delete_project.sync_detailed(created.id, client=client)
        assert deleted.status_code == 204
        assert unwrap(deleted) is None
        raises_problem(lambda: unwrap(get_project.sync_detailed(created.id, client=client)), 404, "not_found")
        raises_problem(lambda: unwrap(delete_project.sync_detailed(created.id, client=client)), 404, "not_found")


def test_task_create_get_update_delete() -> None:
    with full_client() as client, scratch_project(client, "tasks") as project:
        task = unwrap(
            create_task.sync_detailed(
                project.id,
                client=client,
                body=TaskIn(
                    title="write the spec",
                    description="all of it",
                    status=TaskStatus.IN_PROGRESS,
                    priority=3,
                    due_date=date(2027, 3, 1),
                ),
            )
        )
        assert isinstance(task, Task)
        assert task.project_id == project.id
        assert (task.title, task.description, task.status, task.priority) == (
            "write the spec",
            "all of it",
            TaskStatus.IN_PROGRESS,
            3,
        )
        assert str(task.due_date) == "2027-03-01"

        plain = unwrap(create_task.sync_detailed(project.id, client=client, body=TaskIn(title="defaults")))
        assert (plain.status, plain.priority, plain.description, plain.due_date) == (TaskStatus.TODO, 0, None, None)

        got = unwrap(get_task.sync_detailed(task.id, client=client))
        assert (got.id, got.title, got.due_date) == (task.id, task.title, task.due_date)

        done = unwrap(
            update_task.sync_detailed(task.id, client=client, body=TaskPatch(status=TaskStatus.DONE, priority=4))
        )
        assert (done.status, done.priority, done.description) == (TaskStatus.DONE, 4, "all of it")
        assert str(done.due_date) == "2027-03-01"

        clear = TaskPatch(description=None, due_date=None)
        assert clear.to_dict() == {"description": None, "due_date": None}
        cleared = unwrap(update_task.sync_detailed(task.id, client=client, body=clear))
        assert (cleared.description, cleared.due_date) == (None, None)
        assert (cleared.title, cleared.status, cleared.priority) == ("write the spec", TaskStatus.DONE, 4)

        assert unwrap(delete_task.sync_detailed(task.id, client=client)) is None
        raises_problem(lambda: unwrap(get_task.sync_detailed(task.id, client=client)), 404, "not_found")
        raises_problem(
            lambda: unwrap(update_task.sync_detailed(task.id, client=client, body=TaskPatch(priority=1))),
            404,
            "not_found",
        )
        remaining = [t.id for t in paginate(list_project_tasks.sync_detailed, client, project_id=project.id)]
        assert remaining == [plain.id]


def test_paginate_walks_250_projects_exactly_once() -> None:
    tag = unique("page")

    async def create_all() -> list[Project]:
        async with full_client() as client:

            def job(i: int) -> Callable[[], Awaitable[Project]]:
                async def create() -> Project:
                    body = ProjectIn(name=f"{tag}-{i:03d}")
                    return unwrap(await create_project.asyncio_detailed(client=client, body=body))

                return create

            return await bounded([job(i) for i in range(250)])

    try:
        created = asyncio.run(create_all())
        mine = {p.id for p in created}
        assert len(mine) == 250

        with full_client() as client:
            walk = list(paginate(list_projects.sync_detailed, client, limit=20))
            first = unwrap(list_projects.sync_detailed(client=client, limit=20))
        assert len(first.items) == 20, "a page holds exactly `limit` items when more follow"
        assert first.next_cursor is not None

        counts = Counter(p.id for p in walk)
        missing = mine - counts.keys()
        assert not missing, f"{len(missing)} created projects never came up in the walk"
        duplicated = {project_id: n for project_id, n in counts.items() if n > 1}
        assert not duplicated, f"projects seen more than once: {duplicated}"
        assert sorted(p.name for p in walk if p.id in mine) == sorted(f"{tag}-{i:03d}" for i in range(250))
        keys = [(p.created_at, p.id) for p in walk]
        assert keys == sorted(keys), "projects come oldest first, by created_at then id"
    finally:
        delete_projects_named(tag)

    with full_client() as client:
        assert not [p for p in paginate(list_projects.sync_detailed, client, limit=100) if p.name.startswith(tag)]


def test_async_paginator() -> None:
    async def go() -> None:
        async with full_client() as client:
            body = ProjectIn(name=unique("async"), description="async walk")
            project = unwrap(await create_project.asyncio_detailed(client=client, body=body))
            try:

                def job(i: int) -> Callable[[], Awaitable[Task]]:
                    async def create() -> Task:
                        task_in = TaskIn(title=f"task {i:02d}", priority=i % 5)
                        return unwrap(await create_task.asyncio_detailed(project.id, client=client, body=task_in))

                    return create

                created = await bounded([job(i) for i in range(23)])
                mine = [t.id for t in created]

                by_project = [
                    t.id
                    async for t in apaginate(
                        list_project_tasks.asyncio_detailed, client, project_id=project.id, limit=5
                    )
                ]
                assert sorted(by_project) == sorted(mine)
                assert len(by_project) == len(set(by_project)) == 23

                filtered = [
                    t async for t in apaginate(list_tasks.asyncio_detailed, client, project_id=project.id, limit=4)
                ]
                assert sorted(t.id for t in filtered) == sorted(mine)
                assert {t.project_id for t in filtered} == {project.id}

                projects = [p.id async for p in apaginate(list_projects.asyncio_detailed, client, limit=7)]
                assert projects.count(project.id) == 1
            finally:
                unwrap(await delete_project.asyncio_detailed(project.id, client=client))
            with pytest.raises(ProblemError) as caught:
                async for _ in apaginate(list_project_tasks.asyncio_detailed, client, project_id=project.id):
                    pass
            assert (caught.value.status, caught.value.code) == (404, "not_found")

    asyncio.run(go())


def test_filter_by_status_and_project_and_sort_by_due_date() -> None:
    with full_client() as client, scratch_project(client, "sort") as project, scratch_project(client, "other") as other:
        specs: list[tuple[str, TaskStatus, date | None]] = [
            ("t1", TaskStatus.TODO, date(2027, 3, 5)),
            ("t2", TaskStatus.DONE, date(2027, 1, 10)),
            ("t3", TaskStatus.TODO, None),
            ("t4", TaskStatus.IN_PROGRESS, date(2027, 2, 1)),
            ("t5", TaskStatus.TODO, date(2027, 1, 20)),
            ("t6", TaskStatus.DONE, None),
        ]
        ids: dict[str, uuid.UUID] = {}
        for title, status, due in specs:
            body = (
                TaskIn(title=title, status=status) if due is None else TaskIn(title=title, status=status, due_date=due)
            )
            ids[title] = unwrap(create_task.sync_detailed(project.id, client=client, body=body)).id
        # A task elsewhere that the project filter must leave out.
        stranger = unwrap(
            create_task.sync_detailed(other.id, client=client, body=TaskIn(title="t1", due_date=date(2027, 1, 1))),
        ).id

        def titles(tasks: Iterator[Task]) -> list[str]:
            return [t.title for t in tasks]

        # Default order: created_at ascending, i.e. the order of creation.
        assert titles(paginate(list_project_tasks.sync_detailed, client, project_id=project.id)) == [
            s[0] for s in specs
        ]
        assert titles(
            paginate(
                list_project_tasks.sync_detailed, client, project_id=project.id, direction=SortDirection.DESC, limit=2
            )
        ) == [s[0] for s in reversed(specs)]

        # Filters: status, and status with project across the tenant.
        todo = list(paginate(list_project_tasks.sync_detailed, client, project_id=project.id, status=TaskStatus.TODO))
        assert sorted(t.title for t in todo) == ["t1", "t3", "t5"]
        assert {t.status for t in todo} == {TaskStatus.TODO}
        done = list(paginate(list_tasks.sync_detailed, client, project_id=project.id, status=TaskStatus.DONE, limit=1))
        assert sorted(t.title for t in done) == ["t2", "t6"]
        across = [t.id for t in paginate(list_tasks.sync_detailed, client, status=TaskStatus.TODO, limit=100)]
        assert {ids["t1"], ids["t3"], ids["t5"], stranger} <= set(across)
        assert not {ids["t2"], ids["t4"], ids["t6"]} & set(across)
        assert len(across) == len(set(across))

        # due_before: strictly before, tasks without a due date left out.
        before = paginate(list_tasks.sync_detailed, client, project_id=project.id, due_before=date(2027, 2, 1))
        assert sorted(titles(before)) == ["t2", "t5"]

        # sort=due_date: dated tasks in order, undated ones last in both directions,
        # the same whether read in one page or followed through cursors.
        for limit in (100, 2):
            asc = titles(
                paginate(list_tasks.sync_detailed, client, project_id=project.id, sort=TaskSort.DUE_DATE, limit=limit)
            )
            assert asc[:4] == ["t2", "t5", "t4", "t1"], (limit, asc)
            assert sorted(asc[4:]) == ["t3", "t6"], (limit, asc)
            desc = titles(
                paginate(
                    list_project_tasks.sync_detailed,
                    client,
                    project_id=project.id,
                    sort=TaskSort.DUE_DATE,
                    direction=SortDirection.DESC,
                    limit=limit,
                )
            )
            assert desc[:4] == ["t1", "t4", "t5", "t2"], (limit, desc)
            assert sorted(desc[4:]) == ["t3", "t6"], (limit, desc)

        todo_by_due = titles(
            paginate(
                list_project_tasks,
                client,
                project_id=project.id,
                status=TaskStatus.TODO,
                sort=TaskSort.DUE_DATE,
                limit=1,
            )
        )
        assert todo_by_due == ["t5", "t1", "t3"]


def test_not_found_is_a_problem_error() -> None:
    with full_client() as client:
        nobody = uuid.uuid4()
        error = raises_problem(lambda: unwrap(get_project.sync_detailed(nobody, client=client)), 404, "not_found")
        assert error.errors == []
        assert error.detail
        raises_problem(lambda: unwrap(get_task.sync_detailed(nobody, client=client)), 404, "not_found")
        raises_problem(
            lambda: unwrap(update_project.sync_detailed(nobody, client=client, body=ProjectPatch(name="x"))),
            404,
            "not_found",
        )
        raises_problem(
            lambda: unwrap(create_task.sync_detailed(nobody, client=client, body=TaskIn(title="orphan"))),
            404,
            "not_found",
        )
        raises_problem(
            lambda: list(paginate(list_project_tasks.sync_detailed, client, project_id=nobody)), 404, "not_found"
        )


def test_validation_failed_lists_every_field() -> None:
    with full_client() as client:
        too_big = ProjectIn(name="n" * 201, description="d" * 10001)
        error = raises_problem(
            lambda: unwrap(create_project.sync_detailed(client=client, body=too_big)), 422, "validation_failed"
        )
        assert error.field_codes() == {"name": "too_long", "description": "too_long"}, error.errors
        assert all(e.message for e in error.errors)

        with scratch_project(client, "invalid") as project:
            error = raises_problem(
                lambda: unwrap(create_task.sync_detailed(project.id, client=client, body=TaskIn(title="", priority=5))),
                422,
                "validation_failed",
            )
            assert set(error.field_codes()) == {"title", "priority"}, error.errors
            assert error.field_codes()["priority"] == "out_of_range"

        error = raises_problem(
            lambda: list(paginate(list_projects.sync_detailed, client, limit=0)), 422, "validation_failed"
        )
        assert error.field_codes() == {"limit": "out_of_range"}
        assert not [p for p in paginate(list_projects.sync_detailed, client, limit=100) if p.name == "n" * 201]


def test_bad_request_is_a_problem_error() -> None:
    with full_client() as client:
        # The models take no fields beyond their own (additionalProperties:
        # false), so an unknown one goes out on the raw client: refused.
        raw = client.get_httpx_client().post("/v1/projects", json={"name": unique("bogus"), "bogus": True})
        assert raw.status_code == 400, raw.text
        assert raw.headers["content-type"].startswith("application/problem+json")
        assert raw.json()["code"] == "bad_request"
        error = raises_problem(
            lambda: list(paginate(list_projects.sync_detailed, client, cursor="not-a-cursor")), 400, "invalid_cursor"
        )
        assert error.errors == []


def test_unauthenticated_with_a_bad_key() -> None:
    s = settings()
    with Tenantry(s.base_url, api_key="tnt_" + "0" * 30) as stranger:
        raises_problem(lambda: unwrap(list_projects.sync_detailed(client=stranger)), 401, "unauthenticated")
        raises_problem(lambda: list(paginate(list_tasks.sync_detailed, stranger)), 401, "unauthenticated")
        raises_problem(lambda: unwrap(get_tenant.sync_detailed(client=stranger)), 401, "unauthenticated")
    with Tenantry(s.base_url, api_key="not-even-a-key") as garbage:
        raises_problem(lambda: unwrap(get_current_api_key.sync_detailed(client=garbage)), 401, "unauthenticated")


def test_forbidden_for_the_readonly_key() -> None:
    with readonly_client() as readonly, full_client() as client, scratch_project(client, "readonly") as project:
        name = unique("ro")
        error = raises_problem(
            lambda: unwrap(create_project.sync_detailed(client=readonly, body=ProjectIn(name=name))), 403, "forbidden"
        )
        assert "projects:write" in error.detail
        raises_problem(
            lambda: unwrap(create_task.sync_detailed(project.id, client=readonly, body=TaskIn(title="no"))),
            403,
            "forbidden",
        )
        raises_problem(lambda: unwrap(delete_project.sync_detailed(project.id, client=readonly)), 403, "forbidden")
        raises_problem(lambda: list(paginate(list_api_keys, readonly)), 403, "forbidden")

        # Reading is allowed.
        assert unwrap(get_project.sync_detailed(project.id, client=readonly)).name == project.name
        assert project.id in {p.id for p in paginate(list_projects, readonly, limit=100)}
        assert list(paginate(list_project_tasks, readonly, project_id=project.id)) == []
        assert not [p for p in paginate(list_projects, client, limit=100) if p.name == name]


def test_api_keys_create_list_revoke() -> None:
    s = settings()
    with full_client() as client:
        me = unwrap(get_current_api_key.sync_detailed(client=client)).api_key
        name = unique("key")
        created = unwrap(
            create_api_key.sync_detailed(
                client=client,
                body=ApiKeyIn(name=name, scopes=[ApiScope.TASKSREAD], expires_in_days=1),
            )
        )
        try:
            assert created.key.startswith("tnt_")
            assert created.key.startswith(created.prefix)
            assert created.scopes == [ApiScope.TASKSREAD]
            assert created.expires_at is not None and created.expires_at > created.created_at
            assert created.last_used_at is None

            keys = list(paginate(list_api_keys.sync_detailed, client, limit=1))
            counts = Counter(k.id for k in keys)
            assert counts[created.id] == 1 and counts[me.id] == 1
            assert max(counts.values()) == 1

            with Tenantry(s.base_url, api_key=created.key) as narrow:
                seen = unwrap(get_current_api_key.sync_detailed(client=narrow)).api_key
                assert (seen.id, seen.name, seen.scopes) == (created.id, name, [ApiScope.TASKSREAD])
                raises_problem(lambda: unwrap(list_projects.sync_detailed(client=narrow)), 403, "forbidden")
        finally:
            assert unwrap(delete_api_key.sync_detailed(created.id, client=client)) is None

        with Tenantry(s.base_url, api_key=created.key) as revoked:
            raises_problem(lambda: unwrap(get_current_api_key.sync_detailed(client=revoked)), 401, "unauthenticated")
        assert created.id not in {k.id for k in paginate(list_api_keys.sync_detailed, client, limit=100)}
        raises_problem(lambda: unwrap(delete_api_key.sync_detailed(created.id, client=client)), 404, "not_found")


def unique_email(label: str) -> str:
    return f"py-{RUN}-{label}-{uuid.uuid4().hex[:8]}@example.com"


def corrupted(token: str) -> str:
    """``token`` with one character of its signature changed: well-formed, and refused."""
    header, payload, signature = token.split(".")
    i = 10
    swapped = "B" if signature[i] == "A" else "A"
    return f"{header}.{payload}.{signature[:i]}{swapped}{signature[i + 1 :]}"


def held(auth: SessionAuth) -> SessionTokens:
    """The tokens ``auth`` holds now; fails when it holds none."""
    tokens = auth.tokens()
    assert tokens is not None, "signed in"
    return tokens


class Calls:
    """Counts the requests a client sends (the refreshes included), through an httpx event hook."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.bearers: list[tuple[str, str | None]] = []

    def hook(self, request: httpx.Request) -> None:
        call = f"{request.method} {request.url.path}"
        self.seen.append(call)
        authorization = request.headers.get("authorization", "")
        self.bearers.append((call, authorization.removeprefix("Bearer ") or None))

    def sent_with(self, call: str, token: str) -> int:
        """How many `call`s carried the bearer `token`."""
        return self.bearers.count((call, token))

    async def ahook(self, request: httpx.Request) -> None:
        self.hook(request)

    def count(self, call: str) -> int:
        return self.seen.count(call)


def test_sessions_signup_login_refresh_logout() -> None:
    s = settings()
    calls = Calls()
    changes: list[AuthSession | None] = []
    auth = SessionAuth(on_session_change=changes.append)
    email = unique_email("sync")
    with Tenantry(s.base_url, session=auth, httpx_args={"event_hooks": {"request": [calls.hook]}}) as client:
        assert isinstance(client, SessionClient)
        signed = sign_up(client, SignupIn(email=email.upper(), password=PASSWORD, name="Ada", tenant_name=f"py {RUN}"))
        assert (signed.token_type, signed.role, signed.user.email) == ("Bearer", Role.OWNER, email)
        assert 0 < signed.expires_in <= 900
        assert signed.refresh_token.startswith("tnr_")
        assert changes == [signed]
        assert held(auth).access_token == signed.access_token

        # The bearer token reaches the tenant's resources.
        project = unwrap(create_project.sync_detailed(client=client, body=ProjectIn(name=unique("bearer"))))
        assert [p.id for p in paginate(list_projects, client)] == [project.id]

        # A second device.
        with Tenantry(s.base_url, session=SessionAuth()) as device:
            second = log_in(device, LoginIn(email=email, password=PASSWORD, tenant=signed.tenant.slug))
            assert second.tenant.id == signed.tenant.id
            assert second.session_id != signed.session_id
            sessions = unwrap(list_sessions.sync_detailed(client=device)).items
            assert sorted(x.id for x in sessions) == sorted([signed.session_id, second.session_id])
            assert [x.id for x in sessions if x.current] == [second.session_id]

            # An explicit refresh rotates the pair; within 10 s a replay of the old refresh
            # token gets the same new one (two tabs refreshing at once).
            before = held(auth)
            fresh = auth.refresh()
            assert fresh.refresh_token != before.refresh_token
            assert held(auth).refresh_token == fresh.refresh_token
            assert changes[-1] == fresh
            replayed = unwrap(
                refresh_session.sync_detailed(client=device, body=RefreshIn(refresh_token=before.refresh_token))
            )
            assert replayed.refresh_token == fresh.refresh_token
            unwrap(list_projects.sync_detailed(client=client))

            # A refused access token: three requests at once (threads), one refresh, all answered.
            # A thread that starts after the refresh already carries the new token; every
            # request that carried the refused one is sent again, once, with the new one.
            refused = corrupted(fresh.access_token)
            auth.set(SessionTokens(access_token=refused, refresh_token=fresh.refresh_token))
            calls.seen.clear()
            calls.bearers.clear()
            with ThreadPoolExecutor(3) as pool:
                pages = list(pool.map(lambda _: unwrap(list_projects.sync_detailed(client=client)), range(3)))
            assert all(project.id in {p.id for p in page.items} for page in pages)
            assert calls.count("POST /v1/auth/refresh") == 1, calls.seen
            renewed = changes[-1]
            assert renewed is not None and renewed.refresh_token != fresh.refresh_token
            sent_refused = calls.sent_with("GET /v1/projects", refused)
            assert sent_refused >= 1, "the refused token was sent"
            assert calls.sent_with("GET /v1/projects", renewed.access_token) == 3, calls.bearers
            assert calls.count("GET /v1/projects") == 3 + sent_refused, "each refused request sent again once"
            now = held(auth)
            assert (now.access_token, now.refresh_token) == (renewed.access_token, renewed.refresh_token)

            # The person's view of themselves.
            me = unwrap(get_me.sync_detailed(client=client))
            assert (me.user.id, me.user.email, me.tenant_id, me.session_id) == (
                signed.user.id,
                email,
                signed.tenant.id,
                signed.session_id,
            )
            assert [(m.tenant.id, m.role) for m in me.memberships] == [(signed.tenant.id, Role.OWNER)]
            assert me.memberships[0].joined_at.utcoffset() is not None

            # Ended on the server (the generated logout leaves the tokens in place): the next
            # request is refused, so is its refresh, and the 401 surfaces without a loop.
            assert unwrap(logout.sync_detailed(client=client)) is None
            calls.seen.clear()
            raises_problem(lambda: unwrap(list_projects.sync_detailed(client=client)), 401, "unauthenticated")
            assert calls.seen == ["GET /v1/projects", "POST /v1/auth/refresh"]
            assert changes[-1:] == [None]
            assert auth.tokens() is None
            raises_problem(lambda: unwrap(get_me.sync_detailed(client=client)), 401, "unauthenticated")
            assert calls.count("POST /v1/auth/refresh") == 1

            # The helper ends the second device's session and forgets it.
            log_out(device)
            assert device.session.tokens() is None
        with Tenantry(s.base_url, bearer_token=second.access_token) as ended:
            raises_problem(lambda: unwrap(get_me.sync_detailed(client=ended)), 401, "unauthenticated")


def test_sessions_async_single_flight_refresh_and_logout() -> None:
    s = settings()
    calls = Calls()
    changes: list[AuthSession | None] = []

    async def go() -> None:
        hooks = {"request": [calls.ahook]}
        auth = SessionAuth(on_session_change=changes.append)
        async with Tenantry(s.base_url, session=auth, httpx_args={"event_hooks": hooks}) as client:
            body = SignupIn(email=unique_email("async"), password=PASSWORD, name="Grace", tenant_name=f"py {RUN}")
            signed = await asign_up(client, body)
            assert signed.role == Role.OWNER

            async def create(i: int) -> Project:
                project_in = ProjectIn(name=f"async {i}")
                return unwrap(await create_project.asyncio_detailed(client=client, body=project_in))

            # A refused access token: three writes at once (tasks), one refresh, each body sent again.
            auth.set(SessionTokens(access_token=corrupted(signed.access_token), refresh_token=signed.refresh_token))
            calls.seen.clear()
            created = await asyncio.gather(*(create(i) for i in range(3)))
            assert sorted(p.name for p in created) == ["async 0", "async 1", "async 2"]
            assert calls.count("POST /v1/auth/refresh") == 1, calls.seen
            assert calls.count("POST /v1/projects") == 6
            listed = [p.id async for p in apaginate(list_projects, client)]
            assert sorted(listed) == sorted(p.id for p in created), "each project made once"
            assert changes[-1] is not None and changes[-1].refresh_token != signed.refresh_token

            fresh = await auth.arefresh()
            assert held(auth).access_token == fresh.access_token

            await alog_out(client)
            assert auth.tokens() is None and changes[-1:] == [None]
            calls.seen.clear()
            with pytest.raises(ProblemError) as caught:
                unwrap(await list_projects.asyncio_detailed(client=client))
            assert (caught.value.status, caught.value.code) == (401, "unauthenticated")
            assert calls.seen == ["GET /v1/projects"], "signed out: nothing to refresh"
            with pytest.raises(ProblemError) as caught:
                await auth.arefresh()
            assert caught.value.status == 401

    asyncio.run(go())


CLI_ENV_VARS = ("TENANTRY_BIN", "DATABASE_URL", "TENANTRY_DATA_DIR")


def add_member(tenant_slug: str, email: str, role: str) -> dict[str, str]:
    """Adds the person ``email`` to a tenant with the server's CLI; its JSON answer."""
    missing = [name for name in CLI_ENV_VARS if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"missing environment variable(s) {', '.join(missing)}: the tenant-switch test runs "
            "`tenantry member add` against the server's database (TENANTRY_BIN, DATABASE_URL, TENANTRY_DATA_DIR).",
            pytrace=False,
        )
    out = subprocess.run(
        [os.environ["TENANTRY_BIN"], "member", "add", "--tenant", tenant_slug, "--email", email, "--role", role],
        env={**os.environ, "TENANTRY_LOG": "warn"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, f"tenantry member add failed: {out.stderr}"
    answer: dict[str, str] = json.loads(out.stdout)
    return answer


def test_switch_tenant_moves_the_session_to_another_tenant() -> None:
    s = settings()
    changes: list[AuthSession | None] = []
    auth = SessionAuth(on_session_change=changes.append)
    email = unique_email("switch-a")
    with (
        Tenantry(s.base_url, session=auth) as ada,
        Tenantry(s.base_url, session=SessionAuth()) as bea,
        full_client() as client,
    ):
        home = sign_up(ada, SignupIn(email=email, password=PASSWORD, name="Ada", tenant_name=f"py home {RUN}"))
        other = sign_up(
            bea,
            SignupIn(email=unique_email("switch-b"), password=PASSWORD, name="Bea", tenant_name=f"py other {RUN}"),
        )
        added = add_member(other.tenant.slug, email, "viewer")
        assert (added["tenant_id"], added["role"]) == (str(other.tenant.id), "viewer")
        assert unwrap(get_tenant.sync_detailed(client=ada)).id == home.tenant.id

        before = held(auth)
        changes.clear()
        switched = switch_tenant(ada, other.tenant.slug)
        assert (switched.tenant.id, switched.role) == (other.tenant.id, Role.VIEWER)
        assert switched.session_id == home.session_id, "the same session"
        assert switched.access_token != before.access_token
        assert switched.refresh_token != before.refresh_token
        assert changes == [switched], "told once"
        now = held(auth)
        assert (now.access_token, now.refresh_token) == (switched.access_token, switched.refresh_token)

        # The client now answers for the other tenant; the previous access token is refused.
        assert unwrap(get_tenant.sync_detailed(client=ada)).id == other.tenant.id
        assert unwrap(get_me.sync_detailed(client=ada)).tenant_id == other.tenant.id
        with Tenantry(s.base_url, bearer_token=before.access_token) as previous:
            raises_problem(lambda: unwrap(get_tenant.sync_detailed(client=previous)), 401, "unauthenticated")

        # A tenant the person does not belong to (the suite's own): 404, and the session stays.
        foreign = unwrap(get_tenant.sync_detailed(client=client))
        raises_problem(lambda: switch_tenant(ada, foreign.slug), 404, "not_found")
        assert held(auth) == now
        assert len(changes) == 1

        # And back, by id, through the async client.
        async def back() -> AuthSession:
            session = await aswitch_tenant(ada, str(home.tenant.id))
            assert unwrap(await get_tenant.asyncio_detailed(client=ada)).id == home.tenant.id
            return session

        returned = asyncio.run(back())
        assert (returned.tenant.id, returned.role) == (home.tenant.id, Role.OWNER)
        assert changes[-1] == returned
        log_out(ada)
        log_out(bea)


def limited_settings() -> tuple[str, str]:
    """The rate-limited server (2 requests a second per tenant) and a key of a tenant of its own."""
    missing = [name for name in ("TENANTRY_LIMITED_BASE_URL", "TENANTRY_LIMITED_API_KEY") if not os.environ.get(name)]
    if missing:
        pytest.fail(f"missing environment variable(s) {', '.join(missing)}", pytrace=False)
    return os.environ["TENANTRY_LIMITED_BASE_URL"], os.environ["TENANTRY_LIMITED_API_KEY"]


def test_a_spent_budget_is_a_429_with_retry_after_and_sent_again_when_asked() -> None:
    base_url, key = limited_settings()
    with Tenantry(base_url, api_key=key) as plain:
        first = list_projects.sync_detailed(client=plain)
        assert first.headers["RateLimit-Policy"] == '"tenant";q=2;w=1'
        assert first.headers["RateLimit"].startswith('"tenant";r=')
        refused = None
        for _ in range(10):
            response = list_projects.sync_detailed(client=plain)
            if response.status_code == 429:
                refused = response
                break
        assert refused is not None, "the budget ran out"
        error = ProblemError.from_response(refused)
        assert (error.status, error.code, error.retry_after) == (429, "rate_limited", 1)

    # Opted in, every write lands once, its body sent again as it was: sync and async.
    names = [unique(f"retried-{n}") for n in range(6)]
    with Tenantry(base_url, api_key=key, retry_rate_limited=True) as client:
        made = [unwrap(create_project.sync_detailed(client=client, body=ProjectIn(name=name))) for name in names[:3]]

    async def concurrently() -> list[Project]:
        async with Tenantry(base_url, api_key=key, retry_rate_limited=True) as client:
            answers = await asyncio.gather(
                *(create_project.asyncio_detailed(client=client, body=ProjectIn(name=name)) for name in names[3:])
            )
            return [unwrap(answer) for answer in answers]

    made += asyncio.run(concurrently())
    assert sorted(p.name for p in made) == sorted(names)

    # A wait longer than allowed answers the 429.
    with Tenantry(base_url, api_key=key, retry_rate_limited=RateLimitRetry(max_wait=0)) as impatient:
        statuses = [list_projects.sync_detailed(client=impatient).status_code for _ in range(10)]
    assert 429 in statuses

    with Tenantry(base_url, api_key=key, retry_rate_limited=True) as client:
        for project in made:
            unwrap(delete_project.sync_detailed(project.id, client=client))
