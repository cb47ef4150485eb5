#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Drives Healer's dashboard in a real headless Chromium through chromedriver's
WebDriver HTTP API (W3C WebDriver, spoken with the standard library only), as
an administrator would use it: sign in, inject an error, watch it heal,
approve and reject, edit the whitelist. Called by test_dashboard.sh against a
running daemon; prints "FAIL: ..." for each failed check and closes with
"N passed, N failed".

usage: dashboard.py URL TOKEN SCREENSHOT APPROVAL-CMD
  APPROVAL-CMD: a shell command that switches the daemon to auto_execute = no.
"""
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
# W3C key codes: Control, End, and the null key that releases modifiers.
CTRL, END, RELEASE = "\ue009", "\ue010", "\ue000"
SHOT = ""  # the screenshot's path; others are named after it
XSS = 'thing broke <img src=x onerror="window.__pwned=1">'

passed = failed = 0


def check(what, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}" + (f": {detail}" if detail else ""), flush=True)
    return cond


class WebDriverError(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One chromedriver process and one headless Chromium session."""

    def __init__(self, workdir):
        port = free_port()
        self.log = open(os.path.join(workdir, "chromedriver.log"), "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/chromedriver", f"--port={port}", "--allowed-ips=127.0.0.1"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        self.sid = None
        deadline = time.time() + 20
        while True:
            try:
                if self.call("GET", "/status")["value"].get("ready"):
                    break
            except (OSError, WebDriverError):
                pass
            if time.time() > deadline:
                raise WebDriverError("chromedriver did not become ready")
            time.sleep(0.1)
        # Root in a container: Chromium's own sandbox cannot start, and /dev/shm may be small.
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", f"--user-data-dir={workdir}/profile",
                "--no-first-run", "--disable-extensions", "--disable-background-networking"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
            "goog:loggingPrefs": {"browser": "ALL"}}}}
        self.sid = self.call("POST", "/session", caps)["value"]["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            try:
                v = json.loads(e.read())["value"]
                raise WebDriverError(f"{v.get('error')}: {v.get('message', '')[:300]}") from None
            except (ValueError, KeyError):
                raise WebDriverError(f"HTTP {e.code} from chromedriver") from None

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)["value"]

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css, text):
        self.s("POST", f"/element/{self.find(css)}/value", {"text": text})

    def clear(self, css):
        self.s("POST", f"/element/{self.find(css)}/clear", {})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def screenshot(self, path):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(png)

    def console(self):
        """The page's console messages so far (Chromium's legacy log endpoint)."""
        try:
            return self.s("POST", "/se/log", {"type": "browser"})
        except WebDriverError:
            return []

    def wait(self, what, expr, timeout=20, *args):
        """Polls a JavaScript expression until it is truthy; returns its value or None."""
        deadline = time.time() + timeout
        v = None
        while time.time() < deadline:
            v = self.js(f"return ({expr});", *args)
            if v:
                check(what, True)
                return v
            time.sleep(0.1)
        check(what, False, f"still {v!r} after {timeout}s: {expr}")
        return None

    def quit(self):
        try:
            if self.sid:
                self.call("DELETE", f"/session/{self.sid}")
        finally:
            self.proc.terminate()
            self.proc.wait(10)
            self.log.close()


