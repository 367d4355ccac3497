"""The study summary: the Pareto-optimal points as a Markdown and an HTML table, with the recommendation, the
plots and the failures, so a reader who did not run the study can act on it."""

from __future__ import annotations

import html
import json
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from studies.pareto import pareto_front
from studies.plots import Frame, energy_scale, energy_unit_label, pareto_objectives, prepare, recommended, write_plots
from studies.store import atomic_write_text, load_results

MAX_ROWS = 60


def _num(v: Any, fmt: str = "{:.3g}") -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "" if v is None else str(v)
    return "" if math.isnan(x) else fmt.format(x)


def _k(v: Any) -> str:
    return _num(v, "{:.0f}") or "-"


def pareto_table(f: Frame, objectives: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(front rows, display table) over every point of the study (all hardware variants)."""
    df = f.totals.copy()
    obj = {("e_img" if k in ("energy", "energy_per_image") else k): v for k, v in objectives.items()}
    missing = [k for k in obj if k not in df]
    if missing:
        raise ValueError(f"report.pareto names unknown column(s) {missing}; see results.parquet for the columns")
    front = pareto_front(df, obj)
    floats = df[df["method"] == "float"].set_index("hardware_id")["e_img"]
    scale = energy_scale(front["e_img"]) if not front.empty else 1.0
    unit = energy_unit_label(f.unit, scale)
    rows = []
    for _, r in front.head(MAX_ROWS).iterrows():
        acc = pd.to_numeric(pd.Series([r.get("accuracy")]), errors="coerce").iloc[0]
        fa = pd.to_numeric(pd.Series([r.get("float_accuracy")]), errors="coerce").iloc[0]
        fe = floats.get(r["hardware_id"])
        if isinstance(fe, pd.Series):
            fe = fe.iloc[0]
        rows.append(
            {
                "method": r["method"],
                "K": _k(r.get("clusters")),
                "seed": _k(r.get("seed")),
                "hardware": r.get("hardware"),
                "act/codebook bits": f"{_k(r.get('act_bits'))}/{_k(r.get('codebook_bits'))}",
                "bits/weight": _num(r.get("bits_per_weight"), "{:.2f}"),
                "accuracy %": _num(acc * 100 if not math.isnan(acc) else acc, "{:.2f}"),
                "Δ vs float (pt)": _num((acc - fa) * 100, "{:+.2f}")
                if not math.isnan(acc) and not math.isnan(fa)
                else "",
                "energy/image": _num(r["e_img"] / scale, "{:.4g}"),
                "energy vs float": _num(r["e_img"] / fe * 100, "{:.1f}%") if fe else "",
                "DRAM kB": _num(r.get("dram_bytes", float("nan")) / 1024 / max(1, r.get("batch", 1) or 1), "{:.1f}"),
                "cycles": _num(r.get("cycles"), "{:.3g}"),
            }
        )
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table[[c for c in table.columns if (table[c].astype(str).str.strip().replace("-", "") != "").any()]]
    table.attrs["unit"] = unit
    return front, table


def _label(r: pd.Series) -> str:
    return "float" if r.get("method") == "float" else f"{r.get('method')} K={_k(r.get('clusters'))}"


def _md_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_no points_\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _html_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p><em>no points</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in df.columns) + "</tr>" for _, r in df.iterrows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def recommendation(f: Frame) -> str:
    """One or two sentences: the point to pick on the reference hardware, and the best hardware variant."""
    pick = recommended(f)
    if pick is None:
        return "No compressed point finished; see the failures below."
    fl = f.totals[(f.totals["method"] == "float") & (f.totals["hardware_id"] == pick["hardware_id"])]
    fe = float(fl["e_img"].mean()) if not fl.empty else float("nan")
    rel = f"{pick['e_img'] / fe * 100:.1f}% of the float model's energy" if fe == fe else "lowest energy"
    name = f"**{pick['method']} K={_k(pick['clusters'])}**"
    acc = pd.to_numeric(pd.Series([pick.get("accuracy")]), errors="coerce").iloc[0]
    if acc == acc:
        fa = pd.to_numeric(pd.Series([pick.get("float_accuracy")]), errors="coerce").iloc[0]
        text = (
            f"Lowest energy within 1 point of float accuracy on {pick['hardware']}: {name} — {rel}, "
            f"accuracy {acc * 100:.2f}% (float {fa * 100:.2f}%)."
        )
    else:
        text = f"Lowest-energy compressed point on {pick['hardware']}: {name} — {rel}."
    same = f.totals[(f.totals["method"] == pick["method"]) & (f.totals["clusters"] == pick["clusters"])]
    if f.totals["hardware_id"].nunique() > 1 and not same.empty:
        best = same.sort_values("e_img").iloc[0]
        gain = (1 - best["e_img"] / pick["e_img"]) * 100
        text += f" Across the hardware variants it costs least on {best['hardware']} ({gain:.1f}% less energy)."
    return text


def write_report(
    root: Path, results: pd.DataFrame, points: dict[str, Any] | None, plots: list[Path]
) -> dict[str, Path]:
    f = prepare(results, points)
    study = (points or {}).get("study", {})
    configured = (study.get("report") or {}).get("pareto")
    objectives = pareto_objectives(f.totals, configured)
    front, table = pareto_table(f, objectives) if not f.totals.empty else (pd.DataFrame(), pd.DataFrame())
    failed = results[results.get("status", pd.Series("ok", index=results.index)) == "failed"]
    n_points = results["point_id"].nunique() if "point_id" in results else 0
    obj_text = ", ".join(f"{'energy per image' if k == 'e_img' else k} ({v})" for k, v in objectives.items())
    name = study.get("name", root.name)
    rec = recommendation(f) if not f.totals.empty else "No results."
    pngs = [p for p in plots if p.suffix == ".png"]
    md = [
        f"# Study `{name}`",
        "",
        study.get("description", "") or "",
        "",
        f"{n_points} points ({len(failed)} failed), written {time.strftime('%Y-%m-%d %H:%M')}. "
        f"All rows: `pd.read_parquet('{root / 'results.parquet'}')`.",
        "",
        f"**Recommendation.** {rec}",
        "",
        f"## Pareto-optimal points ({len(front)}; objectives: {obj_text})",
        "",
        f"Energy per image in {table.attrs.get('unit', '')}; 'energy vs float' compares with the float model on "
        "the same hardware. Points of every hardware variant compete.",
        "",
        _md_table(table),
    ]
    if len(front) > MAX_ROWS:
        md.append(f"_{len(front) - MAX_ROWS} more Pareto points in results.parquet._\n")
    md += ["## Plots", ""] + [f"![{p.stem}](plots/{p.name})" for p in pngs] + [""]
    if not failed.empty:
        md += ["## Failures", ""]
        for _, r in failed.head(20).iterrows():
            md.append(f"- {_label(r)} on {r.get('hardware')} ({r.get('dataflow')}): {r.get('error')}")
        if len(failed) > 20:
            md.append(f"- ... {len(failed) - 20} more (see run.log)")
        md.append("")
    md_path = root / "summary.md"
    atomic_write_text(md_path, "\n".join(md))

    style = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        "th{background:#f3f3f3}td:nth-child(1),td:nth-child(4){text-align:left}img{max-width:100%;margin:1em 0}"
    )
    rec_html = html.escape(rec).replace("**", "")
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(name)}</title>"
        f"<style>{style}</style></head><body>",
        f"<h1>Study {html.escape(name)}</h1><p>{html.escape(study.get('description', '') or '')}</p>",
        f"<p>{n_points} points ({len(failed)} failed). All rows: <code>pd.read_parquet('results.parquet')</code>.</p>",
        f"<p><strong>Recommendation.</strong> {rec_html}</p>",
        f"<h2>Pareto-optimal points ({len(front)}; objectives: {html.escape(obj_text)})</h2>",
        f"<p>Energy per image in {html.escape(table.attrs.get('unit', ''))}; 'energy vs float' compares with the "
        "float model on the same hardware. Points of every hardware variant compete.</p>",
        _html_table(table),
        "<h2>Plots</h2>",
        *[f"<figure><img src='plots/{p.name}' alt='{p.stem}'><figcaption>{p.stem}</figcaption></figure>" for p in pngs],
    ]
    if not failed.empty:
        items = "".join(
            f"<li>{html.escape(_label(r))} on "
            f"{html.escape(str(r.get('hardware')))}: {html.escape(str(r.get('error')))}</li>"
            for _, r in failed.head(20).iterrows()
        )
        parts.append(f"<h2>Failures</h2><ul>{items}</ul>")
    parts.append("</body></html>")
    html_path = root / "summary.html"
    atomic_write_text(html_path, "\n".join(parts))
    return {"summary_md": md_path, "summary_html": html_path, "recommendation": rec.replace("**", "")}


def write_outputs(root: str | Path) -> dict[str, Any]:
    """Plots (plots/*.png, *.svg) and the summary (summary.md, summary.html) of a study folder."""
    root = Path(root)
    results = load_results(root)
    points_file = root / "points.json"
    points = json.loads(points_file.read_text()) if points_file.is_file() else None
    heatmaps = ((points or {}).get("study", {}).get("report") or {}).get("heatmap")
    plots = write_plots(results, root / "plots", points, heatmaps)
    out: dict[str, Any] = {"plots": plots}
    out.update(write_report(root, results, points, plots))
    return out
