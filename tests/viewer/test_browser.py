"""The viewer in a real browser: every violated row of the verdict table, a replay's first
disagreement and a history recorded from confluent-kafka clients open in headless Chromium;
the DOM has one lane per process, one arrow per message between the right lanes, the step
where the property breaks highlighted with its explanation, and keyboard stepping works. A
screenshot of each page is kept in the test's tmp dir (set KAFKA_EOS_DOCS_SCREENSHOT=1 to also
refresh docs/viewer-counterexample.png from the ctp row; pngquant it)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import embedded_data, start_chromium

from kafka_eos.cli.main import main
from kafka_eos.model.verdicts import load_verdicts

ROOT = Path(__file__).resolve().parents[2]
RECORDED_HISTORY = Path(__file__).parent / "data" / "rdkafka-zombie-fencing.jsonl"
DOCS_SCREENSHOT_ROW = "ctp-no-producer-epoch-check"
VIOLATED_ROWS = sorted(
    name for name, row in load_verdicts().items() if row.verdict == "violated" and not row.slow
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from start_chromium(tmp_path_factory.mktemp("chromium-profile"))


def open_page(browser: Any, page: Path) -> dict[str, Any]:
    browser.get(page.as_uri())
    assert browser.execute_script("return document.body.dataset.ready") == "true"
    return embedded_data(page)


def dom(browser: Any, script: str, *arguments: Any) -> Any:
    return browser.execute_script(script, *arguments)


def press(browser: Any, *keys: str) -> str:
    from selenium.webdriver.common.by import By

    body = browser.find_element(By.TAG_NAME, "body")
    for key in keys:
        body.send_keys(key)
    step: str = dom(browser, "return document.getElementById('details').dataset.step")
    return step


def assert_drawn(browser: Any, data: dict[str, Any]) -> None:
    """Lanes, arrows between the right lanes, the highlighted step opened and explained."""
    lanes = dom(browser, "return [...document.querySelectorAll('#lane-heads .lane')]"
                         ".map(g => g.dataset.lane)")  # fmt: skip
    assert lanes == [lane["id"] for lane in data["lanes"]]
    lane_x = dom(browser, "return Object.fromEntries([...document.querySelectorAll("
                 "'.lane-line')].map(l => [l.dataset.lane, +l.getAttribute('x1')]))")
    arrows = dom(browser, "return [...document.querySelectorAll('#arrows .arrow')].map(g => "
                 "({id: +g.dataset.arrow, from: g.dataset.from, lost: g.classList.contains('lost'),"
                 " x1: +g.querySelector('line').getAttribute('x1'),"
                 " x2: +g.querySelector('line').getAttribute('x2')}))")
    assert len(arrows) == len(data["arrows"])
    for drawn, arrow in zip(arrows, data["arrows"], strict=True):
        assert drawn["from"] == (arrow["from_lane"] or "") and drawn["lost"] == arrow["lost"]
        if arrow["from_lane"]:
            assert drawn["x1"] == lane_x[arrow["from_lane"]]
        if arrow["to_lane"] and arrow["delivered"] is not None and not arrow["lost"]:
            assert drawn["x2"] == lane_x[arrow["to_lane"]]
    for highlight in data["highlights"]:
        marked = dom(browser, "return document.querySelector(`.step[data-step='${arguments[0]}']`)"
                     ".classList.contains(arguments[1])", highlight["step"], highlight["kind"])
        assert marked, highlight
    if data["highlights"]:
        first = data["highlights"][0]
        assert press(browser) == str(first["step"])  # the page opens at the break
        details = dom(browser, "return document.getElementById('details').innerText")
        assert first["title"] in details and first["explanation"][:60] in details
        assert first["title"] in dom(browser, "return document.getElementById('banner').innerText")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors


def assert_keyboard_steps(browser: Any, data: dict[str, Any]) -> None:
    last = str(len(data["steps"]) - 1)
    assert press(browser, "\ue011") == "0"  # Home
    assert press(browser, "j", "j") == "2"
    assert press(browser, "\ue015") == "3"  # arrow down
    assert press(browser, "k") == "2"
    assert press(browser, "\ue013") == "1"  # arrow up
    assert press(browser, "\ue010") == last  # End
    assert press(browser, "j") == last  # stays on the last step
    current = dom(browser, "return [...document.querySelectorAll('.step.current')]"
                           ".map(g => g.dataset.step)")  # fmt: skip
    assert current == [last]
    if data["steps"][-1]["action"] in data["actions"]:
        href = dom(browser, "return document.querySelector('#details a.spec-link').href")
        assert href.startswith("file://") and "SPEC.md#" in href


@pytest.mark.parametrize("row", VIOLATED_ROWS)
def test_every_violated_verdict_row_in_the_browser(
    browser: Any, tmp_path: Path, row: str
) -> None:
    page = tmp_path / f"{row}.html"
    assert main(["check", "--config", row, "--quiet", "--html", str(page)]) == 1
    data = open_page(browser, page)
    # a lasso's title goes on to say which steps repeat for ever
    assert data["highlights"][0]["title"].startswith(f"{load_verdicts()[row].violated} violated")
    assert_drawn(browser, data)
    assert press(browser, "n") == str(len(data["steps"]) - 1)
    browser.save_screenshot(str(tmp_path / f"{row}.png"))
    if row != DOCS_SCREENSHOT_ROW:
        assert press(browser, "\ue011", "n") == str(len(data["steps"]) - 1)  # Home, then n
        return
    if os.environ.get("KAFKA_EOS_DOCS_SCREENSHOT"):
        shutil.copy(tmp_path / f"{row}.png", ROOT / "docs" / "viewer-counterexample.png")
    assert_keyboard_steps(browser, data)  # every key, on one row (each key is a round trip)


def test_a_replay_disagreement_in_the_browser(browser: Any, tmp_path: Path) -> None:
    trace, page = tmp_path / "tv1.itf.json", tmp_path / "replay.html"
    assert main(["check", "--config", "tv1-no-verification", "--quiet", "--trace-out",
                 str(trace)]) == 1  # fmt: skip
    assert main(["replay", str(trace), "--knob", "partition_verification=true", "--html",
                 str(page)]) == 1  # fmt: skip
    data = open_page(browser, page)
    assert [h["kind"] for h in data["highlights"]] == ["disagreement", "violation"]
    assert_drawn(browser, data)
    browser.save_screenshot(str(tmp_path / "replay.png"))
    assert_keyboard_steps(browser, data)


def test_a_confluent_kafka_history_in_the_browser(browser: Any, tmp_path: Path) -> None:
    """Recorded from the zombie-fencing scenario of tests/wire/test_wire_clients_rdkafka.py:
    the broker's history plus the read_committed reader's reads."""
    page = tmp_path / "history.html"
    assert main(["view", str(RECORDED_HISTORY), "-o", str(page)]) == 0
    data = open_page(browser, page)
    assert {lane["id"] for lane in data["lanes"]} == {
        "producer:zombie", "producer:successor", "coordinator", "partition:fence-0",
        "consumer:rc",
    }  # fmt: skip
    assert data["highlights"] == []
    assert_drawn(browser, data)
    # the read_committed reader got the successor's record from the append that holds it
    read = data["arrows"][-1]
    assert (read["from_lane"], read["to_lane"], read["sent"]) == ("partition:fence-0",
                                                                  "consumer:rc", 4)
    press(browser, "\ue010")
    log = dom(browser, "return [...document.querySelectorAll('#details .partition .entry')]"
                       ".map(e => e.className)")  # fmt: skip
    assert log == ["entry data txn", "entry control txn abort", "entry data txn",
                   "entry control txn commit"]  # fmt: skip
    browser.save_screenshot(str(tmp_path / "history.png"))
    assert_keyboard_steps(browser, data)
