#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Healer's dashboard on `healer serve` (a replay's record, read-only) in a
real headless Chromium, through dashboard.py's WebDriver client: after
signing in, a banner says it is a read-only replay view of the file, and
nothing that would act is offered: no enable/disable switch, no test-error
form, no whitelist editor (its save disabled), no approve or reject on an
attempt that awaits approval. History and statistics show the record.
Called by test_serve_replay.sh; prints "FAIL: ..." per failed check and
closes with "N passed, N failed".

usage: dashboard_view.py URL TOKEN FILE AWAITING-ID SCREENSHOT
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard  # noqa: E402 -- the Browser and the counters of the live test
from dashboard import check, visible, text_of, sign_in  # noqa: E402


def hidden_or_disabled(b, css):
    """True when the element is absent, not shown, or a disabled control."""
    return b.js("const e = document.querySelector(arguments[0]);"
                "return !e || e.offsetParent === null || e.disabled === true;", css)


def test_view(b, url, token, file, awaiting):
    b.go(url + "/")
    check("the page asks for a token", visible(b, "#login"))
    sign_in(b, token)
    banner = b.wait("the read-only banner shows",
                    "!document.getElementById('view-banner').hidden && "
                    "document.getElementById('view-banner').offsetParent !== null && "
                    "document.getElementById('view-banner').textContent")
    check("the banner says read-only replay view", banner and "Read-only replay view" in banner,
          banner)
    check("the banner names the file", banner and file in banner, banner)
    check("the banner gives the record's span", banner and "2026" in banner, banner)
    b.wait("the history shows the record",
           "document.querySelectorAll('#history li[data-attempt]').length === 12")
    check("the summary says read-only", "Read-only" in (text_of(b, "#summary") or ""),
          text_of(b, "#summary"))
    status = text_of(b, "#status") or ""
    check("the status shows the mode and the file", "read-only replay view" in status
          and file in status, status)
    check("the status claims no live daemon", "enabled" not in status
          and "following" not in (text_of(b, "#summary") or ""), status)
    b.wait("statistics show the record",
           "Number([...document.querySelectorAll('#stats div')].find("
           "d => d.firstChild.textContent === 'Attempts')?.lastChild.textContent) === 12")
    card = f"#active li[data-attempt=\"{awaiting}\"][data-status=\"awaiting_approval\"]"
    b.wait("the attempt awaiting approval is listed", f"document.querySelector('{card}')")
    check("no approve or reject button anywhere",
          b.js("return document.querySelectorAll('button.approve, button.reject').length;") == 0)
    check("the enable/disable switch is hidden", hidden_or_disabled(b, "#toggle"))
    check("the test-error form is hidden", not visible(b, "#inject-form")
          and hidden_or_disabled(b, "#inject-form button[type=submit]"))
    check("the whitelist editor is hidden", not visible(b, "#wl-text"))
    check("the whitelist save is disabled",
          b.js("return document.getElementById('wl-save').disabled;") is True)
    # A click that reached the form anyway would be refused by the page, then by the API.
    b.js("document.getElementById('inject-message').value = 'forced';"
         "document.getElementById('inject-form').requestSubmit();")
    check("a forced submit sends nothing",
          not b.js("return performance.getEntriesByType('resource')"
                   ".some(e => e.name.includes('/api/test/inject-error'));"))
    check("the page never asked for the whitelist",
          not b.js("return performance.getEntriesByType('resource')"
                   ".some(e => e.name.includes('/api/whitelist'));"))


def main():
    url, token, file, awaiting, shot = sys.argv[1:6]
    work = tempfile.mkdtemp(prefix="healer-dash-view-")
    b = dashboard.Browser(work)
    try:
        test_view(b, url, token, file, int(awaiting))
        b.js("window.scrollTo(0, 0);")
        b.screenshot(shot)
        print(f"info: screenshot {shot}")
        log = b.console()
        csp = [m.get("message", "") for m in log if "Content Security Policy" in m.get("message", "")]
        check("no Content-Security-Policy violation", not csp, csp[:3])
        # The browser asks for /favicon.ico on its own; the page itself must get no refusal.
        errors = [m.get("message", "") for m in log if m.get("level") in ("SEVERE", "WARNING")
                  and "/favicon.ico" not in m.get("message", "")]
        check("no errors in the console (no request was refused)", not errors, errors[:3])
        b.click("#signout")
        check("forget token signs out and hides the banner", visible(b, "#login")
              and not visible(b, "#view-banner"))
    except Exception as e:  # noqa: BLE001 -- any surprise is one failure, reported
        check("the browser session", False, f"{type(e).__name__}: {e}")
    finally:
        b.quit()
        subprocess.run(["rm", "-rf", work])
    print(f"{dashboard.passed} passed, {dashboard.failed} failed")
    sys.exit(1 if dashboard.failed else 0)


if __name__ == "__main__":
    main()
