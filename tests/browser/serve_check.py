"""Drives `sweep serve` in headless Chromium and prints what it saw as one
JSON object (tests/serve_test.cc asserts on it). Arguments: the printed URL
(with its token), the running trial's index, its stop file's path, the
hostile parameter value, and where to write the screenshot."""
import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import cdp  # noqa: E402


def status_of(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    url, index, stop_file, hostile, shot = sys.argv[1:6]
    base = url.split("/?token=")[0]
    out = {"no_token": status_of(base + "/"), "bad_token": status_of(base + "/?token=" + "0" * 64),
           "no_token_view": status_of(base + "/api/view?sweep=0"),
           "with_token": status_of(url)}
    b = cdp.Browser()
    try:
        b.open_page()
        b.navigate(url)
        sel = '.progress[data-index="%s"]' % index
        out["page_ready"] = bool(b.wait_for("document.body && document.body.getAttribute('data-ready') === '1'"))
        out["address_bar_has_token"] = "token=" in (b.eval("location.href") or "")
        done = lambda: b.eval("(function(){var e=document.querySelector('%s');"
                              "return e ? Number(e.getAttribute('data-done')) : -1;})()" % sel)
        b.wait_for("document.querySelector('%s') !== null" % sel)
        out["progress_first"] = done()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and done() <= out["progress_first"]:
            b.pump(0.3)
        out["progress_later"] = done()
        # The hostile value is a cell's text, and no element came out of it.
        out["hostile_cells"] = b.eval(
            "Array.prototype.filter.call(document.querySelectorAll('#results td'),"
            "function(td){return td.textContent === %s;}).length" % json.dumps(hostile))
        out["elements_from_values"] = b.eval("document.querySelectorAll('#results b, #results i').length")
        # A POST with the token's cookie but without the page's nonce: refused, nothing done.
        token = url.split("/?token=")[1]
        req = urllib.request.Request(base + "/api/control", data=("sweep=0&op=stop&idx=" + index).encode(),
                                     headers={"Cookie": "claimsweep_token_%s=%s" % (base.rsplit(":", 1)[1], token),
                                              "Content-Type": "application/x-www-form-urlencoded"})
        # (The same cookie gets the data: the refusal is the nonce's.)
        out["cookie_view"] = status_of(urllib.request.Request(
            base + "/api/view?sweep=0", headers={"Cookie": req.get_header("Cookie")}))
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                out["post_without_nonce"] = r.status
        except urllib.error.HTTPError as e:
            out["post_without_nonce"] = e.code
        out["stop_file_after_refused_post"] = os.path.exists(stop_file)
        b.screenshot(shot)
        b.click('button[data-op="stop"][data-index="%s"]' % index)
        b.wait_for("(function(){var m=document.getElementById('message');"
                   "return m.hasAttribute('data-exit');})()")
        out["stop_message"] = b.eval("document.getElementById('message').textContent")
        out["stop_exit"] = b.eval("document.getElementById('message').getAttribute('data-exit')")
        out["page_shows_stopped"] = bool(b.wait_for(
            "(function(){var c=document.querySelector('.count[data-state=\"stopped\"] b');"
            "return c && c.textContent === '1';})()", timeout=30))
        # A selection: two rows ticked, then "stop selected": one POST for both.
        b.eval("document.getElementById('message').removeAttribute('data-exit')")
        b.click('input.select[data-index="1"]')
        b.click('input.select[data-index="3"]')
        b.click('.selection button[data-op="stop"]')
        b.wait_for("document.getElementById('message').hasAttribute('data-exit')")
        out["selection_message"] = b.eval("document.getElementById('message').textContent")
        out["selection_exit"] = b.eval("document.getElementById('message').getAttribute('data-exit')")
        out["dashboard_errors"] = b.eval("document.getElementById('dash-errors').textContent")
        b.pump(0.5)
        out["console_errors"] = b.console_errors()
    finally:
        b.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
