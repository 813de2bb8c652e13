// The operations console: a page over the admin API's JSON. Everything it shows comes
// from GET calls that need no token; every change (deploy, activate, roll back, shadow)
// goes through the same POST calls `pricing admin` uses, with the token typed in the
// header. Record contents are always inserted as text, never as HTML.
"use strict";

const TOKEN_KEY = "pricing-admin-token";
const REFRESH_MS = 5000;

// ---- small helpers -------------------------------------------------------------------

/** An element with attributes (`on*` functions become listeners) and children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (!known(value) || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "className") {
      node.className = value;
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (!known(child)) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const $ = (selector) => document.querySelector(selector);

/** Whether the API gave a value (JSON `null` and a missing field both mean none). */
const known = (v) => v !== undefined && v !== null;

/** Minor units as `1234.00`. */
function money(minor) {
  if (!known(minor)) return "–";
  const sign = minor < 0 ? "-" : "";
  const abs = Math.abs(minor);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
}

function fixed(n, digits = 1) {
  return known(n) ? Number(n).toFixed(digits) : "–";
}

/** `YYYY-MM-DD` as seconds since the epoch at UTC midnight (uPlot's x values). */
function daySeconds(date) {
  return Date.parse(`${date}T00:00:00Z`) / 1000;
}

function say(text, state) {
  const message = $("#message");
  message.textContent = text;
  message.setAttribute("data-state", state);
}

class ApiError extends Error {}

/** GET `path`; on a refusal, says `failure` with the reason and gives null. */
async function load(path, failure) {
  try {
    return await api(path);
  } catch (e) {
    say(`${failure}: ${e.message}`, "error");
    return null;
  }
}

/** GET or POST the admin API; an error answer becomes an ApiError with its reason. */
async function api(path, options = {}) {
  const response = await fetch(path, options);
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) {
    const reason = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new ApiError(reason);
  }
  return body;
}

/** A change: asks for confirmation, sends the token, reports the outcome. */
async function change(question, path, { body, contentType } = {}) {
  const token = $("#token").value.trim();
  if (!token) {
    say("Enter the admin token first (top right): changes need it.", "error");
    $("#token").focus();
    return null;
  }
  if (question && !window.confirm(question)) return null;
  const headers = { Authorization: `Bearer ${token}` };
  if (contentType) headers["Content-Type"] = contentType;
  try {
    const answer = await api(path, { method: "POST", headers, body });
    return answer;
  } catch (e) {
    say(`Refused: ${e.message}`, "error");
    return null;
  }
}

// ---- tabs ----------------------------------------------------------------------------

const views = {};
let current = null;

function show(tab) {
  for (const button of document.querySelectorAll("nav button")) {
    if (button.dataset.tab === tab) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== `tab-${tab}`;
  }
  current = tab;
  history.replaceState(null, "", `#${tab}`);
  refresh();
}

async function refresh() {
  const view = views[current];
  if (!view || !view.refresh) return;
  try {
    await view.refresh();
  } catch (e) {
    say(`Could not load ${current}: ${e.message}`, "error");
  }
}

// ---- rules ---------------------------------------------------------------------------

const openKinds = new Set();

views.rules = {
  async refresh() {
    const rules = await api("/api/rules");
    renderRules(rules);
  },
};

function figureCells(figures) {
  const f = figures || {};
  return [
    el("td", { className: "num" }, f.calls ?? 0),
    el("td", { className: "num" }, f.departures ?? 0),
    el("td", { className: "num" }, f.departure_errors ?? 0),
    el("td", { className: "num" }, f.failures ?? 0, f.traps ? ` (${f.traps} trapped)` : ""),
    el("td", { className: "num" }, figures ? fixed(f.mean_ms, 2) : "–"),
    el("td", { className: "num" }, figures ? fixed(f.max_ms, 2) : "–"),
  ];
}

