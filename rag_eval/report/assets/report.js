const D = JSON.parse(document.getElementById('data').textContent);
const body = document.querySelector('#table tbody');
const el = (tag, text, cls) => { const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
const fmt = v => (v === null || v === undefined) ? '–' : v.toFixed(3);
const whyText = s => Object.entries(s.why).map(([m, w]) => m + ': ' + w).join('; ');
// Scores show on their metric's own scale; low is judged on 0..1 with 1 the best.
const isLow = (s, m) => { const v = s.normalised[m]; return v !== null && v !== undefined && v < D.low; };
const shown = (s, m) => fmt(s.scores[m]) + (s.categories[m] ? ' (' + s.categories[m] + ')' : '');
const scaleOf = m => { const c = D.scales[m]; return c && c.note ? ' (' + c.note + ')' : ''; };
let order = {key: null, dir: 1};
function rows() {
  const q = document.getElementById('filter').value.toLowerCase();
  const low = document.getElementById('lowonly').checked;
  let list = D.samples.filter(s => (!q || (s.id + ' ' + s.question + ' ' + whyText(s)).toLowerCase().includes(q))
    && (!low || D.metrics.some(m => isLow(s, m))));
  if (order.key) {
    const get = s => order.key === 'id' || order.key === 'question' ? s[order.key]
      : order.key === 'weighted' ? s.weighted : s.scores[order.key];
    list = list.slice().sort((a, b) => { const x = get(a), y = get(b);
      if (x === null || x === undefined) return 1; if (y === null || y === undefined) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * order.dir; });
  }
  return list;
}
function render() {
  body.replaceChildren(...rows().map(s => { const tr = el('tr'); tr.dataset.sample = s.id;
    tr.append(el('td', s.id), el('td', s.question));
    for (const m of D.metrics) {
      tr.append(el('td', shown(s, m), 'num' + (isLow(s, m) ? ' low' : ''))); }
    tr.append(el('td', fmt(s.weighted), 'num'), el('td', whyText(s), 'small why'));
    return tr; }));
}
// How an expected tool call fared: "missing", "arguments differ: query".
function evidenceList(ev) {
  const ul = el('ul', undefined, 'ev');
  for (const [key, value] of Object.entries(ev)) {
    if (Array.isArray(value)) {
      ul.append(el('li', key + ':'));
      const inner = el('ul');
      for (const item of value) {
        if (typeof item !== 'object') { inner.append(el('li', String(item))); continue; }
        if (typeof item.verdict === 'string') { const ok = item.verdict === 'match';  // a tool call
          inner.append(el('li', (ok ? '✓ ' : '✗ ') + (item.expected || '–') + ' → '
            + (item.actual || '–') + ': ' + callVerdict(item), ok ? 'yes' : 'no')); continue; }
        const verdict = ['supported', 'attributed', 'useful'].find(k => k in item);
        const text = Object.entries(item).filter(([k]) => k !== verdict)
          .map(([k, v]) => k === 'reason' ? '(' + v + ')' : k === 'context' ? 'context ' + v
            : String(v)).join(' ');
        inner.append(el('li', (verdict ? (item[verdict] ? '✓ ' : '✗ ') : '') + text,
          verdict ? (item[verdict] ? 'yes' : 'no') : ''));
      }
      ul.append(inner);
    } else { ul.append(el('li', key + ': ' + String(value))); }
  }
  return ul;
}
function conversationView(box, s) {
  const c = s.conversation;
  box.append(el('h4', 'conversation'), turnsView(c));
  if (c.calls) box.append(el('h4', 'tool calls: expected and made'), callsTable(c.calls));
  const dl = el('dl');
  if (c.topics) dl.append(el('dt', 'reference topics'), el('dd', c.topics.join(', ')));
  dl.append(el('dt', 'reference outcome'), el('dd', s.reference || '–'));
  box.append(dl);
}
function show(id) {
  const s = D.samples.find(x => x.id === id); if (!s) return;
  const box = document.getElementById('detail-body'); box.replaceChildren();
  box.append(el('h3', s.id));
  if (s.conversation) conversationView(box, s); else {
    const dl = el('dl');
    for (const [k, v] of [['question', s.question], ['answer', s.answer], ['reference', s.reference]]) {
      dl.append(el('dt', k), el('dd', v || '–')); }
    s.contexts.forEach((c, i) => dl.append(el('dt', 'context ' + (i + 1)), el('dd', c)));
    box.append(dl);
  }
  for (const m of D.metrics) {
    box.append(el('h4', m + scaleOf(m) + ': ' + shown(s, m) + (s.reasons[m] ? ' (' + s.reasons[m] + ')' : '')));
    if (s.why[m]) box.append(el('p', s.why[m], 'low'));
    if (s.evidence[m]) box.append(evidenceList(s.evidence[m]));
  }
  document.getElementById('detail').showModal();
}
document.querySelectorAll('#table th[data-key]').forEach(th => th.addEventListener('click', () => {
  order = {key: th.dataset.key, dir: order.key === th.dataset.key ? -order.dir : 1};
  document.querySelectorAll('#table th').forEach(h => h.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort', order.dir > 0 ? 'ascending' : 'descending'); render(); }));
document.getElementById('filter').addEventListener('input', render);
document.getElementById('lowonly').addEventListener('change', render);
body.addEventListener('click', e => { const tr = e.target.closest('tr'); if (tr) show(tr.dataset.sample); });
document.querySelectorAll('button.sample').forEach(b => b.addEventListener('click', () => show(b.dataset.sample)));
render();
