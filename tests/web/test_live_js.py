"""farm.js's live updates keep one request in flight per tab: the script itself, run in Node
with a stand-in page (timers, fetch and the few DOM calls it makes), a slow server held open."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "farm" / "static" / "farm" / "farm.js"

# Runs farm.js on a page with one fleet view and one data-live part, fires the timers ten
# times while every fetch is still pending, then lets the answers in and fires again.
HARNESS = r"""
const vm = require("vm");
const fs = require("fs");
const timers = [];
const pending = [];
let inFlight = 0, most = 0, calls = 0;
function el(data) { return {dataset: data, querySelectorAll: () => [], innerHTML: ""}; }
const fleet = el({fleetChanges: "/operator/fleet/changes/?site=A", cursor: "e.1.0", every: "2000"});
const live = el({live: "/operator/?partial=1", every: "2000"});
const document = {
  hidden: false,
  querySelectorAll: (sel) => sel === "[data-fleet-changes]" ? [fleet] : sel === "[data-live]" ? [live] : [],
  querySelector: () => null,
  getElementById: () => null,
  addEventListener: () => {},
};
function fetch(url) {
  calls++; inFlight++; most = Math.max(most, inFlight);
  return new Promise((resolve) => pending.push(() => {
    inFlight--;
    const body = {cursor: "e.2.0", full: false, cards: {}, counts: {}, changed: 0};
    resolve({ok: true, json: () => Promise.resolve(body), text: () => Promise.resolve("")});
  }));
}
const repeating = [];  // setInterval's, which would stack requests up on a slow server
const window = {setTimeout: (f) => timers.push(f), location: {reload: () => {}}, confirm: () => true};
const setInterval = (f) => repeating.push(f);
vm.runInNewContext(
  fs.readFileSync(process.argv[2], "utf8"),
  {document, window, fetch, encodeURIComponent, setInterval, setTimeout: window.setTimeout},
);
function fire() { const due = timers.splice(0); due.forEach((f) => f()); repeating.forEach((f) => f()); }
(async () => {
  for (let i = 0; i < 10; i++) fire();
  const whileSlow = calls;
  pending.splice(0).forEach((answer) => answer());
  await new Promise((r) => setImmediate(r));
  fire();
  console.log(JSON.stringify({whileSlow, most, after: calls}));
})();
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run farm.js")
def test_live_updates_never_overlap(tmp_path: Path) -> None:
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    done = subprocess.run(
        ["node", str(harness), str(SCRIPT)], capture_output=True, text=True, check=True, timeout=60
    )
    result = json.loads(done.stdout)
    # Two live parts on the page: two requests at most, however often the timers fire.
    assert result["whileSlow"] == 2
    assert result["most"] == 2
    # Once answered, each asks again.
    assert result["after"] == 4