function renderRules(rules) {
  const body = $("#rules-table tbody");
  body.replaceChildren(
    ...rules.kinds.map((k) => {
      const active = k.versions.find((v) => v.active);
      return el(
        "tr",
        { "data-kind": k.kind },
        el("td", {}, k.kind),
        el("td", { className: "mono active-version" }, k.active ?? "none"),
        figureCells(active && active.figures),
        el("td", {}, k.shadow ? `${k.shadow.candidate.id}: ${k.shadow.changed}/${k.shadow.compared} differ` : "–"),
        el(
          "td",
          {},
          el("button", {
            type: "button", className: "action rollback", "data-kind": k.kind,
            onclick: () => rollback(k.kind, k.active),
          }, "Roll back"),
          el("button", {
            type: "button", className: "action reprice", "data-kind": k.kind,
            onclick: () => reprice(k.kind),
          }, "Reprice"),
        ),
      );
    }),
  );
  const kinds = $("#deploy-mode");
  kinds.dataset.kinds = rules.kinds.map((k) => k.kind).join(",");
  $("#kind-details").replaceChildren(...rules.kinds.map(kindDetails));
}

function kindDetails(k) {
  const details = el(
    "details",
    { "data-kind": k.kind, open: openKinds.has(k.kind) },
    el("summary", {}, `${k.kind}: ${k.versions.length} version(s)`),
    el(
      "table",
      { className: "versions" },
      el("thead", {}, el("tr", {},
        ["Version", "Uploaded", "By", "KiB", "Calls", "Departures", "Departure errors", "Failed calls", "Mean ms",
          "Max ms", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, k.versions.map((v) => el(
        "tr",
        { "data-hash": v.hash, className: v.active ? "from" : "" },
        el("td", { className: "mono" }, v.id, v.active ? " (active)" : ""),
        el("td", {}, v.uploaded_at),
        el("td", {}, v.uploader),
        el("td", { className: "num" }, Math.round(v.size / 1024)),
        figureCells(v.figures),
        el("td", {},
          v.active ? null : el("button", {
            type: "button", className: "action activate", onclick: () => activate(k.kind, v),
          }, "Activate"),
          v.active || k.shadow ? null : el("button", {
            type: "button", className: "action shadow", onclick: () => startShadow(k.kind, v),
          }, "Shadow")),
      ))),
    ),
    k.shadow ? shadowReport(k.kind, k.shadow) : null,
  );
  details.addEventListener("toggle", () => {
    if (details.open) openKinds.add(k.kind);
    else openKinds.delete(k.kind);
  });
  return details;
}

function shadowReport(kind, r) {
  return el(
    "div",
    {
      className: "report", "data-shadow": kind, "data-candidate": r.candidate.id,
      "data-compared": r.compared, "data-changed": r.changed,
    },
    el("h4", {}, `Shadow of ${kind}: ${r.candidate.id} beside ${r.active}, started ${r.started_at} by ${r.who}`),
    el("p", {},
      `${r.batches} batches, ${r.compared} pricings compared over ${r.departures} departures; `,
      el("strong", {}, `${r.changed} differ`),
      ` (${r.status_changed} in status); largest difference ${money(r.max_delta)}, mean ${fixed(r.mean_delta / 100, 2)}, `,
      `mean absolute ${fixed(r.mean_abs_delta / 100, 2)}; candidate failed calls ${r.candidate_failures}.`),
    r.largest.length === 0 ? null : el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ["Departure", "Active", "Candidate", "Difference"].map((h) => el("th", {}, h)))),
      el("tbody", {}, r.largest.map((c) => el(
        "tr",
        {},
        el("td", { className: "mono" }, c.departure),
        el("td", {}, c.active_status === "available" ? money(c.active_price) : c.active_status),
        el("td", {}, c.shadow_status === "available" ? money(c.shadow_price) : c.shadow_status),
        el("td", { className: "num" }, known(c.delta) ? money(c.delta) : "status"),
      ))),
    ),
    el("button", { type: "button", className: "action promote", onclick: () => promote(kind, r) }, "Promote"),
    el("button", { type: "button", className: "action drop", onclick: () => dropShadow(kind) }, "Drop"),
  );
}

async function rollback(kind, active) {
  const answer = await change(
    `Roll ${kind} back from ${active}? The previous version becomes active for every new batch.`,
    `/plugins/${encodeURIComponent(kind)}/rollback?who=console`,
  );
  if (answer) {
    say(`${kind} rolled back: ${answer.id} is active.`, "ok");
    await refresh();
  }
}

async function reprice(kind) {
  const answer = await change(
    `Reprice every departure that uses ${kind} with its active version? It runs in the background, in chunks.`,
    `/plugins/${encodeURIComponent(kind)}/reprice?who=console`,
  );
  if (answer) say(`Reprice of ${kind} queued as job ${answer.id}.`, "ok");
}

