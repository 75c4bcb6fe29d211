// A conversation, as report.html and `rag-eval review` show it: its turns in order, an AI
// turn's tool calls with the tools' results under it, and the expected calls beside the
// calls made (paired as tool_call_accuracy pairs them), each mismatch marked and named.
// Every text is set as text by the page's own `el(tag, text, cls)`.
const callVerdict = p => p.verdict === 'arguments differ' ? p.verdict + ': ' + p.differing.join(', ') : p.verdict;
function turnsView(c) {
  const box = el('div', undefined, 'turns');
  for (const t of c.turns) {
    const turn = el('div', undefined, 'turn ' + t.type);
    turn.append(el('span', t.type === 'ai' ? 'AI' : t.type, 'role'));
    if (t.content) turn.append(el('p', t.content, 'said'));
    for (const call of t.calls || []) turn.append(el('p', 'calls ' + call, 'call'));
    for (const result of t.results || []) {
      const r = el('div', undefined, 'result'); r.append(el('span', 'tool result', 'role'), el('p', result));
      turn.append(r); }
    box.append(turn);
  }
  if (c.left_out) box.append(el('p', c.left_out + ' more messages are in the run folder\'s request.json', 'small'));
  return box;
}
function callsTable(pairs) {
  const table = el('table', undefined, 'calls'), head = el('tr');
  head.append(el('th', 'expected'), el('th', 'called'), el('th', 'verdict'));
  table.append(el('thead'), el('tbody')); table.tHead.append(head);
  for (const p of pairs) {
    const ok = p.verdict === 'match', tr = el('tr', undefined, ok ? 'yes' : 'no');
    tr.append(el('td', p.expected || '–', 'call'), el('td', p.actual || '–', 'call'),
      el('td', (ok ? '✓ ' : '✗ ') + callVerdict(p), 'outcome'));
    table.tBodies[0].append(tr);
  }
  return table;
}
