"""A local stand-in for a deployed CrewAI AMP crew: its REST API, its webhooks and fault knobs."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hmac
import json
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import httpx
from aiohttp import web

logger = logging.getLogger(__name__)

RUNNING = "running"
PENDING_HUMAN_INPUT = "Pending Human Input"
COMPLETED = "completed"
ERROR = "error"

ROUTES = ("kickoff", "resume", "status", "inputs", "health")
WEBHOOK_TIMEOUT = 30.0
WEBHOOK_FIELDS = ("taskWebhookUrl", "stepWebhookUrl", "crewWebhookUrl")

_STATES = {
    RUNNING: "RUNNING",
    PENDING_HUMAN_INPUT: "PENDING_HUMAN_INPUT",
    COMPLETED: "SUCCESS",
    ERROR: "FAILED",
}

# Field names of the human-input notification per style, since AMP does not publish them:
# (execution id, task id, task output, task name, crew name).
_NOTIFICATION_KEYS = {
    "snake": ("execution_id", "task_id", "output", "task_name", "crew_name"),
    "kickoff": ("kickoff_id", "task_id", "task_output", "task_name", "crew_name"),
    "camel": ("executionId", "taskId", "raw", "taskName", "crewName"),
    "result": ("execution_id", "taskId", "result", "task_name", "crew_name"),
}
PAYLOAD_STYLES = tuple(_NOTIFICATION_KEYS)

Handler = Callable[[web.Request, object], Awaitable[web.StreamResponse]]
WebhookKind = Literal["step", "task", "crew", "human_input"]


@dataclass
class SimTask:
    """One task of the simulated crew; `key` is the task id AMP expects back in /resume."""

    key: str
    name: str
    human_input: bool = False
    outputs: list[str] = field(default_factory=list)
    description: str = ""
    expected_output: str = ""
    agent: str = "Crew Agent"
    error: str | None = None

    def output_for(self, attempt: int, inputs: Mapping[str, Any], feedback: str | None) -> str:
        """The output of attempt `attempt` (counted from 1), generated when `outputs` is empty."""
        if self.outputs:
            return self.outputs[min(attempt, len(self.outputs)) - 1]

        about = ", ".join(f"{name}={value}" for name, value in inputs.items()) or "no inputs"
        text = f"{self.name} result for {about} (attempt {attempt})."
        if feedback is not None:
            text += f" Revised after feedback: {feedback}"
        return text


def default_tasks() -> list[SimTask]:
    """A research task that waits for a human, then a writing task that does not."""
    return [
        SimTask(
            key="research_task",
            name="Industry Research Task",
            human_input=True,
            description="Research the latest developments on the topic.",
            expected_output="A list of the ten most relevant findings.",
            agent="Senior Researcher",
        ),
        SimTask(
            key="writing_task",
            name="Report Writing Task",
            description="Turn the research findings into a short report.",
            expected_output="A report in Markdown.",
            agent="Reporting Analyst",
        ),
    ]


@dataclass(frozen=True)
class SimDecision:
    """One accepted /resume: the decision on one attempt of one task."""

    task_id: str
    attempt: int
    human_feedback: str
    is_approve: bool


@dataclass(frozen=True)
class SimDelivery:
    """One webhook of an execution; `url` is None when it was skipped for want of a URL."""

    kind: WebhookKind
    url: str | None
    payload: dict[str, Any]
    status_code: int | None = None
    error: str | None = None

    @property
    def sent(self) -> bool:
        """Whether a delivery was attempted."""
        return self.url is not None


@dataclass
class SimExecution:
    """The state of one simulated execution, named by its kickoff id."""

    kickoff_id: str
    inputs: dict[str, Any]
    meta: dict[str, Any] | None = None
    task_webhook_url: str | None = None
    step_webhook_url: str | None = None
    crew_webhook_url: str | None = None
    human_input_webhook: dict[str, Any] | None = None
    state: str = RUNNING
    task_index: int = 0
    attempt: int = 1
    current_output: str | None = None
    task_outputs: dict[str, str] = field(default_factory=dict)
    feedback: list[str] = field(default_factory=list)
    decisions: list[SimDecision] = field(default_factory=list)
    deliveries: list[SimDelivery] = field(default_factory=list)
    error: str | None = None
    # The state is final before the last webhooks leave; this turns true once the run has stopped.
    finished: bool = False
    # Set once the first human-input notification has been delivered, or has failed to be.
    notified: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    decided: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def webhook_urls(self) -> dict[str, str | None]:
        """The legacy webhook URLs in force, by AMP's field names."""
        return {
            "taskWebhookUrl": self.task_webhook_url,
            "stepWebhookUrl": self.step_webhook_url,
            "crewWebhookUrl": self.crew_webhook_url,
        }

    def sent(self, kind: WebhookKind) -> list[SimDelivery]:
        """The deliveries of one kind that were attempted, in order."""
        return [d for d in self.deliveries if d.kind == kind and d.sent]


