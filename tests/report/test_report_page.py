"""report.html in a real browser (headless Chromium, from disk): it loads with no console
error and no request, its charts draw, sorting, filtering and the evidence view work, and
hostile texts stay text; at common widths every column of the samples table is on screen,
the scores beside the findings' samples name their metric, a legend says what the colours
mean, and the histograms count whole samples; scores of other scales show on their own
scale, and are low by the value put on 0..1."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_eval.domain.settings import Settings
from testkit.scripted_judge import ScriptedJudge
from tests.report.test_report_scales import REASON, RUBRIC, scaled_report
from tests.support.browser import chromium
from tests.support.run_folder import report_on_disk

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = [
    json.loads(line)
    for line in (ROOT / "rag_eval/sample_data/samples.jsonl").read_text("utf-8").splitlines()
]
HOSTILE = {
    "sample_id": "<img src=x onerror=alert(1)>",
    "question": "</script><script>alert('q')</script> What | is\n# this?",
    "answer": "**bold** <b>not bold</b> `code` [link](https://example.com)",
    "contexts": ["<style>body{display:none}</style> Plain context."],
    "ground_truth": '=HYPERLINK("https://example.com") ${css} $script',
}
METRICS = ["faithfulness", "context_recall", "context_precision", "answer_relevancy", "chrf_score"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GIVEN the bundled samples and a hostile one scored, and their report on disk."""
    with ScriptedJudge() as judge:
        settings = Settings(openai_base_url=judge.base_url, openai_api_key="test")
        body = {"samples": [*SAMPLES, HOSTILE], "metrics": METRICS}
        return report_on_disk(body, settings, tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def browser(report: Path) -> Iterator[object]:
    # After the report: Playwright's sync API runs an event loop while it is open, in which
    # the report's asyncio.run could not start, whichever test (in random order) comes first.
    with chromium() as launched:
        yield launched


def test_the_report_opens_from_disk_draws_and_explains(report: Path, browser, tmp_path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    alerts: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))

    # WHEN the report is opened from disk
    page.goto(report.as_uri())

    # THEN nothing failed, nothing was fetched, no script of a sample ran
    assert errors == [] and alerts == []
    assert requests == [report.as_uri()]
    # AND the charts are drawn: SVG with a size, bars in them
    for chart in ("#means svg", "#distribution svg"):
        box = page.locator(chart).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 50, chart
    assert page.locator("#means svg path, #means svg rect").count() >= len(METRICS)
    # AND every sample is a row, the hostile one's texts shown as text
    rows = page.locator("#table tbody tr")
    assert rows.count() == len(SAMPLES) + 1
    assert page.get_by_text(HOSTILE["sample_id"], exact=True).count() >= 1

    # WHEN the context recall column is sorted, ascending then descending
    header = page.locator('#table th[data-key="context_recall"]')
    column = 2 + METRICS.index("context_recall")

    def recall_values() -> list[float]:
        cells = page.locator(f"#table tbody td:nth-child({column + 1})").all_inner_texts()
        return [float(c) for c in cells if c != "–"]

    header.click()
    ascending = recall_values()
    header.click()
    descending = recall_values()
    # THEN the rows follow it
    assert ascending == sorted(ascending) and descending == sorted(ascending, reverse=True)
    assert header.get_attribute("aria-sort") == "descending"

    # WHEN the list is filtered to low scores, and the retrieval miss is opened
    page.check("#lowonly")
    assert rows.count() < len(SAMPLES) + 1
    page.fill("#filter", "photosynthesis")
    assert rows.count() == 1
    rows.first.click()

    # THEN its evidence shows: the reference sentence the contexts lack, and why
    detail = page.locator("#detail")
    assert detail.is_visible()
    text = detail.inner_text()
    assert "✗ Plants release oxygen during photosynthesis." in text
    assert "1 of 1 reference sentences are not in the retrieved contexts" in text

    # AND the hostile sample's evidence view shows its markup as text
    page.locator("#close").click()
    page.fill("#filter", "")
    page.uncheck("#lowonly")
    page.locator("#table tbody tr", has_text=HOSTILE["sample_id"]).click()
    shown = page.locator("#detail").inner_text()
    assert "</script><script>alert('q')</script>" in shown and "<b>not bold</b>" in shown
    assert alerts == [] and errors == []

    # AND a screenshot of the page is not blank
    from PIL import Image

    page.locator("#close").click()
    picture = Image.open(io.BytesIO(page.screenshot(full_page=True)))
    assert picture.height > 900 and len(picture.convert("RGB").getcolors(1 << 20)) > 50