async function activate(kind, version) {
  const answer = await change(
    `Activate ${version.id} for ${kind}?`,
    `/plugins/${encodeURIComponent(kind)}/activate/${version.hash}?who=console`,
  );
  if (answer) {
    say(`${answer.id} is active.`, "ok");
    await refresh();
  }
}

async function startShadow(kind, version) {
  const answer = await change(
    `Run ${version.id} as a shadow of ${kind}? It prices beside the active version; its prices are compared, not written.`,
    `/plugins/${encodeURIComponent(kind)}/shadow?hash=${version.hash}&who=console`,
  );
  if (answer) {
    openKinds.add(kind);
    say(`Shadow of ${kind} started with ${answer.candidate.id}.`, "ok");
    await refresh();
  }
}

async function promote(kind, report) {
  const answer = await change(
    `Promote ${report.candidate.id}? ${report.changed} of ${report.compared} compared pricings differ.`,
    `/plugins/${encodeURIComponent(kind)}/shadow/promote?who=console`,
  );
  if (answer) {
    say(`${answer.activated.id} promoted: it is active.`, "ok");
    await refresh();
  }
}

async function dropShadow(kind) {
  const answer = await change(`Drop the shadow of ${kind}?`, `/plugins/${encodeURIComponent(kind)}/shadow/drop?who=console`);
  if (answer) {
    say(`Shadow of ${kind} dropped.`, "ok");
    await refresh();
  }
}

async function deploy(event) {
  event.preventDefault();
  const file = $("#deploy-file").files[0];
  if (!file) {
    say("Choose a .wasm component to deploy.", "error");
    return;
  }
  const mode = $("#deploy-mode").value;
  const bytes = await file.arrayBuffer();
  if (mode === "shadow") {
    const kind = window.prompt(`Shadow of which kind? (${$("#deploy-mode").dataset.kinds || ""})`);
    if (!kind) return;
    const answer = await change(null, `/plugins/${encodeURIComponent(kind)}/shadow?who=console`,
      { body: bytes, contentType: "application/wasm" });
    if (answer) {
      openKinds.add(kind);
      say(`${file.name} stored; shadow of ${kind} started with ${answer.candidate.id}.`, "ok");
    }
  } else {
    const activateIt = mode === "activate";
    const answer = await change(
      activateIt ? `Deploy ${file.name} and make it active?` : null,
      `/plugins?activate=${activateIt}&who=console`,
      { body: bytes, contentType: "application/wasm" },
    );
    if (answer) {
      say(`${file.name} stored as ${answer.id}${answer.active ? ", now active" : ""}.`, "ok");
    }
  }
  await refresh();
}

// ---- prices --------------------------------------------------------------------------

let searchTimer = null;
let calendarChart = null;
let openProduct = null;

views.prices = {
  async refresh() {
    if (!openProduct && $("#product-results").children.length === 0) await search();
  },
};

async function search() {
  const q = $("#product-search").value.trim();
  const found = await api(`/api/products?q=${encodeURIComponent(q)}&limit=20`);
  $("#product-results").replaceChildren(
    ...found.map((p) => el(
      "li",
      { "data-product": p.product, onclick: () => showProduct(p.product) },
      el("strong", {}, p.product),
      known(p.from_price)
        ? ` from ${money(p.from_price)} ${p.currency} (${p.city} ${p.date}), ${p.available} available`
        : " (no available departure)",
    )),
  );
  if (found.length === 0) $("#product-results").append(el("li", {}, `No product matches “${q}”.`));
}

async function showProduct(product) {
  const calendar = await load(`/api/products/${encodeURIComponent(product)}/calendar`, `No calendar for ${product}`);
  if (!calendar) return;
  openProduct = product;
  $("#product-view").hidden = false;
  $("#product-title").textContent = `${product}: price calendar`;
  const from = calendar.from;
  const fromLine = $("#from-price");
  for (const name of ["data-minor", "data-city", "data-date"]) fromLine.removeAttribute(name);
  if (from && known(from.from_price)) {
    fromLine.setAttribute("data-minor", from.from_price);
    fromLine.setAttribute("data-city", from.city);
    fromLine.setAttribute("data-date", from.date);
    const perCity = Object.entries(from.per_city).map(([city, p]) => `${city} ${money(p)}`).join(", ");
    fromLine.replaceChildren(
      "From ", el("strong", {}, `${money(from.from_price)} ${from.currency}`),
      ` (${from.city}, ${from.date}); ${from.available} departures available. Per city: ${perCity}.`,
    );
  } else {
    fromLine.textContent = "No departure is available: no from-price.";
  }
  drawCalendar(calendar);
  renderCalendarTable(calendar);
  $("#history-table tbody").replaceChildren();
  $("#history-title").textContent = "Price history (click a departure)";
}

