"""Validation of the timing model against the Eyeriss chip (JSSC 2017): AlexNet CONV1-5, batch 4, 200 MHz.

Three mappings per layer: the published (n, p, q, e, r, t) with the loop order and GLB blocks of least energy,
the mapper's own choice (objective energy) and the mapper's fastest (objective latency). Run
`python -m simulator.timing.eyeriss` to print the table recorded in docs/timing.md.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accelerators import AcceleratorSpec, load_spec
from simulator import row_stationary as rs
from simulator.bits import layer_widths
from simulator.energy import energy_of
from simulator.mapper import evaluate_mapping, search
from simulator.references import EYERISS_ALEXNET, EYERISS_ALEXNET_TOTAL, eyeriss_alexnet_layers
from simulator.results import LayerResult
from simulator.simulate import with_sparsity
from simulator.timing.model import LayerTiming, time_layer
from simulator.workload import Layer


def published_result(spec: AcceleratorSpec, layer: Layer, npqert: tuple[int, ...]) -> LayerResult:
    """The published mapping under the loop order, block growth and weight streaming of least energy."""
    wid = layer_widths(spec, layer)
    base = {k: np.array([v], dtype=np.int64) for k, v in zip(("n", "p", "q", "e", "r", "t"), npqert, strict=True)}
    base["g"] = np.ones(1, dtype=np.int64)
    counts = rs.evaluate(spec, layer, wid, rs.with_policies(base, rs.POLICIES))
    bits = {k[len("bits.") :]: v for k, v in counts.items() if k.startswith("bits.")}
    energy = np.where(counts["valid"], energy_of(spec, wid, bits, counts["macs_gated"])["total"], np.inf)
    if not np.isfinite(energy).any():
        raise ValueError(f"published mapping {npqert} does not fit layer {layer.name!r} on {spec.name!r}")
    return evaluate_mapping(spec, layer, rs.mapping_at(counts, int(np.argmin(energy))))


@dataclass(frozen=True)
class Row:
    """One layer under one mapping: our timing beside the chip's latency."""

    variant: str
    result: LayerResult
    timing: LayerTiming
    published_ms: float

    @property
    def ratio(self) -> float:
        return self.timing.latency_s * 1e3 / self.published_ms


def validation_rows(overlap: bool = False, spec_name: str = "eyeriss") -> list[Row]:
    """Every (variant, layer) of the comparison, in variant order."""
    spec = load_spec(spec_name)
    layers = with_sparsity(eyeriss_alexnet_layers(), None)  # each output as sparse as the next layer's input
    variants: dict[str, Callable[[Layer, tuple[int, ...]], LayerResult]] = {
        "published": lambda x, m: published_result(spec, x, m),
        "mapper (energy)": lambda x, m: search(spec, x, objective="energy"),
        "mapper (latency)": lambda x, m: search(spec, x, objective="latency"),
    }
    rows = []
    for variant, make in variants.items():
        for layer, fig in zip(layers, EYERISS_ALEXNET, strict=True):
            result = make(layer, fig.mapping)
            rows.append(Row(variant, result, time_layer(spec, result, overlap), fig.latency_ms))
    return rows


def table(rows: list[Row]) -> str:
    """Markdown: per layer and total, ours vs published latency, with processing, stall and bound."""
    header = ("mapping", "layer", "PEs", "DRAM MB (chip)", "processing ms", "stall ms", "bound ms", "latency ms")
    out = ["| " + " | ".join((*header, "chip ms", "ratio")) + " |", "|---|---|" + "---:|" * 8]
    figs = {f.name: f for f in EYERISS_ALEXNET}
    for variant in dict.fromkeys(r.variant for r in rows):
        sel = [r for r in rows if r.variant == variant]
        for r in sel:
            t, f = r.timing, figs[r.result.name]
            out.append(
                f"| {variant} | {r.result.name} | {r.result.active_pes} ({f.active_pes}) | "
                f"{r.result.dram_bytes / 1e6:.2f} ({f.dram_mb}) | {t.processing_s * 1e3:.1f} | {t.stall_s * 1e3:.1f} | "
                f"{t.bound_s * 1e3:.1f} | {t.latency_s * 1e3:.1f} | {r.published_ms} | {r.ratio:.2f} |"
            )
        lat = sum(r.timing.latency_s for r in sel) * 1e3
        proc = sum(r.timing.processing_s for r in sel) * 1e3
        stall = sum(r.timing.stall_s for r in sel) * 1e3
        bound = sum(r.timing.bound_s for r in sel) * 1e3
        dram = sum(r.result.dram_bytes for r in sel) / 1e6
        pub = EYERISS_ALEXNET_TOTAL
        fps = 4 / (lat / 1e3)
        out.append(
            f"| {variant} | **total** | | {dram:.2f} ({pub['dram_mb']}) | {proc:.1f} ({pub['processing_ms']}) | "
            f"{stall:.1f} | {bound:.1f} | {lat:.1f} | {pub['latency_ms']} | {lat / pub['latency_ms']:.2f} |"
        )
        out.append(f"| {variant} | **frames/s** | | | | | | {fps:.1f} | {pub['fps']} | {fps / pub['fps']:.2f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overlap", action="store_true", help="double-buffer DRAM transfers (the chip does not)")
    args = parser.parse_args()
    print(table(validation_rows(overlap=args.overlap)))
    for r in validation_rows(overlap=args.overlap):
        print(f"{r.variant:17s} {r.result.name}: {r.result.mapping.describe()}")


if __name__ == "__main__":
    main()
