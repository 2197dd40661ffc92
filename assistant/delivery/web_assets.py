"""Stylesheet and scripts of the web app (served inline: nothing is fetched from outside)."""
# ---- CSS / JS ---------------------------------------------------------------------------------------

CSS = """
:root { --fz-accent: #b4232a; --fz-blue: #1e40af; --fz-ink: #1f2937; --fz-muted: #6b7280; --fz-line: #e5e7eb; }
.gradio-container { max-width: 1500px !important; margin: 0 auto !important; }
footer { display: none !important; }
.fz-header { display: flex; align-items: center; gap: 14px; padding: 14px 18px; border-radius: 10px;
  background: linear-gradient(90deg, #7f1d1d 0%, #b4232a 55%, #c2410c 100%); color: #fff; }
.fz-emblem { width: 46px; height: 46px; border-radius: 50%; background: #fde68a; color: #7f1d1d; font-size: 26px;
  font-weight: 700; display: flex; align-items: center; justify-content: center; flex: none; box-shadow: 0 0 0 3px rgba(255,255,255,.35); }
.fz-head-text { flex: 1; }
.fz-header .fz-title, .fz-header .fz-sub, .fz-header .fz-stats, .fz-header b { color: #fff !important; }
.fz-title { font-size: 22px; font-weight: 700; letter-spacing: 2px; }
.fz-sub { font-size: 13px; opacity: .9; margin-top: 2px; }
.fz-stats { text-align: right; font-size: 13px; line-height: 1.6; }
.fz-stats span { opacity: .85; }
#fz-sidebar { background: #f8fafc; border: 1px solid var(--fz-line); border-radius: 10px; padding: 10px !important; }
#fz-mode-help { font-size: 13px; color: #374151; background: #fff; border-left: 3px solid var(--fz-accent); padding: 6px 10px; border-radius: 4px; }
#fz-mode-help p { margin: 0; }
#fz-conv { min-height: 420px; }
.fz-conv { display: flex; flex-direction: column; gap: 18px; padding: 6px 4px 12px; color: var(--fz-ink); }
.fz-welcome { border: 1px dashed #d1d5db; border-radius: 12px; padding: 22px 26px; background: #fffdf7; }
.fz-welcome h3 { margin: 0 0 8px; font-size: 19px; color: #7f1d1d; }
.fz-welcome p { margin: 4px 0; color: #374151; }
.fz-wgrid { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 10px; margin: 14px 0; }
.fz-wcard { background: #fff; border: 1px solid var(--fz-line); border-radius: 8px; padding: 10px 12px; font-size: 13px; color: #4b5563; }
.fz-wcard b { display: block; color: var(--fz-accent); font-size: 15px; margin-bottom: 3px; }
.fz-hint { font-size: 13px; color: var(--fz-muted) !important; }
.fz-turn { display: flex; flex-direction: column; gap: 8px; }
.fz-q { display: flex; flex-direction: column; align-items: flex-end; }
.fz-q-bubble { max-width: 80%; background: #1e40af; color: #fff; padding: 9px 14px; border-radius: 14px 14px 2px 14px; font-size: 15px; line-height: 1.6; white-space: pre-wrap; }
.fz-mode-tag { display: inline-block; font-size: 12px; background: rgba(255,255,255,.2); border-radius: 4px; padding: 0 6px; margin-right: 8px; }
.fz-rewrite { font-size: 12px; color: var(--fz-muted); margin-top: 4px; }
.fz-a { display: grid; grid-template-columns: minmax(0, 3fr) minmax(280px, 2fr); gap: 14px; align-items: start; }
.fz-a-wide { grid-template-columns: minmax(0, 1fr); }
@media (max-width: 900px) { .fz-a { grid-template-columns: minmax(0, 1fr); } }
.fz-a-main { background: #fff; border: 1px solid var(--fz-line); border-radius: 2px 14px 14px 14px; padding: 12px 16px;
  font-size: 15px; line-height: 1.85; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.fz-a-main p { margin: 0 0 6px; }
.fz-a-main .fz-lead { font-weight: 600; color: #111827; margin-top: 6px; }
.fz-a-main ul { margin: 4px 0 6px 18px; padding: 0; }
.fz-draft p { text-indent: 2em; }
.fz-draft p.fz-lead { text-indent: 0; }
.fz-cite { color: var(--fz-blue) !important; text-decoration: none !important; font-size: 12px; font-weight: 600; vertical-align: super;
  padding: 0 1px; cursor: pointer; border-radius: 3px; }
.fz-cite:hover, .fz-cite.fz-cite-on { background: #dbeafe; }
.fz-cite-missing { color: #9ca3af !important; text-decoration: line-through !important; }
.fz-unsup { background: #fef2f2; border-left: 3px solid #dc2626; padding-left: 6px; text-decoration: underline wavy #dc2626; text-underline-offset: 4px; }
.fz-unsup-badge { display: inline-block; font-size: 12px; background: #dc2626; color: #fff; border-radius: 3px; padding: 0 5px; margin-right: 4px; text-decoration: none; }
.fz-refused { background: #fffbeb; border: 1px solid #fcd34d; border-radius: 8px; padding: 8px 12px; color: #78350f; }
.fz-refused-head p { margin: 0 0 4px; font-weight: 600; }
.fz-near-title { font-size: 13px; margin-top: 6px; color: #92400e; }
.fz-near { margin: 4px 0 0 0 !important; padding-left: 18px !important; font-size: 13px; color: #57534e; line-height: 1.6; }
.fz-near li { margin-bottom: 6px; }
.fz-near-path { color: #a16207; margin-left: 6px; font-size: 12px; }
.fz-ph { background: #fef3c7; color: #92400e; border-radius: 3px; padding: 0 2px; }
.fz-error { background: #fef2f2; border: 1px solid #fca5a5; border-radius: 8px; padding: 8px 12px; color: #991b1b; }
.fz-pending { color: var(--fz-muted); display: flex; align-items: center; gap: 10px; }
.fz-dots i { display: inline-block; width: 7px; height: 7px; margin-right: 3px; border-radius: 50%; background: #9ca3af; animation: fzblink 1.2s infinite both; }
.fz-dots i:nth-child(2) { animation-delay: .2s; } .fz-dots i:nth-child(3) { animation-delay: .4s; }
@keyframes fzblink { 0%, 80%, 100% { opacity: .2; } 40% { opacity: 1; } }
.fz-caret { display: inline-block; width: 8px; height: 1.1em; background: #1e40af; vertical-align: text-bottom; animation: fzblink 1s infinite; }
.fz-a-side { position: sticky; top: 8px; }
.fz-sources { background: #f9fafb; border: 1px solid var(--fz-line); border-radius: 10px; padding: 10px; max-height: 560px; overflow-y: auto; }
.fz-sources-title { font-weight: 700; font-size: 14px; margin-bottom: 8px; color: #374151; display: flex; justify-content: space-between; align-items: baseline; }
.fz-sources-title span { font-weight: 400; font-size: 12px; color: var(--fz-muted); }
.fz-sources-empty p { font-size: 13px; color: var(--fz-muted); margin: 0; }
.fz-src { background: #fff; border: 1px solid var(--fz-line); border-radius: 8px; padding: 8px 10px; margin-bottom: 8px; font-size: 13px; line-height: 1.65;
  transition: box-shadow .2s, border-color .2s; }
.fz-src.fz-active { border-color: #2563eb; box-shadow: 0 0 0 3px #bfdbfe; }
.fz-src-head { display: flex; gap: 6px; align-items: baseline; font-weight: 600; color: #111827; }
.fz-src-n { flex: none; background: #1e40af; color: #fff; border-radius: 4px; font-size: 12px; padding: 0 6px; }
.fz-src-meta { color: var(--fz-muted); font-size: 12px; margin-top: 2px; }
.fz-src-path { color: #92400e; font-size: 12px; margin-top: 2px; }
.fz-src-ctx { margin-top: 6px; color: #6b7280; display: -webkit-box; -webkit-line-clamp: 5; -webkit-box-orient: vertical; overflow: hidden; }
.fz-src.fz-active .fz-src-ctx { -webkit-line-clamp: unset; display: block; }
.fz-src-ctx mark { background: #fef08a; color: #111827; padding: 1px 0; }
.fz-src-id { color: #9ca3af; font-size: 11px; margin-top: 4px; word-break: break-all; }
.fz-table { width: 100%; border-collapse: collapse; font-size: 14px; margin: 6px 0; }
.fz-table th { background: #f3f4f6; text-align: left; padding: 6px 8px; border: 1px solid var(--fz-line); font-weight: 600; white-space: nowrap; }
.fz-table td { padding: 6px 8px; border: 1px solid var(--fz-line); vertical-align: top; }
.fz-table td p { margin: 0 0 4px; }
.fz-agency { font-weight: 600; min-width: 110px; }
.fz-year { font-weight: 400; color: var(--fz-muted); font-size: 12px; }
.fz-fig { display: inline-block; background: #eff6ff; color: #1e3a8a; border-radius: 4px; padding: 0 6px; margin: 0 4px 4px 0; font-size: 13px; white-space: nowrap; }
.fz-verdict { font-weight: 700; padding: 6px 12px; border-radius: 6px; margin-bottom: 8px; }
.fz-claims { margin: 0; padding-left: 20px; }
.fz-claim { margin-bottom: 10px; padding: 6px 10px; border-left: 4px solid #9ca3af; background: #f9fafb; border-radius: 0 6px 6px 0; }
.fz-claim-head { font-weight: 600; }
.fz-badge { display: inline-block; font-size: 12px; border-radius: 4px; padding: 0 8px; margin-right: 8px; color: #fff; font-weight: 600; }
.fz-v-supported.fz-verdict, .fz-claim.fz-v-supported { background: #f0fdf4; border-color: #16a34a; color: #14532d; }
.fz-v-contradicted.fz-verdict, .fz-claim.fz-v-contradicted { background: #fef2f2; border-color: #dc2626; color: #7f1d1d; }
.fz-v-not_found.fz-verdict, .fz-claim.fz-v-not_found { background: #f3f4f6; border-color: #9ca3af; color: #374151; }
.fz-badge.fz-v-supported { background: #16a34a; } .fz-badge.fz-v-contradicted { background: #dc2626; } .fz-badge.fz-v-not_found { background: #6b7280; }
.fz-reason { font-size: 13px; margin-top: 2px; }
.fz-evidence, .fz-requirement { font-size: 14px; color: #374151; margin-top: 3px; font-weight: 400; }
.fz-requirement { color: #92400e; }
.fz-quiz { padding-left: 20px; margin: 0; }
.fz-quiz li { margin-bottom: 10px; }
.fz-qtype { display: inline-block; font-size: 12px; background: #fef3c7; color: #92400e; border-radius: 4px; padding: 0 6px; margin-right: 6px; }
.fz-options { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 4px 0; color: #374151; }
.fz-quiz details summary { cursor: pointer; color: var(--fz-blue); font-size: 13px; }
.fz-answer { font-weight: 600; color: #14532d; }
.fz-flags { margin-top: 10px; background: #fff7ed; border: 1px solid #fdba74; border-radius: 8px; padding: 6px 10px; font-size: 13px; }
.fz-flags summary { cursor: pointer; color: #9a3412; font-weight: 600; }
.fz-flags ul { margin: 6px 0 0 0; padding-left: 18px; }
.fz-flag-tag { display: inline-block; background: #fed7aa; color: #7c2d12; border-radius: 4px; padding: 0 6px; margin-right: 6px; font-size: 12px; }
.fz-flag-dropped .fz-flag-text { text-decoration: line-through; color: #9ca3af; }
.fz-flag-marked .fz-flag-text { text-decoration: underline wavy #dc2626; }
.fz-status { display: inline-block; border-radius: 4px; padding: 0 8px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.fz-st-ok { background: #dcfce7; color: #166534; } .fz-st-info { background: #dbeafe; color: #1e40af; }
.fz-st-muted { background: #f3f4f6; color: #4b5563; } .fz-st-warn { background: #fef3c7; color: #92400e; } .fz-st-bad { background: #fee2e2; color: #991b1b; }
.fz-upload-summary { font-weight: 600; margin: 6px 0; }
.fz-files { list-style: none; margin: 0; padding: 0; }
.fz-file { border: 1px solid var(--fz-line); border-radius: 6px; padding: 6px 8px; margin-bottom: 6px; font-size: 13px; background: #fff; }
.fz-file b { margin: 0 6px; }
.fz-file-id { color: var(--fz-muted); font-size: 12px; word-break: break-all; }
.fz-file-detail { color: #4b5563; margin-top: 3px; font-size: 12px; }
.fz-file-error { border-color: #fecaca; background: #fffafa; }
.fz-msg { border-radius: 6px; padding: 6px 10px; font-size: 14px; }
.fz-msg-ok { background: #f0fdf4; color: #166534; border: 1px solid #bbf7d0; }
.fz-msg-bad { background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; }
.fz-msg-info { background: #eff6ff; color: #1e40af; border: 1px solid #bfdbfe; }
#fz-input textarea { font-size: 15px !important; }
#fz-doc-search textarea, #fz-doc-search input { border: 1px solid var(--fz-line) !important; border-radius: 6px !important; padding: 6px 10px !important; }
#fz-docs td, #fz-docs [role=gridcell], #fz-docs th { font-size: 13px !important; }
#fz-docs [role=gridcell] span, #fz-docs td span { font-family: inherit !important; word-break: normal; overflow-wrap: anywhere; }
#fz-docs [role=gridcell]:is([data-col="4"], [data-col="5"], [data-col="6"], [data-col="7"]) span,
#fz-docs [role=gridcell][data-col="0"] span { display: block; white-space: nowrap !important; overflow: hidden;
  text-overflow: ellipsis; overflow-wrap: normal !important; color: #6b7280; }
#fz-docs [role=columnheader] span { white-space: nowrap !important; overflow-wrap: normal !important; word-break: keep-all !important; }
#fz-save:disabled, #fz-reingest:disabled, #fz-delete:disabled, #fz-replace:disabled, #fz-open-doc-kb:disabled,
#fz-d-save:disabled, #fz-d-revert:disabled, button[disabled] { opacity: .45 !important; cursor: not-allowed !important;
  filter: grayscale(.6); }
#fz-export { margin-bottom: 6px; }
.fz-src-foot { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; margin-top: 6px; }
.fz-open-doc { color: var(--fz-blue) !important; font-size: 12px; text-decoration: none !important; cursor: pointer; white-space: nowrap; }
.fz-open-doc:hover { text-decoration: underline !important; }
.fz-src-more summary { cursor: pointer; color: #9ca3af; font-size: 12px; }
.fz-src-more[open] summary { color: #6b7280; }
.fz-doc-meta { margin: 2px 0 8px; }
.fz-doc-title { font-weight: 700; font-size: 17px; color: #7f1d1d; }
.fz-doc { font-size: 15px; line-height: 1.9; color: var(--fz-ink); padding: 4px 2px; }
.fz-doc-gap { color: #6b7280; white-space: pre-wrap; margin: 4px 0; }
.fz-chunk { border-left: 3px solid #e5e7eb; padding: 4px 10px 6px; margin: 6px 0; border-radius: 0 6px 6px 0; cursor: pointer; }
.fz-chunk:hover { background: #f9fafb; }
.fz-chunk-focus { border-left-color: #2563eb; background: #eff6ff !important; }
.fz-chunk-edited { border-left-color: #d97706; }
.fz-chunk-head { display: flex; flex-wrap: wrap; gap: 8px; font-size: 12px; color: var(--fz-muted); }
.fz-chunk-n { font-weight: 600; color: #374151; }
.fz-chunk-path { color: #92400e; }
.fz-edited { background: #fef3c7; color: #92400e; border-radius: 4px; padding: 0 6px; font-weight: 600; }
.fz-chunk-text { white-space: pre-wrap; }
.fz-quote { background: #fde047; color: #111827; padding: 1px 0; box-shadow: 0 0 0 2px #facc15; }
.fz-hits-summary { font-size: 13px; color: #4b5563; margin: 4px 0 8px; }
.fz-hits td { font-size: 13px; }
.fz-hit { cursor: pointer; }
.fz-hit:hover td { background: #f8fafc; }
.fz-hit-rank { font-weight: 700; color: #7f1d1d; text-align: center; }
.fz-hit-title { font-weight: 600; color: #111827; }
.fz-hit-text { color: #374151; margin-top: 3px; }
.fz-num { white-space: nowrap; text-align: right; }
.fz-num b { display: block; font-size: 14px; }
.fz-score { color: var(--fz-muted); font-size: 12px; }
.fz-miss { color: #9ca3af; font-size: 12px; }
#fz-delete { color: #b91c1c !important; border: 1px solid #fecaca !important; }
#fz-confirm-delete { background: #dc2626 !important; color: #fff !important; border: none !important; }
.fz-section-title { font-weight: 700; font-size: 15px; color: #7f1d1d; margin: 2px 0; }
.fz-review h3 { color: #7f1d1d; margin: 14px 0 6px; font-size: 16px; }
.fz-review ul { margin: 4px 0 4px 18px; } .fz-review li { margin: 4px 0; line-height: 1.6; }
.fz-review .fz-muted { color: var(--fz-muted); font-size: 13px; }
.fz-badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 10px; font-weight: 600; }
.fz-badge.fz-ok { background: #dcfce7; color: #166534; } .fz-badge.fz-bad { background: #fee2e2; color: #991b1b; }
.fz-badge.fz-warn { background: #fef3c7; color: #92400e; } .fz-badge.fz-info { background: #dbeafe; color: #1e40af; }
.fz-badge.fz-muted { background: #f3f4f6; color: #4b5563; }
.fz-ref { color: var(--fz-blue); cursor: help; }
"""

