"""gr1-eval's report: per-task success with 95 % Wilson intervals in the table and the JSON, and a
bar chart of them (PNG) beside the report."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from gr1_data.live_report import results_table, success_by_task, success_chart, wilson_interval


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR" and data[-8:-4] == b"IEND"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("k,n,lo,hi", [
    (5, 10, 0.2366, 0.7634),   # symmetric about 1/2
    (0, 2, 0.0, 0.6576),       # no success: the interval still reaches 66 %
    (2, 2, 0.3424, 1.0),
    (1, 2, 0.0945, 0.9055),
    (18, 20, 0.6990, 0.9721),
])
def test_wilson_interval_known_values(k, n, lo, hi):
    got = wilson_interval(k, n)
    assert got == pytest.approx((lo, hi), abs=5e-5)
    assert 0.0 <= got[0] <= k / n <= got[1] <= 1.0


def test_wilson_interval_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    # more episodes, narrower interval
    widths = [wilson_interval(n // 2, n)[1] - wilson_interval(n // 2, n)[0] for n in (4, 40, 400)]
    assert widths == sorted(widths, reverse=True)


def test_table_chart_and_stats_of_mixed_episodes(tmp_path):
    eps = [{"task": "lift_red", "success": True, "seconds": 4.0},
           {"task": "lift_red", "success": False, "seconds": 15.0},
           {"task": "push_blue_left", "success": False, "seconds": 15.0}]
    stats = success_by_task(eps)
    assert list(stats) == ["lift_red", "push_blue_left", "all"]
    assert stats["lift_red"]["interval"] == pytest.approx([0.0945, 0.9055], abs=5e-5)
    table = results_table(eps, "t")
    assert "| 95 % interval |" in table
    assert "| lift_red | 2 | 1 | 50% | 4.0 | 9%-91% |" in table
    assert "| push_blue_left | 1 | 0 | 0% | - | 0%-79% |" in table
    width, height = png_size(success_chart(eps, tmp_path / "chart.png", "t"))
    assert width >= 300 and height >= 300
    assert not list(tmp_path.glob("*.part"))
    with pytest.raises(ValueError):
        success_chart([], tmp_path / "none.png", "t")


def test_gr1_eval_expert_writes_intervals_and_a_chart_beside_the_report(tmp_path, capsys):
    from gr1_data.evaluate import main

    out = tmp_path / "eval.json"
    assert main(["--expert", "--tasks", "lift_red", "--episodes", "2", "--static-px", "16",
                 "--wrist-px", "16", "--out", str(out), "--no-progress"]) == 0
    report = json.loads(out.read_text())
    assert report["per_task"] == {"lift_red": 1.0}
    assert report["per_task_interval"]["lift_red"] == pytest.approx([0.3424, 1.0], abs=5e-5)
    assert report["success_interval"] == report["per_task_interval"]["lift_red"]
    table = out.with_suffix(".md").read_text()
    assert "| lift_red | 2 | 2 | 100% |" in table and "| 34%-100% |" in table
    assert "Chart: `eval.png`" in table
    png_size(out.with_suffix(".png"))
    # an existing chart is an existing report: refused without --force, replaced with it
    out.unlink()
    out.with_suffix(".md").unlink()
    capsys.readouterr()
    assert main(["--expert", "--tasks", "lift_red", "--episodes", "1", "--max-seconds", "0.1",
                 "--out", str(out), "--no-progress"]) == 2
    assert "eval.png" in capsys.readouterr().err
    assert main(["--expert", "--tasks", "lift_red", "--episodes", "1", "--max-seconds", "0.1",
                 "--static-px", "16", "--wrist-px", "16", "--out", str(out), "--no-progress",
                 "--force"]) == 0
    assert json.loads(out.read_text())["per_task_interval"]["lift_red"][0] == 0.0
    png_size(out.with_suffix(".png"))
