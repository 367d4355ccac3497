"""Plots of a study's results (matplotlib, Agg backend), each written as PNG and SVG.

- energy_vs_accuracy: one colour and marker per method, K written next to each point, the Pareto front drawn,
  the float model starred and its accuracy dashed;
- energy_vs_clusters and energy_vs_bits: energy against K and against bit widths, one line per method;
- breakdown_by_level and breakdown_by_data: stacked energy (MAC, RF, NoC, GLB, DRAM / ifmap, weight, index,
  codebook, psum) for every configuration, and per layer for the recommended point beside the float model;
- heatmap_*: energy over two swept axes (e.g. GLB size x K), failures marked n/a.

Plots that compare compression settings use one hardware variant, dataflow, batch and bit-width setting (the
study's first, named in the plot's subtitle), so every point differs only in what the plot is about.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from studies.pareto import pareto_front

LEVELS = ("mac", "rf", "noc", "glb", "dram")
LEVEL_NAMES = {"mac": "MAC", "rf": "RF (scratchpads)", "noc": "NoC (array network)", "glb": "GLB", "dram": "DRAM"}
DATA = ("ifmap", "weight", "index", "codebook", "psum")
DATA_NAMES = {
    "ifmap": "ifmap (activations)",
    "weight": "weight values",
    "index": "codebook indices",
    "codebook": "codebook",
    "psum": "partial sums",
}
LEVEL_COLORS = {"mac": "#4c72b0", "rf": "#55a868", "noc": "#8172b2", "glb": "#ccb974", "dram": "#c44e52"}
DATA_COLORS = {"ifmap": "#4c72b0", "weight": "#dd8452", "index": "#55a868", "codebook": "#8172b2", "psum": "#937860"}
METHOD_STYLE = {
    "kmeans": ("#1f77b4", "o"),
    "kmeans-wr": ("#17becf", "v"),
    "deep-kmeans": ("#ff7f0e", "s"),
    "dkm": ("#2ca02c", "D"),
    "uniform": ("#9467bd", "^"),
    "float": ("#000000", "*"),
}
EXTRA_STYLES = [("#8c564b", "P"), ("#e377c2", "X"), ("#7f7f7f", "h"), ("#bcbd22", "<")]
AXES = ("hardware_id", "dataflow", "batch", "bits_weights", "bits_activations", "bits_codebook")
FRIENDLY = {
    "clusters": "Cluster count K",
    "accelerator__glb__size_kb": "Global buffer size (kB)",
    "accelerator__glb__weight_kb": "GLB weight partition (kB)",
    "accelerator__pe_array": "PE array (rows x cols)",
    "accelerator__pe_array__rows": "PE rows",
    "accelerator__pe_array__cols": "PE columns",
    "accelerator__rf__weight__words": "Weight scratchpad (words per PE)",
    "accelerator__rf__ifmap__words": "Ifmap scratchpad (words per PE)",
    "accelerator__rf__psum__words": "Psum scratchpad (words per PE)",
    "accelerator__rf__shared__words": "Shared register file (words per PE)",
    "accelerator__energy__dram__cost": "DRAM access energy (per access)",
    "accelerator__energy__glb__cost": "GLB access energy (per access)",
    "accelerator__decode__location": "Where indices are decoded",
    "accelerator__dram__bus_bits": "DRAM link width (bits)",
    "bits_activations": "Activation bits",
    "bits_codebook": "Codebook bits per centroid element",
    "bits_weights": "Weight bits (unclustered weights)",
    "act_bits": "Activation bits",
    "codebook_bits": "Codebook bits per centroid element",
    "bits_per_weight": "Stored bits per weight (indices + codebook)",
    "dataflow": "Dataflow",
    "batch": "Batch size",
    "method": "Method",
}


def friendly(col: str) -> str:
    if col in FRIENDLY:
        return FRIENDLY[col]
    return col.removeprefix("accelerator__").replace("__", ".")


def method_style(method: str, order: Sequence[str] = ()) -> tuple[str, str]:
    if method in METHOD_STYLE:
        return METHOD_STYLE[method]
    i = list(order).index(method) if method in order else abs(hash(method))
    return EXTRA_STYLES[i % len(EXTRA_STYLES)]


# ---------------------------------------------------------------------------------------------------------
# Data helpers
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Frame:
    """A study's TOTAL rows, per-layer rows and the reference slice used by the comparison plots."""

    totals: pd.DataFrame
    layers: pd.DataFrame
    reference: dict[str, Any]
    ref_label: str
    unit: str
    title: str


