"""One self-contained HTML report: the verdict matrix and counterexamples as swimlanes.

:func:`report_page` writes a single page with its CSS and script inline (no network, no
external asset; the only links are to the C source lines, followed only when clicked):

* the **verdict matrix** (when given): designs x scenarios, each failing cell linked to its
  counterexample below;
* each **counterexample** as swimlanes, one lane (column) per CPU plus the guest/devices, one
  row per shown step: the C function linked to its ``file:line`` in the modelled tree, what
  happens, the decoded changes; provenance steps are marked (yellow), the failing step red;
* **the state of the involved objects** at a step on hover (a tooltip) and on click (the panel
  beside the lanes); a checkbox folds the steps of CPUs not involved in the failure.

The page is tested in headless Chromium (``tests/cli/test_html_chromium.py``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from itsrace.hyp.story import Story, StoryStep


@dataclass
class MatrixView:
    """The matrix as the page shows it: ``cells[(design, scenario)] = (text, verdict, anchor)``."""

    designs: list[str]
    scenarios: list[str]
    cells: dict[tuple[str, str], tuple[str, str, str]] = field(default_factory=dict)
    footer: str = ""


CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
table.matrix{border-collapse:collapse;font-size:.9em}
table.matrix th,table.matrix td{border:1px solid #ccc;padding:.25em .5em;text-align:left}
td.pass{background:#e6f4e6}td.fail{background:#fbe3e3}td.inconclusive{background:#fff5d6}
.cx{display:flex;gap:1em;align-items:flex-start}
.lanes{display:grid;gap:2px 8px;flex:1;font-size:.82em}
.lane-head{font-weight:bold;border-bottom:2px solid #888;position:sticky;top:0;background:#fff;padding:.2em}
.step{border:1px solid #ccc;border-radius:4px;padding:.25em .4em;background:#fafafa;cursor:pointer}
.step:hover{background:#eef}
.step.mark{border-color:#d9a400;background:#fff8dc}
.step.fail{border-color:#c00;background:#fde8e8}
.step.selected{outline:2px solid #36c}
.step .hd{font-weight:bold}.step .where{font-family:monospace;font-size:.95em}
.step .ch{font-family:monospace;color:#064}.step .mk{color:#8a6d00}.step .nt{color:#b00;font-weight:bold}
.folded{color:#777;font-style:italic}
.hide-uninvolved .uninvolved{display:none}
.panel{width:22em;position:sticky;top:1em;border:1px solid #ccc;padding:.5em;font-size:.85em;background:#fcfcfc}
.panel pre{white-space:pre-wrap}
code{font-size:.95em}
"""

SCRIPT = """
document.querySelectorAll('.step').forEach(function (el) {
  el.addEventListener('click', function () {
    var cx = el.closest('.cx');
    cx.querySelectorAll('.step.selected').forEach(function (s) { s.classList.remove('selected'); });
    el.classList.add('selected');
    var panel = cx.querySelector('.panel pre');
    var objs = JSON.parse(el.getAttribute('data-objects') || '{}');
    var lines = ['step ' + el.getAttribute('data-n') + ' (' + el.getAttribute('data-lane') + ')'];
    Object.keys(objs).forEach(function (k) { lines.push(k + ':'); objs[k].split('; ').forEach(function (v) { lines.push('  ' + v); }); });
    if (Object.keys(objs).length === 0) { lines.push('(no object is involved in this failure)'); }
    panel.textContent = lines.join('\\n');
  });
});
document.querySelectorAll('input.fold').forEach(function (box) {
  box.addEventListener('change', function () {
    document.getElementById(box.getAttribute('data-target')).classList.toggle('hide-uninvolved', box.checked);
  });
});
"""


