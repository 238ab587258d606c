"""The benchmark report writer on tiny hand-made inputs (the measurements themselves run in make bench)."""

import json

import numpy as np
import pytest

from benchmarks import bench


def test_pearson_per_image_handles_constant_maps():
    a = np.random.default_rng(0).random((3, 4, 4))
    b = a.copy()
    b[1] = 0.0
    a[2] = b[2] = 1.0
    r = bench.pearson_per_image(a, b)
    assert np.allclose(r, [1.0, 0.0, 1.0])
    assert np.isclose(bench.pearson_per_image(a[:1], 2 * a[:1] + 1)[0], 1.0)


def test_write_report_shows_every_section_and_verdict(tmp_path):
    row = {"model": "fashion_vgg", "method": "vanilla saliency", "batch": 1, "r_min": 0.999, "r_median": 1.0, "ours_s": 0.01,
           "theirs_s": 0.05, "ratio": 0.2, "floor_s": 0.009, "floor_x": 1.11, "note": "n"}
    slow = {**row, "method": "SmoothGrad (same noise draws)", "ratio": 0.5, "floor_x": 4.0}
    results = {"machine": bench.machine_info(), "tkv": [row, slow],
               "am": {"model": "m", "layer": "conv", "steps": 5, "ours_steps_s": 50.0, "theirs_steps_s": 10.0,
                      "ratio": 0.2},
               "imagenet": [{"model": "vgg16", "saliency_s": 0.5, "grad_cam_s": 0.4, "am_steps_s": 2.0,
                             "am_layer": "block3_conv3"}],
               "course": {"default": [{"notebook": "00_a.ipynb", "ok": True, "seconds": 100.0, "peak_mb": 900.0,
                                       "error": ""}], "fast": None},
               "widgets": [("cam_explorer", "layer", 1.5, 0.25, 0.25)],
               "photo": {"load_s": 1.7, "widgets": [("saliency_explorer", "method", 11.0, 0.39, 1.93),
                                                    ("cam_explorer", "layer", 3.5, 0.61, 0.61)],
                         "render": {"layer": "block4c_add", "steps": 256, "size": 128, "n": 4, "seconds": 18.7}},
               "leaks": {"calls": 100, "warmup": 60, "rss_before_mb": 700.0, "rss_after_mb": 702.0,
                         "growth_mb": 2.0, "retracing_warnings": [], "traces_after_warmup": 0,
                         "median_call_s": 0.2, "controls": ["cam_explorer.layer"]},
               "seconds": 1.0}
    text = bench.write_report(results, tmp_path / "docs" / "benchmarks.md")
    assert (tmp_path / "docs" / "benchmarks.md").read_text() == text
    for heading in ("## Machine", "## Agreement", "## Speed", "## Activation maximization", "## The course",
                    "## ImageNet tier", "## Widgets", "## Leaks", "## The real network"):
        assert heading in text
    assert "| cam_explorer | layer | 1.50 | 0.250 | 0.250 |" in text
    assert "| saliency_explorer | method | 11.00 | 0.39 | 1.93 | met |" in text  # judged on the first figure
    assert "| cam_explorer | layer | 3.50 | 0.61 | 0.61 | **missed** |" in text
    assert "resident memory 700 -> 702 MB (+2.0 MB), 0 tf.function retracing warnings" in text
    assert "| fashion_vgg | SmoothGrad (same noise draws) | 1 |" in text and "**missed**" in text  # 0.5 > 0.2
    assert "fast parameters: not measured: run make course" in text
    assert "| 00_a.ipynb | yes | 100.0 | 900 |" in text
    partial = bench.write_report({**results, "course_notebooks": 8})
    assert "partial: the last run covered 1 of the 8 notebooks" in partial


def test_write_report_without_measurements_says_so():
    text = bench.write_report({})
    assert text.count("not measured") >= 6
    assert "default parameters: not measured: run make course" in text


def test_course_cost_reads_the_runner_summaries(tmp_path):
    (tmp_path / "build" / "course").mkdir(parents=True)
    runs = [{"notebook": "01_x.ipynb", "ok": True, "seconds": 3.0, "peak_mb": 10.0, "error": ""}]
    (tmp_path / "build" / "course" / "summary.json").write_text(json.dumps(runs))  # before notebooks ran side by side
    cost = bench.course_cost(tmp_path)
    assert cost["default"] == runs and cost["fast"] is None and cost["default_when"].startswith("20")
    assert cost["default_wall"] == (3.0, 1)
    summary = {"wall_s": 2.0, "jobs": 2, "notebooks": runs}
    (tmp_path / "build" / "course" / "summary.json").write_text(json.dumps(summary))
    cost = bench.course_cost(tmp_path)
    assert cost["default"] == runs and cost["default_wall"] == (2.0, 2)
    text = bench.write_report({"course": cost})
    assert "1 notebooks, 2 s wall with 2 at a time (3 s summed), peak 10 MB (targets: <= 8 min in all: met" in text


def test_bench_names_a_bad_model_or_explorer():
    from course_utils.models import load_model

    with pytest.raises(ValueError, match="'alexnet'.*fashion_vgg"):
        bench.widget_latency("alexnet")
    with pytest.raises(ValueError, match="atlas_explorer.*activation_explorer"):
        bench.leaks(load_model("fashion_vgg", verbose=False), explorers=["atlas_explorer"])
