// The blackout overview: the countries and ASes in trouble now and the recent events,
// each with a sparkline of its visibility over the last day, each linking to the
// entity's own page (/?entity=...). The global view watches every country and origin
// AS (250 and 70,000), so every list is a page of /api/v1/entities at a time: the DOM
// never holds more than a page per table.
//
// Names, entities and summaries may come from the network, so the DOM is built with
// createElement and textContent only: no string is ever parsed as HTML.
'use strict';

(function () {
  const { $, el, badge, fmtTime, pct, toSecs, getJSON } = window.blackout;
  const PAGE = 25;
  const SPARK_WIDTH = 120;
  const SPARK_HEIGHT = 24;
  const SVG = 'http://www.w3.org/2000/svg';

  // The entity's own page.
  function entityLink(entity) {
    return el('a', { href: '/?entity=' + encodeURIComponent(entity) }, entity);
  }

  // A sparkline of the entity's visibility over the last day, filled in when the
  // series arrives; a dash when the database has none.
  function sparkline(entity) {
    const cell = el('td', { class: 'spark' }, '…');
    const until = Math.ceil(Date.now() / 1000);
    const from = until - 86400;
    const q = new URLSearchParams({ entity: entity, signal: 'bgp.visibility', from: String(from), until: String(until), limit: '500' });
    queue(() => getJSON('/api/v1/signals?' + q.toString()).then((body) => {
      const points = [];
      for (const r of body.rollups) points.push([toSecs(r.bucket), r.mean]);
      for (const p of body.points) points.push([toSecs(p.at), p.value]);
      cell.textContent = '';
      if (points.length === 0) { cell.append('—'); return; }
      // The last value holds to now: BGP series are written on change.
      points.push([until, points[points.length - 1][1]]);
      const svg = document.createElementNS(SVG, 'svg');
      svg.setAttribute('viewBox', '0 0 ' + SPARK_WIDTH + ' ' + SPARK_HEIGHT);
      svg.setAttribute('class', 'spark' + (points[points.length - 1][1] < 0.5 ? ' low' : ''));
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', entity + ' visibility, last 24 h');
      const line = document.createElementNS(SVG, 'polyline');
      const xy = points.map(([t, v]) => {
        const x = Math.max(0, Math.min(SPARK_WIDTH, (t - from) / 86400 * SPARK_WIDTH));
        const y = SPARK_HEIGHT - 2 - Math.max(0, Math.min(1, v)) * (SPARK_HEIGHT - 4);
        return x.toFixed(1) + ',' + y.toFixed(1);
      });
      line.setAttribute('points', xy.join(' '));
      svg.append(line);
      cell.append(svg);
    }).catch(() => { cell.textContent = '—'; }));
    return cell;
  }

  // At most four series requests at once: the database answers a few at a time.
  const waiting = [];
  let running = 0;
  function queue(job) {
    waiting.push(job);
    pump();
  }
  function pump() {
    while (running < 4 && waiting.length > 0) {
      const job = waiting.shift();
      running += 1;
      job().finally(() => { running -= 1; pump(); });
    }
  }

  function countsText(states, kind) {
    const parts = ['down', 'degraded', 'up', 'unknown'].map((s) => (states[s] || 0) + ' ' + s);
    const all = Object.values(states).reduce((a, b) => a + b, 0);
    return all + ' ' + kind + ': ' + parts.join(', ');
  }

  // One paged table of entities: `query` for /api/v1/entities, `row` to draw one.
  function pagedTable(tableId, pagerId, query, row, onCounts) {
    const body = $(tableId).querySelector('tbody');
    const pager = $(pagerId);
    const stack = [];
    let after = '';
    async function load() {
      const q = new URLSearchParams(query());
      q.set('limit', String(PAGE));
      if (after) q.set('after', after);
      const page = await getJSON('/api/v1/entities?' + q.toString());
      body.textContent = '';
      if (page.entities.length === 0) {
        body.append(el('tr', null, el('td', { class: 'empty', colspan: 8 }, 'none')));
      }
      for (const entity of page.entities) body.append(row(entity));
      if (onCounts) onCounts(page.states);
      pager.textContent = '';
      const first = stack.length * PAGE + (page.entities.length ? 1 : 0);
      const prev = el('button', { type: 'button' }, '‹ previous');
      const next = el('button', { type: 'button' }, 'next ›');
      if (stack.length === 0) prev.setAttribute('disabled', '');
      if (!page.next) next.setAttribute('disabled', '');
      prev.addEventListener('click', () => { after = stack.pop() || ''; load().catch(show); });
      next.addEventListener('click', () => { stack.push(after); after = page.next; load().catch(show); });
      pager.append(prev, next, (first ? first + '–' + (stack.length * PAGE + page.entities.length) : '0') + ' of ' + page.total);
    }
    return { load: load, reset: () => { stack.length = 0; after = ''; return load(); } };
  }

  function troubleRow(entity) {
    return el('tr', null,
      el('td', null, entityLink(entity.entity)),
      el('td', null, entity.name),
      el('td', null, badge(entity.state)),
      el('td', null, fmtTime(entity.since)),
      el('td', null, entity.cause ? el('span', { class: 'badge cause' }, entity.cause) : '—'),
      el('td', { class: 'num' }, entity.prefixes === null || entity.prefixes === undefined ? '—' : entity.dark + ' of ' + entity.prefixes),
      el('td', { class: 'num' }, pct(entity.visibility)),
      sparkline(entity.entity));
  }

  function foundRow(entity) {
    return el('tr', null,
      el('td', null, entityLink(entity.entity)),
      el('td', null, entity.name),
      el('td', null, badge(entity.state)),
      el('td', { class: 'num' }, entity.prefixes === null || entity.prefixes === undefined ? '—' : entity.prefixes),
      el('td', { class: 'num' }, pct(entity.visibility)));
  }

  function show(error) {
    $('headline').textContent = 'the overview could not be loaded: ' + error.message;
  }

  const trouble = { state: 'down,degraded' };
  const countries = pagedTable('countries', 'countries-pager', () => Object.assign({ kind: 'country' }, trouble), troubleRow,
    (states) => { $('country-counts').textContent = countsText(states, 'countries'); });
  const ases = pagedTable('ases', 'ases-pager', () => Object.assign({ kind: 'as' }, trouble), troubleRow,
    (states) => { $('as-counts').textContent = countsText(states, 'ASes'); });
  let findText = '';
  const found = pagedTable('found', 'found-pager', () => ({ q: findText }), foundRow);

  async function loadEvents() {
    const body = await getJSON('/api/v1/events?limit=' + PAGE);
    const rows = $('recent').querySelector('tbody');
    rows.textContent = '';
    if (body.events.length === 0) rows.append(el('tr', null, el('td', { class: 'empty', colspan: 7 }, 'no events')));
    for (const event of body.events) {
      rows.append(el('tr', null,
        el('td', null, fmtTime(event.start)),
        el('td', null, entityLink(event.entity)),
        el('td', null, el('span', { class: 'badge cause' }, event.cause)),
        el('td', null, badge(event.severity)),
        el('td', null, event.end ? fmtTime(event.end) : 'ongoing'),
        el('td', { class: 'summary' }, event.summary),
        sparkline(event.entity)));
    }
  }

  async function loadStatus() {
    const status = await getJSON('/api/v1/status');
    $('profile').textContent = status.profile;
    $('generated').textContent = fmtTime(status.generated_at);
    const down = await getJSON('/api/v1/entities?kind=country,as&state=down,degraded&limit=1');
    $('headline').textContent = down.total === 0
      ? 'no country or AS in trouble now'
      : down.total + (down.total === 1 ? ' country or AS' : ' countries and ASes') + ' in trouble now';
    $('top').className = down.total === 0 ? 'state-online' : 'state-degraded';
  }

  $('find').addEventListener('submit', (e) => {
    e.preventDefault();
    findText = $('find-text').value.trim();
    found.reset().catch(show);
  });

  async function refresh() {
    await Promise.all([loadStatus(), countries.load(), ases.load(), loadEvents()]);
    document.body.setAttribute('data-loaded', 'true');
  }
  refresh().catch(show);
  // The lists move slowly; a minute is often enough, and each refresh is a page.
  setInterval(() => { loadStatus().catch(show); }, 60000);
})();
