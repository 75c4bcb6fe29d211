'use strict';
// The review page of `rag-eval review`: one sample at a time, as the label queue drew them.
// Every text of a sample, the judge or the API is set as textContent: a sample may hold
// markup, and it is shown, never run. The token of the printed URL goes with each /api call.
const token = new URLSearchParams(location.search).get('token') || '';
const $ = id => document.getElementById(id);
const el = (tag, text, cls) => { const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
const state = {session: null, queue: null, at: 0, done: 0, labelled: 0, skipped: new Set(),
  keys: new Map(), busy: false};
const BATCH = 10;

async function api(path, body) {
  const init = {cache: 'no-store', headers: {'X-Review-Token': token, 'Accept': 'application/json'}};
  if (body !== undefined) {
    init.method = 'POST'; init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body);
  }
  const answer = await fetch(path, init);
  const data = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const error = data.error || {};
    const details = (error.details || []).map(d => (d.field ? d.field + ': ' : '') + d.message
      + (d.allowed ? ' (allowed: ' + [].concat(d.allowed).join(', ') + ')' : ''));
    throw new Error([error.message || 'HTTP ' + answer.status, ...details].join('; '));
  }
  return data;
}
const say = (text, bad) => { const s = $('status'); s.textContent = text; s.className = 'status' + (bad ? ' bad' : ''); };
const current = () => state.queue && state.queue.samples[state.at];
// Numbers as the metric's scale writes them: no float noise (0.30000000000000004).
const num = v => (v === null || v === undefined) ? '–' : String(Math.round(v * 1e6) / 1e6);

// The number keys. A scale of whole numbers within 0..9 (1..5): each key is its value.
// Any other scale: 0..9 are tenths of the way from low to high (0, 0.1 .. 0.9 on 0..1) and
// = is the top of the scale. Categories: 1..9 pick the first nine, in the metric's order.
function keyScheme(q) {
  const keys = new Map();
  if (q.categories) {
    Object.keys(q.categories).slice(0, 9).forEach((name, i) => keys.set(String(i + 1), name));
    const named = [...keys].map(([k, name]) => k + ' ' + name).join(', ');
    return {keys, help: [['1 .. ' + keys.size, 'put a category in the field: ' + named]]};
  }
  const lo = q.low, hi = q.high;
  if (Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && hi <= 9 && hi - lo >= 2) {
    for (let v = lo; v <= hi; v++) keys.set(String(v), v);
    return {keys, help: [[lo + ' .. ' + hi, 'put that value in the field']]};
  }
  for (let d = 0; d <= 9; d++) keys.set(String(d), lo + d * (hi - lo) / 10);
  keys.set('=', hi);
  const tenths = [0, 1, 9].map(d => num(keys.get(String(d))));
  return {keys, help: [
    ['0 .. 9', 'put ' + tenths[0] + ', ' + tenths[1] + ' .. ' + tenths[2] + ' in the field (tenths of the scale)'],
    ['=', 'put ' + num(hi) + ' in the field (the top of the scale)']]};
}

const HELP = [
  ['Enter', 'submit the value in the field'],
  ['a', 'agree: label the judge\'s own value'],
  ['s', 'skip: the sample comes back in the next batch (the corrected mean uses the draws only '
    + 'up to the first sample nobody labelled)'],
  ['n', 'write a note'], ['Esc', 'leave a field'],
];

function showKeys(q) {
  const scheme = keyScheme(q); state.keys = scheme.keys;
  const choices = $('choices'); choices.replaceChildren();
  if (q.categories) for (const [k, name] of scheme.keys) {
    const b = el('button', name); b.type = 'button'; b.append(' ', el('kbd', k));
    b.addEventListener('click', () => pick(name)); choices.append(b);
  }
  $('value').placeholder = q.categories ? 'a category' : num(q.low) + '..' + num(q.high);
  $('keys').replaceChildren(...[...scheme.help, ...HELP].map(([k, said]) => {
    const li = el('li'); li.append(el('kbd', k), ' ' + said); return li; }));
}