def _step_html(st: StoryStep, col: int, row: int, involved: Sequence[str]) -> str:
    classes = ["step"] + (["fail"] if st.failing else []) + (["mark"] if st.marks else [])
    if st.lane not in involved and not st.marks and not st.failing:
        classes.append("uninvolved")
    where = escape(st.c_where)
    if st.url:
        where = f'<a href="{escape(st.url)}" title="{escape(st.model_where)}">{where}</a>'
    ctx = f" [{escape(st.context)}]" if st.context else ""
    parts = [f'<div class="hd">{st.n}. {escape(st.function)}{ctx}</div>',
             f'<div class="where">{where} <span title="model source">({escape(st.model_where)})</span></div>',
             f"<div>{escape(st.text)}</div>"]
    parts += [f'<div class="ch">= {escape(c)}</div>' for c in st.changes]
    parts += [f'<div class="mk">* {escape(m)}</div>' for m in st.marks]
    if st.note:
        parts.append(f'<div class="nt">!! {escape(st.note)}</div>')
    objects = json.dumps(st.objects)
    tip = "\n".join(f"{k}: {v}" for k, v in st.objects.items()) or st.model_where
    return (f'<div class="{" ".join(classes)}" style="grid-column:{col};grid-row:{row}" data-n="{st.n}" '
            f'data-lane="{escape(st.lane)}" data-objects="{escape(objects)}" title="{escape(tip)}">'
            + "".join(parts) + "</div>")


def story_html(anchor: str, title: str, story: Story) -> str:
    """One counterexample: heading, fold checkbox, swimlanes and the object panel."""
    lanes = story.lanes
    cols = {lane: i + 1 for i, lane in enumerate(lanes)}
    cells = [f'<div class="lane-head" style="grid-column:{cols[lane]};grid-row:1">{escape(story.headings[lane])}</div>'
             for lane in lanes]
    shown = story.shown()
    for row, st in enumerate(shown, start=2):
        cells.append(_step_html(st, cols[st.lane], row, story.involved))
    hidden = len(story.steps) - len(shown)
    grid = f"grid-template-columns:repeat({len(lanes)},minmax(12em,1fr))"
    return f"""
<section class="counterexample" id="{escape(anchor)}">
<h2>{escape(title)}</h2>
<p><b>{escape(story.property)}</b> ({escape(story.kind)}): {escape(story.summary)}<br>
{escape(story.model)}, {escape(story.tree)}: {len(story.steps)} steps{f", {hidden} model-internal steps not shown" if hidden else ""}.
{escape(story.expected)}</p>
<label><input type="checkbox" class="fold" data-target="{escape(anchor)}-lanes"> fold the steps of CPUs not involved in the failure</label>
<div class="cx">
<div class="lanes" id="{escape(anchor)}-lanes" style="{grid}">
{chr(10).join(cells)}
</div>
<div class="panel"><b>Involved objects</b> (click a step)<pre>{escape(", ".join(story.objects) or "none")}</pre></div>
</div>
</section>"""


def matrix_html(view: MatrixView) -> str:
    head = "".join(f"<th>{escape(s)}</th>" for s in view.scenarios)
    rows = []
    for d in view.designs:
        tds = []
        for s in view.scenarios:
            text, verdict, anchor = view.cells.get((d, s), ("-", "", ""))
            body = f'<a href="#{escape(anchor)}">{escape(text)}</a>' if anchor else escape(text)
            tds.append(f'<td class="{escape(verdict)}">{body}</td>')
        rows.append(f"<tr><th>{escape(d)}</th>{''.join(tds)}</tr>")
    foot = f"<p>{escape(view.footer)}</p>" if view.footer else ""
    return (f'<h2>Verdict matrix</h2><table class="matrix"><tr><th>design \\ scenario</th>{head}</tr>'
            f"{''.join(rows)}</table>{foot}")


def report_page(title: str, stories: Sequence[tuple[str, str, Story]], matrix: MatrixView | None = None,
                intro: str = "") -> str:
    """The whole page. ``stories`` are ``(anchor, heading, story)``."""
    body = [f"<h1>{escape(title)}</h1>"]
    if intro:
        body.append(f"<p>{escape(intro)}</p>")
    if matrix is not None:
        body.append(matrix_html(matrix))
    if not stories:
        body.append("<p>No counterexample: every property holds.</p>")
    for anchor, heading, story in stories:
        body.append(story_html(anchor, heading, story))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")


__all__ = ["MatrixView", "matrix_html", "report_page", "story_html"]
