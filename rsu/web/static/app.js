// rsu dashboard: polls /api/state, refreshes camera JPEGs while the page is visible, draws the map.
// Plain JavaScript, no libraries, nothing loaded from the network.
"use strict";

const COLOURS = { car: "#5adc5a", truck: "#ff7a3c", bus: "#ff7a3c", pedestrian: "#ffc850", person: "#ffc850",
                  bicycle: "#3cb4ff", motorcycle: "#c878ff" };
const SIZES = { car: [4.5, 1.8], truck: [9, 2.5], bus: [12, 2.5], pedestrian: [0.7, 0.7], bicycle: [1.8, 0.6],
                motorcycle: [2.1, 0.8] };
const FRAME_MS = 200;
const TRAIL = 40;

const el = (id) => document.getElementById(id);
const trails = new Map();     // track id -> [[e, n], ...]
const cams = new Map();       // camera id -> {img, meta, loading}
let pollMs = 500;
let lastState = null;
let view = null;              // smoothed map bounds
let framesShown = 0;

function fmt(v, digits = 0) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  return v.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function clock(ns) {
  if (!ns) return "";
  return new Date(ns / 1e6).toISOString().substring(11, 19);
}

function text(tag, content, cls) {
  const node = document.createElement(tag);
  node.textContent = content;
  if (cls) node.className = cls;
  return node;
}

function badge(id, ok, label) {
  const b = el(id);
  b.textContent = label;
  b.className = "badge " + (ok ? "ok" : "bad");
}

// -- cameras --------------------------------------------------------------------------------------------

function ensureCamera(cam) {
  if (cams.has(cam.id)) return cams.get(cam.id);
  const card = document.createElement("div");
  card.className = "card cam";
  card.appendChild(text("h2", cam.id));
  const img = document.createElement("img");
  img.alt = "annotated view of " + cam.id;
  card.appendChild(img);
  const meta = text("div", "", "meta");
  card.appendChild(meta);
  el("cameras").appendChild(card);
  const entry = { img, meta, url: cam.frame_url, loading: false, loaded: 0 };
  cams.set(cam.id, entry);
  refreshFrame(entry);
  return entry;
}

function refreshFrame(entry) {
  // Frames are encoded on request only: nothing is fetched while the page is hidden.
  // The next frame loads off-screen and replaces the shown one only once decoded, so the view never blanks
  // while a frame is in flight or when one request fails.
  if (entry.loading) return;
  if (document.visibilityState === "hidden") { setTimeout(() => refreshFrame(entry), 1000); return; }
  entry.loading = true;
  const next = new Image();
  next.alt = entry.img.alt;
  next.addEventListener("load", () => {
    entry.img.replaceWith(next);
    entry.img = next;
    entry.loading = false; entry.loaded += 1; framesShown += 1;
    setTimeout(() => refreshFrame(entry), FRAME_MS);
  });
  next.addEventListener("error", () => { entry.loading = false; setTimeout(() => refreshFrame(entry), 1000); });
  next.src = entry.url + "?t=" + Date.now();
}

function renderCameras(state) {
  for (const cam of state.cameras) {
    const entry = ensureCamera(cam);
    const size = cam.image_size ? cam.image_size.join("×") : "?";
    entry.meta.textContent = `${cam.has_images ? "video" : "detections only"} · ${size} · frames ${fmt(cam.frames)}` +
      ` · detection lists ${fmt(cam.detection_lists)} · now ${cam.detections} object(s)` +
      (cam.calibrated ? " · calibrated" : "");
  }
}

// -- map --------------------------------------------------------------------------------------------------

