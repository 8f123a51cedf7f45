"""bench/teacher_screen_table.py: which run folders become rows of the recipe screen."""
import importlib.util
from pathlib import Path

from edgemath.manifest import write_manifest

spec = importlib.util.spec_from_file_location("teacher_screen_table",
                                              Path(__file__).parents[1] / "bench" / "teacher_screen_table.py")
tst = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tst)


def _run(root: Path, name: str, **fields) -> None:
    (root / name).mkdir()
    write_manifest(root / name, **fields)


def test_collect_keeps_solver_runs_and_skips_encoders_named_per_fold(tmp_path):
    _run(tmp_path, "e5l12-f0", stage="train", config={}, metrics={"dev_acc": 0.8235, "best_epoch": 20},
         wall_time_s=600.0)
    _run(tmp_path, "e5-asdiv-a-f0", stage="import-e5", config={}, metrics={"vocab_kept": 10963})
    (tmp_path / "e5l12-f1").mkdir()  # running: read from its log
    (tmp_path / "e5l12-f1.log").write_text("epoch 1: loss 3.2 dev 0.3782\nepoch 2: loss 2.1 dev 0.5042\n")
    rows = tst.collect(tmp_path)
    assert set(rows) == {"e5l12"}
    assert rows["e5l12"][0] == {"acc": 0.8235, "epoch": 20, "minutes": 10.0, "done": True}
    assert rows["e5l12"][1] == {"acc": 0.5042, "epoch": 2, "done": False}