def _same(series: pd.Series, value: Any) -> pd.Series:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return series.isna()
    return series == value


def energy_unit_label(unit: str, scale: float) -> str:
    pre = {1.0: "", 1e3: "10³ ", 1e6: "10⁶ ", 1e9: "10⁹ ", 1e12: "10¹² "}
    if unit == "pJ":
        names = {1.0: "pJ", 1e3: "nJ", 1e6: "µJ", 1e9: "mJ", 1e12: "J"}
        return names.get(scale, f"×{scale:g} pJ")
    return f"{pre.get(scale, f'{scale:g} ')}normalized units; 1 = one native MAC"


def energy_scale(values: Sequence[float] | np.ndarray) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return 1.0
    exp = int(math.floor(math.log10(float(np.median(v))) / 3) * 3)
    return float(10 ** min(max(exp, 0), 12))


def ref_mask(df: pd.DataFrame, ref: dict[str, Any], free: Sequence[str] = ()) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for axis, value in ref.items():
        if axis in free or axis not in df:
            continue
        mask &= _same(df[axis], value)
    return mask


def prepare(results: pd.DataFrame, points: dict[str, Any] | None) -> Frame:
    df = results.copy()
    if "status" not in df:
        df["status"] = "ok"
    ok = df[df["status"] == "ok"]
    if "energy" not in ok or "layer" not in ok:
        ok = ok.iloc[0:0].assign(energy=np.nan, layer="")
    totals = ok[ok["layer"] == "TOTAL"].copy()
    layers = ok[ok["layer"] != "TOTAL"].copy()
    for frame in (totals, layers):
        batch = pd.to_numeric(frame["batch"], errors="coerce").fillna(1).clip(lower=1) if "batch" in frame else 1
        frame["e_img"] = pd.to_numeric(frame["energy"], errors="coerce") / batch
        for col in [c for c in frame.columns if c.startswith("energy__by_")]:
            frame[col + "__img"] = pd.to_numeric(frame[col], errors="coerce") / batch
    ref: dict[str, Any] = {}
    first = None
    if points and points.get("points"):
        ids = set(totals["point_id"]) if not totals.empty else set()
        first_id = next((p["id"] for p in points["points"] if p["id"] in ids), None)
        if first_id is not None:
            first = totals[totals["point_id"] == first_id].iloc[0]
    elif not totals.empty:
        first = totals.iloc[0]
    if first is not None:
        ref = {a: first.get(a) for a in AXES if a in totals}
    unit = str(totals["energy_unit"].iloc[0]) if "energy_unit" in totals and not totals.empty else "normalized"
    label_parts = []
    if first is not None:
        label_parts.append(str(first.get("hardware")))
        if "dataflow" in first:
            label_parts.append(f"dataflow {first.get('dataflow')}")
        if "batch" in first:
            label_parts.append(f"batch {first.get('batch')}")
        for axis, name in (("bits_weights", "w"), ("bits_activations", "act"), ("bits_codebook", "codebook")):
            v = first.get(axis)
            if v is not None and not (isinstance(v, float) and math.isnan(v)):
                label_parts.append(f"{name} {int(v)} b")
    study = points.get("study", {}) if points else {}
    what = study.get("model") or study.get("network") or (totals["model"].iloc[0] if not totals.empty else "")
    ds = study.get("dataset")
    title = f"{what}" + (f" on {ds}" if ds else "")
    return Frame(totals, layers, ref, ", ".join(label_parts), unit, title)


def _methods(df: pd.DataFrame) -> list[str]:
    order = [m for m in METHOD_STYLE if m in set(df["method"])]
    return order + sorted(set(df["method"]) - set(order))


def _save(fig: Figure, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "svg"):
        p = out / f"{name}.{ext}"
        fig.savefig(p, dpi=150 if ext == "png" else None, bbox_inches="tight")
        paths.append(p)
    plt.close(fig)
    return paths


def _subtitle(fig: Figure, text: str) -> None:
    fig.text(0.5, -0.01, text, ha="center", va="top", fontsize=8, color="#555555", wrap=True)