CONV_JS = """
let lastId = null, pinned = true;
function scroller(el) {
  for (let p = el.parentElement; p; p = p.parentElement) {
    const oy = getComputedStyle(p).overflowY;
    if ((oy === 'auto' || oy === 'scroll') && p.scrollHeight > p.clientHeight) return p;
  }
  return null;
}
function showLatest() {
  const turns = element.querySelectorAll('.fz-turn');
  if (!turns.length) { lastId = null; return; }
  const last = turns[turns.length - 1];
  if (last.id !== lastId) { lastId = last.id; pinned = true; }
  if (!pinned) return;
  requestAnimationFrame(() => {
    const box = scroller(last);
    if (box) box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 8;
  });
}
watch('value', showLatest);
element.addEventListener('wheel', () => { pinned = false; }, {passive: true});
element.addEventListener('touchmove', () => { pinned = false; }, {passive: true});
element.addEventListener('click', (ev) => {
  const o = ev.target.closest('.fz-open-doc');
  if (o) {
    ev.preventDefault();
    trigger('open_doc', {doc: o.dataset.doc, start: parseInt(o.dataset.start, 10), end: parseInt(o.dataset.end, 10)});
    return;
  }
  const a = ev.target.closest('.fz-cite');
  if (!a) return;
  ev.preventDefault();
  const turn = a.closest('.fz-turn');
  if (!turn) return;
  const n = a.dataset.n;
  turn.querySelectorAll('.fz-src.fz-active').forEach(e => e.classList.remove('fz-active'));
  turn.querySelectorAll('.fz-cite.fz-cite-on').forEach(e => e.classList.remove('fz-cite-on'));
  turn.querySelectorAll('.fz-cite[data-n="' + n + '"]').forEach(e => e.classList.add('fz-cite-on'));
  const card = turn.querySelector('.fz-src[data-n="' + n + '"]');
  if (card) {
    card.classList.add('fz-active');
    const box = card.closest('.fz-sources');
    if (box) box.scrollTop = card.offsetTop - box.offsetTop - 8;
    card.scrollIntoView({block: 'nearest'});
  }
});
"""