@dataclass(frozen=True)
class _Fault:
    kind: Literal["fail", "hang", "drop", "process_then_fail"]
    status: int = 500
    body: dict[str, Any] | None = None
    seconds: float = 0.0


class CrewSimulator:
    """A simulated deployed crew: AMP's REST API, its webhooks, and knobs to make it misbehave."""

    def __init__(
        self,
        *,
        token: str = "sim-token",
        crew_name: str = "Research Crew",
        inputs: list[str] | None = None,
        tasks: list[SimTask] | None = None,
        step_delay: float = 0.0,
        payload_style: str = "snake",
    ) -> None:
        self.token = token
        self.crew_name = crew_name
        self.inputs = list(inputs) if inputs is not None else ["topic"]
        self.tasks = list(tasks) if tasks is not None else default_tasks()
        if not self.tasks:
            raise ValueError("a simulated crew needs at least one task")
        self.step_delay = step_delay
        self.payload_style = payload_style
        self.notify_before_kickoff_answer = False

        self.kickoff_calls: list[dict[str, Any]] = []
        self.resume_calls: list[dict[str, Any]] = []
        self.executions: dict[str, SimExecution] = {}

        self._faults: dict[str, deque[_Fault]] = {route: deque() for route in ROUTES}
        self._runs: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    @property
    def payload_style(self) -> str:
        """Field naming of the human-input notification: one of PAYLOAD_STYLES."""
        return self._payload_style

    @payload_style.setter
    def payload_style(self, style: str) -> None:
        if style not in _NOTIFICATION_KEYS:
            raise ValueError(f"payload_style must be one of {', '.join(PAYLOAD_STYLES)}")
        self._payload_style = style

    def web_app(self) -> web.Application:
        """The aiohttp application; its cleanup cancels running executions."""
        app = web.Application()
        app.cleanup_ctx.append(self._lifespan)
        app.router.add_get("/", self._route("health", self._health))
        app.router.add_get("/inputs", self._route("inputs", self._inputs))
        app.router.add_post("/kickoff", self._route("kickoff", self._kickoff))
        app.router.add_post("/resume", self._route("resume", self._resume))
        app.router.add_get("/status/{kickoff_id}", self._route("status", self._status))
        app.router.add_get("/{kickoff_id}/status", self._route("status", self._status))
        return app

    def fail_next(
        self, route: str, *, status: int, body: dict[str, Any] | None = None, times: int = 1
    ) -> None:
        """Answer the next `times` calls of `route` with `status` and `body`, unprocessed."""
        self._add_fault(route, _Fault("fail", status=status, body=body), times)

    def hang_next(self, route: str, *, seconds: float, times: int = 1) -> None:
        """Sleep `seconds` before handling each of the next `times` calls of `route` normally."""
        self._add_fault(route, _Fault("hang", seconds=seconds), times)

    def drop_next(self, route: str, *, times: int = 1) -> None:
        """Read, then close the connection of the next `times` calls of `route`, unprocessed."""
        self._add_fault(route, _Fault("drop"), times)

    def process_then_fail_next(self, route: str, *, status: int, times: int = 1) -> None:
        """Handle the next `times` calls of `route` for real, then answer `status` instead."""
        self._add_fault(route, _Fault("process_then_fail", status=status), times)

    def clear_faults(self) -> None:
        """Forget every fault still waiting to happen."""
        for faults in self._faults.values():
            faults.clear()

    # The timeout is an argument, not a scope, so that a failure names the condition waited for.
    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll `predicate` until it holds; raise TimeoutError after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() >= deadline:
                name = getattr(predicate, "__qualname__", repr(predicate))
                raise TimeoutError(f"condition {name} still false after {timeout:g} s")
            await asyncio.sleep(0.01)

    def _add_fault(self, route: str, fault: _Fault, times: int) -> None:
        if route not in self._faults:
            raise ValueError(f"unknown route {route!r}; expected one of {', '.join(ROUTES)}")
        self._faults[route].extend([fault] * times)

    async def _lifespan(self, app: web.Application) -> AsyncIterator[None]:
        self._client = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT)
        yield
        for run in list(self._runs):
            run.cancel()
        await asyncio.gather(*self._runs, return_exceptions=True)
        await self._client.aclose()
        self._client = None

    def _route(
        self, name: str, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap `handler` with body recording, then fault knobs, then the bearer-token check."""
        calls = {"kickoff": self.kickoff_calls, "resume": self.resume_calls}.get(name)

        async def handle(request: web.Request) -> web.StreamResponse:
            body = await _read_json(request) if request.method == "POST" else None
            if calls is not None and isinstance(body, dict):
                calls.append(body)

            fault = self._faults[name].popleft() if self._faults[name] else None
            if fault is not None and fault.kind == "drop":
                logger.info("Dropping a %s request without an answer", name)
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=HTTPStatus.INTERNAL_SERVER_ERROR)
            if fault is not None and fault.kind == "fail":
                logger.info("Failing a %s request with %d", name, fault.status)
                return _fault_response(fault.status, fault.body, "Simulated failure")
            if fault is not None and fault.kind == "hang":
                logger.info("Holding a %s request for %g s", name, fault.seconds)
                await asyncio.sleep(fault.seconds)

            if not self._authorized(request):
                return _error(401, "Unauthorized", "Invalid or missing bearer token")
            response = await handler(request, body)

            if fault is not None and fault.kind == "process_then_fail":
                logger.info("Answering a processed %s request with %d", name, fault.status)
                message = "Simulated failure after the request was processed"
                return _fault_response(fault.status, None, message)
            return response

        return handle

    def _authorized(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        return hmac.compare_digest(given, f"Bearer {self.token}".encode())

    async def _health(self, request: web.Request, body: object) -> web.StreamResponse:
        return web.Response(text="Healthy")

    async def _inputs(self, request: web.Request, body: object) -> web.StreamResponse:
        return web.json_response({"inputs": self.inputs})

    async def _kickoff(self, request: web.Request, body: object) -> web.StreamResponse:
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), dict):
            return _error(400, "Invalid Request", "Body must be a JSON object with inputs")
        problem = _webhook_problem(body)
        if problem is None and body.get("meta") is not None and not isinstance(body["meta"], dict):
            problem = "meta must be an object"
        if problem is not None:
            return _error(400, "Invalid Request", problem)

        inputs: dict[str, Any] = body["inputs"]
        missing = [name for name in self.inputs if inputs.get(name) is None]
        if missing:
            return web.json_response(
                {
                    "error": "Validation Error",
                    "message": "Missing required inputs",
                    "details": {"missing_inputs": missing},
                },
                status=422,
            )

        execution = SimExecution(
            kickoff_id=str(uuid.uuid4()),
            inputs=dict(inputs),
            meta=body.get("meta"),
            task_webhook_url=body.get("taskWebhookUrl"),
            step_webhook_url=body.get("stepWebhookUrl"),
            crew_webhook_url=body.get("crewWebhookUrl"),
            human_input_webhook=body.get("humanInputWebhook"),
        )
        self.executions[execution.kickoff_id] = execution
        run = self._spawn(self._run(execution))
        logger.info("Kickoff accepted: execution_id=%s", execution.kickoff_id)

        if self.notify_before_kickoff_answer:
            notified = asyncio.create_task(execution.notified.wait())
            await asyncio.wait({notified, run}, return_when=asyncio.FIRST_COMPLETED)
            notified.cancel()
        return web.json_response({"kickoff_id": execution.kickoff_id})

    async def _status(self, request: web.Request, body: object) -> web.StreamResponse:
        kickoff_id = request.match_info["kickoff_id"]
        execution = self.executions.get(kickoff_id)
        if execution is None:
            return _error(404, "Execution not found", f"No execution with id {kickoff_id}")
        return web.json_response(self._status_body(execution))

    def _status_body(self, execution: SimExecution) -> dict[str, Any]:
        status: dict[str, Any] = {
            "status": execution.state,
            "state": _STATES.get(execution.state, execution.state),
        }
        if execution.state == COMPLETED:
            tasks = [{"task_id": k, "output": o} for k, o in execution.task_outputs.items()]
            final = execution.task_outputs.get(self.tasks[-1].key)
            status["result"] = {"output": final, "tasks": tasks}
            return status
        if execution.state == ERROR:
            status["error"] = execution.error
            return status

        current = self._current_task(execution)
        status["current_task"] = current.name if current is not None else None
        status["progress"] = {
            "completed_tasks": execution.task_index,
            "total_tasks": len(self.tasks),
        }
        if execution.state == PENDING_HUMAN_INPUT and current is not None:
            status["task_id"] = current.key
            status["output"] = execution.current_output
        return status

    async def _resume(self, request: web.Request, body: object) -> web.StreamResponse:
        if not isinstance(body, dict):
            return _error(400, "Invalid Request", "Body must be a JSON object")
        problem = _resume_problem(body)
        if problem is not None:
            return _error(400, "Invalid Request", problem)

        execution = self.executions.get(body["execution_id"])
        if execution is None:
            return _error(404, "Not Found", "Execution ID not found")
        current = self._current_task(execution)
        if execution.state != PENDING_HUMAN_INPUT or current is None:
            message = "Execution is not in pending human input state"
            return _error(400, "Invalid Request", message)
        if body["task_id"] != current.key:
            return _error(404, "Not Found", "Task ID not found")

        status = self._apply_decision(execution, current, body)
        messages = {
            "resumed": "Execution resumed successfully",
            "completed": "Execution completed successfully",
            "retrying": "Task will be retried with your feedback",
        }
        return web.json_response({"status": status, "message": messages[status]})

    def _apply_decision(self, execution: SimExecution, task: SimTask, body: dict[str, Any]) -> str:
        """Record a valid /resume and move the execution on; the run picks it up from here."""
        # AMP does not carry webhook URLs over from the kickoff: one left out here is gone.
        dropped = [
            name for name, url in execution.webhook_urls.items() if url and not body.get(name)
        ]
        if dropped:
            logger.info(
                "Resume without %s: those webhooks stop for execution_id=%s",
                ", ".join(dropped),
                execution.kickoff_id,
            )
        execution.task_webhook_url = body.get("taskWebhookUrl")
        execution.step_webhook_url = body.get("stepWebhookUrl")
        execution.crew_webhook_url = body.get("crewWebhookUrl")
        # Whether AMP needs humanInputWebhook again is undocumented; keep the kickoff's if absent.
        if body.get("humanInputWebhook") is not None:
            execution.human_input_webhook = body["humanInputWebhook"]

        decision = SimDecision(
            task_id=task.key,
            attempt=execution.attempt,
            human_feedback=body["human_feedback"],
            is_approve=body["is_approve"],
        )
        execution.decisions.append(decision)
        execution.feedback.append(decision.human_feedback)
        logger.info(
            "Decision received: execution_id=%s task_id=%s attempt=%d approve=%s",
            execution.kickoff_id,
            task.key,
            decision.attempt,
            decision.is_approve,
        )

        if decision.is_approve:
            self._finish_task(execution, task, execution.current_output or "")
            status = "completed" if execution.state == COMPLETED else "resumed"
        else:
            execution.attempt += 1
            execution.state = RUNNING
            status = "retrying"
        execution.decided.set()
        return status

    def _current_task(self, execution: SimExecution) -> SimTask | None:
        if execution.task_index < len(self.tasks):
            return self.tasks[execution.task_index]
        return None

    def _finish_task(self, execution: SimExecution, task: SimTask, output: str) -> None:
        execution.task_outputs[task.key] = output
        execution.task_index += 1
        execution.attempt = 1
        execution.state = COMPLETED if execution.task_index >= len(self.tasks) else RUNNING

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        run = asyncio.create_task(coro)
        self._runs.add(run)
        run.add_done_callback(self._runs.discard)
        return run

    async def _run(self, execution: SimExecution) -> None:
        """Run the crew's tasks in order; a crash ends the execution in the error state."""
        try:
            await self._run_tasks(execution)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("Simulated execution crashed: execution_id=%s", execution.kickoff_id)
            execution.state = ERROR
            execution.error = str(exc)
        finally:
            execution.finished = True

    async def _run_tasks(self, execution: SimExecution) -> None:
        while (task := self._current_task(execution)) is not None:
            await self._pause()
            step = self._step_payload(execution, task)
            await self._deliver(execution, "step", execution.step_webhook_url, step)
            await self._pause()

            if task.error is not None:
                logger.warning(
                    "Simulated task failed: execution_id=%s task_id=%s",
                    execution.kickoff_id,
                    task.key,
                )
                execution.state = ERROR
                execution.error = task.error
                return

            output = task.output_for(
                execution.attempt, execution.inputs, self._revision_feedback(execution, task)
            )
            execution.current_output = output
            if task.human_input:
                if not await self._await_decision(execution, task, output):
                    continue
            else:
                self._finish_task(execution, task, output)
            payload = self._task_payload(execution, task, output)
            await self._deliver(execution, "task", execution.task_webhook_url, payload)

        await self._pause()
        logger.info("Simulated execution completed: execution_id=%s", execution.kickoff_id)
        crew = self._crew_payload(execution)
        await self._deliver(execution, "crew", execution.crew_webhook_url, crew)

    async def _await_decision(self, execution: SimExecution, task: SimTask, output: str) -> bool:
        """Pause for a human, notify, and wait for /resume; True when the output was approved."""
        # The state is pending before the notification leaves, so a resume sent from inside
        # the receiver's webhook handler is accepted.
        execution.decided.clear()
        execution.state = PENDING_HUMAN_INPUT
        logger.info(
            "Pending human input: execution_id=%s task_id=%s attempt=%d",
            execution.kickoff_id,
            task.key,
            execution.attempt,
        )

        hook = execution.human_input_webhook
        url = hook.get("url") if hook is not None else None
        headers = _authorization(hook.get("authentication") if hook is not None else None)
        payload = self._notification(execution, task, output)
        await self._deliver(execution, "human_input", url, payload, headers)
        execution.notified.set()

        await execution.decided.wait()
        return execution.decisions[-1].is_approve

    async def _pause(self) -> None:
        if self.step_delay > 0:
            await asyncio.sleep(self.step_delay)

    async def _deliver(
        self,
        execution: SimExecution,
        kind: WebhookKind,
        url: str | None,
        payload: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        """POST one webhook once, as AMP does: no retry, and a failure only logs a warning."""
        if not url:
            execution.deliveries.append(SimDelivery(kind, None, payload))
            return

        host = httpx.URL(url).host if url.startswith(("http://", "https://")) else "?"
        try:
            if self._client is None:
                raise RuntimeError("the simulator's web app is not running")
            response = await self._client.post(url, json=payload, headers=headers)
        # A receiver's failure must never end the run, whatever it is.
        except Exception as exc:
            logger.warning(
                "Webhook delivery failed: kind=%s execution_id=%s host=%s error=%r",
                kind,
                execution.kickoff_id,
                host,
                exc,
            )
            execution.deliveries.append(SimDelivery(kind, url, payload, error=repr(exc)))
            return

        if response.is_error:
            logger.warning(
                "Webhook refused: kind=%s execution_id=%s host=%s status=%d",
                kind,
                execution.kickoff_id,
                host,
                response.status_code,
            )
        execution.deliveries.append(
            SimDelivery(kind, url, payload, status_code=response.status_code)
        )

    def _revision_feedback(self, execution: SimExecution, task: SimTask) -> str | None:
        for decision in reversed(execution.decisions):
            if decision.task_id == task.key and not decision.is_approve:
                return decision.human_feedback
        return None

    def _notification(self, execution: SimExecution, task: SimTask, output: str) -> dict[str, Any]:
        keys = _NOTIFICATION_KEYS[self.payload_style]
        execution_key, task_key, output_key, name_key, crew_key = keys
        return {
            execution_key: execution.kickoff_id,
            task_key: task.key,
            name_key: task.name,
            output_key: output,
            crew_key: self.crew_name,
            "attempt": execution.attempt,
            "meta": execution.meta,
        }

    def _step_payload(self, execution: SimExecution, task: SimTask) -> dict[str, Any]:
        return {
            "prompt": task.description or f"Complete the {task.name}.",
            "thought": f"I will work on the {task.name}, attempt {execution.attempt}.",
            "tool": "Search the internet",
            "tool_input": json.dumps(execution.inputs),
            "result": f"Found sources for the {task.name}.",
            "kickoff_id": execution.kickoff_id,
            "meta": execution.meta,
        }

    def _task_payload(self, execution: SimExecution, task: SimTask, output: str) -> dict[str, Any]:
        description = task.description or f"Complete the {task.name}."
        return {
            "description": description,
            "name": task.name,
            "expected_output": task.expected_output,
            "summary": " ".join(description.split()[:10]) + "...",
            "agent": task.agent,
            "output": output,
            "output_json": None,
            "kickoff_id": execution.kickoff_id,
            "meta": execution.meta,
        }

    def _crew_payload(self, execution: SimExecution) -> dict[str, Any]:
        outputs = list(execution.task_outputs.values())
        completion = sum(len(output.split()) for output in outputs)
        prompt = sum(len((task.description or task.name).split()) for task in self.tasks) * 40
        return {
            "kickoff_id": execution.kickoff_id,
            "result": outputs[-1] if outputs else None,
            "result_json": None,
            "token_usage": {
                "total_tokens": prompt + completion,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
            },
            "meta": execution.meta,
        }


async def _read_json(request: web.Request) -> object:
    """The request body parsed as JSON, or None when it is not JSON."""
    raw = await request.read()
    try:
        parsed: object = json.loads(raw)
    except ValueError:
        return None
    return parsed


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


def _fault_response(status: int, body: dict[str, Any] | None, message: str) -> web.Response:
    if body is not None:
        return web.json_response(body, status=status)
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    return _error(status, title, message)


def _authorization(authentication: object) -> dict[str, str]:
    """The Authorization header a humanInputWebhook's authentication asks for."""
    if not isinstance(authentication, dict):
        return {}
    if authentication.get("strategy") == "bearer":
        return {"Authorization": f"Bearer {authentication.get('token', '')}"}
    if authentication.get("strategy") == "basic":
        pair = f"{authentication.get('username', '')}:{authentication.get('password', '')}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    return {}


def _webhook_problem(body: Mapping[str, Any]) -> str | None:
    """Why the webhook fields of a kickoff or resume body are unusable, or None."""
    for name in WEBHOOK_FIELDS:
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} must be a string"

    hook = body.get("humanInputWebhook")
    if hook is None:
        return None
    if not isinstance(hook, dict) or not isinstance(hook.get("url"), str):
        return "humanInputWebhook must be an object with a url"
    authentication = hook.get("authentication")
    if authentication is None:
        return None
    if not isinstance(authentication, dict):
        return "humanInputWebhook.authentication must be an object"
    strategy = authentication.get("strategy")
    if strategy == "bearer" and isinstance(authentication.get("token"), str):
        return None
    if (
        strategy == "basic"
        and isinstance(authentication.get("username"), str)
        and isinstance(authentication.get("password"), str)
    ):
        return None
    return "humanInputWebhook.authentication needs bearer with a token or basic with credentials"


def _resume_problem(body: Mapping[str, Any]) -> str | None:
    """Why a /resume body is unusable, or None."""
    for name in ("execution_id", "task_id", "human_feedback"):
        if not isinstance(body.get(name), str):
            return f"{name} is required and must be a string"
    if not isinstance(body.get("is_approve"), bool):
        return "is_approve is required and must be a boolean"
    return _webhook_problem(body)


async def serve(host: str, port: int, sim: CrewSimulator) -> None:
    """Serve `sim` on host:port until cancelled."""
    runner = web.AppRunner(sim.web_app())
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1] if runner.addresses else port
        # The simulator's token is its own throwaway credential, printed so it can be copied.
        logger.info(
            "Simulated crew %r at http://%s:%d, token %s",
            sim.crew_name,
            host,
            bound_port,
            sim.token,
        )
        await asyncio.get_running_loop().create_future()
    finally:
        await runner.cleanup()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.simulator",
        description="Run a simulated CrewAI AMP crew locally, for use without an AMP deployment.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--token", default="sim-token", help="the bearer token to require")
    parser.add_argument("--crew-name", default="Research Crew")
    parser.add_argument(
        "--inputs", default="topic", help="comma-separated required inputs, e.g. topic,audience"
    )
    parser.add_argument(
        "--step-delay", type=float, default=0.5, help="seconds between simulated steps"
    )
    parser.add_argument("--payload-style", choices=PAYLOAD_STYLES, default="snake")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the simulator from the command line until interrupted."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sim = CrewSimulator(
        token=args.token,
        crew_name=args.crew_name,
        inputs=[name.strip() for name in args.inputs.split(",") if name.strip()],
        step_delay=args.step_delay,
        payload_style=args.payload_style,
    )

    print(
        f"Point the bot at it: CREWAI_URL=http://{args.host}:{args.port} CREWAI_TOKEN={sim.token}",
        flush=True,
    )
    try:
        asyncio.run(serve(args.host, args.port, sim))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        logger.error("Cannot serve on %s:%d: %s", args.host, args.port, exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
