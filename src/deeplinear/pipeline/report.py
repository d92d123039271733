"""The run's report: one static HTML page that opens with the claims table, then every figure.

``results/report.html`` is written by the workflow's ``report`` rule. It needs no JavaScript and
no other file: the figures are embedded as PNG, each with its caption once. The claims table
comes first because it is what a reader opens the report for: per claim, whether it passed, the
measured and predicted values and the tolerance, with the note one click away (``<details>``).

Snakemake's own ``snakemake --report`` (an interactive page) still works; this page is the one the
README points readers to.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deeplinear.atomic_files import atomic_path
from deeplinear.claims import Claim, read_claims_json

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; width: 100%; table-layout: fixed; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
col.id { width: 9%; } col.paper { width: 10%; } col.verdict { width: 8%; } col.num { width: 8%; }
col.tol { width: 22%; } col.text { width: 35%; }
th { background: #f0f0f0; position: sticky; top: 0; overflow-wrap: normal; }
td.num { font-variant-numeric: tabular-nums; }
tr.pass td.verdict { background: #dff0d8; color: #1e5b1e; font-weight: bold; }
tr.fail td.verdict { background: #f2dede; color: #8a1f1f; font-weight: bold; }
details summary { cursor: pointer; color: #555; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.95em; color: #333; max-width: 60em; }
p.summary { font-size: 1.1em; }
"""


@dataclass(frozen=True)
class FigureEntry:
    """One figure of the report: its paper, name, PNG file and caption (from the registry)."""

    paper: str
    name: str
    png: Path
    caption: str


def format_value(value: float | str) -> str:
    """A claim's measured/predicted/tolerance value as shown: numbers to 4 significant digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def claims_table_html(claims: Sequence[Claim]) -> str:
    """The claims table: id, paper, verdict, measured, predicted, tolerance, theorem and note."""
    rows = []
    for c in claims:
        verdict = "pass" if c.passed else "FAIL"
        note = f"<details><summary>note</summary>{html.escape(c.note)}</details>" if c.note else ""
        rows.append(
            f'<tr class="{"pass" if c.passed else "fail"}" id="claim-{html.escape(c.id)}">'
            f"<td>{html.escape(c.id)}</td><td>{html.escape(c.paper)}</td>"
            f'<td class="verdict">{verdict}</td>'
            f'<td class="num">{html.escape(format_value(c.measured))}</td>'
            f'<td class="num">{html.escape(format_value(c.predicted))}</td>'
            f"<td>{html.escape(format_value(c.tolerance))}</td>"
            f"<td>{html.escape(c.theorem)}{note}</td></tr>"
        )
    header = (
        "<tr><th>claim</th><th>paper</th><th>verdict</th><th>measured</th><th>predicted</th>"
        "<th>tolerance</th><th>statement and note</th></tr>"
    )
    cols = (
        '<colgroup><col class="id"><col class="paper"><col class="verdict"><col class="num"><col class="num">'
        '<col class="tol"><col class="text"></colgroup>'
    )
    return f'<table id="claims">\n{cols}<thead>{header}</thead>\n<tbody>\n' + "\n".join(rows) + "\n</tbody></table>"


def figure_html(entry: FigureEntry) -> str:
    """One figure, embedded as a base64 PNG, with its caption once."""
    data = base64.b64encode(Path(entry.png).read_bytes()).decode("ascii")
    name = f"{entry.paper} / {entry.name}"
    return (
        f'<figure id="figure-{html.escape(entry.paper)}-{html.escape(entry.name)}">'
        f'<img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
        f"<figcaption><b>{html.escape(name)}.</b> {html.escape(entry.caption)}</figcaption></figure>"
    )


def render_report(
    claims: Sequence[Claim],
    figures: Sequence[FigureEntry],
    *,
    paper_titles: dict[str, str],
    provenance: str,
) -> str:
    """The whole page: title, provenance, pass count, claims table, then figures by paper.

    The page depends only on its inputs (no time stamp), so a rerun gives the same bytes.
    """
    n_pass = sum(c.passed for c in claims)
    failed = [c.id for c in claims if not c.passed]
    summary = f"{n_pass} of {len(claims)} theorem checks passed"
    summary += f"; failed: {', '.join(failed)}." if failed else "."
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>deeplinear: theorem checks and figures</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Deep linear networks: theorem checks and figures</h1>",
        f"<p>{html.escape(provenance)}</p>",
        f'<p class="summary"><b>{html.escape(summary)}</b></p>',
        "<h2>Theorem checks</h2>",
        "<p>Every automatic check of the run (also in <code>results/claims.csv</code>). "
        "A failed check is a result with its numbers, not an error.</p>",
        claims_table_html(claims),
    ]
    for paper in dict.fromkeys(f.paper for f in figures):
        parts.append(f"<h2>{html.escape(paper_titles.get(paper, paper))}</h2>")
        parts.extend(figure_html(f) for f in figures if f.paper == paper)
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(
    claim_files: Iterable[str | Path],
    figures: Sequence[FigureEntry],
    output: str | Path,
    *,
    paper_titles: dict[str, str],
    provenance: str,
) -> Path:
    """Read every paper's claims JSON and write the report page to ``output``."""
    claims = [c for path in claim_files for c in read_claims_json(path)]
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    text = render_report(claims, figures, paper_titles=paper_titles, provenance=provenance)
    with atomic_path(output) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return output


def figure_entries(png_files: Iterable[str | Path]) -> list[FigureEntry]:
    """Figure entries for ``figures/<paper>/<figure>.png`` files, captions from the registry."""
    from deeplinear.pipeline import registry

    entries = []
    for png in map(Path, png_files):
        paper, name = png.parent.name, png.stem
        entries.append(FigureEntry(paper, name, png, registry.paper(paper).figures[name].caption))
    return entries


def make_report(
    claim_files: Iterable[str | Path],
    png_files: Iterable[str | Path],
    output: str | Path,
    *,
    scale: str,
    repo_dir: str | Path = ".",
) -> Path:
    """The workflow's report: claims of every paper, figures with registry captions, provenance
    (scale and the git commit of ``repo_dir``)."""
    from deeplinear.pipeline import registry
    from deeplinear.pipeline.dataset import git_state

    entries = figure_entries(png_files)
    titles = {}
    for key in dict.fromkeys(e.paper for e in entries):
        paper = registry.paper(key)
        titles[key] = paper.reference  # authors, title, venue: the authors once
    commit, dirty = git_state(repo_dir)
    provenance = f"Scale: {scale}. Code: git commit {commit}" + (
        " with uncommitted changes." if dirty == "true" else "."
    )
    return write_report(claim_files, entries, output, paper_titles=titles, provenance=provenance)
