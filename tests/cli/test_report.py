"""``bordersim report``: figures that exist, are PNGs, are linked with alt text, and read well.

"Read well" is checked where a machine can: every figure has a title, its axes
have labels, time axes carry calendar dates, and no two tick labels of an axis
overlap.
"""

from __future__ import annotations

import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.text
import pytest
import yaml
from click.testing import CliRunner

from bordersim.check import check, read_observations
from bordersim.cli import cli
from bordersim.report import compare as report_compare
from bordersim.report import figures as rf
from bordersim.report.data import load_results

# Four days at two crossings, a closure and a reopening, costs: every kind of figure.
TINY = {
    "name": "tiny-report",
    "description": "Two crossings; trucks refused for a day, then let through.",
    "start": "2017-10-09",
    "duration": "4d",
    "warmup": "12h",
    "replications": 2,
    "seed": 4,
    "classes": {"car": {"persons": 2, "length_m": 7},
                "truck_loaded": {"persons": 1, "length_m": 20, "cargo_value": 30000,
                                 "perishable_share": 0.2}},
    "crossings": {
        "ak-tilek": {"label": "Ak-Tilek (KG) → Karasu (KZ)",
                     "demand": {"car": 120, "truck_loaded": 96},
                     "stages": [{"name": "kz-entry", "lanes": [
                         {"name": "cars", "serves": ["car"], "booths": 1,
                          "service": {"car": "5min"}},
                         {"name": "freight", "serves": ["truck_loaded"], "booths": 3,
                          "service": {"truck_loaded": {"dist": "gamma", "mean": "30min",
                                                       "cv": 0.5}}}]}]},
        "chaldybar": {"demand": {"car": 48},
                      "stages": [{"name": "kz-entry", "lanes": [
                          {"name": "all", "serves": ["car"], "booths": 1,
                           "service": {"car": "10min"}}]}]},
    },
    "policy": [
        {"at": "2017-10-10T18:00", "label": "Strengthened regime", "closed": ["truck_loaded"],
         "service_factor": {"car": 2.0}, "demand_factor": {"car": 0.5, "truck_loaded": 0.5}},
        {"at": "2017-10-11T18:00", "label": "Trucks let through again",
         "closed": [], "service_factor": {"car": 1.5}},
        {"at": "2017-10-12", "label": "Restrictions lifted", "reset": True},
    ],
    "economics": {"value_of_time_per_person_hour": 1.3,
                  "vehicle_cost_per_hour": {"truck_loaded": 7.0},
                  "cargo_time_cost_per_day": 0.008},
}
OBSERVATIONS = """date,crossing,class,metric,value_low,value_high,source,confidence,note
2017-10-11T12:00,ak-tilek,truck_loaded,waiting_units,20,40,test,R,exact match
2017-10-11,ak-tilek,truck_loaded,crossed_per_day,0,30,test,R,exact match
2017-10-11T12:00,all,all,waiting_units,10,100,test,R,a group
"""
PNG = b"\x89PNG\r\n\x1a\n"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A results folder of the tiny scenario, with its report written."""
    d = tmp_path_factory.mktemp("report")
    (d / "tiny.yaml").write_text(yaml.safe_dump(TINY, allow_unicode=True))
    (d / "obs.csv").write_text(OBSERVATIONS)
    res = invoke("run", d / "tiny.yaml", "--workers", "1", "--quiet", "--out", d / "out")
    assert res.exit_code == 0, res.output
    res = invoke("report", d / "out", "--observations", d / "obs.csv")
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"report: {d / 'out' / 'report.html'}"
    return d / "out"


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
        if tag == "a" and "href" in a:
            self.links.append(a["href"])


def page_images(html_file: Path) -> _Images:
    p = _Images()
    p.feed(html_file.read_text(encoding="utf-8"))
    return p


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_figures_linked(folder: Path) -> set[str]:
    figures = {p.name for p in (folder / "figures").iterdir()}
    assert figures and all(n.endswith(".png") for n in figures)
    for name in figures:
        w, h = png_size(folder / "figures" / name)
        assert 400 < w < 2500 and 150 < h < 4000, (name, w, h)
    imgs = page_images(folder / "report.html").images
    assert {i["src"] for i in imgs} == {f"figures/{n}" for n in figures}
    for i in imgs:
        assert len(i.get("alt", "")) > 20, i
    return figures


def test_results_report_has_every_kind_of_figure_linked_with_alt_text(tiny):
    figures = assert_figures_linked(tiny)
    assert figures == {"timeline.png", "queue_ak-tilek.png", "flow_ak-tilek.png",
                       "queue_chaldybar.png", "flow_chaldybar.png", "waits.png", "costs.png",
                       "observed.png"}
    text = (tiny / "report.html").read_text(encoding="utf-8")
    for words in ("Two crossings; trucks refused", "Strengthened regime", "10 Oct 2017 18:00",
                  "closed to truck_loaded", "Key numbers", "95%"):
        assert words in text
    assert "http" not in text.replace("http-equiv", "")       # self-contained: no remote links


def test_report_is_replaced_whole_and_leaves_no_temporary_files(tiny):
    res = invoke("report", tiny)
    assert res.exit_code == 0, res.output
    assert "observed.png" not in {p.name for p in (tiny / "figures").iterdir()}
    # the folder's kind marker is the only hidden file: no temporary ones are left
    assert [p.name for p in tiny.iterdir() if p.name.startswith(".")] == [".bordersim-folder"]
    assert_figures_linked(tiny)


DATE = re.compile(r"^\d{1,2} [A-Z][a-z]{2}( \d{4})?$")


def _overlaps(labels) -> list[tuple[str, str]]:
    boxes = [(t.get_text(), t.get_window_extent()) for t in labels
             if t.get_visible() and t.get_text()]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:]
            if ba.overlaps(bb)]


def assert_readable(name: str, fig, time_axis: bool = False) -> None:
    """A title; labelled axes; no tick labels on top of each other; no text cut off at the
    edge of the figure; calendar dates on a time axis."""
    fig.canvas.draw()
    titles = [fig._suptitle] + [ax.title for ax in fig.axes] + \
        [ax._left_title for ax in fig.axes]
    assert any(t is not None and t.get_text() for t in titles), f"{name}: no title"
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        assert not _overlaps(ax.get_xticklabels()), (name, _overlaps(ax.get_xticklabels()))
        assert not _overlaps(ax.get_yticklabels()), (name, _overlaps(ax.get_yticklabels()))
        shared = ax.get_shared_y_axes().get_siblings(ax)
        categories = [t.get_text() for t in ax.get_yticklabels()
                      if re.search("[a-z]", t.get_text())]
        assert any(a.get_ylabel() for a in shared) or categories, name
    box = fig.bbox.padded(1)
    # tick labels are left out: matplotlib keeps some for ticks outside the view, undrawn
    ticks = {id(t) for ax in fig.axes for t in ax.get_xticklabels() + ax.get_yticklabels()}
    for t in fig.findobj(matplotlib.text.Text):
        if t.get_visible() and t.get_text().strip() and id(t) not in ticks:
            e = t.get_window_extent()
            assert box.contains(e.x0, e.y0) and box.contains(e.x1, e.y1), \
                f"{name}: {t.get_text()!r} is cut off at the edge of the figure"
    bottom = [ax for ax in fig.axes if ax.get_visible() and ax.get_xlabel()]
    assert bottom, f"{name}: no axis label on x"
    if time_axis:
        for ax in bottom:
            assert ax.get_xlabel().startswith("date")
            labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
            assert len(labels) >= 3 and all(DATE.match(t) for t in labels), labels


def test_figures_have_titles_labels_dates_and_no_overlapping_ticks(tiny, tmp_path):
    data = load_results(tiny)
    obs = read_observations_file(tmp_path)
    verdicts = check(tiny, tmp_path / "obs.csv")
    figs = {"timeline": rf.timeline(data), "queue": rf.queue(data, "ak-tilek", obs),
            "flow": rf.flow(data, "ak-tilek", obs), "waits": rf.waits(data),
            "costs": rf.costs(data), "observed": rf.observed(data, verdicts)}
    for name, fig in figs.items():
        assert_readable(name, fig, time_axis=name in ("timeline", "queue", "flow"))
        if name in ("queue", "flow"):
            assert all("units" in ax.get_ylabel() for ax in fig.axes
                       if ax.get_ylabel() and ax.get_ylabel() != "km of queue")


def read_observations_file(tmp_path: Path):
    p = tmp_path / "obs.csv"
    p.write_text(OBSERVATIONS)
    return read_observations(p)


def test_compare_folder_report_has_forest_plots_and_each_scenarios_report(tiny, tmp_path):
    scen = tmp_path / "tiny.yaml"
    scen.write_text(yaml.safe_dump(TINY, allow_unicode=True))
    one = yaml.safe_load(yaml.safe_dump(TINY, allow_unicode=True))
    del one["crossings"]["chaldybar"]
    scen.write_text(yaml.safe_dump(one, allow_unicode=True))
    more = yaml.safe_load(yaml.safe_dump(dict(one, name="tiny-more-booths"),
                                         allow_unicode=True))
    more["crossings"]["ak-tilek"]["stages"][0]["lanes"][1]["booths"] = 4
    (tmp_path / "more.yaml").write_text(yaml.safe_dump(more, allow_unicode=True))
    out = tmp_path / "cmp"
    res = invoke("compare", scen, tmp_path / "more.yaml", "--workers", "1", "--quiet",
                 "--out", out)
    assert res.exit_code == 0, res.output
    res = invoke("report", out)
    assert res.exit_code == 0, res.output
    figures = assert_figures_linked(out)
    assert {"diff_wait_mean_h.png", "diff_queue_mean.png", "diff_cost_total.png",
            "queues_ak-tilek.png"} <= figures
    rows = report_compare._read_rows(out)
    for metric in ("wait_mean_h", "cost_total"):
        fig = report_compare.forest(rows, metric, "tiny-report", ["tiny-more-booths"],
                                    {"tiny-more-booths": True}, "USD")
        assert_readable(f"forest {metric}", fig)
    links = page_images(out / "report.html").links
    for label in ("tiny-report", "tiny-more-booths"):
        assert f"{label}/report.html" in links
        assert_figures_linked(out / label)


def test_report_of_a_sweep_folder_refuses_observations_and_writes_nothing(tmp_path):
    (tmp_path / "runs.csv").write_text("point,replication,crossing,class,metric,value\n")
    res = invoke("report", tmp_path, "--observations", tmp_path / "obs.csv")
    assert res.exit_code == 2
    assert "--observations" in res.output and "sweeps" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.csv"]


@pytest.mark.parametrize("case", ["missing", "not-results"])
def test_report_of_a_bad_folder_exits_2_naming_it(case, tmp_path):
    folder = tmp_path / "nothing-here"
    if case == "not-results":
        folder.mkdir()
        (folder / "notes.txt").write_text("x")
    res = invoke("report", folder)
    assert res.exit_code == 2, res.output
    assert str(folder) in res.output and "Traceback" not in res.output
    assert not (folder / "figures").exists()
