# ruff: noqa: E501  (the page script is one string; its lines are JavaScript)
"""The single page of ``harness view``: run list, run metrics, sample browser, paired diff.

Styled with the report's stylesheet. The script fetches the JSON API of `harness.view._server`
and builds every element with ``textContent`` (never ``innerHTML``), so nothing a model wrote
can run as markup.
"""

from __future__ import annotations

from harness.report._html import _CSS

CSP = (
    "default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
)
# The report page (``/report``) also shows its inline base64 plots.
REPORT_CSP = CSP + "; img-src data:"

_EXTRA_CSS = """
tr.pick{cursor:pointer}tr.pick:hover{background:#f6f8fa}tr.open{background:#e8eef5}
#sample pre{max-width:1000px;background:#f6f8fa;padding:6px}section{margin-top:18px}
.hidden{display:none}label{margin-right:12px}
"""

_JS = r"""
const $=s=>document.querySelector(s);
function el(tag,text,cls){const e=document.createElement(tag);
  if(text!==undefined&&text!==null)e.textContent=String(text);if(cls)e.className=cls;return e;}
function row(cells){const tr=el('tr');cells.forEach(c=>{const td=el('td');
  if(c instanceof Node)td.appendChild(c);else td.textContent=c==null?'':String(c);
  tr.appendChild(td);});return tr;}
function fmt(v){return v===null||v===undefined?'nan':Number(v).toFixed(4);}
async function api(path){const r=await fetch(path);const j=await r.json();
  if(!r.ok)throw new Error(j.error||r.statusText);return j;}
function text(v){if(typeof v==='string')return v;
  if(Array.isArray(v)&&v.every(m=>m&&m.role))return v.map(m=>'['+m.role+'] '+m.content).join('\n');
  return JSON.stringify(v,null,1);}
let RUNS=[],RUN=null;
function filterRuns(){const q=$('#filter').value.toLowerCase();
  document.querySelectorAll('#runs tbody tr').forEach(tr=>{
    tr.style.display=tr.textContent.toLowerCase().includes(q)?'':'none';});}
function picked(){return [...document.querySelectorAll('#runs input:checked')].map(c=>c.value);}
async function loadRuns(){RUNS=await api('/api/runs');const body=$('#runs tbody');body.replaceChildren();
  RUNS.forEach(r=>{const box=el('input');box.type='checkbox';box.value=r.id;
    box.addEventListener('change',()=>{$('#diff').disabled=picked().length!==2;});
    const metrics=Object.entries(r.metrics).slice(0,3).map(([k,v])=>k+'='+fmt(v)).join(', ');
    const tr=row([box,r.id,r.task,r.model,r.adapter||'-',r.n,r.status,metrics,r.created_at]);
    tr.classList.add('pick');tr.dataset.id=r.id;
    tr.addEventListener('click',e=>{if(e.target!==box)openRun(r.id);});body.appendChild(tr);});
  $('#count').textContent=RUNS.length+' runs';filterRuns();}
function firstValue(s){for(const sc of Object.values(s.scores)){
  for(const v of Object.values(sc.values))return v;}return null;}
function go(path){if(location.pathname!==path)history.pushState(null,'',path);}
async function openRun(id,keep){RUN=await api('/api/run/'+encodeURIComponent(id));
  if(!keep)go('/runs/'+encodeURIComponent(id));
  document.querySelectorAll('#runs tr.open').forEach(t=>t.classList.remove('open'));
  const tr=document.querySelector('#runs tr[data-id="'+CSS.escape(id)+'"]');if(tr)tr.classList.add('open');
  const rec=RUN.record;$('#run').classList.remove('hidden');$('#diffview').classList.add('hidden');
  $('#run h2').textContent=id;
  $('#run-info').textContent=rec.task.name+' · '+rec.model.id+(rec.model.adapter?' + '+rec.model.adapter.name:'')
    +' · n='+rec.dataset.n_evaluated+' · '+rec.status+' · tokens '+rec.usage.model_tokens_in+' in, '
    +rec.usage.model_tokens_out+' out';
  const mb=$('#metrics tbody');mb.replaceChildren();
  Object.entries(rec.metrics).forEach(([k,m])=>mb.appendChild(row([k,fmt(m.value),
    m.ci_low===null?'':'['+m.ci_low.toFixed(3)+', '+m.ci_high.toFixed(3)+']',m.n])));
  renderSamples();$('#sample').replaceChildren();}
function renderSamples(){const q=$('#sample-filter').value.toLowerCase(),w=$('#score-filter').value;
  const body=$('#samples tbody');body.replaceChildren();let shown=0;
  RUN.samples.forEach((s,i)=>{const v=firstValue(s);
    if(w==='right'&&!(v>0))return;if(w==='wrong'&&!(v===0))return;if(w==='errors'&&!s.errors.length)return;
    const out=s.outputs.length?s.outputs[0]:'';
    if(q&&!(s.id+' '+out+' '+text(s.prompt)).toLowerCase().includes(q))return;
    const tr=row([s.id,v===null?'-':fmt(v),out.slice(0,140)]);tr.classList.add('pick');
    tr.addEventListener('click',()=>openSample(i));body.appendChild(tr);shown++;});
  $('#sample-count').textContent=shown+' of '+RUN.samples.length+' samples';}
function openSample(i){const s=RUN.samples[i],box=$('#sample');box.replaceChildren();
  box.appendChild(el('h3',s.id));
  const part=(label,value)=>{box.appendChild(el('h4',label));box.appendChild(el('pre',value));};
  part('prompt',text(s.prompt));s.outputs.forEach((o,k)=>part(s.outputs.length>1?'output '+(k+1):'output',o));
  part('target',text(s.target));
  Object.entries(s.scores).forEach(([name,sc])=>{
    part(name+' · extraction',sc.answer===null?'(none)':text(sc.answer));
    part(name+' · scores',Object.entries(sc.values).map(([k,v])=>k+' = '+fmt(v)).join('\n'));
    if(sc.explanation)part(name+' · judge verdict',sc.explanation);});
  s.errors.forEach(e=>part('error',e));}
async function showDiff(pair,keep){const [a,b]=pair||picked();const d=await api('/api/diff?a='+encodeURIComponent(a)+'&b='+encodeURIComponent(b));
  if(!keep)go('/diff/'+encodeURIComponent(a)+'/'+encodeURIComponent(b));
  $('#run').classList.add('hidden');$('#diffview').classList.remove('hidden');
  const better=d.items.filter(i=>i.better==='b').length;
  $('#diff-summary').textContent=d.metric+': A '+fmt(d.mean_a)+' · B '+fmt(d.mean_b)+' · '+d.paired
    +' paired items, '+d.same+' equal, '+better+' better in B, '+(d.items.length-better)+' better in A';
  $('#diff-a').textContent='A = '+a;$('#diff-b').textContent='B = '+b;
  const body=$('#diffs tbody');body.replaceChildren();
  d.items.forEach(i=>body.appendChild(row([i.id,fmt(i.a),fmt(i.b),i.better.toUpperCase(),
    el('pre',i.a_output),el('pre',i.b_output)])));}
function fail(e){$('#problem').textContent=String(e.message||e);}
$('#filter').addEventListener('input',filterRuns);
$('#sample-filter').addEventListener('input',renderSamples);
$('#score-filter').addEventListener('change',renderSamples);
$('#diff').addEventListener('click',()=>showDiff().catch(fail));
async function route(){const p=location.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if(p[0]==='runs'&&p.length===2)await openRun(p[1],true);
  else if(p[0]==='diff'&&p.length===3)await showDiff([p[1],p[2]],true);
  else{$('#run').classList.add('hidden');$('#diffview').classList.add('hidden');}}
window.addEventListener('popstate',()=>route().catch(fail));
loadRuns().then(route).catch(fail);
"""

PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>harness view</title>
<style>{_CSS}{_EXTRA_CSS}</style></head><body>
<h1><a href="/">harness view</a></h1>
<p class="muted"><a href="/report">leaderboard report of these runs</a></p>
<p><input id="filter" placeholder="filter runs (task, model, adapter, status)">
<span id="count" class="muted"></span>
<button id="diff" disabled>diff the two selected runs</button>
<span id="problem" class="bad"></span></p>
<table id="runs"><thead><tr><th></th><th>run</th><th>task</th><th>model</th><th>adapter</th>
<th>n</th><th>status</th><th>metrics</th><th>created</th></tr></thead><tbody></tbody></table>
<section id="run" class="hidden"><h2></h2><p id="run-info" class="muted"></p>
<table id="metrics"><thead><tr><th>metric</th><th>value</th><th>95% CI</th><th>n</th></tr>
</thead><tbody></tbody></table>
<p><input id="sample-filter" placeholder="filter samples (id, prompt, output)">
<label>show <select id="score-filter"><option value="">all</option><option value="right">right</option>
<option value="wrong">wrong</option><option value="errors">failed requests</option></select></label>
<span id="sample-count" class="muted"></span></p>
<table id="samples"><thead><tr><th>id</th><th>score</th><th>output</th></tr></thead>
<tbody></tbody></table><div id="sample"></div></section>
<section id="diffview" class="hidden"><h2>paired diff</h2><p id="diff-summary"></p>
<p class="muted"><span id="diff-a"></span> · <span id="diff-b"></span></p>
<table id="diffs"><thead><tr><th>id</th><th>A</th><th>B</th><th>better</th><th>A output</th>
<th>B output</th></tr></thead><tbody></tbody></table></section>
<script>{_JS}</script></body></html>
"""
