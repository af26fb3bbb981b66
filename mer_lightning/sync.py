"""`mer-sync [FOLDER ...]`: uploads the fold results their store did not get, then rebuilds their sweeps' summaries.

A fold writes its results to its own log folder first (records.py) and then uploads them; when the store fails (a
tracking server gone, a full disk), the fold still ends with its whole result in its folder, marked not stored. This
uploads every such fold found under the folders given (default: `$MER_ROOT/logs`) to the store it was recorded into
(`--tracking-uri` for another), creating the runs the store never got, and ends each run FINISHED once its record is
whole there; then it rebuilds the summary of every sweep those folds belong to. Re-running a sweep (its resume) does
the same for its own folds before running any.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from omegaconf import OmegaConf

from mer_lightning.records import FoldFolder, fold_folders
from mer_lightning.tracking import Tracker

log = logging.getLogger(__name__)
LATE = "results uploaded after the fold's own process ended"


def _run(tracker: Tracker, run_id: str | None, note: str) -> str | None:
    """`run_id` when the store holds it, RUNNING (reopened with `note` when it had ended); None when it has no such
    run."""
    run = tracker.find_run(run_id) if run_id else None
    if run is None:
        return None
    if run.info.status != "RUNNING":
        tracker.reopen(run_id, note)
    return run_id


def fold_run(folder: FoldFolder, tracker: Tracker, note: str = LATE) -> str:
    """The fold's run: the one it recorded into (reopened if it has ended), or a new one made from the folder."""
    info = folder.info
    run_id = _run(tracker, info["runs"].get(""), note)
    if run_id is None:
        config = OmegaConf.load(folder.path / "config.yaml")
        run_id = tracker.start_fold(
            info["tags"], OmegaConf.to_container(config), OmegaConf.to_yaml(config), info["run_name"]
        )
        info = folder.update_info(runs={**info["runs"], "": run_id})
    return run_id


def stage_run(folder: FoldFolder, tracker: Tracker, stage: dict, note: str = LATE) -> str:
    """A stage's run (the fold's own for a one-stage fold): the one it recorded into, or a new one."""
    if not stage["name"]:
        return fold_run(folder, tracker, note)
    info = folder.info
    run_id = _run(tracker, info["runs"].get(stage["name"]), note)
    if run_id is None:
        run_id = tracker.start_stage(
            fold_run(folder, tracker, note),
            stage["name"],
            stage["index"],
            tags={"mer.fold": info["fold"]},
            run_name=stage["run_name"],
        )
        folder.update_info(runs={**folder.info["runs"], stage["name"]: run_id})
    return run_id


def upload(folder: FoldFolder, tracker: Tracker, note: str = LATE) -> list[str]:
    """Uploads what `folder` holds and the store lacks: each finished stage (its run then ends FINISHED), then the
    fold's test record (the fold's run then ends FINISHED). Returns what it uploaded."""
    info = folder.info
    uploaded = []
    for stage in info["stages"]:
        record = folder.stage(stage["name"])
        if record.done and not record.stored:
            run_id = stage_run(folder, tracker, stage, note)
            tracker.upload_stage(run_id, record, weights=info["save_weights"])
            if stage["name"]:
                tracker.end_run(run_id)
            record.mark_stored()
            uploaded.append(f"stage {stage['name'] or 'fold'}")
    if folder.pending:
        run_id = fold_run(folder, tracker, note)
        # The tested stage's run holds its weights and training loss (uploaded above, or by an earlier attempt).
        tested_run = folder.info["runs"].get(info["stages"][-1]["name"]) or run_id
        tracker.upload_fold(run_id, folder.result, tested_run if info["save_weights"] else None)
        trained_on = folder.info.get("trained_on")
        tracker.set_tags(
            run_id, {"mer.tested_run": tested_run, **({"mer.trained_on": trained_on} if trained_on else {})}
        )
        tracker.end_run(run_id)
        folder.result.mark_stored()
        uploaded.append("result")
    return uploaded


def sync(roots: Iterable[Path], tracking_uri: str | None = None) -> dict[tuple, list[str]]:
    """Uploads every fold under `roots` whose record the store lacks; returns the sweeps touched (store settings and
    sweep id) with the folds uploaded into each."""
    touched: dict[tuple, list[str]] = {}
    for folder in (f for root in roots for f in fold_folders(root)):
        info = folder.info
        if (
            not info
            or not any(folder.stage(s["name"]).done and not folder.stage(s["name"]).stored for s in info["stages"])
            and not folder.pending
        ):
            continue
        store = {**info["store"], **({"tracking_uri": tracking_uri} if tracking_uri else {})}
        tracker = Tracker(**store, sweep_id=info.get("sweep_id"), sweep_run_id=info.get("sweep_run_id"))
        done = upload(folder, tracker)
        print(f"{folder.path}: uploaded {', '.join(done)} (fold {info['fold']})")
        touched.setdefault((tuple(sorted(store.items())), info.get("sweep_id")), []).append(info["fold"])
    return touched


def main() -> None:
    from mer_lightning.summarize import print_summary, summarize_sweep

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(os.environ.get("MER_ROOT", "."))
    parser.add_argument(
        "folders",
        nargs="*",
        type=Path,
        default=[root / "logs"],
        help="fold or sweep folders, searched for fold records (default: $MER_ROOT/logs)",
    )
    parser.add_argument("--tracking-uri", help="upload into this store instead of the one each fold recorded into")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    touched = sync(args.folders, args.tracking_uri)
    if not touched:
        print(f"nothing to upload under {', '.join(map(str, args.folders))}: every fold found is in its store")
    for (store, sweep_id), _ in touched.items():
        if sweep_id:
            tracker = Tracker(**dict(store))
            try:
                print_summary(tracker, sweep_id, summarize_sweep(tracker, sweep_id))
            except LookupError as nothing:
                print(nothing)


if __name__ == "__main__":
    main()