def _k(v: Any) -> str:
    try:
        return str(int(v))
    except (TypeError, ValueError):
        return "?"


def pareto_objectives(df: pd.DataFrame, configured: dict[str, str] | None = None) -> dict[str, str]:
    if configured:
        return dict(configured)
    if "accuracy" in df and pd.to_numeric(df["accuracy"], errors="coerce").notna().any():
        return {"e_img": "min", "accuracy": "max"}
    return {"e_img": "min", "bits_per_weight": "max"}


# ---------------------------------------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------------------------------------


LABEL_OFFSETS = [(5, 3), (5, -9), (-5, 3), (-5, -9), (0, 7), (0, -12)]


def _accuracy_panel(
    ax: Axes, df: pd.DataFrame, front: pd.DataFrame, scale: float, methods: list[str], labels: bool
) -> None:
    for i, m in enumerate(methods):
        sub = df[df["method"] == m].sort_values("clusters")
        color, marker = method_style(m, methods)
        if m == "float":
            ax.scatter(
                sub["acc"], sub["e_img"] / scale, s=260, marker="*", color="black", zorder=6, label="float model"
            )
            continue
        ax.plot(sub["acc"], sub["e_img"] / scale, color=color, linewidth=0.7, alpha=0.45, zorder=2)
        ax.scatter(
            sub["acc"],
            sub["e_img"] / scale,
            s=55,
            marker=marker,
            color=color,
            label=m,
            zorder=4,
            edgecolor="white",
            linewidth=0.6,
        )
        if labels:
            dx, dy = LABEL_OFFSETS[i % len(LABEL_OFFSETS)]
            for _, r in sub.iterrows():
                ax.annotate(
                    f"K={_k(r['clusters'])}",
                    (r["acc"], r["e_img"] / scale),
                    xytext=(dx, dy),
                    textcoords="offset points",
                    fontsize=7,
                    color=color,
                    ha="left" if dx >= 0 else "right",
                )
    if len(front) > 1:
        ax.step(
            front["acc"],
            front["e_img"] / scale,
            where="post",
            color="#444444",
            linewidth=1.2,
            alpha=0.7,
            zorder=3,
            label="Pareto front",
        )
    ax.scatter(front["acc"], front["e_img"] / scale, s=150, facecolors="none", edgecolors="#444444", zorder=3)
    fa = pd.to_numeric(df.get("float_accuracy"), errors="coerce").dropna()
    if not fa.empty:
        ax.axvline(fa.iloc[0] * 100, color="black", linestyle="--", linewidth=0.9, alpha=0.6)
    ax.grid(True, alpha=0.3)
    ax.set_xlabel("Top-1 test accuracy (%)")


def plot_energy_vs_accuracy(f: Frame, out: Path, zoom_points: float = 3.0) -> list[Path]:
    """Energy against accuracy; when some points lie far below the float accuracy, a second panel zooms in on
    the last few points of accuracy, where the choice is made."""
    df = f.totals[ref_mask(f.totals, f.reference, free=("seed",))].copy()
    df["acc"] = pd.to_numeric(df.get("accuracy"), errors="coerce") * 100
    df = df[df["acc"].notna()]
    if df.empty:
        return []
    scale = energy_scale(df["e_img"])
    methods = _methods(df)
    front = pareto_front(df, {"e_img": "min", "acc": "max"}).sort_values("acc")
    fa = pd.to_numeric(df.get("float_accuracy"), errors="coerce").dropna()
    top = float(fa.iloc[0] * 100) if not fa.empty else float(df["acc"].max())
    lo = top - zoom_points
    zoom = df[df["acc"] >= lo]
    two = bool((df["acc"] < lo).any()) and len(zoom) >= 2
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(14, 6) if two else (8.5, 6), squeeze=False)
    ylabel = f"Energy per image ({energy_unit_label(f.unit, scale)})"
    _accuracy_panel(axes[0][0], df, front, scale, methods, labels=not two)
    axes[0][0].set_ylabel(ylabel)
    axes[0][0].set_title("All points" if two else "Lower and further right is better; circled: Pareto-optimal")
    if two:
        ax = axes[0][1]
        zfront = front[front["acc"] >= lo]
        _accuracy_panel(ax, zoom, zfront, scale, methods, labels=True)
        ax.set_xlim(lo - 0.2, max(zoom["acc"].max(), top) + 0.4)
        ax.set_ylabel(ylabel)
        ax.set_title(
            f"Zoom: within {zoom_points:g} points of the float accuracy\n"
            "lower and further right is better; circled: Pareto-optimal",
            fontsize=10,
        )
        axes[0][0].axvspan(lo, max(zoom["acc"].max(), top) + 0.4, color="#f2d16b", alpha=0.25, zorder=0)
        left_out = df[df["acc"] < lo]
        _subtitle(
            fig,
            f"hardware: {f.ref_label}. Left of the zoom: "
            + ", ".join(f"{r['method']} K={_k(r['clusters'])} ({r['acc']:.1f}%)" for _, r in left_out.iterrows()),
        )
    else:
        _subtitle(fig, f"hardware: {f.ref_label}")
    for ax in axes[0]:
        if not fa.empty:
            ax.annotate(
                f"float accuracy {top:.1f}%",
                (top, 0.0),
                xycoords=("data", "axes fraction"),
                xytext=(-4, 4),
                textcoords="offset points",
                ha="right",
                fontsize=8,
            )
    axes[0][-1].legend(loc="upper left", fontsize=8, framealpha=0.9)
    fl = df[df["method"] == "float"]["e_img"]
    if not fl.empty:
        ref = float(fl.mean()) / scale
        sec = axes[0][-1].secondary_yaxis("right", functions=(lambda y: y / ref * 100, lambda p: p * ref / 100))
        sec.set_ylabel("% of the float model's energy")
    fig.suptitle(f"Energy vs accuracy: {f.title}", y=1.0)
    fig.tight_layout()
    return _save(fig, out, "energy_vs_accuracy")


