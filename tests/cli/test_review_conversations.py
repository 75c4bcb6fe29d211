"""`rag-eval review` of a conversation job in a real browser (headless Chromium), its API
scripted with the label queue's own answer (`tests.app.test_label_queue_conversations`): a
sample shows its turns in order, the AI's tool calls and their results, the expected calls
beside the calls made with each mismatch marked, the reference topics and outcome; its
markup stays text. A single-turn sample shows its texts and contexts as before."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from rag_eval.cli.review import Review, ReviewServer
from rag_eval.client import ScoreJobsClient
from tests.app.test_label_queue_conversations import (
    RIGHT_SEARCH,
    SINGLE_TURN,
    WRONG_SEARCH,
    queue_of,
)
from tests.app.test_labels import JOB
from tests.client.test_client import ScriptedApi, job
from tests.support.browser import chromium

# A browser: tests/conftest.py would take such a test for a unit test otherwise.
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        assert isinstance(launched, Browser)
        yield launched


@contextmanager
def reviewing(
    browser: Browser, answer: dict[str, Any], metric: str
) -> Iterator[tuple[Page, list[str]]]:
    """GIVEN the API answering `answer` to the label queue, WHEN its review page is open:
    the page, and what went wrong on it (errors, a script of a sample that ran)."""
    with ScriptedApi() as api:
        api.script[("GET", f"/v1/score-jobs/{JOB}/label-queue")] = [(200, answer)]
        api.script[("GET", f"/v1/score-jobs/{JOB}")] = [(200, job(JOB))]
        server = ReviewServer(Review(ScoreJobsClient(api.endpoint), JOB, metric, "alice"))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(str(exc)))

        def alert(dialog: Dialog) -> None:
            problems.append("alert: " + dialog.message)
            dialog.dismiss()

        page.on("dialog", alert)
        try:
            page.goto(server.url)
            page.wait_for_selector("#sample:not([hidden])")
            yield page, problems
        finally:
            page.close()
            server.shutdown()
            server.server_close()


def test_a_conversation_shows_its_turns_and_marks_each_mismatched_call(browser: Browser) -> None:
    # GIVEN the queue of a conversation job, the agent that searched for the wrong thing first
    answer = queue_of([WRONG_SEARCH, RIGHT_SEARCH], "agent_goal_accuracy").model_dump(mode="json")
    answer["samples"].sort(key=lambda s: s["sample_id"] != "refund-wrong")

    with reviewing(browser, answer, "agent_goal_accuracy") as (page, problems):
        # THEN its turns show in order, each speaker in its own style, its markup as text
        assert page.locator("#sample-id").inner_text() == "refund-wrong"
        turns = page.locator("#conversation .turn")
        assert turns.evaluate_all("ts => ts.map(t => t.className)") == [
            "turn human",
            "turn ai",
            "turn ai",
        ]
        assert turns.nth(0).inner_text().endswith("How do I get a refund? <b>now</b>")
        assert page.locator("#conversation b").count() == 0
        # AND the AI's call with its arguments, the tool's result under it
        assert turns.nth(1).locator(".call").inner_text() == 'calls search(query="shipping times")'
        assert turns.nth(1).locator(".result").inner_text().endswith("Parcels ship within 5 days.")
        # AND each expected call beside the call made in its place, each mismatch marked
        rows = page.locator("#conversation table.calls tbody tr")
        assert rows.all_inner_texts() == [
            'search(query="refund policy")\tsearch(query="shipping times")'
            "\t✗ arguments differ: query",
            'open_ticket(topic="refund")\t–\t✗ missing',
        ]
        assert rows.evaluate_all("rs => rs.map(r => r.className)") == ["no", "no"]
        # AND the reference topics and outcome, not the single-turn texts
        shown = page.locator("#conversation").inner_text()
        assert "reference topics\nrefunds, orders" in shown
        assert "reference outcome\nA refund ticket is opened for the user." in shown
        assert page.locator("#single").is_hidden()

        # WHEN it is skipped: THEN the next conversation shows its call as made
        page.keyboard.press("s")
        expect(page.locator("#sample-id")).to_have_text("refund-ok")
        assert rows.all_inner_texts() == [
            'search(query="refund policy")\tsearch(query="refund policy")\t✓ match'
        ]
        assert "reference topics" not in page.locator("#conversation").inner_text()
        assert problems == []


def test_a_single_turn_sample_shows_its_texts_and_contexts_as_before(browser: Browser) -> None:
    answer = queue_of([SINGLE_TURN, SINGLE_TURN | {"sample_id": "eiffel-2"}], "faithfulness")

    with reviewing(browser, answer.model_dump(mode="json"), "faithfulness") as (page, problems):
        texts = page.locator("#texts").inner_text()
        assert "question\nWhen was the Eiffel Tower completed?" in texts
        assert "answer\nIn 1889." in texts
        assert page.locator("#contexts li").all_inner_texts() == ["It was completed in 1889."]
        assert page.locator("#conversation").is_hidden()
        assert problems == []
