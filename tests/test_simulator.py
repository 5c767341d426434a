"""Tests of the simulated AMP crew, served on loopback and driven over HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot import simulator
from bot.simulator import (
    COMPLETED,
    ERROR,
    PAYLOAD_STYLES,
    PENDING_HUMAN_INPUT,
    CrewSimulator,
    SimExecution,
    SimTask,
)

TOKEN = "test-token"
HOOK_TOKEN = "hook-secret"


@dataclass
class Delivery:
    """One request the receiver got."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Receiver:
    """A webhook receiver: records every POST, answers 500 on /fail."""

    base_url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    on_human_input: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    def url(self, path: str) -> str:
        """The URL of one of the receiver's paths."""
        return f"{self.base_url}/{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        """The bodies received on one path, in order."""
        return [d.body for d in self.deliveries if d.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        """Record a delivery."""
        path = request.match_info["path"]
        body = await request.json()
        self.deliveries.append(Delivery(path, body, dict(request.headers)))
        if path == "human" and self.on_human_input is not None:
            await self.on_human_input(body)
        return web.Response(status=500 if path == "fail" else 200)


async def _start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{path}", receiver.handle)
    runner, receiver.base_url = await _start(app)
    yield receiver
    await runner.cleanup()


ServeSim = Callable[[CrewSimulator], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def serve_sim(receiver: Receiver) -> AsyncIterator[ServeSim]:
    """Serve simulators, stopped before the receiver their webhooks go to."""
    runners: list[web.AppRunner] = []
    clients: list[httpx.AsyncClient] = []

    async def start(sim: CrewSimulator) -> httpx.AsyncClient:
        runner, base_url = await _start(sim.web_app())
        runners.append(runner)
        client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=2.0,
            verify=False,
        )
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.aclose()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def sim() -> CrewSimulator:
    return CrewSimulator(token=TOKEN)


@pytest.fixture
async def amp(sim: CrewSimulator, serve_sim: ServeSim) -> httpx.AsyncClient:
    return await serve_sim(sim)


def kickoff_body(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "inputs": {"topic": "AI agents"},
        "meta": {"review": "r-1"},
        "taskWebhookUrl": receiver.url("task"),
        "stepWebhookUrl": receiver.url("step"),
        "crewWebhookUrl": receiver.url("crew"),
        "humanInputWebhook": {
            "url": receiver.url("human"),
            "authentication": {"strategy": "bearer", "token": HOOK_TOKEN},
        },
    }
    body.update(extra)
    return body


def webhook_urls(receiver: Receiver) -> dict[str, str]:
    return {
        "taskWebhookUrl": receiver.url("task"),
        "stepWebhookUrl": receiver.url("step"),
        "crewWebhookUrl": receiver.url("crew"),
    }


async def kickoff(amp: httpx.AsyncClient, receiver: Receiver, **extra: Any) -> str:
    response = await amp.post("/kickoff", json=kickoff_body(receiver, **extra))
    assert response.status_code == 200, response.text
    kickoff_id: str = response.json()["kickoff_id"]
    return kickoff_id


async def pending(sim: CrewSimulator, receiver: Receiver, count: int = 1) -> dict[str, Any]:
    """Wait for the `count`-th human-input notification and return it."""
    await sim.wait_for(lambda: len(receiver.bodies("human")) >= count)
    return receiver.bodies("human")[count - 1]


async def resume(
    amp: httpx.AsyncClient, kickoff_id: str, task_id: str, *, approve: bool, **extra: Any
) -> httpx.Response:
    body = {
        "execution_id": kickoff_id,
        "task_id": task_id,
        "human_feedback": "Looks good" if approve else "Add sources",
        "is_approve": approve,
        **extra,
    }
    return await amp.post("/resume", json=body)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/inputs"),
        ("POST", "/kickoff"),
        ("POST", "/resume"),
        ("GET", "/some-id/status"),
        ("GET", "/status/some-id"),
    ],
)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", TOKEN])
async def test_requests_without_the_bearer_token_are_refused(
    amp: httpx.AsyncClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    request = amp.build_request(method, path, json={"inputs": {"topic": "x"}})
    request.headers.pop("Authorization")
    request.headers.update(headers)

    response = await amp.send(request)

    assert response.status_code == 401
    assert response.json() == {
        "error": "Unauthorized",
        "message": "Invalid or missing bearer token",
    }


async def test_health_and_inputs(serve_sim: ServeSim) -> None:
    amp = await serve_sim(CrewSimulator(token=TOKEN, inputs=["topic", "audience"]))

    health = await amp.get("/")
    inputs = await amp.get("/inputs")

    assert health.status_code == 200
    assert health.text == "Healthy"
    assert inputs.json() == {"inputs": ["topic", "audience"]}


async def test_kickoff_without_a_required_input_is_a_validation_error(
    serve_sim: ServeSim, receiver: Receiver
) -> None:
    sim = CrewSimulator(token=TOKEN, inputs=["topic", "audience"])
    amp = await serve_sim(sim)

    response = await amp.post("/kickoff", json=kickoff_body(receiver))

    assert response.status_code == 422
    assert response.json() == {
        "error": "Validation Error",
        "message": "Missing required inputs",
        "details": {"missing_inputs": ["audience"]},
    }
    assert sim.executions == {}


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"meta": {}}',
        b'{"inputs": "topic"}',
        b'{"inputs": {"topic": "x"}, "taskWebhookUrl": 3}',
        b'{"inputs": {"topic": "x"}, "humanInputWebhook": {"url": "http://h/"'
        b', "authentication": {"strategy": "digest"}}}',
    ],
)
async def test_kickoff_with_an_unusable_body_is_an_invalid_request(
    sim: CrewSimulator, amp: httpx.AsyncClient, content: bytes
) -> None:
    response = await amp.post(
        "/kickoff", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["error"] == "Invalid Request"
    assert sim.executions == {}


async def test_an_approved_run_notifies_then_sends_every_webhook(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    kickoff_id = await kickoff(amp, receiver)

    notification = await pending(sim, receiver)
    headers = receiver.deliveries[-1].headers
    status = (await amp.get(f"/{kickoff_id}/status")).json()
    answer = await resume(amp, kickoff_id, "research_task", approve=True, **webhook_urls(receiver))
    await sim.wait_for(lambda: bool(receiver.bodies("crew")))

    assert headers["Authorization"] == f"Bearer {HOOK_TOKEN}"
    assert notification == {
        "execution_id": kickoff_id,
        "task_id": "research_task",
        "task_name": "Industry Research Task",
        "output": status["output"],
        "crew_name": "Research Crew",
        "attempt": 1,
        "meta": {"review": "r-1"},
    }
    assert "topic=AI agents" in notification["output"]
    assert status["status"] == PENDING_HUMAN_INPUT
    assert status["state"] == "PENDING_HUMAN_INPUT"
    assert status["task_id"] == "research_task"
    assert status["current_task"] == "Industry Research Task"
    assert answer.json() == {"status": "resumed", "message": "Execution resumed successfully"}

    steps, tasks, crew = (receiver.bodies(p) for p in ("step", "task", "crew"))
    assert [s["kickoff_id"] for s in steps] == [kickoff_id, kickoff_id]
    assert set(steps[0]) == {
        "prompt",
        "thought",
        "tool",
        "tool_input",
        "result",
        "kickoff_id",
        "meta",
    }
    assert [t["name"] for t in tasks] == ["Industry Research Task", "Report Writing Task"]
    assert tasks[0]["output"] == notification["output"]
    assert set(tasks[0]) == {
        "description",
        "name",
        "expected_output",
        "summary",
        "agent",
        "output",
        "output_json",
        "kickoff_id",
        "meta",
    }
    assert crew[0]["kickoff_id"] == kickoff_id
    assert crew[0]["result"] == tasks[1]["output"]
    assert crew[0]["meta"] == {"review": "r-1"}
    assert set(crew[0]["token_usage"]) == {"total_tokens", "prompt_tokens", "completion_tokens"}

    execution = sim.executions[kickoff_id]
    assert execution.state == COMPLETED
    assert execution.feedback == ["Looks good"]
    assert sim.kickoff_calls == [kickoff_body(receiver)]
    assert [call["is_approve"] for call in sim.resume_calls] == [True]


async def test_a_revision_runs_the_task_again_with_the_feedback(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    kickoff_id = await kickoff(amp, receiver)
    first = await pending(sim, receiver)

    answer = await resume(amp, kickoff_id, "research_task", approve=False, **webhook_urls(receiver))
    second = await pending(sim, receiver, 2)

    assert answer.json() == {
        "status": "retrying",
        "message": "Task will be retried with your feedback",
    }
    assert (first["attempt"], second["attempt"]) == (1, 2)
    assert second["task_id"] == "research_task"
    assert second["output"] != first["output"]
    assert "Add sources" in second["output"]
    assert receiver.bodies("task") == []

    await resume(amp, kickoff_id, "research_task", approve=True, **webhook_urls(receiver))
    await sim.wait_for(lambda: sim.executions[kickoff_id].finished)

    execution = sim.executions[kickoff_id]
    assert receiver.bodies("task")[0]["output"] == second["output"]
    assert execution.feedback == ["Add sources", "Looks good"]
    assert [(d.attempt, d.is_approve) for d in execution.decisions] == [(1, False), (2, True)]


async def test_configured_outputs_are_used_per_attempt(
    serve_sim: ServeSim, receiver: Receiver
) -> None:
    task = SimTask(key="draft", name="Draft", human_input=True, outputs=["one", "two"])
    sim = CrewSimulator(token=TOKEN, tasks=[task])
    amp = await serve_sim(sim)
    kickoff_id = await kickoff(amp, receiver)

    outputs = []
    for attempt in (1, 2, 3):
        outputs.append((await pending(sim, receiver, attempt))["output"])
        await resume(amp, kickoff_id, "draft", approve=False)

    assert outputs == ["one", "two", "two"]


async def test_approving_the_last_task_completes_the_execution(
    serve_sim: ServeSim, receiver: Receiver
) -> None:
    sim = CrewSimulator(token=TOKEN, tasks=[SimTask(key="only", name="Only", human_input=True)])
    amp = await serve_sim(sim)
    kickoff_id = await kickoff(amp, receiver)
    await pending(sim, receiver)

    answer = await resume(amp, kickoff_id, "only", approve=True, **webhook_urls(receiver))
    status = (await amp.get(f"/status/{kickoff_id}")).json()
    await sim.wait_for(lambda: bool(receiver.bodies("crew")))

    assert answer.json()["status"] == "completed"
    assert status["status"] == COMPLETED
    assert status["state"] == "SUCCESS"
    assert status["result"]["tasks"] == [
        {"task_id": "only", "output": receiver.bodies("human")[0]["output"]}
    ]


@pytest.mark.parametrize("template", ["/{}/status", "/status/{}"])
async def test_status_follows_the_execution_on_both_paths(
    serve_sim: ServeSim, receiver: Receiver, template: str
) -> None:
    sim = CrewSimulator(token=TOKEN, step_delay=0.05)
    amp = await serve_sim(sim)
    kickoff_id = await kickoff(amp, receiver)

    running = (await amp.get(template.format(kickoff_id))).json()
    await pending(sim, receiver)
    paused = (await amp.get(template.format(kickoff_id))).json()
    await resume(amp, kickoff_id, "research_task", approve=True)
    await sim.wait_for(lambda: sim.executions[kickoff_id].finished)
    done = (await amp.get(template.format(kickoff_id))).json()
    unknown = await amp.get(template.format("no-such-id"))

    assert running == {
        "status": "running",
        "state": "RUNNING",
        "current_task": "Industry Research Task",
        "progress": {"completed_tasks": 0, "total_tasks": 2},
    }
    assert paused["status"] == PENDING_HUMAN_INPUT
    assert paused["output"] == receiver.bodies("human")[0]["output"]
    assert done["status"] == COMPLETED
    assert [t["task_id"] for t in done["result"]["tasks"]] == ["research_task", "writing_task"]
    assert done["result"]["output"] == done["result"]["tasks"][1]["output"]
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "Execution not found"


async def test_a_failing_task_ends_the_execution_in_error(
    serve_sim: ServeSim, receiver: Receiver
) -> None:
    sim = CrewSimulator(token=TOKEN, tasks=[SimTask(key="t", name="T", error="LLM unavailable")])
    amp = await serve_sim(sim)
    kickoff_id = await kickoff(amp, receiver)
    await sim.wait_for(lambda: sim.executions[kickoff_id].finished)

    status = (await amp.get(f"/{kickoff_id}/status")).json()

    assert status == {"status": ERROR, "state": "FAILED", "error": "LLM unavailable"}
    assert receiver.bodies("crew") == []


@pytest.mark.parametrize(
    "body",
    [
        {"task_id": "research_task", "human_feedback": "", "is_approve": True},
        {"execution_id": "x", "task_id": "research_task", "human_feedback": "", "is_approve": 1},
        {"execution_id": "x", "task_id": "research_task", "is_approve": True},
        {"execution_id": "x", "task_id": 7, "human_feedback": "", "is_approve": True},
    ],
)
async def test_resume_with_an_unusable_body_is_an_invalid_request(
    sim: CrewSimulator, amp: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await amp.post("/resume", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "Invalid Request"
    assert sim.resume_calls == [body]


async def test_resume_refusals(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    kickoff_id = await kickoff(amp, receiver)
    await pending(sim, receiver)

    unknown = await resume(amp, "no-such-id", "research_task", approve=True)
    by_name = await resume(amp, kickoff_id, "Industry Research Task", approve=True)
    first = await resume(amp, kickoff_id, "research_task", approve=True)
    again = await resume(amp, kickoff_id, "research_task", approve=True)

    assert (unknown.status_code, unknown.json()) == (
        404,
        {"error": "Not Found", "message": "Execution ID not found"},
    )
    assert (by_name.status_code, by_name.json()) == (
        404,
        {"error": "Not Found", "message": "Task ID not found"},
    )
    assert first.status_code == 200
    assert (again.status_code, again.json()) == (
        400,
        {"error": "Invalid Request", "message": "Execution is not in pending human input state"},
    )
    assert len(sim.resume_calls) == 4
    assert sim.executions[kickoff_id].feedback == ["Looks good"]


@pytest.mark.parametrize(
    ("route", "method", "path"),
    [
        ("health", "GET", "/"),
        ("inputs", "GET", "/inputs"),
        ("kickoff", "POST", "/kickoff"),
        ("status", "GET", "/status/x"),
        ("resume", "POST", "/resume"),
    ],
)
async def test_fail_next_answers_the_given_error_then_recovers(
    sim: CrewSimulator, amp: httpx.AsyncClient, route: str, method: str, path: str
) -> None:
    sim.fail_next(route, status=503, body={"error": "Service Unavailable"}, times=2)
    body = {"inputs": {"topic": "x"}}

    failed = [await amp.request(method, path, json=body) for _ in range(2)]
    recovered = await amp.request(method, path, json=body)

    assert [r.status_code for r in failed] == [503, 503]
    assert failed[0].json() == {"error": "Service Unavailable"}
    assert recovered.status_code != 503


async def test_fail_next_without_a_body_gives_an_error_body(
    sim: CrewSimulator, amp: httpx.AsyncClient
) -> None:
    sim.fail_next("kickoff", status=500)

    response = await amp.post("/kickoff", json={"inputs": {"topic": "x"}})

    assert response.status_code == 500
    assert response.json()["error"] == "Internal Server Error"
    assert sim.executions == {}
    assert len(sim.kickoff_calls) == 1


async def test_hang_next_holds_the_answer(sim: CrewSimulator, amp: httpx.AsyncClient) -> None:
    sim.hang_next("inputs", seconds=0.3)

    with pytest.raises(httpx.ReadTimeout):
        await amp.get("/inputs", timeout=0.1)
    answer = await amp.get("/inputs", timeout=0.1)

    assert answer.json() == {"inputs": ["topic"]}


async def test_hang_next_still_handles_the_request(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    kickoff_id = await kickoff(amp, receiver)
    await pending(sim, receiver)
    sim.hang_next("resume", seconds=0.2)

    body = {"execution_id": kickoff_id, "task_id": "research_task", "is_approve": True}
    with pytest.raises(httpx.ReadTimeout):
        await amp.post("/resume", json={**body, "human_feedback": "ok"}, timeout=0.05)
    await sim.wait_for(lambda: sim.executions[kickoff_id].state != PENDING_HUMAN_INPUT)


async def test_drop_next_closes_the_connection_unanswered(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    sim.drop_next("kickoff")

    with pytest.raises(httpx.RemoteProtocolError):
        await amp.post("/kickoff", json=kickoff_body(receiver))
    await kickoff(amp, receiver)

    assert len(sim.kickoff_calls) == 2
    assert len(sim.executions) == 1


async def test_process_then_fail_next_applies_the_resume_but_loses_the_answer(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    kickoff_id = await kickoff(amp, receiver)
    await pending(sim, receiver)
    sim.process_then_fail_next("resume", status=502)

    lost = await resume(amp, kickoff_id, "research_task", approve=True)
    retried = await resume(amp, kickoff_id, "research_task", approve=True)

    assert lost.status_code == 502
    assert retried.status_code == 400
    assert retried.json()["message"] == "Execution is not in pending human input state"
    assert sim.executions[kickoff_id].feedback == ["Looks good"]


def test_fault_knobs_refuse_an_unknown_route(sim: CrewSimulator) -> None:
    with pytest.raises(ValueError, match="unknown route"):
        sim.fail_next("kickof", status=500)


@pytest.mark.parametrize(
    ("style", "keys"),
    [
        ("snake", ("execution_id", "task_id", "output")),
        ("kickoff", ("kickoff_id", "task_id", "task_output")),
        ("camel", ("executionId", "taskId", "raw")),
        ("result", ("execution_id", "taskId", "result")),
    ],
)
async def test_payload_style_names_the_notification_fields(
    sim: CrewSimulator,
    amp: httpx.AsyncClient,
    receiver: Receiver,
    style: str,
    keys: tuple[str, str, str],
) -> None:
    sim.payload_style = style
    kickoff_id = await kickoff(amp, receiver)

    notification = await pending(sim, receiver)

    execution_key, task_key, output_key = keys
    assert notification[execution_key] == kickoff_id
    assert notification[task_key] == "research_task"
    assert notification[output_key] == sim.executions[kickoff_id].current_output
    assert notification["meta"] == {"review": "r-1"}


def test_payload_style_refuses_an_unknown_style(sim: CrewSimulator) -> None:
    assert set(PAYLOAD_STYLES) == {"snake", "kickoff", "camel", "result"}
    with pytest.raises(ValueError, match="payload_style"):
        sim.payload_style = "pascal"


async def test_basic_authentication_is_sent_with_the_notification(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook = {
        "url": receiver.url("human"),
        "authentication": {"strategy": "basic", "username": "bot", "password": "pw"},
    }
    await kickoff(amp, receiver, humanInputWebhook=hook)

    await pending(sim, receiver)

    expected = "Basic " + base64.b64encode(b"bot:pw").decode()
    assert receiver.deliveries[-1].headers["Authorization"] == expected


@pytest.mark.parametrize("notify_first", [True, False])
async def test_notify_before_kickoff_answer_orders_the_notification_first(
    serve_sim: ServeSim, receiver: Receiver, notify_first: bool
) -> None:
    sim = CrewSimulator(token=TOKEN, step_delay=0.02)
    sim.notify_before_kickoff_answer = notify_first
    amp = await serve_sim(sim)

    kickoff_id = await kickoff(amp, receiver)
    seen_at_answer = [body["execution_id"] for body in receiver.bodies("human")]

    assert seen_at_answer == ([kickoff_id] if notify_first else [])
    await pending(sim, receiver)


async def test_a_resume_from_inside_the_notification_is_accepted(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    answers: list[int] = []

    async def decide(body: dict[str, Any]) -> None:
        response = await resume(amp, body["execution_id"], body["task_id"], approve=True)
        answers.append(response.status_code)

    receiver.on_human_input = decide
    kickoff_id = await kickoff(amp, receiver)
    await sim.wait_for(lambda: sim.executions[kickoff_id].finished)

    assert answers == [200]
    assert sim.executions[kickoff_id].state == COMPLETED


async def test_a_resume_without_webhook_urls_stops_later_webhooks(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    kickoff_id = await kickoff(amp, receiver)
    await pending(sim, receiver)

    await resume(amp, kickoff_id, "research_task", approve=True)
    await sim.wait_for(lambda: sim.executions[kickoff_id].finished)

    execution = sim.executions[kickoff_id]
    assert len(receiver.bodies("step")) == 1
    assert receiver.bodies("task") == []
    assert receiver.bodies("crew") == []
    assert execution.webhook_urls == dict.fromkeys(webhook_urls(receiver))
    assert [d.kind for d in execution.deliveries if not d.sent] == ["task", "step", "task", "crew"]


async def test_a_resume_may_change_the_webhook_urls(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    kickoff_id = await kickoff(amp, receiver)
    await pending(sim, receiver)

    await resume(amp, kickoff_id, "research_task", approve=True, crewWebhookUrl=receiver.url("end"))
    await sim.wait_for(lambda: sim.executions[kickoff_id].finished)

    assert receiver.bodies("crew") == []
    assert [body["kickoff_id"] for body in receiver.bodies("end")] == [kickoff_id]


async def test_failed_webhook_deliveries_are_logged_and_the_run_goes_on(
    sim: CrewSimulator,
    amp: httpx.AsyncClient,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{unused.getsockname()[1]}/crew"
    sim.tasks = [SimTask(key="t", name="T")]
    caplog.set_level(logging.WARNING, logger="bot.simulator")

    kickoff_id = await kickoff(
        amp, receiver, taskWebhookUrl=receiver.url("fail"), crewWebhookUrl=closed_url
    )
    await sim.wait_for(lambda: sim.executions[kickoff_id].finished)

    execution = sim.executions[kickoff_id]
    assert execution.state == COMPLETED
    assert [d.status_code for d in execution.sent("task")] == [500]
    assert execution.sent("crew")[0].error is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Webhook refused: kind=task" in message for message in warnings)
    assert any("Webhook delivery failed: kind=crew" in message for message in warnings)
    assert all("/crew" not in message for message in warnings)


async def test_cleanup_cancels_waiting_executions(receiver: Receiver) -> None:
    sim = CrewSimulator(token=TOKEN)
    runner, base_url = await _start(sim.web_app())
    async with httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}
    ) as amp:
        kickoff_id = await kickoff(amp, receiver)
        await pending(sim, receiver)

    await runner.cleanup()

    execution: SimExecution = sim.executions[kickoff_id]
    assert execution.finished
    assert execution.state == PENDING_HUMAN_INPUT


async def test_wait_for_names_the_condition_on_timeout(sim: CrewSimulator) -> None:
    def never() -> bool:
        return False

    with pytest.raises(TimeoutError, match="never"):
        await sim.wait_for(never, timeout=0.05)


async def test_serve_runs_until_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    caplog.set_level(logging.INFO, logger="bot.simulator")
    server = asyncio.create_task(simulator.serve("127.0.0.1", port, CrewSimulator(token=TOKEN)))

    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for _ in range(100):
            try:
                response = await client.get(f"http://127.0.0.1:{port}/")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.01)
    server.cancel()
    with pytest.raises(asyncio.CancelledError):
        await server

    assert response.text == "Healthy"
    assert any(f"http://127.0.0.1:{port}" in r.getMessage() for r in caplog.records)


def test_main_prints_how_to_point_the_bot_at_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served: list[tuple[str, int, CrewSimulator]] = []

    async def fake_serve(host: str, port: int, sim: CrewSimulator) -> None:
        served.append((host, port, sim))

    monkeypatch.setattr(simulator, "serve", fake_serve)

    code = simulator.main(
        ["--port", "9001", "--token", "t0k", "--inputs", "topic, audience", "--step-delay", "0"]
    )

    assert code == 0
    assert "CREWAI_URL=http://127.0.0.1:9001 CREWAI_TOKEN=t0k" in capsys.readouterr().out
    host, port, sim = served[0]
    assert (host, port, sim.token, sim.inputs, sim.step_delay) == (
        "127.0.0.1",
        9001,
        "t0k",
        ["topic", "audience"],
        0.0,
    )


def test_main_reads_a_tasks_file_and_can_turn_webhooks_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    served: list[CrewSimulator] = []

    async def fake_serve(host: str, port: int, sim: CrewSimulator) -> None:
        served.append(sim)

    monkeypatch.setattr(simulator, "serve", fake_serve)
    crew = tmp_path / "crew.json"
    crew.write_text(
        json.dumps(
            {
                "tasks": [
                    {
                        "key": "outline",
                        "name": "Outline",
                        "human_input": True,
                        "outputs": ["a", "b"],
                    },
                    {"key": "draft"},
                ]
            }
        )
    )

    assert simulator.main(["--tasks", str(crew), "--no-webhooks"]) == 0

    sim = served[0]
    assert [(t.key, t.name, t.human_input, t.outputs) for t in sim.tasks] == [
        ("outline", "Outline", True, ["a", "b"]),
        ("draft", "draft", False, []),
    ]
    assert sim.deliver_webhooks is False


def test_a_bad_tasks_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crew = tmp_path / "crew.json"
    crew.write_text('{"tasks": [{"name": "no key"}]}')

    assert simulator.main(["--tasks", str(crew)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"simulate: task 0 of {crew} needs a key, the task id AMP uses"
    )


async def test_with_webhooks_off_only_the_status_shows_the_pause(
    sim: CrewSimulator, amp: httpx.AsyncClient, receiver: Receiver
) -> None:
    sim.deliver_webhooks = False
    kickoff_id = await kickoff(amp, receiver)
    await sim.wait_for(lambda: sim.executions[kickoff_id].state == PENDING_HUMAN_INPUT)

    status = (await amp.get(f"/status/{kickoff_id}")).json()

    assert receiver.deliveries == []
    assert status["task_id"] == "research_task"
    assert status["output"] == sim.executions[kickoff_id].current_output
