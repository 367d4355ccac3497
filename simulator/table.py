"""Plain-text tables of simulation results, readable at a glance in a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from simulator.energy import DATA, LEVELS
from simulator.results import LayerResult, NetworkResult

COLUMN_LABELS = {"latency_s": "latency", "processing_s": "processing", "stall_s": "DRAM stall", "fps": "frames/s"}
SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float, digits: int = 3) -> str:
    """1234567 -> '1.23M'."""
    for scale, suffix in SI:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"


def bytes_str(value: float) -> str:
    for scale, suffix in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if value >= scale:
            return f"{value / scale:.2f} {suffix}"
    return f"{value:.0f} B"


def energy_unit_label(unit: str) -> str:
    return "MAC-equivalents" if unit == "normalized" else unit


def render(rows: Sequence[Sequence[str]], header: Sequence[str], right: set[int] | None = None) -> str:
    right = right if right is not None else set(range(1, len(header)))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded)

    rule = "  ".join("-" * w for w in widths)
    return "\n".join(x.rstrip() for x in [line(header), rule, *(line(r) for r in rows)])


def _layer_cells(r: LayerResult, extra_cols: Sequence[str]) -> list[str]:
    total = r.total_energy
    shares = r.by_level
    cells = [
        r.name,
        si(r.macs),
        f"{r.active_pes}",
        f"{r.utilization:.0%}",
        bytes_str(r.dram_bytes),
        bytes_str(r.glb_bytes),
        si(total),
        f"{total / r.macs:.2f}",
        *(f"{shares[k] / total:.0%}" if total else "-" for k in LEVELS),
        f"{r.bound_ratio:.2f}",
    ]
    for col in extra_cols:
        cells.append(_extra_cell(col, r.extra.get(col), "-"))
    return cells


def _extra_cell(col: str, value: object, missing: str) -> str:
    """Seconds as ms, frames/s with one decimal, other numbers in SI."""
    if value is None:
        return missing
    if isinstance(value, float) and col.endswith("_s"):
        return f"{value * 1e3:.2f} ms"
    if isinstance(value, float) and col == "fps":
        return f"{value:.1f}"
    return si(value) if isinstance(value, float) else str(value)


def network_table(result: NetworkResult, show_mapping: bool = False, extra_cols: Sequence[str] = ()) -> str:
    """Per-layer and total energy, traffic and utilization; energy shares by level."""
    unit = energy_unit_label(result.unit)
    header = [
        "layer",
        "MACs",
        "PEs",
        "util",
        "DRAM",
        "GLB",
        "energy",
        "E/MAC",
        *(f"%{k}" for k in LEVELS),
        "E/bound",
        *(COLUMN_LABELS.get(c, c) for c in extra_cols),
    ]
    rows = [_layer_cells(r, extra_cols) for r in result.layers]
    t = result.total()
    e = t["energy"]
    bl = e["by_level"]
    rows.append(
        [
            "TOTAL",
            si(t["macs"]),
            "",
            f"{t['utilization']:.0%}",
            bytes_str(t["dram_bytes"]),
            bytes_str(t["glb_bytes"]),
            si(e["total"]),
            f"{e['per_mac']:.2f}",
            *(f"{bl[k] / e['total']:.0%}" for k in LEVELS),
            f"{t['lower_bound']['ratio']:.2f}",
            *(_total_extra(t, c) for c in extra_cols),
        ]
    )
    objective = result.extra.get("objective")
    searched = f", mapped for least {objective}" if objective else ""
    title = (
        f"{result.network} on {result.accelerator} ({result.dataflow.upper()}, batch {result.batch}{searched}); "
        f"energy in {unit}"
    )
    parts = [title, render(rows, header)]
    bd = e["by_data"]
    parts.append(
        "energy by data type: "
        + ", ".join(f"{k} {si(v)} ({v / e['total']:.0%})" for k, v in bd.items() if v > 0)
        + f"; compute {si(bl['mac'])} ({bl['mac'] / e['total']:.0%})"
    )
    reuse = t.get("row_reuse")
    if reuse:
        parts.append(
            f"row reuse: {si(reuse['macs_saved'])} MACs saved ({reuse['macs_saved'] / t['macs']:.0%} of all), "
            f"{si(reuse['energy_saved'])} energy saved against the same mappings without reuse"
        )
        no_pe = [r.name for r in result.layers if r.extra.get("decode") not in (None, "pe")]
        if no_pe:
            parts.append(
                f"  (no reuse where weights are decoded at the GLB, e.g. codebooks too big for the PE table: "
                f"{', '.join(no_pe)})"
            )
    parts.append("")
    parts.append(data_table(result))
    if show_mapping:
        parts.append("mappings:")
        parts.extend(f"  {r.name}: {r.mapping.describe()}" for r in result.layers)
    return "\n".join(parts)


def _clusters_label(r: LayerResult) -> str:
    c = r.layer.numerics.clustering
    if c is None:
        return "-"
    label = f"{c.clusters}" if c.vector_length == 1 else f"{c.clusters}x{c.vector_length}"
    decode = r.extra.get("decode")
    return label if decode in (None, "pe") else f"{label} ({decode})"


def data_table(result: NetworkResult) -> str:
    """Per-layer energy shares by data type beside the Deep k-Means paper's metrics."""
    header = [
        "layer",
        "K",
        *(f"%{k}" for k in DATA),
        "paper FA",
        "W repr bits",
        "X repr bits",
        "paper E/MAC",
    ]
    rows = []
    for r in result.layers:
        bd = r.by_data
        move = sum(bd.values())
        pm = r.extra.get("paper_metrics", {})
        rows.append(
            [
                r.name,
                _clusters_label(r),
                *(f"{bd[k] / move:.0%}" if move else "-" for k in DATA),
                si(pm.get("compute_fa", 0.0)),
                si(pm.get("weight_repr_bits", 0.0)),
                si(pm.get("act_repr_bits", 0.0)),
                f"{pm.get('total_per_mac', float('nan')):.3f}",
            ]
        )
    t = result.total()
    bd = t["energy"]["by_data"]
    move = sum(bd.values())
    pm = t.get("paper_metrics", {})
    rows.append(
        [
            "TOTAL",
            "",
            *(f"{bd[k] / move:.0%}" if move else "-" for k in DATA),
            si(pm.get("compute_fa", 0.0)),
            si(pm.get("weight_repr_bits", 0.0)),
            si(pm.get("act_repr_bits", 0.0)),
            f"{pm.get('total_per_mac', float('nan')):.3f}",
        ]
    )
    title = "data-movement energy by data type, and the Deep k-Means paper's metrics (Wu et al. 2018, Sec. 3)"
    return title + "\n" + render(rows, header)


def _total_extra(total: dict, col: str) -> str:
    return _extra_cell(col, total.get(col), "")