def _open(browser, report: Path, width: int):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(report.as_uri())
    return page


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_samples_table_shows_every_column(report: Path, browser, width: int) -> None:
    # WHEN the report is opened in a window of a common width
    page = _open(browser, report, width)

    # THEN every column of the samples table is on screen, the last ones included
    headers = page.locator("#table thead th")
    assert headers.all_inner_texts() == ["sample", "question", *METRICS, "weighted", "why"]
    for index in range(headers.count()):
        header = headers.nth(index)
        box = header.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, index
        # AND each header's name fits in its cell, not spilling over its neighbour
        assert header.evaluate("th => th.scrollWidth <= th.clientWidth"), index
    # AND nothing of the table is left behind a horizontal scroll
    assert page.locator("#samples .tablewrap").evaluate("w => w.scrollWidth <= w.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.close()


def test_the_scores_beside_the_findings_samples_name_their_metric(report: Path, browser) -> None:
    page = _open(browser, report, 1280)

    # THEN each score beside a sample of a finding says which metric it is
    metric = "|".join(METRICS)
    score = rf"(?:{metric}) (?:\d\.\d{{3}}|–|not scored \(\w+\))"
    entries = page.locator("#findings li:has(button.sample)")
    assert entries.count() >= 3
    for index in range(entries.count()):
        entry = entries.nth(index)
        chip = entry.locator("button.sample").inner_text()
        text = entry.inner_text()
        assert re.match(rf"{re.escape(chip)} {score}( · {score})*( |$)", text), text
    # AND the retrieval miss reads as such: the first metric is the finding's first
    assert (
        entries.filter(has_text="en-photosynthesis-miss")
        .first.inner_text()
        .startswith("en-photosynthesis-miss context_recall 0.000 · faithfulness 0.000")
    )
    page.close()


def test_a_legend_says_what_the_bar_colours_mean(report: Path, browser) -> None:
    page = _open(browser, report, 1280)

    # THEN the legend is on screen, in words
    legend = page.locator("#metrics .legend")
    assert legend.is_visible()
    assert "red: low, under 0.5" in legend.inner_text()
    assert "blue: 0.5 or above" in legend.inner_text()
    # AND its swatches are the colours the bars are drawn in
    backgrounds = legend.locator(".swatch").evaluate_all(
        "spans => spans.map(s => getComputedStyle(s).backgroundColor)"
    )
    bars = page.locator("#means svg path[fill], #distribution svg path[fill]").evaluate_all(
        "paths => paths.map(p => p.getAttribute('fill'))"
    )
    swatches = ["#{:02x}{:02x}{:02x}".format(*map(int, re.findall(r"\d+", b))) for b in backgrounds]
    assert len(swatches) == 2 and set(swatches) <= set(bars)
    page.close()


def test_the_histograms_count_whole_samples_and_draw_no_empty_frame(report: Path, browser):
    page = _open(browser, report, 1280)
    histograms = page.locator("#distribution svg")

    # THEN every y axis counts samples in whole numbers
    y_axes = histograms.locator('g[aria-label^="Y-axis"]')
    assert y_axes.count() == len(METRICS)
    for index in range(y_axes.count()):
        ticks = y_axes.nth(index).locator(".role-axis-label text").all_text_contents()
        assert ticks and all(re.fullmatch(r"\d+", tick) for tick in ticks), ticks
    # AND an x axis is drawn under a histogram only: one a metric, as many as y axes
    assert histograms.locator('g[aria-label^="X-axis"]').count() == len(METRICS)
    page.close()


def test_scores_of_other_scales_show_on_their_scale_and_are_low_as_normalised(
    browser, tmp_path: Path
) -> None:
    # GIVEN a report of a job's discrete metric, a 1-5 rubric and noise_sensitivity
    page_file = tmp_path / "report.html"
    page_file.write_text(scaled_report(), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # WHEN it is opened
    page.goto(page_file.as_uri())

    # THEN each score shows on its own scale, a category beside its number, and red marks
    # what is low on 0..1 with 1 the best: a 2 of 5 and a noise of 0.9, not a noise of 0.1
    def cells(sample: str) -> list[tuple[str, bool]]:
        row = page.locator("#table tbody tr", has_text=f"question {sample}")
        found = row.locator("td.num")
        return [
            (found.nth(i).inner_text(), "low" in (found.nth(i).get_attribute("class") or ""))
            for i in range(3)
        ]

    assert cells("s1") == [("0.500 (partly)", False), ("2.000", True), ("0.100", False)]
    assert cells("s3") == [("0.000 (no)", True), ("4.000", False), ("0.900", True)]
    assert page.locator("#table thead th").nth(3).inner_text().endswith("(1–5)")
    # AND the judge's reason is the why of the low rubric score
    s1 = page.locator("#table tbody tr", has_text="question s1")
    assert f"{RUBRIC}: {REASON}" in s1.locator("td.why").inner_text()

    # WHEN only samples with a low score are kept
    page.check("#lowonly")

    # THEN the one good on every metric (5 of 5, a noise of 0.1) is not among them
    shown = page.locator("#table tbody tr td:first-child").all_inner_texts()
    assert shown == ["s1", "s3"]

    # WHEN the first is opened, THEN its scores say their scale and the reason shows
    page.locator("#table tbody tr", has_text="question s1").click()
    detail = page.locator("#detail").inner_text()
    assert f"{RUBRIC} (1–5): 2.000" in detail and "tone: 0.500 (partly)" in detail
    assert f"reason: {REASON}" in detail
    assert errors == []
    page.close()