function mapBounds(state) {
  const pts = [];
  for (const s of state.sensors.cameras) pts.push([s.e, s.n], [s.look_e, s.look_n]);
  for (const s of state.sensors.radars) pts.push([s.e, s.n]);
  for (const list of state.objects) for (const o of list.items) pts.push([o.e, o.n]);
  for (const scan of state.radar) for (const o of scan.items) if (o.e !== undefined) pts.push([o.e, o.n]);
  if (!pts.length) return { e0: -50, e1: 50, n0: -50, n1: 50 };
  let e0 = Infinity, e1 = -Infinity, n0 = Infinity, n1 = -Infinity;
  for (const [e, n] of pts) { e0 = Math.min(e0, e); e1 = Math.max(e1, e); n0 = Math.min(n0, n); n1 = Math.max(n1, n); }
  const pad = 8;
  return { e0: e0 - pad, e1: e1 + pad, n0: n0 - pad, n1: n1 + pad };
}

function smooth(b) {
  if (!view) { view = b; return view; }
  // grow at once, shrink slowly: the map does not jump as objects come and go
  const k = 0.05;
  view = { e0: Math.min(b.e0, view.e0 + (b.e0 - view.e0) * k), e1: Math.max(b.e1, view.e1 + (b.e1 - view.e1) * k),
           n0: Math.min(b.n0, view.n0 + (b.n0 - view.n0) * k), n1: Math.max(b.n1, view.n1 + (b.n1 - view.n1) * k) };
  return view;
}

function drawMap(state) {
  const canvas = el("map");
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const b = smooth(mapBounds(state));
  const scale = Math.min(W / (b.e1 - b.e0), H / (b.n1 - b.n0));
  const ce = (b.e0 + b.e1) / 2, cn = (b.n0 + b.n1) / 2;
  const px = (e, n) => [W / 2 + (e - ce) * scale, H / 2 - (n - cn) * scale];
  ctx.clearRect(0, 0, W, H);
  // grid every 10 m, labelled every 50 m
  ctx.lineWidth = 1;
  ctx.font = "10px system-ui, sans-serif";
  const step = scale > 2.5 ? 10 : 50;
  for (let e = Math.ceil((ce - W / 2 / scale) / step) * step; e <= ce + W / 2 / scale; e += step) {
    const [x] = px(e, 0);
    ctx.strokeStyle = e === 0 ? "#3a4652" : "#232a31";
    ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, H); ctx.stroke();
    if (e % 50 === 0) { ctx.fillStyle = "#5d6975"; ctx.fillText(`${e} m E`, x + 2, H - 4); }
  }
  for (let n = Math.ceil((cn - H / 2 / scale) / step) * step; n <= cn + H / 2 / scale; n += step) {
    const [, y] = px(0, n);
    ctx.strokeStyle = n === 0 ? "#3a4652" : "#232a31";
    ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(W, y); ctx.stroke();
    if (n % 50 === 0) { ctx.fillStyle = "#5d6975"; ctx.fillText(`${n} m N`, 2, y - 2); }
  }
  // sensors
  for (const c of state.sensors.cameras) {
    const [x, y] = px(c.e, c.n), [lx, ly] = px(c.look_e, c.look_n);
    ctx.strokeStyle = "#666"; ctx.setLineDash([4, 4]);
    ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(lx, ly); ctx.stroke(); ctx.setLineDash([]);
    ctx.fillStyle = "#ddd";
    ctx.beginPath(); ctx.moveTo(x, y - 7); ctx.lineTo(x - 6, y + 5); ctx.lineTo(x + 6, y + 5); ctx.fill();
    ctx.fillText(c.id, x + 8, y + 4);
  }
  for (const r of state.sensors.radars) {
    const [x, y] = px(r.e, r.n);
    ctx.strokeStyle = "#00e5e5"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, y, 6, 0, 2 * Math.PI); ctx.stroke(); ctx.lineWidth = 1;
    ctx.fillStyle = "#00e5e5"; ctx.fillText(r.id, x + 8, y + 12);
  }
  // radar objects
  ctx.strokeStyle = "#00ffff";
  for (const scan of state.radar) {
    for (const o of scan.items) {
      if (o.e === undefined) continue;
      const [x, y] = px(o.e, o.n);
      ctx.beginPath(); ctx.moveTo(x - 4, y - 4); ctx.lineTo(x + 4, y + 4); ctx.moveTo(x + 4, y - 4);
      ctx.lineTo(x - 4, y + 4); ctx.stroke();
    }
  }
  // fused tracks: trail, footprint oriented by heading, velocity arrow, id
  let count = 0;
  const seen = new Set();
  for (const list of state.objects) {
    for (const o of list.items) {
      count += 1;
      seen.add(o.track_id);
      const trail = trails.get(o.track_id) || [];
      const last = trail[trail.length - 1];
      if (!last || last[0] !== o.e || last[1] !== o.n) trail.push([o.e, o.n]);
      if (trail.length > TRAIL) trail.shift();
      trails.set(o.track_id, trail);
      const colour = COLOURS[o.class] || "#cccccc";
      ctx.strokeStyle = colour; ctx.globalAlpha = 0.45;
      ctx.beginPath();
      trail.forEach(([e, n], i) => { const [x, y] = px(e, n); if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); });
      ctx.stroke(); ctx.globalAlpha = 1;
      const [x, y] = px(o.e, o.n);
      const [len, wid] = o.size ? o.size : (SIZES[o.class] || [1, 1]);
      ctx.save(); ctx.translate(x, y); ctx.rotate(o.heading_deg * Math.PI / 180);
      ctx.fillStyle = colour; ctx.globalAlpha = o.state === "confirmed" ? 0.9 : 0.4;
      const l = Math.max(len * scale, 4), w = Math.max(wid * scale, 4);
      ctx.fillRect(-w / 2, -l / 2, w, l);
      ctx.restore(); ctx.globalAlpha = 1;
      ctx.strokeStyle = colour;
      ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + o.ve * scale, y - o.vn * scale); ctx.stroke();
      ctx.fillStyle = "#fff";
      ctx.font = "bold 11px system-ui, sans-serif";
      ctx.fillText(`${o.track_id}`, x + 6, y - 6);
      ctx.font = "10px system-ui, sans-serif";
    }
  }
  for (const id of trails.keys()) if (!seen.has(id)) trails.delete(id);
  el("map-info").textContent = `${count} fused object(s) · ${state.radar.reduce((a, s) => a + s.items.length, 0)}` +
    ` radar object(s) · ${Math.round(b.e1 - b.e0)} × ${Math.round(b.n1 - b.n0)} m`;
  return count;
}