// The judge's evidence, readably: per list, an item a line, its verdict first (✓ / ✗).
function evidence(ev) {
  const ul = $('evidence'); ul.replaceChildren();
  if (!ev || typeof ev !== 'object') return;
  if (Array.isArray(ev)) { ev = {items: ev}; }
  for (const [key, value] of Object.entries(ev)) {
    const label = key.replace(/_/g, ' ');
    if (!Array.isArray(value)) {
      ul.append(el('li', label + ': ' + (typeof value === 'object' ? JSON.stringify(value) : String(value))));
      continue;
    }
    const li = el('li', label + (value.length ? ':' : ': none')); const inner = el('ul');
    for (const item of value) {
      if (item === null || typeof item !== 'object') { inner.append(el('li', String(item))); continue; }
      const flags = Object.entries(item).filter(([, v]) => typeof v === 'boolean');
      const verdict = flags.length ? flags[0] : null;
      const words = [];
      for (const [k, v] of Object.entries(item)) {
        if (verdict && k === verdict[0]) continue;
        if (k === 'reason') continue;
        if (typeof v === 'boolean') words.push(k.replace(/_/g, ' ') + ' ' + (v ? 'yes' : 'no'));
        else if (typeof v === 'number') words.push(k.replace(/_/g, ' ') + ' ' + v);
        else if (Array.isArray(v)) words.push(k.replace(/_/g, ' ') + ' ' + (v.join(', ') || 'none'));
        else words.push(String(v));
      }
      const line = el('li', undefined, verdict ? (verdict[1] ? 'yes' : 'no') : '');
      if (verdict) line.append(el('b', (verdict[1] ? '✓ ' : '✗ ') + verdict[0].replace(/_/g, ' ') + ': '));
      line.append(words.join(' · '));
      if (item.reason) line.append(el('span', ' — ' + item.reason, 'small'));
      inner.append(line);
    }
    li.append(inner); ul.append(li);
  }
}

// A conversation, as report.html shows it (conversation.js: its turns, the expected calls).
function conversation(s) {
  const c = s.conversation, box = $('conversation');
  box.replaceChildren(el('h3', 'Conversation'), turnsView(c));
  if (c.calls) box.append(el('h3', 'Tool calls: expected and made'), callsTable(c.calls));
  const dl = el('dl');
  if (c.topics) dl.append(el('dt', 'reference topics'), el('dd', c.topics.join(', ')));
  dl.append(el('dt', 'reference outcome'), el('dd', s.ground_truth || '–'));
  box.append(dl);
}

function judgeLine(q, j) {
  const scale = q.categories ? 'categories: ' + Object.entries(q.categories).map(([n, v]) => n + ' = ' + num(v)).join(', ')
    : 'on ' + num(q.low) + '..' + num(q.high) + ', ' + (q.higher_is_better ? 'higher' : 'lower') + ' is better';
  if (j.score === null || j.score === undefined) return 'not scored' + (j.reason ? ' (' + j.reason + ')' : '') + ' · ' + scale;
  return num(j.score) + (j.category ? ' (' + j.category + ')' : '') + ' · ' + scale;
}

function progress() {
  const q = state.queue; if (!q) return;
  const left = Math.max(0, q.samples.length - state.at);
  $('progress').textContent = state.done + ' labelled · ' + left + ' left in this batch'
    + (state.skipped.size ? ' · ' + state.skipped.size + ' skipped' : '');
  $('figures').textContent = 'The job: ' + q.scored + ' scored · ' + (q.labelled + state.done)
    + ' labelled · ' + q.answered + ' draw(s) answered when this batch was drawn · ' + q.leaning;
}

function render() {
  const q = state.queue, s = current();
  progress();
  $('sample').hidden = $('label').hidden = !s; $('empty').hidden = !!s;
  if (!s) { $('empty').textContent = 'Nothing left to label on ' + q.metric + (state.skipped.size
      ? ': only the ' + state.skipped.size + ' sample(s) you skipped (reload the page to see them again).' : '.');
    return; }
  $('sample-id').textContent = s.sample_id;
  $('single').hidden = !!s.conversation; $('conversation').hidden = !s.conversation;
  if (s.conversation) conversation(s); else {
    const texts = $('texts'); texts.replaceChildren();
    for (const [k, v] of [['question', s.question], ['answer', s.answer], ['reference', s.ground_truth]]) {
      texts.append(el('dt', k), el('dd', v || '–')); }
    $('contexts').replaceChildren(...(s.contexts.length ? s.contexts.map(c => el('li', c)) : [el('li', 'none')]));
  }
  $('judge-score').textContent = judgeLine(q, s.judge);
  $('judge-why').textContent = s.judge.why || '';
  evidence(s.judge.evidence);
  $('value').value = ''; $('note').value = '';
  if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
}

