"""work.js confirms several work-list items without a reload: the script itself, run in Node
with a stand-in page (a form of five items, fetch answering as the real endpoint does)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "farm" / "static" / "farm" / "work.js"

# Five bed items; the server confirms four and refuses one. The script must post once with
# Accept: application/json, remove the four, mark the fifth with its reason, recount, and
# never reload the page.
HARNESS = r"""
const vm = require("vm");
const fs = require("fs");
const items = {};
const removed = [];
function item(id) {
  const children = [];
  return items["bed-" + id] = {
    id: "bed-" + id, children,
    remove: () => { removed.push(id); delete items["bed-" + id]; },
    querySelector: () => null,
    appendChild: (c) => children.push(c),
  };
}
[1, 2, 3, 4, 5].forEach(item);
let listener = null, posted = null, reloads = 0;
const count = {dataset: {workCount: "beds"}, textContent: "5"};
const status = {textContent: ""};
const form = {
  action: "/operator/work/beds/", dataset: {workForm: "beds"},
  addEventListener: (kind, f) => { listener = f; },
  querySelectorAll: () => Object.values(items),
};
const document = {
  querySelector: (sel) => sel === "[data-work-status]" ? status
    : sel === '[data-work-form="beds"]' ? form : null,
  querySelectorAll: (sel) => sel === "form[data-work-form]" ? [form]
    : sel === "[data-work-count]" ? [count] : [],
  getElementById: (id) => items[id] || null,
  createElement: () => ({className: "", textContent: ""}),
};
function FormData() { this.entries = []; this.append = (k, v) => this.entries.push([k, v]); }
function fetch(url, options) {
  posted = {url, method: options.method, accept: options.headers.Accept};
  const body = {done: [1, 2, 3, 4], failed: {"5": "p5 is still printing"}, message: "beds cleared: 4"};
  return Promise.resolve({ok: true, status: 200, json: () => Promise.resolve(body)});
}
const window = {location: {reload: () => { reloads++; }}};
vm.runInNewContext(fs.readFileSync(process.argv[2], "utf8"), {document, window, fetch, FormData});
let prevented = false;
listener({preventDefault: () => { prevented = true; }, submitter: {name: "", value: "", disabled: false}});
setTimeout(() => {
  console.log(JSON.stringify({
    prevented, posted, removed, left: Object.keys(items), count: count.textContent,
    status: status.textContent, why: items["bed-5"].children.map((c) => c.textContent), reloads,
  }));
}, 20);
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run work.js")
def test_five_beds_are_confirmed_without_a_reload(tmp_path: Path) -> None:
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    out = subprocess.run(
        ["node", str(harness), str(SCRIPT)], capture_output=True, text=True, timeout=30, check=True
    )
    result = json.loads(out.stdout)
    assert result["prevented"] and result["reloads"] == 0
    assert result["posted"] == {
        "url": "/operator/work/beds/",
        "method": "POST",
        "accept": "application/json",
    }
    assert result["removed"] == [1, 2, 3, 4] and result["left"] == ["bed-5"]
    assert result["count"] == 1 and result["status"] == "beds cleared: 4"
    assert result["why"] == ["p5 is still printing"]
