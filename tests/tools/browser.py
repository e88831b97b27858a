"""Drives a real headless Chromium (Debian's chromium) through `caboose serve`'s pages over the
DevTools protocol, as an operator would: follows the links, requeues a trashed job with the
bin's button (the confirmation accepted), and keeps a screenshot of each page.

  browser.py <port> <screenshot dir> <trashed job uuid> <consumed flow uuid>

Prints one JSON object of what it saw; exits 1 (saying what) when a page is not as expected.
Run with /usr/bin/python3 (python3-websocket).
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


class Browser:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="caboose-chromium-")
        # Chromium's own temporary files go inside the profile, removed with it; it runs in a
        # process group of its own, so its helper processes end with it.
        scratch = os.path.join(self.profile, "tmp")
        os.mkdir(scratch)
        self.process = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
             "--remote-debugging-port=0", "--remote-allow-origins=*",
             "--user-data-dir=" + self.profile, "--window-size=1280,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, TMPDIR=scratch), start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.time() + 60
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_event(self, name, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i, event in enumerate(self.events):
                if event.get("method") == name:
                    del self.events[: i + 1]
                    return event
            self.ws.settimeout(max(0.1, deadline - time.time()))
            self.events.append(json.loads(self.ws.recv()))
        raise RuntimeError(f"no {name} within {timeout}s")

    def navigate(self, url):
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click_and_load(self, selector):
        """Clicks the element and waits for the page it leads to."""
        self.events.clear()
        found = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            f" if (!e) return false; e.click(); return true; }})()")
        if not found:
            raise RuntimeError(f"nothing matches {selector} on {self.url()}")
        self.wait_event("Page.loadEventFired")

    def url(self):
        return self.evaluate("location.pathname + location.search")

    def text(self, selector):
        return self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            f" return e ? e.textContent : null; }})()")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        finally:
            # Asked to quit (it then removes its own files), then whatever is left of its
            # process group killed: Chromium if it did not quit in time, helpers that outlived it.
            for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.process.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)


def expect(condition, what):
    if not condition:
        raise AssertionError(what)


def main():
    port, shots, trashed, flow = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    base = f"http://127.0.0.1:{port}"
    os.makedirs(shots, exist_ok=True)
    seen = {}
    browser = Browser()
    try:
        browser.navigate(base + "/")
        expect(browser.evaluate("document.title") == "Board · caboose", "the board page's title")
        seen["board_jobs"] = int(browser.text("#job-count"))
        seen["board_bin"] = int(browser.text("#bin-count"))
        browser.screenshot(os.path.join(shots, "board.png"))

        # The header's link to the bin, then the trashed job's row and its reason.
        browser.click_and_load("header a[href='/bin']")
        expect(browser.url() == "/bin", f"the bin link led to {browser.url()}")
        row = f"tr[data-job='{trashed}']"
        seen["bin_reason"] = browser.text(row + " td:nth-child(3)")
        expect(seen["bin_reason"] is not None, "the trashed job is not listed in the bin")
        browser.screenshot(os.path.join(shots, "bin.png"))

        # Its own page, through the row's link, and back.
        browser.click_and_load(row + " a")
        expect(browser.url() == f"/jobs/{trashed}", f"the job link led to {browser.url()}")
        seen["job_title"] = browser.text("h1")
        browser.screenshot(os.path.join(shots, "job.png"))
        browser.navigate(base + "/bin")

        # Requeue with the button; the confirmation is accepted as an operator would.
        browser.evaluate("window.confirm = () => true")
        browser.click_and_load(row + " button.requeue")
        expect(browser.url().startswith("/bin?done="), f"requeue led to {browser.url()}")
        seen["done"] = browser.text("#done")
        seen["bin_after"] = int(browser.text("#bin-count"))
        browser.screenshot(os.path.join(shots, "bin-after-requeue.png"))

        browser.click_and_load("header a[href='/jobs']")
        seen["requeued_state"] = browser.text(f"tr[data-job='{trashed}'] td:nth-child(2)")
        browser.screenshot(os.path.join(shots, "jobs.png"))

        # Logbooks -> the consumed job's logbook -> its flow, with the graph drawn.
        browser.click_and_load("header a[href='/books']")
        browser.click_and_load(f"a[href^='/books/']")
        expect(browser.url().startswith("/books/"), f"a logbook link led to {browser.url()}")
        browser.navigate(base + f"/flows/{flow}")
        seen["flow_state"] = browser.text("#flow-state")
        seen["graph_nodes"] = browser.evaluate("document.querySelectorAll('#graph svg g.node').length")
        seen["sum_state"] = browser.text("tr[data-atom='sum'] td:nth-child(3)")
        seen["sum_result"] = browser.text("tr[data-atom='sum'] td:nth-child(5)")
        browser.screenshot(os.path.join(shots, "flow.png"))

        browser.click_and_load("header a[href='/conductors']")
        seen["conductors_title"] = browser.text("h1")
        browser.screenshot(os.path.join(shots, "conductors.png"))
    except Exception as e:  # say what went wrong, with what was seen so far
        print(json.dumps({"error": f"{type(e).__name__}: {e}", "seen": seen}))
        browser.close()
        sys.exit(1)
    browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