// -- tables -------------------------------------------------------------------------------------------------

function fillTable(id, rows, empty) {
  const body = el(id).querySelector("tbody");
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = text("td", empty, "empty"); td.colSpan = 8; tr.appendChild(td); body.appendChild(tr);
    return;
  }
  for (const cells of rows) {
    const tr = document.createElement("tr");
    for (const [value, cls] of cells) tr.appendChild(text("td", value, cls));
    body.appendChild(tr);
  }
}

function renderPlugins(state) {
  fillTable("plugins", state.plugins.map((p) => [
    [`${p.name} ${p.version || ""}`], [p.status, p.status === "running" ? "ok" : "bad"], [fmt(p.calls)],
    [fmt(p.errors), p.errors ? "bad" : ""], [fmt(p.drops)], [fmt(p.queue_depth)]]), "no plugins enabled");
  fillTable("predictions", state.predictions.map((p) => [
    [p.device], [p.model], [fmt(p.score, 3), p.score >= 0.5 ? "bad" : "ok"]]), "no predictions yet");
}

function fillList(id, items, render, empty) {
  const ul = el(id);
  ul.replaceChildren();
  if (!items.length) { ul.appendChild(text("li", empty, "empty")); return; }
  for (const item of items) ul.appendChild(render(item));
}