def _float_line(ax: Axes, df: pd.DataFrame, scale: float) -> None:
    fl = df[df["method"] == "float"]
    if not fl.empty:
        y = fl["e_img"].mean() / scale
        ax.axhline(y, color="black", linestyle="--", linewidth=1)
        ax.annotate(
            "float model",
            (1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 3),
            textcoords="offset points",
            ha="right",
            fontsize=8,
        )


def plot_energy_vs_clusters(f: Frame, out: Path) -> list[Path]:
    df = f.totals[ref_mask(f.totals, f.reference)]
    comp = df[df["method"] != "float"]
    if comp.empty or comp["clusters"].nunique() < 2:
        return []
    scale = energy_scale(df["e_img"])
    fig, ax = plt.subplots(figsize=(8, 5.2))
    methods = _methods(comp)
    for m in methods:
        sub = comp[comp["method"] == m].groupby("clusters", as_index=False)["e_img"].mean().sort_values("clusters")
        color, marker = method_style(m, methods)
        ax.plot(sub["clusters"], sub["e_img"] / scale, marker=marker, color=color, label=m)
    _float_line(ax, df, scale)
    ks = sorted(comp["clusters"].dropna().unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [_k(k) for k in ks])
    ax.set_xlabel("Cluster count K (codebook entries per layer)")
    ax.set_ylabel(f"Energy per image ({energy_unit_label(f.unit, scale)})")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Energy vs cluster count: {f.title}")
    _subtitle(fig, f"hardware: {f.ref_label}; mean over seeds")
    return _save(fig, out, "energy_vs_clusters")


