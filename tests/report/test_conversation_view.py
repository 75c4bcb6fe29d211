"""A conversation job's report.html in a real browser (headless Chromium, from disk): a
sample's view shows the turns in order with the AI's tool calls and their results, the
expected calls beside the calls made with each mismatch named, the reference topics and
outcome; a conversation's markup stays text and nothing is fetched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page

from rag_eval.domain.conversation_view import MAX_CHARS, MAX_MESSAGE_CHARS, conversation_view
from rag_eval.domain.sample import Sample
from rag_eval.domain.settings import Settings
from tests.support.browser import chromium
from tests.support.conversations import MATCHING, mismatching
from tests.support.run_folder import report_on_disk

# A browser: tests/conftest.py would take such a test for a unit test otherwise.
in_a_browser = pytest.mark.e2e
HOSTILE = "<script>alert('turn')</script>"
MISMATCHING = mismatching(f"退款政策是什么？ {HOSTILE}")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GIVEN a conversation job scored on its tool calls, and its report on disk."""
    body = {"samples": [MATCHING, MISMATCHING], "metrics": ["tool_call_accuracy", "tool_call_f1"]}
    return report_on_disk(body, Settings(), tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def browser(report: Path) -> Iterator[Browser]:
    # After the report: Playwright's sync API runs an event loop in which the report's
    # asyncio.run could not start.
    with chromium() as launched:
        assert isinstance(launched, Browser)
        yield launched


def _opened(browser: Browser, report: Path, sample_id: str) -> tuple[Page, list[str]]:
    """The report, and the sample's view opened by a click on its row."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    def alert(dialog: Dialog) -> None:  # a script of the conversation ran
        problems.append("alert: " + dialog.message)
        dialog.dismiss()

    page.on("dialog", alert)
    page.on("request", lambda r: None if r.url == report.as_uri() else problems.append(r.url))
    page.goto(report.as_uri())
    page.locator("#table tbody tr", has_text=sample_id).click()
    return page, problems


@in_a_browser
def test_a_conversation_shows_its_turns_and_calls_in_order(report: Path, browser: Browser) -> None:
    # WHEN the matching conversation is opened
    page, problems = _opened(browser, report, "refund-ok")

    # THEN its turns show in order, each speaker in its own style
    turns = page.locator("#detail .turn")
    assert [turns.nth(i).get_attribute("class") for i in range(turns.count())] == [
        "turn human",
        "turn ai",
        "turn ai",
    ]
    assert turns.nth(0).inner_text().endswith("What is your refund policy?")
    # AND the AI's call shows with its arguments, the tool's result under it
    call = turns.nth(1)
    assert call.locator(".call").inner_text() == 'calls search(query="refund policy")'
    assert call.locator(".result").inner_text().endswith("Refunds are accepted within 30 days.")
    assert "within 30 days for a refund" in turns.nth(2).inner_text()
    # AND the expected call is marked as made
    rows = page.locator("#detail table.calls tbody tr")
    assert rows.all_inner_texts() == [
        'search(query="refund policy")\tsearch(query="refund policy")\t✓ match'
    ]
    detail = page.locator("#detail").inner_text()
    assert "The user learns that refunds are accepted within 30 days." in detail
    assert problems == []
    page.close()


@in_a_browser
def test_mismatched_calls_are_named_and_markup_stays_text(report: Path, browser: Browser) -> None:
    # WHEN the conversation whose agent searched for the wrong thing is opened
    page, problems = _opened(browser, report, "refund-wrong")

    # THEN each expected call stands beside the call made in its place, its mismatch named
    rows = page.locator("#detail table.calls tbody tr")
    assert rows.all_inner_texts() == [
        'search(query="refund policy")\tsearch(query="shipping times")\t✗ arguments differ: query',
        'open_ticket(topic="refund")\t–\t✗ missing',
    ]
    assert rows.evaluate_all("rs => rs.map(r => r.className)") == ["no", "no"]
    # AND the Chinese question and its script show as text, and no script of it ran
    first = page.locator("#detail .turn.human").inner_text()
    assert first.endswith(f"退款政策是什么？ {HOSTILE}")
    assert page.locator("#detail script").count() == 0
    # AND the reference topics and outcome are there
    detail = page.locator("#detail").inner_text()
    assert "reference topics\nrefunds, orders" in detail
    assert "reference outcome\nA refund ticket is opened for the user." in detail
    assert problems == []
    page.close()


def test_a_long_conversation_is_cut_and_says_what_is_left_out() -> None:
    # GIVEN a conversation longer than the page holds, of messages longer than it shows
    said = "x" * (MAX_MESSAGE_CHARS * 2)
    count = MAX_CHARS // MAX_MESSAGE_CHARS + 3
    kinds = ["human", "ai"] * (count // 2) + ["human"] * (count % 2)
    sample = Sample.model_validate(
        {"user_input": [{"type": kind, "content": said} for kind in kinds]}
    )

    # WHEN its view is made
    view = conversation_view(sample)

    # THEN the messages it holds are cut, and it says how many more request.json holds
    assert view is not None
    shown = view["turns"]
    assert len(shown) == MAX_CHARS // MAX_MESSAGE_CHARS
    assert all(len(turn["content"]) == MAX_MESSAGE_CHARS for turn in shown)
    assert shown[0]["content"].endswith("…")
    assert view["left_out"] == count - len(shown)
