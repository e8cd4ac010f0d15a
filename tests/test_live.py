"""GET /live in a real browser: headless Chromium, driven over its DevTools protocol.

No browser-automation package: Chromium is started with a remote-debugging
port, and the test speaks the protocol's JSON messages over a WebSocket
(the `websockets` package, which uvicorn[standard] brings along).
"""

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import LiveServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)"
)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",  # Chromium picks one and writes it to DevToolsActivePort
]


def start_chromium(profile: Path) -> tuple[subprocess.Popen, str]:
    """Chromium with one blank page; returns the process and the page's DevTools URL."""
    process = subprocess.Popen(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    active_port = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not (active_port.exists() and active_port.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise RuntimeError("Chromium did not open its debugging port within 30 s")
        time.sleep(0.1)
    port = int(active_port.read_text().splitlines()[0])
    pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
    return process, next(t["webSocketDebuggerUrl"] for t in pages if t["type"] == "page")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Browser:
    """A page of that Chromium, driven with DevTools protocol messages."""

    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events of the protocol arrive in between; skip them
            message = json.loads(self.socket.recv(timeout=30))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"]["exception"]["description"])
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 20):
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if value := self.evaluate(expression):
                    return value
            except RuntimeError:  # the page is still loading
                pass
            time.sleep(0.1)
        raise AssertionError(f"still false after {seconds} s: {expression}")


@pytest.fixture
def browser(tmp_path):
    process, page_url = start_chromium(tmp_path / "chromium-profile")
    try:
        with connect(page_url, max_size=None, open_timeout=10) as socket:
            yield Browser(socket)
    finally:
        stop(process)


SHOWN_IDS = "[...document.querySelectorAll('#orders tr')].map(row => Number(row.dataset.orderId))"


def place_order(url: str, customer_id: int = 2) -> int:
    body = {"customer_id": customer_id, "items": [{"id": 4, "quantity": 2}]}
    response = httpx.post(f"{url}/api/add_new_order", json=body, timeout=10)
    assert response.status_code == 201
    return response.json()["order_id"]


def test_the_page_is_plain_html_that_uses_nothing_from_elsewhere(client):
    response = client.get("/live")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'data-start-after="0"' in page  # three orders: all of them are shown
    assert "EventSource" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


def test_orders_appear_as_they_arrive_and_the_page_closes_the_feed_at_end(live_server, browser):
    browser.call("Page.navigate", url=f"{live_server.url}/live?limit=5")
    browser.wait_for("document.body.dataset.state === 'live'")
    # The orders already stored, newest first.
    assert browser.wait_for(f"{SHOWN_IDS}.length === 3 && {SHOWN_IDS}") == [3, 2, 1]
    new = [place_order(live_server.url), place_order(live_server.url, customer_id=1)]
    assert browser.wait_for(f"{SHOWN_IDS}.length === 5 && {SHOWN_IDS}") == [*reversed(new), 3, 2, 1]
    row = browser.evaluate("document.querySelector('#orders tr').textContent")
    assert f"#{new[1]}" in row and "2 × Onion" in row and "4.00" in row
    # The chart counts the two new orders in the current minute.
    assert browser.evaluate("[...perMinute.values()].reduce((a, b) => a + b, 0)") == 2
    assert browser.evaluate("document.querySelectorAll('#chart rect').length") == 30
    # limit=5 reached: `end`, and the page closed the stream for good.
    browser.wait_for("document.body.dataset.state === 'ended'")
    assert browser.evaluate("source.readyState") == 2  # EventSource.CLOSED
    time.sleep(3)  # an EventSource left open would have reconnected by now
    assert browser.evaluate("source.readyState") == 2
    assert browser.evaluate(f"{SHOWN_IDS}.length") == 5


def test_the_page_resumes_with_last_event_id_after_a_restart(database_url, browser):
    server = LiveServer(database_url).start()
    try:
        browser.call("Page.navigate", url=f"{server.url}/live")
        assert browser.wait_for(f"{SHOWN_IDS}.length === 3 && {SHOWN_IDS}") == [3, 2, 1]
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=10)
        browser.wait_for("document.body.dataset.state === 'reconnecting'")
        # The same port again, as after a deployment.
        port = server.port
        server.stop()
        server = LiveServer(database_url)
        server.port, server.url = port, f"http://127.0.0.1:{port}"
        server.start()
        browser.wait_for("document.body.dataset.state === 'live'", seconds=30)
        order_id = place_order(server.url)
        # Resumed after order 3 (Last-Event-ID): nothing is shown twice.
        assert browser.wait_for(f"{SHOWN_IDS}.length === 4 && {SHOWN_IDS}") == [order_id, 3, 2, 1]
    finally:
        server.stop()


def test_a_bad_filter_in_the_address_is_shown_and_not_retried(live_server, browser):
    browser.call("Page.navigate", url=f"{live_server.url}/live?customer_id=99")
    browser.wait_for("document.body.dataset.state === 'failed'")
    shown = browser.evaluate("document.getElementById('status').textContent")
    assert "customer 99 does not exist" in shown
    assert browser.evaluate("source.readyState") == 2
