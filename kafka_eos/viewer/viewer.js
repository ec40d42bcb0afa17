// kafka-eos trace viewer: draws the diagram embedded as JSON in #trace-data (see
// kafka_eos/viewer/diagram.py) as a sequence diagram, with a details pane for the current step.
// Handwritten, no dependencies, no network.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("trace-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const GUTTER = 220, LANE_W = 112, ROW_H = 26, TOP = 8, PAD = 20, HEAD_H = 42;
  const SHOWN = 24;  // batches shown per partition (the latest)
  const laneX = {};
  data.lanes.forEach((lane, i) => { laneX[lane.id] = GUTTER + i * LANE_W + LANE_W / 2; });
  const rowY = (step) => TOP + step * ROW_H + ROW_H / 2;
  const bottom = TOP + data.steps.length * ROW_H + PAD;
  const highlightOf = {};
  data.highlights.forEach((h) => { (highlightOf[h.step] = highlightOf[h.step] || []).push(h); });
  let current = data.focus;

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(tag, attrs, parent, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function drawDiagram() {
    const width = GUTTER + data.lanes.length * LANE_W + PAD;
    // Lane titles in their own strip that stays at the top while the steps scroll.
    const head = el("svg", { id: "lane-heads", width: width, height: HEAD_H });
    data.lanes.forEach((lane) => {
      const g = el("g", { class: "lane " + lane.role, "data-lane": lane.id, "data-role": lane.role }, head);
      const title = lane.name.length > 16 ? lane.name.slice(0, 15) + "…" : lane.name;
      el("text", { class: "lane-title", x: laneX[lane.id], y: 18 }, g, title);
      el("title", {}, g, lane.name);
      el("text", { class: "lane-role", x: laneX[lane.id], y: 32 }, g, lane.role);
    });
    const svg = el("svg", { id: "diagram", width: width, height: bottom + PAD });
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "head", viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#546e7a" }, marker);
    const rows = el("g", { id: "steps" }, svg);
    data.steps.forEach((step) => drawStep(rows, step));
    const lanes = el("g", { id: "lanes" }, svg);
    data.lanes.forEach((lane) => {
      el("line", { class: "lane-line", "data-lane": lane.id, x1: laneX[lane.id], y1: 0,
        x2: laneX[lane.id], y2: bottom }, lanes);
    });
    const arrows = el("g", { id: "arrows" }, svg);
    data.arrows.forEach((arrow) => drawArrow(arrows, arrow));
    data.steps.forEach((step) => {
      if (step.lane) {
        el("circle", { class: "dot", cx: laneX[step.lane], cy: rowY(step.index), r: 4,
          "data-step": step.index }, rows.querySelector(`[data-step="${step.index}"]`));
      }
    });
    const pane = document.getElementById("diagram-pane");
    pane.appendChild(head);
    pane.appendChild(svg);
  }

  function drawStep(parent, step) {
    const kinds = (highlightOf[step.index] || []).map((h) => h.kind);
    const g = el("g", { class: ["step", ...kinds].join(" "), "data-step": step.index,
      "data-action": step.action, "data-lane": step.lane || "" }, parent);
    el("rect", { class: "row", x: 0, y: rowY(step.index) - ROW_H / 2,
      width: GUTTER + data.lanes.length * LANE_W + PAD, height: ROW_H }, g);
    el("text", { class: "num", x: 34, y: rowY(step.index) + 4 }, g, String(step.index));
    const label = step.label.length > 32 ? step.label.slice(0, 31) + "…" : step.label;
    el("text", { class: "label", x: 40, y: rowY(step.index) + 4 }, g, label);
    el("title", {}, g, step.label);
    g.addEventListener("click", () => select(step.index));
  }

  function drawArrow(parent, arrow) {
    const classes = ["arrow"];
    if (arrow.lost) classes.push("lost");
    if (arrow.delivered === null) classes.push("inflight");
    if (arrow.sent === arrow.delivered) classes.push("instant");
    const g = el("g", { class: classes.join(" "), "data-arrow": arrow.id,
      "data-from": arrow.from_lane || "", "data-to": arrow.to_lane || "",
      "data-sent": arrow.sent, "data-delivered": arrow.delivered === null ? "" : arrow.delivered,
      "data-resend-of": arrow.resend_of === null ? "" : arrow.resend_of }, parent);
    el("title", {}, g, arrow.text);
    const x1 = arrow.from_lane ? laneX[arrow.from_lane] : GUTTER - 8;
    const y1 = rowY(arrow.sent);
    let x2, y2;
    if (arrow.lost || arrow.delivered === null) {
      // Lost, or still in flight at the end: a stub towards the receiver, ending where it was
      // lost (or one row below the send).
      const towards = arrow.to_lane ? laneX[arrow.to_lane] : x1 + LANE_W;
      x2 = x1 + Math.sign(towards - x1 || 1) * LANE_W * 0.45;
      y2 = arrow.lost ? rowY(arrow.delivered) : y1 + ROW_H * 0.8;
    } else {
      x2 = laneX[arrow.to_lane];
      y2 = rowY(arrow.delivered);
    }
    el("line", { x1: x1, y1: y1, x2: x2, y2: y2,
      "marker-end": arrow.lost ? "" : "url(#head)" }, g);
    if (arrow.lost) el("text", { class: "cross", x: x2 - 5, y: y2 + 5 }, g, "✕");
    el("text", { x: (x1 + x2) / 2 + 3, y: (y1 + y2) / 2 - 3 }, g, arrow.kind || arrow.text);
    if (arrow.resend_of !== null) {
      const original = data.arrows[arrow.resend_of];
      const ox = original.from_lane ? laneX[original.from_lane] : x1;
      const oy = rowY(original.sent);
      el("path", { class: "resend-link", "data-resend": arrow.id,
        d: `M${ox},${oy} C${ox - 40},${oy} ${x1 - 40},${y1} ${x1},${y1}` }, g);
    }
  }

  function drawBanner() {
    const first = data.highlights[0];
    if (!first) return;
    const banner = document.getElementById("banner");
    banner.hidden = false;
    banner.className = first.kind;
    banner.textContent = `Step ${first.step}: ${first.title} (press n to go there)`;
    banner.title = first.explanation;
    banner.addEventListener("click", () => select(first.step));
  }

  function select(index) {
    current = Math.max(0, Math.min(data.steps.length - 1, index));
    document.querySelectorAll(".step.current").forEach((n) => n.classList.remove("current"));
    const row = document.querySelector(`.step[data-step="${current}"]`);
    row.classList.add("current");
    document.querySelectorAll(".arrow").forEach((n) => {
      const active = n.dataset.sent === String(current) || n.dataset.delivered === String(current);
      n.classList.toggle("active", active);
    });
    document.body.dataset.step = String(current);
    showDetails(data.steps[current]);
    const pane = document.getElementById("diagram-pane");
    const y = rowY(current);
    if (y < pane.scrollTop + TOP || y > pane.scrollTop + pane.clientHeight - ROW_H) {
      pane.scrollTop = y - pane.clientHeight / 2;
    }
  }

  function showDetails(step) {
    const pane = document.getElementById("details");
    pane.replaceChildren();
    pane.dataset.step = String(step.index);
    html("h2", {}, pane, `Step ${step.index}: ${step.label}`);
    for (const h of highlightOf[step.index] || []) {
      const box = html("div", { class: "highlight-box " + h.kind }, pane);
      html("strong", {}, box, h.title);
      html("div", { class: "explanation" }, box, h.explanation);
      if (h.details.length) {
        const list = html("ul", { class: "changes" }, box);
        h.details.forEach((line) => html("li", {}, list, line));
      }
    }
    if (data.actions[step.action]) drawSpec(pane, data.actions[step.action]);
    html("h3", {}, pane, "partitions");
    data.partitions.forEach((p) => drawPartition(pane, p, step.index));
    html("h3", {}, pane, "changed");
    const changes = html("ul", { class: "changes" }, pane);
    if (!step.changes.length) html("li", { class: "empty" }, changes, "no variable changed");
    step.changes.forEach((line) => html("li", {}, changes, line));
    const moving = data.arrows.filter((a) => a.sent === step.index || a.delivered === step.index);
    if (moving.length) {
      html("h3", {}, pane, "messages");
      const list = html("ul", { class: "messages" }, pane);
      moving.forEach((a) => {
        let what = a.sent === step.index ? "sent" : "delivered";
        if (a.lost && a.delivered === step.index) what = "LOST";
        if (a.sent === a.delivered) what = "read";
        let text = `${what}: ${a.text}`;
        if (a.resend_of !== null && a.sent === step.index) {
          text += ` (re-sent copy of the message sent at step ${data.arrows[a.resend_of].sent})`;
        }
        html("li", { "data-arrow": a.id }, list, text);
      });
    }
  }

  function drawSpec(parent, action) {
    // The action's row of SPEC.md, folded: the link is always there, the text on request.
    const spec = html("details", { class: "spec" }, parent);
    const summary = html("summary", {}, spec);
    const link = html("a", { href: action.url, class: "spec-link", target: "_blank" }, summary,
      `SPEC.md §2 ${action.section}: ${action.action}`);
    link.title = "the action in spec/SPEC.md";
    const list = html("dl", {}, spec);
    for (const [term, text] of [["guard", action.guard], ["effect", action.effect],
      ["Kafka", action.kafka]]) {
      if (!text) continue;
      html("dt", {}, list, term);
      html("dd", {}, list, text);
    }
  }

  // The partition's log at step `index`: the entries that lived then, the last SHOWN of them.
  function drawPartition(parent, partition, index) {
    const alive = partition.entries
      .filter((e) => e.added <= index && (e.removed === null || e.removed > index))
      .sort((a, b) => a.offset - b.offset);
    const hw = partition.high_watermark[index] ?? null;
    const lso = partition.last_stable_offset[index] ?? null;
    if (!alive.length && hw === null && lso === null) return;  // not there yet
    const box = html("div", { class: "partition", "data-partition": partition.name }, parent);
    html("span", { class: "name" }, box, partition.name + " ");
    const end = alive.length ? alive[alive.length - 1].offset + 1 : 0;
    const marks = [];
    if (hw !== null) marks.push(`high watermark ${hw}`);
    if (lso !== null) marks.push(`LSO ${lso}`);
    if (hw === null) marks.push(`log end ${end}`);
    html("span", { class: "offsets" }, box, marks.join(" · "));
    const log = html("div", { class: "log" }, box);
    const markAt = (offset) => {
      if (lso !== null && offset === lso) html("span", { class: "mark lso", title: "last stable offset" }, log, "LSO");
      if (hw !== null && offset === hw) html("span", { class: "mark hw", title: "high watermark" }, log, "HW");
    };
    if (!alive.length) html("span", { class: "empty" }, log, "empty");
    if (alive.length > SHOWN) {
      html("span", { class: "empty" }, log, `… ${alive.length - SHOWN} earlier batches`);
    }
    alive.slice(-SHOWN).forEach((entry) => {
      markAt(entry.offset);
      const classes = ["entry", entry.kind];
      if (entry.transactional) classes.push("txn");
      if (entry.kind === "control") classes.push(entry.text.toLowerCase());
      if (hw !== null && entry.offset >= hw) classes.push("above-hw");
      const cell = html("div", { class: classes.join(" "), "data-offset": entry.offset,
        title: entry.producer }, log);
      html("div", { class: "offset" }, cell, `@${entry.offset} ${entry.producer}`);
      html("div", {}, cell, entry.text);
    });
    markAt(end);
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = { ArrowDown: 1, ArrowRight: 1, j: 1, ArrowUp: -1, ArrowLeft: -1, k: -1 };
    if (event.key in moves) select(current + moves[event.key]);
    else if (event.key === "Home") select(0);
    else if (event.key === "End") select(data.steps.length - 1);
    else if (event.key === "n" && data.highlights.length) select(data.highlights[0].step);
    else return;
    event.preventDefault();
  });

  drawDiagram();
  drawBanner();
  select(current);
  document.body.dataset.ready = "true";
})();