def plot_energy_vs_bits(f: Frame, out: Path) -> list[Path]:
    """Energy against stored bits per weight, plus one panel per bit-width axis the study sweeps."""
    df_all = f.totals
    swept = [
        a for a in ("bits_activations", "bits_codebook", "bits_weights") if a in df_all and df_all[a].nunique() > 1
    ]
    panels = ["bits_per_weight", *swept]
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.0), squeeze=False)
    scale = energy_scale(df_all["e_img"])
    methods = _methods(df_all)
    for ax, axis in zip(axes[0], panels, strict=True):
        if axis == "bits_per_weight":
            df = df_all[ref_mask(df_all, f.reference)]
            for m in methods:
                sub = df[df["method"] == m].groupby("bits_per_weight", as_index=False)["e_img"].mean()
                if sub.empty:
                    continue
                color, marker = method_style(m, methods)
                if m == "float":
                    ax.scatter(
                        sub["bits_per_weight"],
                        sub["e_img"] / scale,
                        marker="*",
                        s=200,
                        color="black",
                        label="float model",
                        zorder=5,
                    )
                else:
                    sub = sub.sort_values("bits_per_weight")
                    ax.plot(sub["bits_per_weight"], sub["e_img"] / scale, marker=marker, color=color, label=m)
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_title("vs stored bits per weight\n(index bits / vector length + codebook share)", fontsize=10)
        else:
            free = (axis,)
            df = df_all[ref_mask(df_all, f.reference, free=free)]
            comp = df[df["method"] != "float"]
            ks = sorted(comp["clusters"].dropna().unique())
            k_ref = ks[len(ks) // 2] if ks else None
            for m in methods:
                sub = df[df["method"] == m]
                if m != "float" and k_ref is not None:
                    sub = sub[sub["clusters"] == k_ref]
                sub = sub.groupby(axis, as_index=False)["e_img"].mean().sort_values(axis)
                if sub.empty:
                    continue
                color, marker = method_style(m, methods)
                ax.plot(
                    sub[axis],
                    sub["e_img"] / scale,
                    marker=marker,
                    color=color,
                    label=m,
                    linestyle="--" if m == "float" else "-",
                )
            ticks = sorted(pd.to_numeric(df[axis], errors="coerce").dropna().unique())
            ax.set_xticks(ticks, [_tick(float(t)) for t in ticks])
            ax.set_title(f"vs {friendly(axis).lower()} (K={_k(k_ref)})", fontsize=10)
        ax.set_xlabel(friendly(axis) if axis != "bits_per_weight" else "Stored bits per weight (log scale)")
        ax.set_ylabel(f"Energy per image ({energy_unit_label(f.unit, scale)})")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Energy vs bit width: {f.title}", y=1.02)
    _subtitle(fig, f"hardware: {f.ref_label}")
    return _save(fig, out, "energy_vs_bits")


def recommended(f: Frame, tolerance: float = 0.01) -> pd.Series | None:
    """The point a reader most likely wants: the lowest energy within `tolerance` (1 point) of the float model's
    accuracy in the reference slice; without accuracies, the lowest-energy compressed point."""
    df = f.totals[ref_mask(f.totals, f.reference)]
    comp = df[df["method"] != "float"]
    if comp.empty:
        return None
    acc = pd.to_numeric(comp.get("accuracy"), errors="coerce")
    fa = pd.to_numeric(comp.get("float_accuracy"), errors="coerce")
    if acc.notna().any():
        ok = comp[acc >= (fa.fillna(acc.max()) - tolerance)]
        if ok.empty:
            ok = comp[acc == acc.max()]
        return ok.sort_values("e_img").iloc[0]
    return comp.sort_values("e_img").iloc[0]


def _config_label(r: pd.Series) -> str:
    return "float" if r["method"] == "float" else f"{r['method']}\nK={_k(r['clusters'])}"


def plot_breakdown(f: Frame, out: Path, by: str) -> list[Path]:
    keys, names, colors = (LEVELS, LEVEL_NAMES, LEVEL_COLORS) if by == "level" else (DATA, DATA_NAMES, DATA_COLORS)
    cols = [f"energy__by_{by}__{k}__img" for k in keys]
    df = f.totals[ref_mask(f.totals, f.reference)]
    if df.empty or not all(c in df for c in cols):
        return []
    methods = _methods(df)
    methods = (["float"] if "float" in methods else []) + [m for m in methods if m != "float"]
    df = df.assign(_m=df["method"].map({m: i for i, m in enumerate(methods)})).sort_values(["_m", "clusters"])
    df = df.groupby(["method", "clusters"], dropna=False, sort=False, as_index=False)[[*cols, "e_img"]].mean()
    pick = recommended(f)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(10, 0.45 * len(df) + 4), 10))
    scale = energy_scale(df["e_img"])
    # Bars grouped by method with a gap between groups; ticks carry K, group labels the method.
    x, pos, groups = [], 0.0, []
    for m in methods:
        n = int((df["method"] == m).sum())
        groups.append((m, pos, pos + n - 1))
        x += [pos + i for i in range(n)]
        pos += n + 0.8
    x_arr = np.array(x)
    bottom_acc = np.zeros(len(df))
    for k, c in zip(keys, cols, strict=True):
        vals = df[c].to_numpy(dtype=float) / scale
        top.bar(x_arr, vals, bottom=bottom_acc, color=colors[k], label=names[k], width=0.8)
        bottom_acc += np.nan_to_num(vals)
    top.set_xticks(
        x_arr, ["" if r["method"] == "float" else f"K={_k(r['clusters'])}" for _, r in df.iterrows()], fontsize=7
    )
    for m, a, b in groups:
        top.annotate(
            m if m != "float" else "float model",
            ((a + b) / 2, 0),
            xycoords=("data", "axes fraction"),
            xytext=(0, -22),
            textcoords="offset points",
            ha="center",
            fontsize=9,
            fontweight="bold",
            color=method_style(m, methods)[0],
        )
    top.set_ylabel(f"Energy per image\n({energy_unit_label(f.unit, scale)})")
    top.set_title(f"Total energy by {'memory level' if by == 'level' else 'data type'}, every configuration")
    handles, labels = top.get_legend_handles_labels()
    top.legend(handles[::-1], labels[::-1], fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    top.grid(True, axis="y", alpha=0.3)
    # Per layer: the recommended point beside the float model.
    layers = f.layers
    shown = []
    if pick is not None:
        shown.append((pick, f"{pick['method']} K={_k(pick['clusters'])}"))
    fl = f.totals[ref_mask(f.totals, f.reference) & (f.totals["method"] == "float")]
    if not fl.empty:
        shown.insert(0, (fl.iloc[0], "float"))
    if shown and all(c in layers for c in cols):
        names_order = list(dict.fromkeys(layers[layers["point_id"] == shown[-1][0]["point_id"]]["layer"]))
        width = 0.8 / len(shown)
        lscale = energy_scale(layers[layers["point_id"].isin([s[0]["point_id"] for s in shown])]["e_img"])
        for j, (row, label) in enumerate(shown):
            sub = layers[layers["point_id"] == row["point_id"]].set_index("layer").reindex(names_order)
            xs = np.arange(len(names_order)) + (j - (len(shown) - 1) / 2) * width
            acc = np.zeros(len(names_order))
            for k, c in zip(keys, cols, strict=True):
                vals = sub[c].to_numpy(dtype=float) / lscale
                bottom.bar(
                    xs,
                    vals,
                    bottom=acc,
                    width=width * 0.95,
                    color=colors[k],
                    hatch="//" if label == "float" else None,
                    edgecolor="white",
                    linewidth=0.3,
                )
                acc += np.nan_to_num(vals)
            for xi, yi in zip(xs, acc, strict=True):
                bottom.annotate(
                    "float" if label == "float" else label.split()[0],
                    (xi, yi),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=6,
                    rotation=90,
                )
        bottom.set_xticks(
            np.arange(len(names_order)), names_order, fontsize=8, rotation=30 if len(names_order) > 10 else 0
        )
        bottom.set_ylabel(f"Energy per image\n({energy_unit_label(f.unit, lscale)})")
        what = " beside ".join(s[1] for s in reversed(shown))
        bottom.set_title(f"Per layer: {what} (hatched: float)")
        bottom.grid(True, axis="y", alpha=0.3)
        bottom.set_ylim(top=bottom.get_ylim()[1] * 1.12)
    else:
        bottom.set_visible(False)
    fig.suptitle(f"Energy breakdown by {'memory level' if by == 'level' else 'data type'}: {f.title}", y=1.0)
    fig.tight_layout(h_pad=2.5)
    _subtitle(fig, f"hardware: {f.ref_label}")
    return _save(fig, out, f"breakdown_by_{by}")


def _ordered(values: pd.Series) -> list[Any]:
    uniq = list(dict.fromkeys(values.dropna()))
    try:
        return sorted(uniq, key=float)
    except (TypeError, ValueError):
        return uniq


def _tick(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def heatmap_pairs(
    f: Frame, override_paths: Sequence[str], configured: Sequence[Sequence[str]] | None
) -> list[tuple[str, str]]:
    if configured:
        return [(a, b) for a, b in configured]
    df = f.totals
    varying = [p for p in override_paths if p in df and df[p].nunique() > 1]
    pairs: list[tuple[str, str]] = []
    if varying and "clusters" in df and df["clusters"].nunique() > 1:
        pairs.append((varying[0], "clusters"))
    if len(varying) >= 2:
        pairs.append((varying[0], varying[1]))
    return pairs


def plot_heatmap(f: Frame, out: Path, rows: str, cols: str) -> list[Path]:
    df = f.totals
    for c in (rows, cols):
        if c not in df:
            return []
    free = {rows, cols, "hardware_id"}
    comp = df[df["method"] != "float"]
    method = _methods(comp)[0] if not comp.empty else None
    data = df[ref_mask(df, f.reference, free=tuple(free))]
    note = []
    if "clusters" not in (rows, cols) and method is not None:
        ks = sorted(comp["clusters"].dropna().unique())
        k_ref = ks[len(ks) // 2] if ks else None
        data = data[(data["method"] == method) & (data["clusters"] == k_ref)]
        note.append(f"{method} K={_k(k_ref)}")
    elif method is not None:
        data = data[data["method"] == method]
        note.append(method)
    # Other override axes held at the reference hardware's values.
    ref_hw = df[df["hardware_id"] == f.reference.get("hardware_id")]
    hw_cols = [c for c in df.columns if c.startswith("accelerator__")]
    for c in hw_cols:
        if c in (rows, cols) or ref_hw.empty or df[c].nunique() < 2:
            continue
        if rows.startswith(c + "__") or cols.startswith(c + "__"):
            continue  # the parent of a plotted sub-column (pe_array of pe_array__rows)
        if any(c.startswith(p + "__") for p in hw_cols if p != c):
            continue  # a sub-column of another axis: its parent is held fixed already
        v = ref_hw[c].iloc[0]
        data = data[_same(data[c], v)]
        note.append(f"{friendly(c)} = {_tick(v)}")
    note += [part for part in f.ref_label.split(", ")[1:]]
    if data.empty:
        return []
    rv, cv = _ordered(data[rows]), _ordered(data[cols])
    grid = data.groupby([rows, cols])["e_img"].mean()
    z = np.full((len(rv), len(cv)), np.nan)
    for i, r in enumerate(rv):
        for j, c in enumerate(cv):
            z[i, j] = grid.get((r, c), np.nan)
    scale = energy_scale(z[np.isfinite(z)]) if np.isfinite(z).any() else 1.0
    fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(cv) + 3), max(4, 0.6 * len(rv) + 2.2)))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    im = ax.imshow(np.ma.masked_invalid(z / scale), cmap=cmap, aspect="auto", origin="lower")
    for i in range(len(rv)):
        for j in range(len(cv)):
            v = z[i, j] / scale
            txt = "n/a" if not np.isfinite(v) else f"{v:.4g}"
            finite = z[np.isfinite(z)] / scale
            dark = np.isfinite(v) and finite.size and v < (finite.min() + finite.max()) / 2
            ax.text(j, i, txt, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(cv)), [_tick(c) for c in cv])
    ax.set_yticks(range(len(rv)), [_tick(r) for r in rv])
    ax.set_xlabel(friendly(cols))
    ax.set_ylabel(friendly(rows))
    cb = fig.colorbar(im, ax=ax)
    cb.set_label(f"Energy per image ({energy_unit_label(f.unit, scale)})")
    ax.set_title(
        f"Energy over {friendly(rows)} x {friendly(cols)}\n{f.title}" + ("; " if note else "") + ", ".join(note[:1]),
        fontsize=10,
    )
    _subtitle(fig, "n/a: no valid mapping (the layer does not fit) or not simulated. " + "; ".join(note[1:]))
    name = f"heatmap_{rows.removeprefix('accelerator__')}_x_{cols.removeprefix('accelerator__')}"
    return _save(fig, out, name)


def write_plots(
    results: pd.DataFrame,
    out: Path,
    points: dict[str, Any] | None = None,
    heatmaps: Sequence[Sequence[str]] | None = None,
) -> list[Path]:
    """Every plot the data supports, into out/; returns the files written."""
    f = prepare(results, points)
    if f.totals.empty:
        return []
    paths: list[Path] = []
    paths += plot_energy_vs_accuracy(f, out)
    paths += plot_energy_vs_clusters(f, out)
    paths += plot_energy_vs_bits(f, out)
    paths += plot_breakdown(f, out, "level")
    paths += plot_breakdown(f, out, "data")
    override_paths = (points or {}).get("override_paths", [])
    for rows, cols in heatmap_pairs(f, override_paths, heatmaps):
        paths += plot_heatmap(f, out, rows, cols)
    return paths