function renderEvents(state) {
  const active = state.alarms.active;
  el("alarm-count").textContent = `${active.length} active`;
  const alarms = [...active.map((a) => ({ ...a, current: true })), ...state.alarms.recent];
  fillList("alarms", alarms.slice(0, 25), (a) => {
    const li = document.createElement("li");
    li.className = a.active ? "active" : "cleared";
    li.appendChild(text("span", clock(a.t_event), "t"));
    li.appendChild(document.createTextNode(
      `${a.current ? "ACTIVE " : (a.active ? "raised " : "cleared ")}${a.kind} · ${a.device} · ${a.severity}` +
      (a.score !== null ? ` · score ${fmt(a.score, 2)}` : "") + (a.message ? ` · ${a.message}` : "")));
    return li;
  }, "no alarms");
  fillList("actuations", state.actuations, (a) => {
    const li = document.createElement("li");
    li.className = a.result === "failed" ? "active" : "";
    li.appendChild(text("span", clock(a.t_event), "t"));
    li.appendChild(document.createTextNode(`${a.actuator} ${a.action} → ${a.result}` +
      (a.error ? ` (${a.error})` : "") + (a.reason ? ` · ${a.reason}` : "")));
    return li;
  }, "no actuations");
}

function renderTiles(state) {
  const m = state.metrics;
  const inf = m.inference || {};
  const queued = Object.values(m.queue_depths || {}).reduce((a, b) => a + b, 0);
  const tiles = [
    ["frames", fmt(m.frames)], ["detections", fmt(m.detections)], ["tracks now", fmt(m.tracks)],
    ["tracks started", fmt(m.tracks_started)], ["radar objects", fmt(m.radar_objects)],
    ["readings", fmt(m.readings)], ["published", fmt(m.published)], ["drops", fmt(m.drops)],
    ["queued", fmt(queued)], ["detector mean", inf.mean_ms ? `${fmt(inf.mean_ms, 1)} ms` : "–"],
    ["event→publish p50", m.latency_p50_ms !== null ? `${fmt(m.latency_p50_ms, 1)} ms` : "–"],
    ["event→publish p99", m.latency_p99_ms !== null ? `${fmt(m.latency_p99_ms, 1)} ms` : "–"],
    ["CPU", `${fmt(m.cpu_percent)} %`], ["memory", `${fmt(m.rss_mb)} MB`],
  ];
  const box = el("tiles");
  box.replaceChildren();
  for (const [k, v] of tiles) {
    const t = document.createElement("div");
    t.className = "tile";
    t.appendChild(text("div", v, "v"));
    t.appendChild(text("div", k, "k"));
    box.appendChild(t);
  }
}

// -- polling ------------------------------------------------------------------------------------------------

function render(state) {
  el("site").textContent = state.site.name;
  badge("live-badge", state.live, state.live ? "live" : "not live");
  badge("ready-badge", state.ready.ok, state.ready.ok ? "ready" : "not ready");
  badge("privacy-badge", state.privacy.blur, state.privacy.blur ? `privacy blur (${state.privacy.method})` : "privacy OFF");
  el("uptime").textContent = `up ${fmt(state.uptime_s)} s`;
  el("updated").textContent = `updated ${new Date().toLocaleTimeString("en-GB")}`;
  renderCameras(state);
  const objects = drawMap(state);
  renderPlugins(state);
  renderEvents(state);
  renderTiles(state);
  // for tests and probes: live once the map has objects and every camera has shown a frame
  const allFrames = [...cams.values()].every((c) => c.loaded > 0);
  if (objects > 0 && cams.size > 0 && allFrames) document.body.dataset.live = "1";
}

async function poll() {
  try {
    const response = await fetch("/api/state", { cache: "no-store" });
    if (response.ok) {
      lastState = await response.json();
      pollMs = lastState.poll_ms || pollMs;
      render(lastState);
    } else {
      el("updated").textContent = `state: HTTP ${response.status}`;
    }
  } catch (err) {
    el("updated").textContent = "box unreachable";
    badge("live-badge", false, "unreachable");
  }
  setTimeout(poll, pollMs);
}

poll();
