"""The result store: a folder of parquet parts, each holding the rows of a few finished points and committed by an
atomic rename, so a killed run loses only the points in flight and a resumed run never writes a row twice.

Layout of DIR:
    results/part-*.parquet   one file per committed batch (the truth: a point is done iff a part holds its rows)
    results.parquet          all rows of the study's current points in one file (written when a run ends)
    manifest.json            status: points total / done / failed, parts, last update (informational)
    study.yaml, points.json  the study as run and its expanded points (ids, labels, order)
    plots/, summary.md, summary.html, run.log

Load everything with `pd.read_parquet("DIR/results.parquet")`, or `studies.load_results("DIR")` (also works in
the middle of a run or after an interrupted one).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from studies.spec import StudyError

KEY = ("point_id", "layer")


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    _atomic_write_bytes(path, text.encode())


def _table(rows: list[dict[str, Any]]) -> pa.Table:
    df = pd.DataFrame(rows)
    # Columns that hold only None in this part would get arrow's null type; object columns of numbers stay mixed.
    return pa.Table.from_pandas(df, preserve_index=False)


def _numeric_objects(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding only numbers and None (parts where a column was all None) become float."""
    for col in [c for c in df.columns if df[c].dtype == "object"]:
        values = df[col].dropna()
        if not values.empty and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            df[col] = pd.to_numeric(df[col])
        elif values.empty:
            df[col] = df[col].astype(float) if col not in ("error",) else df[col]
    return df


LOCK_GRACE_S = 5.0


class ResultStore:
    """One study's output folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.parts = self.root / "results"
        self._seq = 0
        self._lock_fh: Any = None

    # -- locking ------------------------------------------------------------------------------------------

    @contextmanager
    def locked(self) -> Iterator[ResultStore]:
        """Hold an exclusive lock on the folder (released by the OS even after kill -9)."""
        self.parts.mkdir(parents=True, exist_ok=True)
        fh = open(self.root / ".lock", "w")  # noqa: SIM115 - held for the duration of the run
        # Worker processes inherit the lock; after a kill -9 they may take a moment to die, so wait briefly.
        deadline = time.monotonic() + LOCK_GRACE_S
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.close()
                    message = f"{self.root}: another `study run` is writing here; wait for it or pick --out"
                    raise StudyError(message) from None
                time.sleep(0.1)
        self._lock_fh = fh
        try:
            self._sweep_temporaries()
            yield self
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()
            self._lock_fh = None

    def _sweep_temporaries(self) -> None:
        """Remove temp files of writes that a killed run never committed."""
        for p in self.parts.glob(".*.tmp"):
            p.unlink(missing_ok=True)
        for p in self.root.glob(".*.tmp"):
            p.unlink(missing_ok=True)

    # -- reading ------------------------------------------------------------------------------------------

    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet")) if self.parts.is_dir() else []

    def done(self) -> dict[str, str]:
        """point_id -> status ('ok' or 'failed') of every committed point."""
        out: dict[str, str] = {}
        for path in self.part_files():
            t = pq.read_table(path, columns=["point_id", "layer", "status"])
            for pid, layer, status in zip(
                *(t.column(c).to_pylist() for c in ("point_id", "layer", "status")), strict=True
            ):
                if layer == "TOTAL":
                    out[pid] = status
        return out

    def has_results(self) -> bool:
        return bool(self.part_files())

    def read_parts(self) -> pd.DataFrame:
        frames = [pq.read_table(p).to_pandas() for p in self.part_files()]
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame(columns=["point_id", "layer", "status"])
        df = pd.concat(frames, ignore_index=True, sort=False)
        df = df.drop_duplicates(subset=list(KEY), keep="last").reset_index(drop=True)
        return _numeric_objects(df)

    # -- writing ------------------------------------------------------------------------------------------

    def append(self, rows: list[dict[str, Any]]) -> Path | None:
        """Commit the rows of some finished points as one new part (temp file + fsync + rename)."""
        if not rows:
            return None
        self.parts.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        name = f"part-{time.time_ns():020d}-{os.getpid()}-{self._seq:06d}.parquet"
        final = self.parts / name
        tmp = self.parts / f".{name}.tmp"
        pq.write_table(_table(rows), tmp, compression="zstd")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        return final

    def drop_points(self, point_ids: set[str]) -> int:
        """Delete the rows of some points (to retry them), rewriting each affected part atomically."""
        dropped = 0
        for path in self.part_files():
            table = pq.read_table(path)
            ids = table.column("point_id").to_pylist()
            keep = [i for i, pid in enumerate(ids) if pid not in point_ids]
            if len(keep) == len(ids):
                continue
            dropped += len({pid for pid in ids if pid in point_ids})
            if not keep:
                path.unlink()
                continue
            tmp = self.parts / f".{path.name}.tmp"
            pq.write_table(table.take(keep), tmp, compression="zstd")
            os.replace(tmp, path)
        return dropped

    def clear(self) -> None:
        """Forget every result of this folder (--overwrite)."""
        shutil.rmtree(self.parts, ignore_errors=True)
        for name in ("results.parquet", "manifest.json", "summary.md", "summary.html"):
            (self.root / name).unlink(missing_ok=True)
        shutil.rmtree(self.root / "plots", ignore_errors=True)
        self.parts.mkdir(parents=True, exist_ok=True)

    def write_manifest(self, **status: Any) -> None:
        data = {"updated": time.strftime("%Y-%m-%dT%H:%M:%S"), "parts": len(self.part_files()), **status}
        atomic_write_text(self.root / "manifest.json", json.dumps(data, indent=2, default=str) + "\n")

    def consolidate(self, point_ids: list[str] | None = None) -> Path:
        """Write results.parquet: every row (of the given points, in their order) in one file."""
        df = self.read_parts()
        if point_ids is not None and not df.empty:
            order = {pid: i for i, pid in enumerate(point_ids)}
            df = df[df["point_id"].isin(order)]
            df = df.assign(_o=df["point_id"].map(order)).sort_values("_o", kind="stable").drop(columns="_o")
        path = self.root / "results.parquet"
        tmp = self.root / ".results.parquet.tmp"
        df.reset_index(drop=True).to_parquet(tmp, index=False)
        os.replace(tmp, path)
        return path


def current_point_ids(root: str | Path) -> list[str] | None:
    p = Path(root) / "points.json"
    if not p.is_file():
        return None
    return [pt["id"] for pt in json.loads(p.read_text())["points"]]


def load_results(root: str | Path, all_points: bool = False, ok_only: bool = False) -> pd.DataFrame:
    """Every row of a study folder as a DataFrame: one per (point, layer) plus one per (point, TOTAL).

    By default only points of the study as last run (points.json) are returned; `all_points` keeps rows of points
    that an edited study no longer has. `ok_only` drops failed points.
    """
    root = Path(root)
    if not root.is_dir():
        raise StudyError(f"no study results at {root}")
    store = ResultStore(root)
    if store.has_results():
        df = store.read_parts()
    elif (root / "results.parquet").is_file():
        df = pd.read_parquet(root / "results.parquet")
    else:
        raise StudyError(f"{root} holds no results yet (run `clusterwatt study run FILE --out {root}`)")
    ids = None if all_points else current_point_ids(root)
    if ids is not None and not df.empty:
        df = df[df["point_id"].isin(set(ids))].reset_index(drop=True)
    if ok_only and "status" in df:
        df = df[df["status"] == "ok"].reset_index(drop=True)
    return df
