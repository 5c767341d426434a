"""The client of a deployed CrewAI AMP crew: inputs, kickoff, status and resume."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bot.metrics import Metrics

logger = logging.getLogger(__name__)


class CrewAIError(Exception):
    """AMP answered with an error status; `error`, `message` and `details` are from its body."""

    def __init__(
        self, status: int, error: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message
        self.details = details or {}

    @property
    def not_pending(self) -> bool:
        """AMP says the execution does not wait for input (anymore)."""
        return self.status == 400 and "pending" in self.message.lower()

    @property
    def retryable(self) -> bool:
        return self.status >= 500 or self.status == 429


class CrewAIUnavailable(Exception):
    """AMP could not be reached, or did not answer in time.

    `may_have_arrived` is False only when the request certainly never reached AMP (the
    connection was refused or never opened).
    """

    def __init__(self, reason: str, *, may_have_arrived: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.may_have_arrived = may_have_arrived


@dataclass(frozen=True)
class Status:
    """AMP's live status of an execution, read from either of the fields AMP uses."""

    state: str
    raw: dict[str, Any]

    @property
    def pending_human_input(self) -> bool:
        return self.state.replace("_", " ").lower() == "pending human input"

    @property
    def finished(self) -> bool:
        return self.state.lower() in {"completed", "success", "error", "failed"}


class CrewAIClient:
    """Calls one deployed crew's REST API with its bearer token."""

    def __init__(
        self, base_url: str, token: str, *, timeout: float = 30.0, metrics: Metrics | None = None
    ) -> None:
        self._metrics = metrics or Metrics()
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def health(self) -> str:
        response = await self._request("GET", "/")
        return response.text.strip()

    async def inputs(self) -> list[str]:
        """The crew's input names; AMP's list form and an object form are both accepted."""
        body = _json(await self._request("GET", "/inputs"))
        inputs = body.get("inputs", body)
        if isinstance(inputs, dict):
            return [str(name) for name in inputs]
        if isinstance(inputs, list):
            return [str(name) for name in inputs]
        return []

    async def kickoff(self, body: dict[str, Any]) -> str:
        """Start an execution and return its kickoff id."""
        answer = _json(await self._request("POST", "/kickoff", json=body))
        kickoff_id = answer.get("kickoff_id") or answer.get("execution_id")
        if not isinstance(kickoff_id, str) or not kickoff_id:
            raise CrewAIError(502, "Bad Gateway", "AMP's kickoff answer has no kickoff_id")
        return kickoff_id

    async def status(self, execution_id: str) -> Status:
        """The live status, from `/status/{id}` or, where that path is missing, `/{id}/status`."""
        try:
            response = await self._request("GET", f"/status/{execution_id}")
        except CrewAIError as exc:
            if exc.status != 404 or "execution" in exc.error.lower():
                raise
            response = await self._request("GET", f"/{execution_id}/status")
        body = _json(response)
        state = body.get("status") or body.get("state") or "unknown"
        return Status(state=str(state), raw=body)

    async def resume(self, body: dict[str, Any]) -> dict[str, Any]:
        """Deliver a decision; AMP answers `{"status": "resumed" | "retrying" | "completed"}`."""
        return _json(await self._request("POST", "/resume", json=body))

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call of AMP, counted in the metrics by its outcome."""
        call = _call_name(path)
        started = time.monotonic()
        try:
            response = await self._send(method, path, **kwargs)
        except CrewAIUnavailable as exc:
            outcome = "no_answer" if exc.may_have_arrived else "unreachable"
            self._metrics.amp_answered(call, outcome, time.monotonic() - started)
            raise
        self._metrics.amp_answered(call, str(response.status_code), time.monotonic() - started)
        logger.debug("AMP %s %s answered %d", method, path, response.status_code)
        if response.is_error:
            raise _error(response)
        return response

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise CrewAIUnavailable(
                f"cannot connect to AMP: {_reason(exc)}", may_have_arrived=False
            ) from None
        except httpx.ConnectTimeout:
            raise CrewAIUnavailable("connecting to AMP timed out", may_have_arrived=False) from None
        except httpx.TimeoutException:
            raise CrewAIUnavailable("AMP did not answer in time", may_have_arrived=True) from None
        except httpx.TransportError as exc:
            raise CrewAIUnavailable(
                f"the connection to AMP failed: {_reason(exc)}", may_have_arrived=True
            ) from None


def _call_name(path: str) -> str:
    """The metric label of an AMP path: health, inputs, kickoff, status or resume."""
    if path == "/":
        return "health"
    if path.startswith("/status/") or path.endswith("/status"):
        return "status"
    return path.strip("/")


def _error(response: httpx.Response) -> CrewAIError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:200] or response.reason_phrase
        return CrewAIError(response.status_code, response.reason_phrase, text)
    details = body.get("details")
    return CrewAIError(
        response.status_code,
        str(body.get("error") or response.reason_phrase),
        str(body.get("message") or body.get("detail") or body.get("error") or ""),
        details if isinstance(details, dict) else None,
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise CrewAIError(
            502, "Bad Gateway", "AMP answered with something that is not JSON"
        ) from None
    if not isinstance(body, dict):
        raise CrewAIError(502, "Bad Gateway", "AMP answered with JSON that is not an object")
    return body


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
