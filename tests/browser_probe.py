"""Measure a report page in headless Chromium: layout (horizontal scrollbars, overflowing
boxes), every chart's SVG and its marks, text collisions inside charts, wrapped table headers.

A copy of the page, next to the original so relative links still resolve, gets one script
that runs after load and writes its measurements as JSON into the DOM; Chromium's
``--dump-dom`` hands them back. The page itself is otherwise byte for byte the report's.
"""

from __future__ import annotations

import json
import re
import subprocess
from html import unescape
from pathlib import Path

PROBE_JS = r"""
(function () {
  function corners(el) {
    // the four corners of a text's box in page coordinates (rotations included)
    var b = el.getBBox(), m = el.getScreenCTM();
    if (!m || b.width === 0 || b.height === 0) return null;
    return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height],
            [b.x, b.y + b.height]].map(function (p) {
      return [m.a * p[0] + m.c * p[1] + m.e, m.b * p[0] + m.d * p[1] + m.f];
    });
  }
  function project(poly, ax) {
    var lo = Infinity, hi = -Infinity;
    poly.forEach(function (p) { var v = p[0] * ax[0] + p[1] * ax[1];
      lo = Math.min(lo, v); hi = Math.max(hi, v); });
    return [lo, hi];
  }
  function overlap(a, b) {
    // separating axis test of two convex quadrilaterals, 1 px of tolerance
    var polys = [a, b];
    for (var i = 0; i < 2; i++) {
      var q = polys[i];
      for (var k = 0; k < 4; k++) {
        var p1 = q[k], p2 = q[(k + 1) % 4];
        var ax = [p1[1] - p2[1], p2[0] - p1[0]];
        var n = Math.hypot(ax[0], ax[1]) || 1; ax = [ax[0] / n, ax[1] / n];
        var pa = project(a, ax), pb = project(b, ax);
        if (pa[1] <= pb[0] + 1 || pb[1] <= pa[0] + 1) return false;
      }
    }
    return true;
  }
  var doc = document.scrollingElement;
  var out = {scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth,
             innerWidth: window.innerWidth, charts: [], scrollers: [], wrappedHeaders: [],
             wide: []};
  document.querySelectorAll("svg.marks").forEach(function (svg, i) {
    var r = svg.getBoundingClientRect();
    var marks = svg.querySelectorAll(
      "path.mark-area > path, g.mark-line path, g.mark-rect path, g.mark-symbol path, " +
      "g.mark-rule line, g.mark-text text, path[d]");
    // labels Vega hid to avoid overlaps stay in the DOM with opacity 0: only visible text
    var texts = Array.prototype.slice.call(svg.querySelectorAll("text")).filter(function (t) {
      var s = getComputedStyle(t);
      return t.textContent.trim() !== "" && parseFloat(s.opacity) > 0 &&
             parseFloat(s.fillOpacity) > 0 && s.visibility !== "hidden";
    });
    var polys = texts.map(corners), collisions = [];
    for (var a = 0; a < texts.length; a++) for (var b = a + 1; b < texts.length; b++) {
      if (polys[a] && polys[b] && overlap(polys[a], polys[b]))
        collisions.push([texts[a].textContent, texts[b].textContent]);
    }
    var clipped = texts.filter(function (t) {
      var b = t.getBoundingClientRect();
      return b.width > 0 && (b.left < r.left - 1 || b.right > r.right + 1 ||
                             b.top < r.top - 1 || b.bottom > r.bottom + 1);
    }).map(function (t) { return t.textContent; });
    var title = svg.querySelector("g.role-title-text text");
    out.charts.push({index: i, title: title ? title.textContent : "", width: r.width,
                     height: r.height, right: r.right, marks: marks.length,
                     lines: svg.querySelectorAll("g.mark-line path").length,
                     areas: svg.querySelectorAll("g.mark-area path").length,
                     rects: svg.querySelectorAll("g.mark-rect path").length,
                     truncated: texts.filter(function (t) {
                       return t.textContent.indexOf("\u2026") >= 0; }).length,
                     collisions: collisions, clipped: clipped,
                     xLabels: Array.prototype.map.call(
                       svg.querySelectorAll("g.role-axis-label text"),
                       function (t) { return t.textContent; })});
  });
  document.querySelectorAll("body *").forEach(function (el) {
    var s = getComputedStyle(el);
    if ((s.overflowX === "auto" || s.overflowX === "scroll") &&
        el.scrollWidth > el.clientWidth + 1)
      out.scrollers.push({tag: el.tagName, cls: String(el.className).slice(0, 80),
                          scrollWidth: el.scrollWidth, clientWidth: el.clientWidth,
                          text: el.textContent.trim().slice(0, 60)});
    var r = el.getBoundingClientRect();
    if (r.right > doc.clientWidth + 1 && r.width > 0)
      out.wide.push({tag: el.tagName, cls: String(el.className).slice(0, 60),
                     right: Math.round(r.right)});
  });
  document.querySelectorAll("th").forEach(function (th) {
    var range = document.createRange(); range.selectNodeContents(th);
    var tops = {};
    Array.prototype.forEach.call(range.getClientRects(), function (r) {
      if (r.width > 0) tops[Math.round(r.top)] = 1; });
    if (Object.keys(tops).length > 1) out.wrappedHeaders.push(th.textContent.trim());
  });
  var pre = document.createElement("pre");
  pre.id = "revsim-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"""


def chromium_cmd(chromium: str, profile: Path, *args: str) -> list[str]:
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-dev-shm-usage", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=3000", *args]


def measure(chromium: str, page: Path, work: Path, width: int = 1280,
            height: int = 900) -> dict:
    """Load ``page`` at ``width`` px in headless Chromium and return the probe's JSON."""
    html = page.read_text(encoding="utf-8")
    probe = f"<script>window.addEventListener('load', function () {{{PROBE_JS}}});</script>"
    copy = page.with_name(f".probe-{page.name}")
    copy.write_text(html.replace("</body>", probe + "</body>", 1) if "</body>" in html
                    else html + probe, encoding="utf-8")
    try:
        profile = work / f"profile-probe-{page.stem}-{width}"
        dom = subprocess.run(chromium_cmd(chromium, profile, f"--window-size={width},{height}",
                                          "--dump-dom", copy.as_uri()),
                             capture_output=True, text=True, timeout=180, check=True).stdout
    finally:
        copy.unlink(missing_ok=True)
    found = re.search(r'<pre id="revsim-probe">(.*?)</pre>', dom, re.S)
    if not found:
        raise AssertionError(f"the probe did not run on {page.name}")
    return json.loads(unescape(found.group(1)))


def screenshot(chromium: str, page: Path, shot: Path, work: Path, width: int = 1280,
               height: int = 2400) -> Path:
    """A PNG of the top ``height`` px of ``page`` at ``width`` px."""
    profile = work / f"profile-shot-{page.stem}-{width}"
    subprocess.run(chromium_cmd(chromium, profile, f"--screenshot={shot}",
                                f"--window-size={width},{height}", page.as_uri()),
                   capture_output=True, text=True, timeout=180, check=True)
    return shot