def api(url, token, method, path, body=None, headers=None):
    """A direct API call, as another administrator's tool would make it."""
    h = {"Authorization": f"Bearer {token}"}
    h.update(headers or {})
    req = urllib.request.Request(url + path, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def visible(b, css):
    return b.js("const e = document.querySelector(arguments[0]);"
                "return !!e && e.offsetParent !== null;", css)


def text_of(b, css):
    return b.js("const e = document.querySelector(arguments[0]); return e ? e.textContent : null;", css)


def attempt(b, where, aid, status):
    return f"document.querySelector('{where} li[data-attempt=\"{aid}\"][data-status=\"{status}\"]')"


def inject(b, message):
    """Fills in the page's test-error form; returns the attempt id it reports."""
    b.js("document.getElementById('inject-result').textContent = '';")
    b.clear("#inject-message")
    b.type("#inject-message", message)
    b.click("#inject-form button[type=submit]")
    got = b.wait("inject answered", "document.getElementById('inject-result').textContent")
    if not check("inject accepted", got and got.startswith("Injected"), got):
        return None
    return b.js("const m = /attempt #(\\d+)/.exec(arguments[0]); return m ? Number(m[1]) : null;", got)


def sign_in(b, token):
    b.clear("#token")
    b.type("#token", token)
    b.click("#login-form button[type=submit]")


def test_auth(b, url, token):
    b.go(url + "/")
    check("the page asks for a token", visible(b, "#login") and not visible(b, "#app"))
    b.js("performance.setResourceTimingBufferSize(100000);")
    sign_in(b, "not-the-token-" + "0" * 20)
    msg = b.wait("a wrong token shows the 401 message",
                 "!document.getElementById('auth-message').hidden && "
                 "document.getElementById('auth-message').textContent")
    check("the 401 message says why", msg and "401" in msg and "token" in msg, msg)
    check("a wrong token is not kept", b.js("return sessionStorage.getItem('healer.token');") is None)
    check("the app stays hidden after a 401", not visible(b, "#app"))
    sign_in(b, token)
    b.wait("the right token opens the dashboard",
           "!document.getElementById('app').hidden && "
           "document.getElementById('status').textContent.includes('enabled')")
    check("the 401 message is gone", not visible(b, "#auth-message"))
    check("the token is kept in this tab only",
          b.js("return sessionStorage.getItem('healer.token');") == token
          and b.js("return localStorage.length;") == 0)


def test_heal_and_xss(b):
    aid = inject(b, XSS)
    check("inject names the attempt", isinstance(aid, int), aid)
    if aid is None:
        return
    b.wait("the injected attempt appears in the history",
           f"document.querySelector('#history li[data-attempt=\"{aid}\"]')")
    b.wait("the injected attempt becomes healed", attempt(b, "#history", aid, "healed"))
    item = f"#history li[data-attempt=\"{aid}\"]"
    check("the message shows literally", XSS in (text_of(b, item) or ""), text_of(b, item))
    check("no element was made from the message", b.js("return document.images.length;") == 0)
    check("no script ran from the message", b.js("return typeof window.__pwned;") == "undefined")
    # Expand it: the action and its output are there.
    b.click(item + " summary")
    check("expanded shows the action", "fix_thing" in (text_of(b, item + " .actions") or ""),
          text_of(b, item))
    check("the active list no longer holds it",
          not b.js(f"return !!document.querySelector('#active li[data-attempt=\"{aid}\"]');"))
    b.wait("statistics count the heal",
           "Number([...document.querySelectorAll('#stats div')].find("
           "d => d.firstChild.textContent === 'Healed')?.lastChild.textContent) >= 1")


def test_approval(b, approval_cmd):
    subprocess.run(["bash", "-c", approval_cmd], check=True, stdout=subprocess.DEVNULL)
    b.wait("the page shows fixes wait for approval",
           "document.getElementById('status').textContent.includes('after approval')")
    for verb, message, final in (("approve", "gadget broke, approve me", "healed"),
                                 ("reject", "widget broke, reject me", "rejected")):
        aid = inject(b, message)
        if aid is None:
            continue
        card = f"#active li[data-attempt=\"{aid}\"][data-status=\"awaiting_approval\"]"
        if not b.wait(f"{verb}: the attempt waits in the active list",
                      f"document.querySelector('{card} button.{verb}')"):
            continue
        if verb == "approve":
            b.wait("approve: the card shows the plan before anything runs",
                   f"(document.querySelector('{card} ul.plan') || {{}}).textContent"
                   " === 'fix_gadget'")
            b.js("document.getElementById('active').scrollIntoView();")
            b.screenshot(SHOT.replace(".png", "-approval.png"))
        b.click(f"{card} button.{verb}")
        b.wait(f"{verb}: the attempt ends {final}", attempt(b, "#history", aid, final))
        b.wait(f"{verb}: it leaves the active list",
               f"!document.querySelector('#active li[data-attempt=\"{aid}\"]')")


def test_toggle(b):
    b.click("#toggle")
    b.wait("disable healing", "document.getElementById('status').textContent.includes('disabled')"
           " && document.getElementById('toggle').textContent === 'Enable healing'")
    b.click("#toggle")
    b.wait("enable healing again",
           "document.getElementById('status').textContent.includes('enabled')")


def test_whitelist(b, url, token):
    b.wait("the whitelist loads", "document.getElementById('wl-text').value.includes('[action')")
    check("the whitelist lists its actions", "fix_thing" in (text_of(b, "#wl-actions") or ""))
    original = b.js("return document.getElementById('wl-text').value;")
    # A bad line typed at the end: refused with its line number, nothing changed.
    b.s("POST", f"/element/{b.find('#wl-text')}/value",
        {"text": CTRL + END + RELEASE + "\n[action bad]\nexec = relative/path\n"})
    lines = b.js("return document.getElementById('wl-text').value.split('\\n');")
    want = next((i + 1 for i, l in enumerate(lines) if l == "exec = relative/path"), None)
    b.click("#wl-save")
    errs = b.wait("a bad line is refused", "document.querySelector('#wl-errors li')?.parentNode.textContent")
    check(f"the error names line {want}", errs and f"Line {want}:" in errs, errs)
    code, cur = api(url, token, "GET", "/api/whitelist")
    check("a refused whitelist changes nothing", code == 200 and cur.get("text") == original)
    # Clicking the error selects that line in the editor.
    b.click(f"#wl-errors li button[value='{want}']")
    sel = b.js("const t = document.getElementById('wl-text');"
               "return t.value.slice(t.selectionStart, t.selectionEnd);")
    check("the error's button selects the line", sel == "exec = relative/path", sel)

    # Someone else saves first: this page's save gets 412 and offers a reload.
    other = original + "\n# changed elsewhere\n"
    code, _ = api(url, token, "PUT", "/api/whitelist", other.encode(),
                  {"Content-Type": "text/plain", "If-Match": cur.get("etag", "")})
    check("another client saves", code == 200, code)
    b.js("document.getElementById('wl-text').value = arguments[0] + '# a valid edit\\n';", original)
    b.click("#wl-save")
    msg = b.wait("a stale save is refused", "document.querySelector('#wl-errors p.error')?.textContent")
    check("412 says someone else changed it", msg and "Someone else changed" in msg, msg)
    b.click("#wl-errors button")
    b.wait("reload shows their version",
           "document.getElementById('wl-text').value.includes('# changed elsewhere')")

    # A good edit saves and is live.
    b.s("POST", f"/element/{b.find('#wl-text')}/value",
        {"text": CTRL + END + RELEASE + "# saved from the dashboard\n"})
    b.click("#wl-save")
    b.wait("a good whitelist saves", "document.getElementById('wl-state').textContent.startsWith('Saved')")
    code, cur = api(url, token, "GET", "/api/whitelist")
    check("the saved text is the whitelist now", "# saved from the dashboard" in cur.get("text", ""))


def test_polling(b, token):
    """The page polled several times, never two status requests at once,
    and the token never went into a URL."""
    spans = b.js("return performance.getEntriesByType('resource')"
                 ".filter(e => e.name.includes('/api/auto-healer/status'))"
                 ".map(e => [e.startTime, e.responseEnd]);")
    spans.sort()
    check("the page polls", len(spans) >= 3, len(spans))
    overlap = [(a, c) for a, c in zip(spans, spans[1:]) if c[0] < a[1]]
    check("no poll starts while one is in flight", not overlap, overlap[:3])
    names = b.js("return performance.getEntriesByType('resource').map(e => e.name)"
                 ".concat([location.href]);")
    check("the token is in no URL", not any(token in n for n in names))


def test_narrow(b, shot):
    b.s("POST", "/window/rect", {"width": 390, "height": 1400})
    time.sleep(0.3)
    w = b.js("return [document.documentElement.scrollWidth, window.innerWidth];")
    check("no sideways scrolling on a narrow screen", w[0] <= w[1], w)
    b.screenshot(shot.replace(".png", "-narrow.png"))
    b.s("POST", "/window/rect", {"width": 1280, "height": 1600})


def main():
    global SHOT
    url, token, shot, approval_cmd = sys.argv[1:5]
    SHOT = shot
    work = tempfile.mkdtemp(prefix="healer-dash-")
    b = Browser(work)
    try:
        test_auth(b, url, token)
        test_heal_and_xss(b)
        test_approval(b, approval_cmd)
        test_toggle(b)
        test_whitelist(b, url, token)
        test_polling(b, token)
        # The screenshot: history with one attempt expanded.
        b.js("window.scrollTo(0, 0);")
        b.screenshot(shot)
        print(f"info: screenshot {shot}")
        test_narrow(b, shot)
        log = b.console()
        csp = [m.get("message", "") for m in log if "Content Security Policy" in m.get("message", "")]
        check("no Content-Security-Policy violation", not csp, csp[:3])
        # 401, 400 and 412 answers were provoked on purpose; anything else severe is a bug.
        errors = [m.get("message", "") for m in log if m.get("level") == "SEVERE"
                  and "Failed to load resource" not in m.get("message", "")]
        check("no script errors in the console", not errors, errors[:3])
        b.click("#signout")
        check("forget token signs out", visible(b, "#login")
              and b.js("return sessionStorage.length;") == 0)
    except Exception as e:  # noqa: BLE001 -- any surprise is one failure, reported
        check("the browser session", False, f"{type(e).__name__}: {e}")
    finally:
        b.quit()
        subprocess.run(["rm", "-rf", work])
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
