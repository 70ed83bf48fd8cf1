// The dashboard's own script: the filter box, and the panel that hover and click fill. Bokeh draws the charts;
// this file only reads the commits (commits.js) and the data the chart's renderers hold.
"use strict";

function siteCommit(x) {
  const c = (window.SITE_COMMITS || [])[x];
  return c ? c[0].slice(0, 12) + " " + c[2].slice(0, 10) + " " + c[1] : "?";
}

function siteText(value) {
  const span = document.createElement("span");
  span.textContent = value;
  return span.innerHTML;
}

function siteLink(sha) {
  const template = document.body.dataset.commitUrl;
  const short = siteText(sha.slice(0, 12));
  if (!template) return "<code>" + short + "</code>";
  const href = template.replace("{sha}", encodeURIComponent(sha));
  return '<a class="commit-link" href="' + siteText(href) + '"><code>' + short + "</code></a>";
}

function siteFixed(v) {
  return Number.isFinite(v) ? v.toFixed(4) : "?";
}

// The panel beside a chart: what one point says. kind: "point", "skipped" or "change".
function siteShow(source, index, kind) {
  const data = source.data;
  const x = data.x[index];
  const c = (window.SITE_COMMITS || [])[x] || ["?", "?", "?"];
  const panel = document.getElementById("detail");
  if (!panel) return;
  let what;
  if (kind === "skipped") {
    what = "could not be measured: " + siteText(data.reason[index]);
  } else if (kind === "change") {
    what = "change point: " + siteText(data.step[index]);
  } else {
    what = "ratio " + siteFixed(data.ratio[index]) + " [" + siteFixed(data.low[index]) + ", " +
      siteFixed(data.high[index]) + "] (95% interval)" +
      (data.differ[index] ? ' <span class="differ">answers differ from the original\'s</span>' : "");
  }
  const machine = data.machine ? data.machine[index] : source.tags[0];
  panel.innerHTML = siteLink(c[0]) + " " + siteText(c[1]) + "<br>" + siteText(c[2]) +
    (machine ? " · machine " + siteText(machine) : "") + "<br>" + what;
  panel.dataset.commit = c[0];
}

function siteHover(source, kind, cb_data) {
  const hit = cb_data.index.indices;
  if (hit.length) siteShow(source, hit[0], kind);
}

function siteFilter(value) {
  const needle = value.trim().toLowerCase();
  let shown = 0;
  for (const row of document.querySelectorAll("[data-name]")) {
    const match = !needle || row.dataset.name.toLowerCase().includes(needle);
    row.hidden = !match;
    if (match && row.closest("#benchmarks")) shown += 1;
  }
  const count = document.getElementById("shown");
  if (count) count.textContent = shown;
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("filter");
  if (box) {
    box.addEventListener("input", () => siteFilter(box.value));
    siteFilter(box.value);
  }
});
