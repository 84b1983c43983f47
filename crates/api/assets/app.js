// The blackout dashboard: the status, the events and the timelines, kept live by the
// server-sent events of /api/v1/stream.
//
// Everything shown here may come from the network (banners, names, AS paths,
// summaries), so the DOM is built with createElement and textContent only: no string
// is ever parsed as HTML. The server's Content-Security-Policy forbids inline code as
// a second line of defence.
'use strict';

(function () {
  const { $, el, known, badge, fmtTime, pct, shorten, toSecs, getJSON } = window.blackout;
  const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
    '#17becf', '#bcbd22', '#7f7f7f'];
  const MAX_SERIES_PER_CHART = 16;

  const model = { status: null, events: new Map(), range: 86400, charts: [] };

  // The target, the address probed, and, when the name did not resolve, that the
  // address is the last one it resolved to: a dark country's names go dark with it.
  function probeTarget(p) {
    const cell = el('td', null, p.target);
    const named = label('host:' + p.target);
    if (named) cell.append(el('div', { class: 'label' }, named));
    if (p.address && p.address !== p.target) cell.append(el('div', { class: 'addr' }, p.address));
    const last = p.last_known_address;
    if (last) {
      cell.append(el('div', { class: 'lastknown', title: shorten(last.resolve_error, 2000) },
        'last known address: the name did not resolve (' + shorten(last.resolve_error, 120) +
        '); it last resolved ' + fmtTime(last.resolved_at)));
    }
    return cell;
  }

  // "No data" is not "0 %": without a feed up that has seen the routes there is no
  // share to draw, and an empty bar would read as "dark".
  function visibilityBar(v, hasData) {
    if (!hasData || typeof v !== 'number' || !isFinite(v)) {
      return el('span', { class: 'nodata' }, 'no data');
    }
    const outer = el('span', { class: 'bar-bg' });
    const inner = el('span', { class: 'bar' });
    const share = (typeof v === 'number' && isFinite(v)) ? Math.max(0, Math.min(1, v)) : 0;
    inner.style.width = (share * 100).toFixed(1) + '%';
    outer.append(inner);
    return el('span', null, outer, pct(v));
  }

  function fillTable(id, rows, emptyText) {
    const body = $(id).tBodies[0];
    if (rows.length === 0) {
      const cols = $(id).tHead.rows[0].cells.length;
      body.replaceChildren(el('tr', null, el('td', { class: 'empty', colspan: cols }, emptyText)));
    } else {
      body.replaceChildren(...rows);
    }
  }

  function problem(text) {
    const p = $('problem');
    if (text) {
      p.textContent = text;
      p.hidden = false;
    } else {
      p.hidden = true;
    }
  }

  function upstreamName(asn) {
    const s = model.status;
    const found = s && s.upstreams.find((u) => String(u.asn) === String(asn));
    return found && found.name ? 'AS' + asn + ' ' + found.name : 'AS' + asn;
  }

  // The profile's name for an entity (`host:kcna.kp` → `kcna.kp (Korean Central
  // News Agency)`), if it gives one.
  function label(entity) {
    const labels = (model.status && model.status.labels) || {};
    return Object.prototype.hasOwnProperty.call(labels, entity) ? labels[entity] : null;
  }

  // A probe's loss: a check that failed without losing packets (refused, HTTP 503)
  // measured no loss, which is not "0 %".
  function probeLoss(p) {
    if (p.ok || (typeof p.loss === 'number' && p.loss > 0)) return pct(p.loss);
    return el('span', { class: 'nodata' }, '—');
  }

  function renderStatus(s) {
    model.status = s;
    const headline = s.headline || { state: 'no-verdict', text: 'no status yet' };
    $('headline').textContent = headline.text;
    $('top').className = 'state-' + known(headline.state);
    document.title = headline.text + ' · blackout';
    $('profile').textContent = 'profile ' + (s.profile || '—');
    $('generated').textContent = fmtTime(s.generated_at);

    const feedUp = s.feeds.length === 0 || s.feeds.some((f) => f.state === 'up');
    const routesSeen = feedUp && s.prefixes.some((p) => p.full_feed_peers > 0);
    fillTable('upstreams', s.upstreams.map((u) => el('tr', null,
      el('td', null, 'AS' + u.asn), el('td', null, u.name), el('td', null, visibilityBar(u.visibility, routesSeen)),
      el('td', null, badge(u.state)))), 'no upstream seen');

    fillTable('prefixes', s.prefixes.map((p) => el('tr', null,
      el('td', null, p.prefix), el('td', null, visibilityBar(p.visibility, feedUp && p.full_feed_peers > 0)),
      el('td', { class: 'num' }, p.seen_by + ' / ' + p.full_feed_peers),
      el('td', null, Object.entries(p.upstreams).map(([asn, n]) => upstreamName(asn) + ': ' + n).join(', ') || '—'),
      el('td', null, p.origins.map((o) => 'AS' + o).join(', ') || '—'),
      el('td', { class: 'detail', title: p.rpki_invalid || '' },
        p.rpki_invalid ? badge('invalid', 'degraded') : '—', p.rpki_invalid ? ' ' + shorten(p.rpki_invalid, 200) : null))), 'no prefix watched');

    fillTable('probes', s.probes.map((p) => el('tr', null,
      el('td', null, fmtTime(p.at)), probeTarget(p), el('td', null, p.check), el('td', null, p.kind),
      el('td', null, badge(p.ok ? 'ok' : 'fail')), el('td', null, p.outcome),
      el('td', { class: 'num' }, p.rtt_ms === null || p.rtt_ms === undefined ? '—' : p.rtt_ms.toFixed(1) + ' ms'),
      el('td', { class: 'num' }, probeLoss(p)),
      el('td', { class: 'detail', title: shorten(p.detail, 2000) }, shorten(p.detail, 200)))), 'no probe results yet');

    // One row per vantage point: offline (its controls fail, its results do not
    // count), degraded (it alone sees targets down: its path), or up; and what it
    // saw last. Names and texts came from agents and the network: only ever text.
    fillTable('vantages', (s.vantages || []).map((v) => el('tr', null,
      el('td', null, v.name), el('td', null, badge(v.state === 'down' ? 'offline' : v.state === 'degraded' ? 'path' : v.state, v.state)),
      el('td', null, fmtTime(v.since)),
      el('td', { class: 'num' }, v.failing + ' / ' + v.checks),
      el('td', null, ...(v.last ? [fmtTime(v.last.at) + ' ' + v.last.target + ' ' + v.last.kind + ' ',
        badge(v.last.ok ? 'ok' : 'fail'),
        ' ' + (typeof v.last.rtt_ms === 'number' ? v.last.rtt_ms.toFixed(1) + ' ms ' : '') + shorten(v.last.text, 200)] : ['—'])),
      el('td', { class: 'detail' }, shorten(v.detail, 300)))), 'no vantage point heard from yet');

    // Each entity once: the vantage point may be among the entities as well.
    const seen = new Set();
    const entities = [s.network, s.vantage].concat(s.entities)
      .filter((e) => e && e.entity && !seen.has(e.entity) && seen.add(e.entity));
    fillTable('entities', entities.map((e) => el('tr', null,
      el('td', null, e.entity), el('td', null, label(e.entity) || e.name), el('td', null, badge(e.state)),
      el('td', null, fmtTime(e.since)), el('td', null, e.cause || '—'), el('td', null, e.event_id || '—'),
      el('td', { class: 'detail' }, shorten(e.detail, 300)))), 'no entities');

    fillTable('feeds', s.feeds.map((f) => el('tr', null,
      el('td', null, f.name), el('td', null, badge(f.state)), el('td', null, fmtTime(f.last_message)),
      el('td', { class: 'num' }, typeof f.rate === 'number' ? f.rate.toFixed(2) + ' /s' : '—'),
      el('td', { class: 'detail' }, shorten(f.detail, 300),
        f.why_no_routes ? el('div', { class: 'nouse' }, 'no usable route: ' + shorten(f.why_no_routes, 400)) : null))),
    'no feeds');
    $('routers').replaceChildren(...s.feeds.filter((f) => f.router).map(routerBox));
  }

  function list(values) {
    return Array.isArray(values) && values.length ? values.join(', ') : '—';
  }

  function count(value) {
    return typeof value === 'number' ? String(value) : '—';
  }

  // One BMP feed's router: its name, its views, what it skips, its monitored peers
  // and the recent Peer Downs of peers that held watched routes. Every text here
  // came from the router or the network: it is only ever text.
  function routerBox(f) {
    const r = f.router;
    const box = el('div', { class: 'router' });
    box.append(el('h3', null, f.name + ' · ' + shorten(r.sys_name || 'no sysName', 120)));
    if (r.sys_descr) box.append(el('div', { class: 'descr', title: shorten(r.sys_descr, 2000) }, shorten(r.sys_descr, 200)));
    box.append(el('div', { class: 'views' },
      'views configured: ' + list(r.views_configured) + ' · sent: ' + list(r.views_sent) +
      ' · used: ' + list(r.views_used) + ' · peers: ' + r.peers_up + ' up of ' + r.peers_total));
    for (const skip of r.skipped || []) {
      box.append(el('div', { class: 'skipped' }, 'skipped: ' + shorten(skip.what, 200) + ' (' + skip.messages +
        ' messages): ' + shorten(skip.why, 200)));
    }
    const table = el('table', { class: 'peers' }, el('thead', null, el('tr', null,
      ...['peer', 'AS', 'BGP ID', 'type', 'view', 'state', 'since', 'reason', 'routes v4/v6', 'router table v4/v6']
        .map((h) => el('th', null, h)))));
    const body = el('tbody');
    for (const p of r.peers || []) {
      const type = p.peer_type + (p.distinguisher ? ' RD ' + p.distinguisher : '') +
        (p.table_name ? ' ' + shorten(p.table_name, 80) : '') + (p.filtered ? ' (filtered)' : '');
      body.append(el('tr', null,
        el('td', null, p.address), el('td', null, 'AS' + p.asn), el('td', null, p.bgp_id), el('td', null, type),
        el('td', null, p.view || '—'), el('td', null, badge(p.state)), el('td', null, fmtTime(p.since)),
        el('td', { class: 'detail' }, p.reason ? shorten(p.reason, 300) + ' (' + count(p.reason_code) + ')' : '—'),
        el('td', { class: 'num' }, p.routes_ipv4 + ' / ' + p.routes_ipv6),
        el('td', { class: 'num' }, count(p.table_ipv4) + ' / ' + count(p.table_ipv6))));
    }
    if (!body.rows.length) body.append(el('tr', null, el('td', { class: 'empty', colspan: 10 }, 'no peers reported')));
    table.append(body);
    box.append(table);
    for (const down of r.peer_downs || []) {
      box.append(el('div', { class: 'peerdown' }, fmtTime(down.at) + ' ' + shorten(down.peer, 200) + ' went down with ' +
        down.routes + ' watched routes: ' + shorten(down.reason, 300)));
    }
    return box;
  }

  function eventOrder(a, b) {
    if (a.start !== b.start) return Date.parse(b.start) - Date.parse(a.start);
    return a.id < b.id ? 1 : -1;
  }

  function renderEvents() {
    const events = Array.from(model.events.values()).sort(eventOrder);
    const box = $('events');
    if (events.length === 0) {
      box.replaceChildren(el('p', { class: 'empty' }, 'no events'));
      return;
    }
    box.replaceChildren(...events.map((ev, index) => {
      const severity = ev.severity === 'critical' ? 'critical' : 'warning';
      const article = el('article', { class: 'event ' + severity + (ev.end ? ' ended' : '') });
      article.id = 'event-' + shorten(ev.id, 128).replace(/[^A-Za-z0-9_.:-]/g, '_');
      article.append(el('div', { class: 'line' },
        badge(ev.cause, 'cause'), badge(severity), el('span', { class: 'entity' }, ev.entity),
        el('span', { class: 'when' }, fmtTime(ev.start) + ' → ' + (ev.end ? fmtTime(ev.end) : 'ongoing')),
        el('span', { class: 'confidence' }, 'confidence ' + pct(ev.confidence)),
        el('span', { class: 'when' }, ev.id)));
      article.append(el('p', { class: 'summary' }, ev.summary));
      const scope = ev.scope || {};
      const parts = [];
      if (scope.prefixes && scope.prefixes.length) parts.push('prefixes: ' + scope.prefixes.join(', '));
      if (scope.upstreams && scope.upstreams.length) parts.push('upstreams: ' + scope.upstreams.map(upstreamName).join(', '));
      if (scope.hosts && scope.hosts.length) parts.push('hosts: ' + scope.hosts.join(', '));
      if (scope.services && scope.services.length) parts.push('services: ' + scope.services.join(', '));
      if (parts.length) article.append(el('p', { class: 'scope' }, parts.join(' · ')));
      const evidence = ev.evidence || [];
      const details = el('details', null, el('summary', null, 'evidence (' + evidence.length + ')'));
      // The newest event's evidence is open: it is what a reader wants first.
      if (index === 0) details.open = true;
      const rows = evidence.map((e) => el('tr', null,
        el('td', null, fmtTime(e.at)), el('td', null, e.signal), el('td', null, e.text),
        el('td', { class: 'num' }, e.value === null || e.value === undefined ? '' : String(e.value))));
      details.append(el('table', null,
        el('thead', null, el('tr', null, el('th', null, 'at'), el('th', null, 'signal'), el('th', null, 'what was seen'), el('th', null, 'value'))),
        el('tbody', null, ...rows)));
      article.append(details);
      return article;
    }));
  }

  async function loadEvents() {
    const body = await getJSON('/api/v1/events?limit=200');
    model.events = new Map(body.events.map((e) => [e.id, e]));
    renderEvents();
  }

  // ---- timelines ----

  async function fetchSeries(entity, signal, from, until) {
    const q = new URLSearchParams({ entity: entity, signal: signal, from: String(Math.floor(from)), until: String(Math.ceil(until)) });
    const body = await getJSON('/api/v1/signals?' + q.toString());
    const xs = [];
    const ys = [];
    for (const r of body.rollups) { xs.push(toSecs(r.bucket)); ys.push(r.mean); }
    for (const p of body.points) { xs.push(toSecs(p.at)); ys.push(p.value); }
    return [xs, ys];
  }

  // Joins series on one time axis. With `hold`, a value holds until the next one (BGP
  // series are written on change) and the last one is carried to `until`. `resets[k]`,
  // where given, holds times at which series k drops to 0 unless it has a point: an
  // upstream's share is written only while the upstream carries the prefix, so a new
  // visibility point of that prefix without one means the upstream is gone.
  function join(tables, until, hold, resets) {
    const times = new Set();
    for (const [xs] of tables) for (const x of xs) times.add(x);
    for (const reset of resets || []) if (reset) for (const x of reset) times.add(x);
    if (hold) times.add(until);
    const axis = Array.from(times).sort((a, b) => a - b);
    const columns = tables.map(([xs, ys], k) => {
      const byTime = new Map();
      xs.forEach((x, i) => byTime.set(x, ys[i]));
      const reset = resets && resets[k] ? resets[k] : null;
      let last = null;
      return axis.map((x) => {
        if (byTime.has(x)) { last = byTime.get(x); return last; }
        if (reset && last !== null && reset.has(x)) { last = 0; return last; }
        return hold ? last : null;
      });
    });
    return [axis].concat(columns);
  }

  function drawChart(id, title, labels, data, opts) {
    const box = $(id);
    box.replaceChildren();
    if (labels.length === 0 || data[0].length === 0) {
      box.append(el('p', { class: 'empty' }, 'no data in this range'));
      return;
    }
    if (typeof uPlot !== 'function') {
      box.append(el('p', { class: 'empty' }, 'the chart library did not load'));
      return;
    }
    const series = [{}].concat(labels.map((label, i) => ({
      label: label,
      stroke: PALETTE[i % PALETTE.length],
      width: 2,
      spanGaps: !!opts.hold,
      paths: opts.hold && uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined,
      points: { show: !opts.hold },
      value: (u, v) => (v === null || v === undefined ? '—' : opts.format(v)),
    })));
    const plot = new uPlot({
      title: title,
      width: Math.max(320, box.clientWidth - 4),
      height: 220,
      scales: { x: { time: true }, y: opts.range ? { range: opts.range } : {} },
      axes: [{}, { values: (u, splits) => splits.map(opts.format), size: 60 }],
      series: series,
    }, data, box);
    model.charts.push(plot);
  }

  async function loadCharts() {
    const until = Date.now() / 1000;
    const from = until - model.range;
    let listing;
    try {
      listing = (await getJSON('/api/v1/series')).series;
    } catch (e) {
      for (const id of ['chart-prefix', 'chart-upstream', 'chart-probe', 'chart-rtt']) {
        $(id).replaceChildren(el('p', { class: 'empty' }, 'no series: ' + e.message));
      }
      return;
    }
    for (const chart of model.charts) chart.destroy();
    model.charts = [];

    const prefixVis = listing.filter((s) => s.signal === 'bgp.visibility' && s.entity.startsWith('prefix:'))
      .slice(0, MAX_SERIES_PER_CHART);
    const upstreamVis = listing.filter((s) => s.signal.startsWith('bgp.upstream.') || (s.entity.startsWith('upstream:') && s.signal.startsWith('bgp.')));
    const probes = listing.filter((s) => s.signal.startsWith('probe.') && !/rtt/.test(s.signal)).slice(0, MAX_SERIES_PER_CHART);
    const rtts = listing.filter((s) => s.signal.startsWith('probe.') && /rtt/.test(s.signal)).slice(0, MAX_SERIES_PER_CHART);
    const get = (list) => Promise.all(list.map((s) => fetchSeries(s.entity, s.signal, from, until)));

    const share = (v) => (v * 100).toFixed(0) + '%';
    const prefixTables = await get(prefixVis);
    drawChart('chart-prefix', 'share of full-feed peers that see each prefix',
      prefixVis.map((s) => s.entity.replace(/^prefix:/, '')), join(prefixTables, until, true),
      { hold: true, range: [0, 1], format: share });

    // Per upstream: the share of (prefix, peer) routes that go through it, averaged
    // over the watched prefixes.
    const upstreamTables = await get(upstreamVis);
    const asnOf = (s) => s.signal.startsWith('bgp.upstream.') ? s.signal.slice('bgp.upstream.'.length) : s.entity.replace(/^upstream:/, '');
    const asns = Array.from(new Set(upstreamVis.map(asnOf))).slice(0, MAX_SERIES_PER_CHART);
    const visibilityTimes = new Map(prefixVis.map((s, k) => [s.entity, new Set(prefixTables[k][0])]));
    const joined = join(upstreamTables, until, true, upstreamVis.map((s) => visibilityTimes.get(s.entity) || null));
    const prefixCount = Math.max(1, prefixVis.length);
    const perUpstream = asns.map((asn) => {
      const members = [];
      upstreamVis.forEach((s, k) => { if (asnOf(s) === asn) members.push(k); });
      const direct = members.some((k) => upstreamVis[k].entity.startsWith('upstream:'));
      return joined[0].map((_, i) => {
        let sum = 0;
        let any = false;
        for (const k of members) {
          const v = joined[k + 1][i];
          if (v !== null) { sum += v; any = true; }
        }
        return any ? (direct ? sum : sum / prefixCount) : null;
      });
    });
    drawChart('chart-upstream', 'share of routes through each upstream', asns.map(upstreamName),
      [joined[0]].concat(perUpstream), { hold: true, range: [0, 1], format: share });

    const probeTables = await get(probes);
    drawChart('chart-probe', '1 = passed, 0 = failed; loss as a share',
      probes.map((s) => s.entity + ' ' + s.signal), join(probeTables, until, false),
      { hold: false, range: [0, 1], format: (v) => Number(v).toFixed(2) });

    const rttTables = await get(rtts);
    drawChart('chart-rtt', 'round-trip time', rtts.map((s) => s.entity + ' ' + s.signal),
      join(rttTables, until, false), { hold: false, format: (v) => Number(v).toFixed(0) + ' ms' });
  }

  let chartsPending = false;
  let chartsLoadedAt = 0;
  function refreshCharts(force) {
    if (chartsPending) return;
    if (!force && Date.now() - chartsLoadedAt < 30000) return;
    chartsPending = true;
    loadCharts().catch((e) => problem('timelines: ' + e.message)).finally(() => {
      chartsPending = false;
      chartsLoadedAt = Date.now();
    });
  }

  function connect() {
    if (typeof EventSource !== 'function') return;
    const source = new EventSource('/api/v1/stream');
    const live = $('live');
    source.onopen = () => { live.textContent = 'live'; live.className = 'live-on'; };
    source.onerror = () => { live.textContent = 'reconnecting'; live.className = 'live-off'; };
    source.addEventListener('status', (message) => {
      try {
        renderStatus(JSON.parse(message.data));
        refreshCharts(false);
      } catch (e) { problem('stream: ' + e.message); }
    });
    source.addEventListener('event', (message) => {
      try {
        const body = JSON.parse(message.data);
        model.events.set(body.event.id, body.event);
        renderEvents();
      } catch (e) { problem('stream: ' + e.message); }
    });
    source.addEventListener('lagged', () => {
      loadEvents().catch((e) => problem('events: ' + e.message));
    });
  }

  function start() {
    for (const button of document.querySelectorAll('#ranges button')) {
      button.addEventListener('click', () => {
        model.range = Number(button.dataset.range) || 86400;
        for (const b of document.querySelectorAll('#ranges button')) b.classList.toggle('chosen', b === button);
        refreshCharts(true);
      });
    }
    getJSON('/api/v1/status').then(renderStatus).catch((e) => problem('status: ' + e.message));
    loadEvents().catch((e) => problem('events: ' + e.message));
    refreshCharts(true);
    connect();
    setInterval(() => refreshCharts(true), 60000);
    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => refreshCharts(true), 300);
    });
  }

  start();
}());
