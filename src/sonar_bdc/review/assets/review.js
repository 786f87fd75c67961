// The review page's behaviour, over Leaflet (inlined before this script).
// Data comes from the JSON block #review-data. Names and addresses come from Sonar and
// are untrusted: every text reaches the page through textContent, never innerHTML.
"use strict";
(function () {
  // Each step of the opening is a performance measure "review:<step>" (bench/ prints them).
  let mark = 0; // the first step counts from the navigation
  function step(name) {
    performance.measure(`review:${name}`, { start: mark });
    mark = performance.now();
  }
  step("before the script"); // the HTML, the JSON block and Leaflet's script
  const D = JSON.parse(document.getElementById("review-data").textContent);
  step("parse the data");
  const C = D.customers;
  // Coded columns (name, status, plan, how) hold indexes into their list of values.
  for (const [key, values] of Object.entries(D.customer_values)) C[key] = C[key].map((v) => values[v]);
  const H = D.headline;
  const N = C.id.length;
  const ROW_LIMIT = 500; // table rows drawn at once: the search narrows the rest
  const FABRIC_DEFAULT_MAX = 5000; // more matches than this: the Fabric layer starts off
  const COLOURS = {
    counted: "#1a9850", counted_nobsl: "#91cf60", counted_unmatched: "#fd8d3c",
    counted_not_matched_yet: "#f7b731", "excluded:unknown_status": "#6a3d9a",
    "excluded:no_data_service": "#999999", "excluded:unmapped_technology": "#b15928",
    "excluded:no_coordinates": "#000000", "excluded:no_tract": "#e31a1c",
    "excluded:conflicting_tract": "#c51b7d",
  };
  const TECH_COLOURS = ["#2b8cbe", "#f03b20", "#31a354", "#756bb1", "#dd1c77", "#636363"];
  const idx = new Map();
  for (let i = 0; i < N; i++) idx.set(C.id[i], i);

  function el(tag, text, attrs) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  }
  function fmt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }

  // ---- headline figures --------------------------------------------------------
  function figure(parent, key, label, value) {
    const box = el("div", null, { class: "figure" });
    box.append(el("span", value, { class: "value", "data-figure": key }), el("span", label, { class: "label" }));
    parent.append(box);
  }
  function smallTable(parent, title, head, rows, key) {
    const t = el("table", null, { class: "small", "data-table": key });
    t.append(el("caption", title));
    const tr = el("tr");
    head.forEach((h) => tr.append(el("th", h)));
    t.append(tr);
    rows.forEach((r) => {
      const row = el("tr");
      r.forEach((v, i) => row.append(el("td", i === 0 ? v : fmt(v))));
      t.append(row);
    });
    parent.append(t);
  }
  function headline() {
    const sub = document.getElementById("subtitle");
    sub.textContent = `prefix ${H.prefix} · Sonar imported ${H.imported_at || "never"} · ` +
      `oldest account detail ${H.oldest_detail || "none"} · checked as of ${H.as_of || "today"} · page written ${H.generated_at}`;
    if (H.demo) document.getElementById("demo").textContent = `Simulated data of sonar-bdc demo (${H.demo}): a trial, not your customers.`;
    const box = document.getElementById("figures");
    figure(box, "customers", "customers in the database", fmt(H.customers));
    figure(box, "in_latest_report", "in the latest report", fmt(H.in_latest_report));
    figure(box, "subscribers", "active data customers", fmt(H.subscribers));
    figure(box, "counted", "connections counted", fmt(H.counted));
    figure(box, "consumer", "of them consumer", fmt(H.consumer));
    const excluded = Object.values(H.excluded).reduce((a, b) => a + b, 0);
    figure(box, "excluded", "excluded", fmt(excluded));
    figure(box, "fabric_matched", "matched to the Fabric", fmt(H.fabric_matched));
    figure(box, "markers", "points on the map", "…");
    const tables = document.getElementById("breakdowns");
    smallTable(tables, "Connections (subscription) and locations (availability) per technology and speed tier",
      ["technology · tier", "subscription", "availability"],
      H.tiers.map((t) => [`${t.technology} · ${t.tier}`, t.subscription, t.availability]), "tiers");
    smallTable(tables, "Subscription exceptions by reason", ["reason", "customers"],
      [...Object.entries(H.excluded), ...Object.entries(H.warnings).map(([k, v]) => [`${k} (counted)`, v])], "excluded");
    smallTable(tables, "Availability cross-checks", ["check", "rows"], Object.entries(H.checks), "checks");
    smallTable(tables, "Data-quality findings", ["finding", "rows"], Object.entries(H.findings), "findings");
    smallTable(tables, "Not subscribers (not listed)", ["why", "customers"], Object.entries(H.skipped), "skipped");
    if (H.availability_note) tables.append(el("p", H.availability_note, { class: "note", "data-note": "availability" }));
    if (H.last_filing) {
      const f = H.last_filing;
      tables.append(el("p", `last file written: ${f.kind} as of ${f.as_of}, ${f.written_at}: ${f.path || ""}`, { class: "note" }));
    }
  }

  // ---- the map -----------------------------------------------------------------
  const map = L.map("map", { preferCanvas: true, zoomControl: true });
  const renderer = L.canvas({ padding: 0.3 });
  if (D.tile_url) L.tileLayer(D.tile_url, { maxZoom: 19, attribution: D.tile_attribution || "" }).addTo(map);
  const overlays = {};
  const bounds = L.latLngBounds([]);

  function swatch(colour, label) { return `<span class="swatch" style="background:${colour}"></span>${label}`; }

  function coverageLayers() {
    const byTech = new Map();
    D.coverage.forEach((a) => {
      if (!byTech.has(a.technology)) byTech.set(a.technology, []);
      byTech.get(a.technology).push({ type: "Feature", properties: {}, geometry: JSON.parse(a.geojson) });
    });
    let n = 0;
    for (const [tech, features] of byTech) {
      const colour = TECH_COLOURS[n++ % TECH_COLOURS.length];
      const layer = L.geoJSON({ type: "FeatureCollection", features }, {
        renderer, interactive: false, style: { color: colour, weight: 1, fillOpacity: 0.12 },
      }).addTo(map);
      overlays[swatch(colour, `coverage, technology ${Number(tech)} (${features.length} areas)`)] = layer;
      bounds.extend(layer.getBounds());
    }
  }
  function tractLayer() {
    if (!D.tracts.length) return;
    const features = D.tracts.map((t) => ({ type: "Feature", properties: {}, geometry: JSON.parse(t.geojson) }));
    const layer = L.geoJSON({ type: "FeatureCollection", features }, {
      renderer, interactive: false, style: { color: "#555", weight: 1, dashArray: "4 4", fill: false },
    }).addTo(map);
    overlays[swatch("#555", `census tracts (${features.length})`)] = layer;
  }

  // Subscribers and their Fabric matches are painted on canvas tiles (an L.GridLayer)
  // from arrays: Leaflet's vector layers cost an object and an event target per point,
  // and 50,000 of them take seconds to build and to draw. Each point is projected once
  // (pixels at zoom 0); a tile scales them to its zoom, and a click finds the topmost
  // point under the pointer by a scan of the same arrays.
  const RADIUS = 4; // pixels, as Leaflet's circle markers were
  function project(lat, lon) {
    const x = new Float64Array(N), y = new Float64Array(N);
    for (let i = 0; i < N; i++) {
      if (lat[i] === null) { x[i] = y[i] = NaN; continue; }
      const p = map.project([lat[i], lon[i]], 0);
      x[i] = p.x; y[i] = p.y;
    }
    return [x, y];
  }
  const [PX, PY] = project(C.lat, C.lon);

  // A GridLayer whose tiles are painted by paint(ctx, left, top, scale, size): tile pixels
  // are zoom-0 pixels times scale, minus the tile's left and top.
  const CanvasTiles = L.GridLayer.extend({
    createTile(coords) {
      const tile = L.DomUtil.create("canvas", "leaflet-tile");
      const size = this.getTileSize(), ratio = window.devicePixelRatio || 1;
      tile.width = size.x * ratio;
      tile.height = size.y * ratio;
      const ctx = tile.getContext("2d");
      ctx.scale(ratio, ratio);
      this.options.paint(ctx, coords.x * size.x, coords.y * size.y, this._map.getZoomScale(coords.z, 0), size);
      return tile;
    },
  });
  function pane(name, zIndex) { map.createPane(name).style.zIndex = String(zIndex); return name; }
  const inside = (x, y, size, margin) => x > -margin && y > -margin && x < size.x + margin && y < size.y + margin;

  const byCategory = D.categories.map(() => []);
  for (let i = 0; i < N; i++) if (!Number.isNaN(PX[i])) byCategory[C.cat[i]].push(i);
  const shown = new Set(); // categories switched on in the layers control
  const painted = new Uint8Array(N); // subscribers painted on some tile since the page opened
  let drawn = 0;
  // Each outcome's circle is drawn once on a small canvas (filled, then outlined, as
  // Leaflet draws a circle marker) and stamped at every point: a later point covers the
  // outlines beneath it, as before, at a fraction of the cost of a path per point.
  const RATIO = window.devicePixelRatio || 1, SPRITE = 2 * RADIUS + 2; // CSS pixels
  const sprites = D.categories.map((c) => {
    const sprite = document.createElement("canvas");
    sprite.width = sprite.height = SPRITE * RATIO;
    const ctx = sprite.getContext("2d");
    ctx.scale(RATIO, RATIO);
    ctx.beginPath();
    ctx.arc(SPRITE / 2, SPRITE / 2, RADIUS, 0, 2 * Math.PI);
    ctx.fillStyle = COLOURS[c.key];
    ctx.globalAlpha = 0.85;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#222";
    ctx.stroke();
    return sprite;
  });
  // Zoomed out, thousands of points fall on one pixel: one stamp per pixel and outcome
  // per tile is enough. seen[pixel] holds the pass that stamped it last (no clearing).
  const seen = new Uint32Array(512 * 512); // a 256-pixel tile and its margins
  let pass = 0;
  function paintSubscribers(ctx, left, top, scale, size) {
    const half = SPRITE / 2;
    D.categories.forEach((c, k) => {
      if (!shown.has(k)) return;
      pass++;
      for (const i of byCategory[k]) {
        const x = Math.round(PX[i] * scale - left - half), y = Math.round(PY[i] * scale - top - half);
        if (!inside(x + half, y + half, size, half)) continue;
        painted[i] = 1;
        const pixel = (y + 128) * 512 + x + 128;
        if (seen[pixel] === pass) continue;
        seen[pixel] = pass;
        ctx.drawImage(sprites[k], x, y, SPRITE, SPRITE); // whole pixels: a plain copy
      }
    });
  }
  const subscribers = new CanvasTiles({ pane: pane("subscribers", 420), paint: paintSubscribers });
  // One entry per category in the layers control: switching it repaints the tiles.
  const Category = L.Layer.extend({
    initialize(k) { this.k = k; },
    onAdd() { shown.add(this.k); subscribers.redraw(); },
    onRemove() { shown.delete(this.k); subscribers.redraw(); },
  });
  function pointAt(latlng) {
    const zoom = map.getZoom(), scale = map.getZoomScale(zoom, 0), p = map.project(latlng, zoom);
    const reach = (RADIUS + 0.5) ** 2; // Leaflet's click tolerance: half the stroke
    for (let k = D.categories.length - 1; k >= 0; k--) {
      if (!shown.has(k)) continue;
      const list = byCategory[k];
      for (let n = list.length - 1; n >= 0; n--) { // the last painted is on top
        const i = list[n], dx = PX[i] * scale - p.x, dy = PY[i] * scale - p.y;
        if (dx * dx + dy * dy <= reach) return i;
      }
    }
    return undefined;
  }
  function subscriberLayers() {
    let south = 90, west = 180, north = -90, east = -180;
    D.categories.forEach((c, k) => {
      const count = byCategory[k].length;
      if (!count) return;
      for (const i of byCategory[k]) {
        south = Math.min(south, C.lat[i]); north = Math.max(north, C.lat[i]);
        west = Math.min(west, C.lon[i]); east = Math.max(east, C.lon[i]);
      }
      drawn += count;
      const layer = new Category(k).addTo(map);
      overlays[swatch(COLOURS[c.key], `${c.label} (${count.toLocaleString("en-US")})`)] = layer;
    });
    if (drawn) bounds.extend([[south, west], [north, east]]);
    subscribers.addTo(map);
    map.on("click", (e) => { const i = pointAt(e.latlng); if (i !== undefined) select(i, false); });
    map.on("mousemove", (e) => { map.getContainer().style.cursor = pointAt(e.latlng) === undefined ? "" : "pointer"; });
  }
  function fabricLayer() {
    const matched = [];
    for (let i = 0; i < N; i++) if (C.flat[i] !== null && C.lat[i] !== null) matched.push(i);
    if (!matched.length) return;
    let FX, FY; // projected when the layer is first shown (it starts off above 5,000)
    function paint(ctx, left, top, scale, size) {
      if (FX === undefined) [FX, FY] = project(C.flat, C.flon);
      ctx.strokeStyle = ctx.fillStyle = "#7b3294";
      ctx.lineWidth = 1;
      const lines = new Path2D(), dots = new Path2D();
      for (const i of matched) {
        const ax = PX[i] * scale - left, ay = PY[i] * scale - top;
        const bx = FX[i] * scale - left, by = FY[i] * scale - top;
        if (Math.max(ax, bx) < -3 || Math.max(ay, by) < -3 || Math.min(ax, bx) > size.x + 3 || Math.min(ay, by) > size.y + 3) continue;
        lines.moveTo(ax, ay);
        lines.lineTo(bx, by);
        if (inside(bx, by, size, 3)) { dots.moveTo(bx + 2, by); dots.arc(bx, by, 2, 0, 2 * Math.PI); }
      }
      ctx.stroke(lines);
      ctx.fill(dots);
      ctx.stroke(dots);
    }
    const layer = new CanvasTiles({ pane: pane("fabric", 410), paint });
    overlays[swatch("#7b3294", `matched Fabric locations (${matched.length.toLocaleString("en-US")}), line to the subscriber`)] = layer;
    if (matched.length <= FABRIC_DEFAULT_MAX) layer.addTo(map);
  }

  // ---- selection and the info panel --------------------------------------------
  const highlight = L.circleMarker([0, 0], {
    renderer: L.canvas({ pane: pane("selected", 430) }), radius: 10, weight: 3, color: "#000", fill: false, interactive: false,
  });
  const categoryOf = (i) => D.categories[C.cat[i]].label;
  const lists = { exclusions: new Map(), checks: new Map(), findings: new Map() };
  for (const key of Object.keys(lists)) {
    D[key].forEach((r) => {
      if (r.customer_id === null) return;
      if (!lists[key].has(r.customer_id)) lists[key].set(r.customer_id, []);
      lists[key].get(r.customer_id).push(r);
    });
  }

  function select(i, centre) {
    const info = document.getElementById("info");
    info.replaceChildren();
    if (i === undefined) return;
    const id = C.id[i];
    window.review.selected = id;
    info.setAttribute("data-customer-id", String(id));
    info.append(el("h2", C.name[i] || "(no name)", { "data-field": "name" }));
    const dl = el("dl");
    const field = (label, key, value) => { dl.append(el("dt", label), el("dd", value === null || value === undefined ? "–" : value, { "data-field": key })); };
    field("customer id", "id", id);
    field("address", "addr", C.addr[i]);
    field("status", "status", C.status[i]);
    field("plan", "plan", C.plan[i] || "no data service");
    field("outcome", "outcome", categoryOf(i));
    field("technology", "tech", C.tech[i]);
    field("tract", "tract", C.tract[i]);
    field("point", "point", C.lat[i] === null ? "no coordinates" : `${C.lat[i]}, ${C.lon[i]}`);
    field("Fabric location_id", "loc", C.loc[i]);
    field("matched", "how", C.how[i]);
    info.append(dl);
    const notes = [
      ...(lists.exclusions.get(id) || []).map((r) => `${r.reason}: ${r.detail}`),
      ...(lists.checks.get(id) || []).map((r) => `${r.check}: ${r.detail}`),
      ...(lists.findings.get(id) || []).map((r) => `${r.kind}: ${r.detail}`),
    ];
    if (notes.length) {
      const ul = el("ul", null, { class: "notes" });
      notes.forEach((n) => ul.append(el("li", n)));
      info.append(ul);
    }
    if (C.lat[i] !== null) {
      highlight.setLatLng([C.lat[i], C.lon[i]]).addTo(map);
      if (centre) map.setView([C.lat[i], C.lon[i]], Math.max(map.getZoom(), 16), { animate: false });
    } else {
      highlight.remove();
    }
  }

  // ---- the tables: search, sort, a row selects its customer ---------------------
  function table(parent, key, title, columns, rows) {
    const box = el("section", null, { class: "listing", "data-listing": key });
    box.append(el("h2", `${title} (${rows.length.toLocaleString("en-US")})`));
    const search = el("input", null, { type: "search", placeholder: "search", "aria-label": `search ${title}` });
    const shown = el("p", null, { class: "shown" });
    const t = el("table");
    const head = el("tr");
    let sortKey = null, ascending = true;
    columns.forEach(([k, label]) => {
      const th = el("th", label, { "data-sort": k });
      th.addEventListener("click", () => { ascending = sortKey === k ? !ascending : true; sortKey = k; draw(); });
      head.append(th);
    });
    const body = el("tbody");
    t.append(el("thead"), body);
    t.tHead.append(head);
    const text = rows.map((r) => columns.map(([k]) => (r[k] === null ? "" : String(r[k]))).join("\u0001").toLowerCase());
    function draw() {
      const q = search.value.trim().toLowerCase();
      let order = rows.map((_, n) => n).filter((n) => !q || text[n].includes(q));
      if (sortKey !== null) {
        const value = (n) => rows[n][sortKey];
        order.sort((a, b) => {
          const x = value(a), y = value(b);
          const c = typeof x === "number" && typeof y === "number" ? x - y : String(x ?? "").localeCompare(String(y ?? ""));
          return ascending ? c : -c;
        });
      }
      shown.textContent = order.length > ROW_LIMIT ? `showing ${ROW_LIMIT} of ${order.length}: search to narrow` : `${order.length} rows`;
      body.replaceChildren();
      order.slice(0, ROW_LIMIT).forEach((n) => {
        const r = rows[n];
        const tr = el("tr");
        if (r.customer_id !== null && idx.has(r.customer_id)) {
          tr.setAttribute("data-customer-id", String(r.customer_id));
          tr.classList.add("pick");
          tr.addEventListener("click", () => select(idx.get(r.customer_id), true));
        }
        columns.forEach(([k]) => tr.append(el("td", r[k])));
        body.append(tr);
      });
    }
    search.addEventListener("input", draw);
    box.append(search, shown, t);
    parent.append(box);
    draw();
  }
  function nameOf(id) { return id === null || !idx.has(id) ? null : C.name[idx.get(id)]; }
  function tables() {
    const parent = document.getElementById("tables");
    table(parent, "exclusions", "Subscription exceptions",
      [["customer_id", "customer"], ["name", "name"], ["reason", "reason"], ["detail", "detail"]], D.exclusions);
    table(parent, "checks", "Availability cross-checks",
      [["check", "check"], ["customer_id", "customer"], ["name", "name"], ["location_id", "location_id"], ["technology", "technology"], ["detail", "detail"]], D.checks);
    table(parent, "findings", "Data-quality findings",
      [["kind", "finding"], ["customer_id", "customer"], ["name", "name"], ["detail", "detail"]],
      D.findings.map((f) => ({ ...f, name: nameOf(f.customer_id) })));
  }

  window.review = {
    map, selected: null, select: (id) => select(idx.get(id), true), markers: 0,
    painted: () => painted.reduce((a, b) => a + b, 0), // subscribers painted on the map's tiles
  };
  step("index the data");
  headline();
  step("headline");
  coverageLayers();
  tractLayer();
  step("coverage and tracts");
  fabricLayer(); // its pane lies under the subscribers' points
  step("fabric layer");
  subscriberLayers();
  step("subscriber layers");
  L.control.layers(null, overlays, { collapsed: false, position: "topright" }).addTo(map);
  L.control.scale().addTo(map);
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 16 });
  else map.setView([39.8, -98.6], 4); // the contiguous US: nothing to show
  step("draw the map");
  tables();
  step("tables");
  window.review.markers = drawn;
  document.querySelector('[data-figure="markers"]').textContent = fmt(drawn);
  document.body.setAttribute("data-markers", String(drawn));
  document.body.setAttribute("data-ready", "1");
})();