/** One line per departure city across the dates; the from-price as a marked point. */
function drawCalendar(calendar) {
  const box = $("#calendar-chart");
  box.removeAttribute("data-from-minor");
  if (calendarChart) {
    calendarChart.destroy();
    calendarChart = null;
  }
  const dates = [...new Set(calendar.departures.map((d) => d.date))].sort();
  const cities = [...new Set(calendar.departures.map((d) => d.city))];
  const x = dates.map(daySeconds);
  const at = new Map(calendar.departures.map((d) => [`${d.city} ${d.date}`, d]));
  const lines = cities.map((city) => dates.map((date) => {
    const d = at.get(`${city} ${date}`);
    return d && d.status === "available" ? d.price / 100 : null;
  }));
  const from = calendar.from;
  const marked = from && known(from.from_price);
  const fromSeries = dates.map((date) => (marked && date === from.date ? from.from_price / 100 : null));
  const palette = ["#1f6feb", "#1a7f37", "#8250df", "#bf3989", "#0a7d8c", "#bc4c00", "#57606a"];
  const chart = new uPlot(
    {
      width: Math.max(480, Math.min(box.clientWidth || 960, 1200)),
      height: 320,
      scales: { x: { time: true } },
      axes: [{}, { label: `price per person (${(from && from.currency) || ""})`, size: 70 }],
      series: [
        { label: "date", value: (u, v) => (v === null ? "–" : new Date(v * 1000).toISOString().slice(0, 10)) },
        ...cities.map((city, i) => ({
          label: city, stroke: palette[i % palette.length], width: 2, spanGaps: false,
          points: { show: true, size: 5 }, value: (u, v) => (v === null ? "–" : v.toFixed(2)),
        })),
        {
          label: marked ? `from-price ${money(from.from_price)} (${from.city})` : "from-price",
          stroke: "#d4a72c", width: 0, fill: "#d4a72c", paths: () => null,
          points: { show: true, size: 14, width: 3, stroke: "#9a6700", fill: "#ffd33d" },
          value: (u, v) => (v === null ? "–" : v.toFixed(2)),
        },
      ],
    },
    [x, ...lines, fromSeries],
    box,
  );
  calendarChart = chart;
  box.setAttribute("data-lines", cities.length);
  if (marked) box.setAttribute("data-from-minor", from.from_price);
}

function renderCalendarTable(calendar) {
  const from = calendar.from;
  $("#calendar-table tbody").replaceChildren(
    ...calendar.departures.map((d) => {
      const key = `${d.product}:${d.city}:${d.date}`;
      const isFrom = from && from.city === d.city && from.date === d.date;
      const row = el(
        "tr",
        { "data-departure": key, className: `clickable${isFrom ? " from" : ""}`, onclick: () => showHistory(key, row) },
        el("td", {}, d.city),
        el("td", {}, d.date, isFrom ? " ★ from-price" : ""),
        el("td", { className: `status-${d.status}` }, d.status, d.reason ? `: ${d.reason}` : ""),
        el("td", { className: "num" }, d.status === "available" ? money(d.price) : "–"),
        el("td", { className: "num" }, d.version),
      );
      return row;
    }),
  );
}

async function showHistory(key, row) {
  for (const r of document.querySelectorAll("#calendar-table tr.selected")) r.classList.remove("selected");
  row.classList.add("selected");
  const versions = await load(`/api/departures/${encodeURIComponent(key)}/history`, `No history for ${key}`);
  if (!versions) return;
  $("#history-title").textContent = `Price history of ${key}`;
  $("#history-table tbody").replaceChildren(
    ...versions.slice().reverse().map((v) => el(
      "tr",
      {},
      el("td", { className: "num" }, v.version),
      el("td", { className: `status-${v.status}` }, v.status, v.reason ? `: ${v.reason}` : ""),
      el("td", { className: "num" }, v.status === "available" ? money(v.price) : "–"),
      el("td", { className: "mono" }, v.cause),
      el("td", {}, v.event_ts),
      el("td", {}, v.priced_at),
      el("td", { className: "mono" }, Object.values(v.rules).join(" ")),
    )),
  );
}

