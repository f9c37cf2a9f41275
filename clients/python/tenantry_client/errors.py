"""Typed errors built from the server's RFC 9457 ``application/problem+json`` bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol, TypeVar, cast

from .generated.models import Problem
from .generated.types import Unset

__all__ = ["FieldError", "ProblemError", "SupportsResponse", "unwrap"]

T = TypeVar("T")
P_co = TypeVar("P_co", covariant=True)

#: ``code`` of a ProblemError made from an error response whose body is not a problem document.
UNEXPECTED_RESPONSE = "unexpected_response"


class SupportsResponse(Protocol[P_co]):
    """What ``unwrap`` needs of a response: the generated ``types.Response`` fits."""

    @property
    def status_code(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def parsed(self) -> P_co | None: ...


@dataclass(frozen=True)
class FieldError:
    """One offending field of a request, from the ``errors`` member of a problem."""

    field: str
    message: str
    code: str


class ProblemError(Exception):
    """A non-2xx answer of the Tenantry API.

    ``status``, ``type``, ``title``, ``detail`` and ``code`` are the members of the
    problem document; ``errors`` lists every offending field of a 422 (empty
    otherwise); ``body`` is the raw response body; ``retry_after`` the seconds its
    ``Retry-After`` header said to wait (a ``429`` or ``503``), ``None`` when absent.
    """

    status: int
    type: str
    title: str
    detail: str
    code: str
    errors: list[FieldError]
    body: bytes
    retry_after: int | None

    def __init__(
        self,
        *,
        status: int,
        type: str,  # noqa: A002 - the RFC 9457 member name
        title: str,
        detail: str,
        code: str,
        errors: list[FieldError] | None = None,
        body: bytes = b"",
        retry_after: int | None = None,
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.code = code
        self.errors = list(errors or [])
        self.body = body
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.detail or self.title}"
        if self.errors:
            text += " (" + "; ".join(f"{e.field}: {e.message} [{e.code}]" for e in self.errors) + ")"
        return text

    def __repr__(self) -> str:
        return (
            f"ProblemError(status={self.status!r}, code={self.code!r}, title={self.title!r}, "
            f"detail={self.detail!r}, errors={self.errors!r})"
        )

    def field_codes(self) -> dict[str, str]:
        """``{field: code}`` of every offending field (the last one wins for a field named twice)."""
        return {e.field: e.code for e in self.errors}

    @classmethod
    def from_problem(cls, problem: Problem, *, body: bytes = b"") -> ProblemError:
        """Builds the error from a problem the generated code has parsed."""
        errors: list[FieldError] = []
        if not isinstance(problem.errors, Unset):
            errors = [FieldError(field=e.field, message=e.message, code=e.code) for e in problem.errors]
        return cls(
            status=problem.status,
            type=problem.type_,
            title=problem.title,
            detail=problem.detail,
            code=problem.code,
            errors=errors,
            body=body,
        )

    @classmethod
    def from_response(cls, response: SupportsResponse[object]) -> ProblemError:
        """Builds the error from any non-2xx response.

        Uses the problem the generated code parsed when there is one, else parses
        the body as a problem document (for statuses the spec does not list for the
        operation), else describes the response as it is.
        """
        error = cls._from_body(response)
        error.retry_after = _retry_after(response)
        return error

    @classmethod
    def _from_body(cls, response: SupportsResponse[object]) -> ProblemError:
        if isinstance(response.parsed, Problem):
            return cls.from_problem(response.parsed, body=response.content)
        status = int(response.status_code)
        document = _json_object(response.content)
        if document is not None and isinstance(document.get("code"), str):
            return cls._from_document(document, status=status, body=response.content)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unexpected status"
        detail = response.content.decode("utf-8", errors="replace").strip()[:500]
        return cls(
            status=status,
            type="about:blank",
            title=phrase,
            detail=detail or phrase,
            code=UNEXPECTED_RESPONSE,
            body=response.content,
        )

    @classmethod
    def _from_document(cls, document: Mapping[str, Any], *, status: int, body: bytes) -> ProblemError:
        code = str(document["code"])
        raw_status = document.get("status")
        errors: list[FieldError] = []
        raw_errors = document.get("errors")
        if isinstance(raw_errors, list):
            for item in raw_errors:
                if isinstance(item, Mapping):
                    errors.append(
                        FieldError(
                            field=str(item.get("field", "")),
                            message=str(item.get("message", "")),
                            code=str(item.get("code", "")),
                        )
                    )
        return cls(
            status=raw_status if isinstance(raw_status, int) and not isinstance(raw_status, bool) else status,
            type=str(document.get("type", "about:blank")),
            title=str(document.get("title", "")),
            detail=str(document.get("detail", "")),
            code=code,
            errors=errors,
            body=body,
        )


def _retry_after(response: object) -> int | None:
    """``Retry-After`` in whole seconds, when the response has headers that say so."""
    headers = getattr(response, "headers", None)
    value = headers.get("Retry-After") if isinstance(headers, Mapping) else None
    return int(value) if isinstance(value, str) and value.strip().isdigit() else None


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def unwrap(response: SupportsResponse[T | Problem]) -> T:
    """Returns the parsed 2xx body of a generated ``*_detailed`` response, or raises.

    Raises ProblemError for every non-2xx status, whether or not the generated code
    parsed its body. A 204 (the ``delete_*`` operations) returns ``None``.

    >>> project = unwrap(get_project.sync_detailed(project_id, client=client))
    """
    status = int(response.status_code)
    if not 200 <= status < 300:
        raise ProblemError.from_response(response)
    parsed = response.parsed
    if isinstance(parsed, Problem):  # a 2xx never carries a problem; kept for the type checker
        raise ProblemError.from_problem(parsed, body=response.content)
    return cast(T, parsed)
