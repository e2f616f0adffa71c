"""The workbench in a real browser: Debian's chromium, headless, driven by Selenium through
/usr/bin/chromedriver (scripts/test installs both; nothing downloads a browser build), against
uvicorn on a loopback port, on SQLite and PostgreSQL.

Each page is saved as a screenshot under the run's base temporary folder:
<pytest basetemp>/screenshots/<database>/<page>.png (`pytest --basetemp=out` puts them in out/screenshots).
"""
from __future__ import annotations

import email
import email.policy
import time
from pathlib import Path
from typing import Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    StaleElementReferenceException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from service.app import App
from tests.integration.conftest import database_url, postgres_server  # noqa: F401 - fixtures
from tests.web_helpers import (
    ATTACHMENT_NAME,
    HOSTILE_SUBJECT,
    PASSWORDS,
    message_number,
    season_app,
    served,
)

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
HENGYANG = "衡阳市网上年货节活动组织情况"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    yield driver
    driver.quit()


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[tuple[App, str]]:  # noqa: F811
    app = season_app(tmp_path, database_url)
    with served(app) as url:
        yield app, url
    app.close()


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    folder = tmp_path_factory.getbasetemp() / "screenshots" / request.node.callspec.params["database_url"]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def log_in(driver: WebDriver, url: str, name: str) -> None:
    driver.get(f"{url}/login")
    driver.find_element(By.NAME, "username").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORDS[name])
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    wait_until(lambda: driver.current_url == f"{url}/" and driver.find_elements(By.ID, "matrix"))


def cell_state(driver: WebDriver, city: str, deadline: str) -> str:
    cell = driver.find_element(By.CSS_SELECTOR, f'td[data-city="{city}"][data-deadline="{deadline}"]')
    return cell.get_attribute("data-state")


def test_staff_read_download_assign_and_are_refused_where_they_should_be(
        site: tuple[App, str], browser: WebDriver, shots: Path, tmp_path: Path) -> None:
    app, url = site
    browser.get(f"{url}/")
    assert browser.current_url == f"{url}/login"
    browser.save_screenshot(str(shots / "login.png"))
    log_in(browser, url, "ann")
    assert cell_state(browser, "衡阳市", "progress") == "missing"
    assert cell_state(browser, "长沙市", "summary") == "on-time"
    assert browser.find_element(By.ID, "matrix").text.count("按时") > 3
    browser.save_screenshot(str(shots / "overview.png"))

    hostile = message_number(app, HOSTILE_SUBJECT)
    browser.get(f"{url}/messages/{hostile}")
    assert browser.find_element(By.ID, "subject").text == HOSTILE_SUBJECT
    assert browser.find_elements(By.CSS_SELECTOR, "#subject img, #body script") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    browser.save_screenshot(str(shots / "message.png"))
    browser.find_element(By.CSS_SELECTOR, "#attachments a").click()
    downloaded = wait_for_file(tmp_path / "downloads" / ATTACHMENT_NAME)
    raw = app.archive.load(app.store.stored_messages_by_id([hostile])[0].sha256)
    original = next(email.message_from_bytes(raw, policy=email.policy.default).iter_attachments())
    assert downloaded.read_bytes() == original.get_content()

    number = message_number(app, HENGYANG)
    browser.get(f"{url}/messages/{number}")
    browser.execute_script("document.querySelector('#assign input[name=csrf_token]').remove()")
    submit_assign(browser, "衡阳市", "活动组织情况", "无令牌")
    wait_for_text(browser, "CSRF")
    assert app.store.decisions() == []

    browser.get(f"{url}/messages/{number}")
    submit_assign(browser, "衡阳市", "活动组织情况", "电话确认")
    wait_for_text(browser, "衡阳市 活动组织情况: 未报 -> 按时")
    browser.save_screenshot(str(shots / "outcome.png"))
    browser.get(f"{url}/")
    assert cell_state(browser, "衡阳市", "progress") == "on-time"
    assert [(d.kind, d.by, d.note) for d in app.store.decisions()] == [("assign", "ann", "电话确认")]
    for path, name in (("/cities/衡阳市", "city"), ("/problems", "problems"), ("/outgoing", "outgoing"),
                       ("/decisions", "decisions")):
        browser.get(f"{url}{path}")
        assert "Internal Server Error" not in browser.page_source
        browser.save_screenshot(str(shots / f"{name}.png"))
    browser.set_window_size(360, 800)
    browser.get(f"{url}/")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 360
    browser.save_screenshot(str(shots / "overview-360px.png"))


def test_a_viewer_reads_but_cannot_assign(site: tuple[App, str], browser: WebDriver, shots: Path) -> None:
    app, url = site
    log_in(browser, url, "vic")
    number = message_number(app, HENGYANG)
    browser.get(f"{url}/messages/{number}")
    assert browser.find_elements(By.ID, "assign") == []
    browser.save_screenshot(str(shots / "message-viewer.png"))
    # the form a viewer's page does not offer, posted with the viewer's own valid token
    browser.execute_script("""
        const form = document.createElement('form');
        form.method = 'post'; form.action = arguments[0];
        for (const [k, v] of Object.entries({city: '衡阳市', deadline: 'progress', csrf_token: arguments[1]})) {
          const input = document.createElement('input'); input.name = k; input.value = v; form.appendChild(input);
        }
        document.body.appendChild(form); form.submit();""",
                           f"/messages/{number}/assign",
                           browser.find_element(By.CSS_SELECTOR, "form.logout input[name=csrf_token]").get_attribute("value"))
    wait_for_text(browser, "只读用户不能修改")
    assert app.store.decisions() == []
    browser.get(f"{url}/")
    assert cell_state(browser, "衡阳市", "progress") == "missing"


def submit_assign(browser: WebDriver, city: str, deadline_title: str, note: str) -> None:
    form = browser.find_element(By.ID, "assign")
    Select(form.find_element(By.NAME, "city")).select_by_visible_text(city)
    Select(form.find_element(By.NAME, "deadline")).select_by_visible_text(deadline_title)
    form.find_element(By.NAME, "note").send_keys(note)
    form.find_element(By.CSS_SELECTOR, "button").click()


def wait_for_file(path: Path, seconds: float = 15) -> Path:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if path.exists() and not path.with_name(path.name + ".crdownload").exists():
            return path
        time.sleep(0.1)
    raise AssertionError(f"no download at {path}: {sorted(p.name for p in path.parent.iterdir())}")


def wait_for_text(browser: WebDriver, text: str, seconds: float = 10) -> None:
    """Until the page (after a navigation the click started) shows `text`."""
    try:
        wait_until(lambda: text in browser.find_element(By.TAG_NAME, "body").text, seconds)
    except AssertionError:
        raise AssertionError(f"{text!r} not shown: {browser.find_element(By.TAG_NAME, 'body').text[:300]}") from None


def wait_until(condition, seconds: float = 10) -> None:
    """Until `condition()` holds; a page replaced while it looks (a stale element) is looked at again."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if condition():
                return
        except StaleElementReferenceException:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