async function loadBatch() {
  const n = Math.min(100, BATCH + state.skipped.size);
  const q = await api('/api/queue?metric=' + encodeURIComponent(state.session.metric) + '&n=' + n);
  q.samples = q.samples.filter(s => !state.skipped.has(s.sample_id)).slice(0, BATCH);
  state.queue = q; state.at = 0; state.done = 0;
  showKeys(q); render();
}

async function next() {
  state.at += 1;
  if (state.at < state.queue.samples.length) { render(); return; }
  const said = $('status').textContent;
  say('fetching the next batch…'); await loadBatch();
  say(said + ' · next batch: ' + state.queue.samples.length + ' sample(s)');
}

function pick(value) {
  $('value').value = typeof value === 'number' ? num(value) : value;
  say('value ' + $('value').value + ': Enter submits it');
}

function typedValue() {
  const text = $('value').value.trim(), q = state.queue;
  if (!text) throw new Error('type a value, or press a number key, first');
  if (q.categories) {
    if (!(text in q.categories)) throw new Error(text + ' is not one of ' + Object.keys(q.categories).join(', '));
    return text;
  }
  const v = Number(text);
  if (!Number.isFinite(v) || v < q.low || v > q.high) throw new Error(text + ' is not a number in ' + num(q.low) + '..' + num(q.high));
  return v;
}

async function post(value) {
  const s = current(); if (!s || state.busy) return;
  const label = {sample_id: s.sample_id, metric: state.queue.metric, value};
  const note = $('note').value.trim(); if (note) label.note = note;
  state.busy = true;
  try {
    await api('/api/labels', {labels: [label]});
    state.done += 1; state.labelled += 1;
    say('labelled ' + s.sample_id + ': ' + (typeof value === 'number' ? num(value) : value)
      + ' (' + state.labelled + ' this session)');
    await next();
    refreshJob();
  } catch (err) { say(err.message, true); }
  finally { state.busy = false; }
}

function agree() {
  const j = current().judge;
  const own = state.queue.categories ? j.category : j.score;
  if (own === null || own === undefined) { say('the judge gave no value here: type yours', true); return; }
  post(own);
}

function skip() {
  if (state.busy) return;
  state.skipped.add(current().sample_id); say('skipped ' + current().sample_id);
  state.busy = true; next().catch(err => say(err.message, true)).finally(() => { state.busy = false; });
}

function submitTyped() {
  try { post(typedValue()); } catch (err) { say(err.message, true); }
}

async function refreshJob() {
  try {
    const job = await api('/api/job');
    const trust = (job.corrected || {})[state.session.metric];
    const box = $('corrected'); box.replaceChildren();
    if (!trust) { box.textContent = 'No corrected estimate yet: it comes once the worker has read labels of this metric.'; return; }
    box.append(el('b', 'Corrected: '), trust.sentence);
    const j = trust.judge;
    box.append(el('span', ' · the judge alone: ' + num(j.mean) + ' [' + num(j.low) + ', ' + num(j.high) + '] over '
      + j.n + ' samples · ' + trust.labels + ' labelled draw(s), ' + trust.labelled_samples + ' sample(s)', 'small'));
  } catch (err) { $('corrected').textContent = 'The job\'s figures could not be read: ' + err.message; }
}

document.addEventListener('keydown', e => {
  if (e.ctrlKey || e.metaKey || e.altKey || !current()) return;
  const typing = e.target instanceof HTMLInputElement;
  if (typing) { if (e.key === 'Escape') e.target.blur(); return; } // Enter submits the form
  if (state.busy) return;
  if (e.key === 'a') { e.preventDefault(); agree(); }
  else if (e.key === 's') { e.preventDefault(); skip(); }
  else if (e.key === 'n') { e.preventDefault(); $('note').focus(); }
  else if (e.key === 'Enter') { e.preventDefault(); submitTyped(); }
  else if (state.keys.has(e.key)) { e.preventDefault(); pick(state.keys.get(e.key)); }
});
$('label').addEventListener('submit', e => { e.preventDefault(); if (!state.busy) submitTyped(); });
$('agree').addEventListener('click', () => { if (!state.busy) agree(); });
$('skip').addEventListener('click', skip);

(async () => {
  try {
    state.session = await api('/api/session');
    $('metric').textContent = state.session.metric; $('job').textContent = state.session.job_id;
    document.title = 'Label ' + state.session.metric + ' · rag-eval review';
    await loadBatch();
    refreshJob();
    setInterval(refreshJob, 5000); // the worker recomputes after labels arrive
  } catch (err) { $('progress').textContent = ''; say(err.message, true); }
})();