// ---- live ----------------------------------------------------------------------------

const liveCharts = {};

views.live = {
  async refresh() {
    const timeline = await api("/api/live");
    const t = timeline.points.map((p) => p.t);
    const pick = (name) => timeline.points.map((p) => p[name]);
    liveChart("events", "#live-events", [
      { label: "events/s", stroke: "#1f6feb", width: 2 },
      { label: "departures/s", stroke: "#1a7f37", width: 2 },
    ], [t, pick("events_per_second"), pick("departures_per_second")]);
    liveChart("freshness", "#live-freshness", [
      { label: "p50", stroke: "#8250df", width: 2, points: { show: true }, value: (u, v) => duration(v) },
      { label: "p99", stroke: "#cf222e", width: 2, points: { show: true }, value: (u, v) => duration(v) },
    ], [t, pick("freshness_p50_ms"), pick("freshness_p99_ms")], {
      // Milliseconds to days: a log scale keeps both readable.
      scales: { x: { time: true }, y: { distr: 3 } },
      axes: [{}, { size: 80, values: (u, splits) => splits.map(duration) }],
    });
    liveChart("deadLetters", "#live-dead-letters", [
      {
        label: "dead letters", stroke: "#cf222e", fill: "rgba(207,34,46,0.3)", points: { show: false },
        paths: uPlot.paths.bars({ size: [0.8, 40] }),
      },
    ], [t, pick("dead_letters")]);
  },
};

function liveChart(name, selector, series, data, options = {}) {
  if (liveCharts[name]) {
    liveCharts[name].setData(data);
    return;
  }
  const box = $(selector);
  liveCharts[name] = new uPlot(
    {
      width: Math.max(480, Math.min(box.clientWidth || 960, 1200)),
      height: 180,
      scales: { x: { time: true } },
      ...options,
      series: [{}, ...series.map((s) => ({ points: { show: true, size: 4 }, ...s }))],
    },
    data,
    box,
  );
}

/** Milliseconds as `850 ms`, `3.2 s`, `4.5 min`, `2.1 h` or `31 d`. */
function duration(ms) {
  if (!known(ms)) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const steps = [[1000, "s"], [60, "min"], [60, "h"], [24, "d"]];
  let value = ms;
  let unit = "ms";
  for (const [factor, name] of steps) {
    if (value < factor) break;
    value /= factor;
    unit = name;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

// ---- dead letters --------------------------------------------------------------------

views["dead-letters"] = {
  async refresh() {
    const letters = await api("/api/dead-letters");
    const body = $("#dead-letters-table tbody");
    if (letters.length === 0) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 4 }, "No dead letters since the engine started.")));
      return;
    }
    body.replaceChildren(...letters.map((d) => el(
      "tr",
      { "data-reason": d.reason_class },
      el("td", { className: "mono" }, d.reason_class),
      el("td", {}, d.reason),
      el("td", { className: "mono" }, origin(d.origin)),
      el("td", { className: "mono record" }, clip(typeof d.event === "string" ? d.event : JSON.stringify(d.event))),
    )));
  },
};

function origin(o) {
  if (!o) return "";
  if (o.source === "file") return `${o.path}:${o.line}`;
  if (o.source === "kafka") return `${o.topic}/${o.partition}@${o.offset}`;
  return JSON.stringify(o);
}

function clip(text, max = 240) {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

// ---- start ---------------------------------------------------------------------------

function start() {
  const token = $("#token");
  token.value = sessionStorage.getItem(TOKEN_KEY) || "";
  token.addEventListener("input", () => sessionStorage.setItem(TOKEN_KEY, token.value));
  for (const button of document.querySelectorAll("nav button")) {
    button.addEventListener("click", () => show(button.dataset.tab));
  }
  $("#deploy-form").addEventListener("submit", deploy);
  $("#product-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => search().catch((e) => say(`Search failed: ${e.message}`, "error")), 200);
  });
  const wanted = location.hash.slice(1);
  show(views[wanted] ? wanted : "rules");
  // Rules, live charts and dead letters follow the engine; prices are read on demand.
  setInterval(() => {
    if (current !== "prices" && !document.hidden) refresh();
  }, REFRESH_MS);
}

start();
