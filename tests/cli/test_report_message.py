"""Reports that lead with the message: the summary's sentences say what the files say.

Every number in the executive summary is read back and compared with
summary.csv and costs.csv; the cost table beside the chart holds the chart's
numbers; figures come as PNG, SVG or both, and embedded in a self-contained
page; a compare report leads with cost; a sweep report draws every crossing
and leaves out panels that do not move.
"""

from __future__ import annotations

import base64
import csv
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from bordersim.cli import cli
from bordersim.numbers import money, with_interval

# Two crossings, trucks that give up, cars that turn back, costs of every kind.
SCENARIO = {
    "name": "message",
    "description": "Trucks slowed for a day at the first crossing.",
    "start": "2017-10-09",
    "duration": "3d",
    "warmup": "6h",
    "replications": 3,
    "seed": 3,
    "classes": {"car": {"persons": 2, "length_m": 7},
                "truck_loaded": {"persons": 1, "length_m": 20, "cargo_value": 30000,
                                 "perishable_share": 0.3}},
    "crossings": {
        "ak-tilek": {"label": "Ak-Tilek (KG) → Karasu (KZ)",
                     "demand": {"car": 96, "truck_loaded": 72},
                     "stages": [{"name": "kz-entry", "lanes": [
                         {"name": "cars", "serves": ["car"], "booths": 1,
                          "service": {"car": "12min"}},
                         {"name": "freight", "serves": ["truck_loaded"], "booths": 2,
                          "service": {"truck_loaded": {"dist": "gamma", "mean": "30min",
                                                       "cv": 0.5}}}]}]},
        "chaldybar": {"demand": {"car": 30},
                      "stages": [{"name": "kz-entry", "lanes": [
                          {"name": "all", "serves": ["car"], "booths": 1,
                           "service": {"car": "10min"}}]}]},
    },
    "policy": [{"at": "2017-10-10", "label": "Slow trucks", "crossings": ["ak-tilek"],
                "service_factor": {"truck_loaded": 3.0}},
               {"at": "2017-10-11", "label": "Normal again", "reset": True}],
    "behaviour": {"patience": {"truck_loaded": {"dist": "exponential", "mean": "6h"}},
                  "balk": {"car": {"queue_over": 6}}},
    "economics": {"value_of_time_per_person_hour": 1.3,
                  "vehicle_cost_per_hour": {"truck_loaded": 7.0},
                  "cargo_time_cost_per_day": 0.008,
                  "spoilage": {"rate_per_day": 0.05, "after": "2h"},
                  "lost_unit_value": {"truck_loaded": "cargo", "car": 40}},
}


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("message")
    (d / "s.yaml").write_text(yaml.safe_dump(SCENARIO, allow_unicode=True))
    res = invoke("run", d / "s.yaml", "--workers", "1", "--quiet", "--out", d / "out")
    assert res.exit_code == 0, res.output
    res = invoke("report", d / "out")
    assert res.exit_code == 0, res.output
    return d / "out"


def read(folder: Path, name: str) -> dict:
    with open(folder / name, newline="") as f:
        rows = list(csv.DictReader(f))
    key = "metric" if "metric" in rows[0] else "component"
    return {(r["crossing"], r["class"], r[key]): r for r in rows}


def text_of(html: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    class P(HTMLParser):
        out: list[str] = []

        def handle_data(self, data):
            self.out.append(data)
    p = P()
    p.out = []
    p.feed(html)
    return re.sub(r"\s+", " ", "".join(p.out)).strip()


def summary_section(page: str) -> str:
    m = re.search(r"<section id='summary'>(.*?)</section>", page, re.S)
    assert m, "no summary section"
    return m.group(1)


def f(row: dict, key: str = "mean") -> float:
    return float(row[key])


def test_the_results_report_opens_with_a_summary_whose_numbers_are_the_files(results):
    page = (results / "report.html").read_text(encoding="utf-8")
    # the summary comes right after the title and the description, before any figure
    assert page.index("<section id='summary'>") < page.index("<img")
    assert page.index("<section id='summary'>") < page.index("id='costs'")
    text = text_of(summary_section(page))
    costs, summary = read(results, "costs.csv"), read(results, "summary.csv")
    total = costs[("all", "all", "total")]
    assert with_interval(f(total), f(total, "ci_low"), f(total, "ci_high"), "USD",
                         money_value=True) in text
    assert "USD" in text and "95% CI" in text
    for comp, words in (("cargo_time", "cargo held up"), ("spoilage", "spoiled perishables"),
                        ("lost", "trips given up")):
        assert f(costs[("all", "all", comp)]) > 0
        assert f"{words} {money(f(costs[('all', 'all', comp)]), 'USD')}" in text
    # who bore it: the class with the largest share, named with its amount
    bore = max(("car", "truck_loaded"), key=lambda k: f(costs[("all", k, "total")]))
    assert f"{bore} bore" in text
    assert money(f(costs[("all", bore, "total")]), "USD") in text
    # the worst queue and the longest wait, with their intervals
    assert "Ak-Tilek (KG) → Karasu (KZ)" in text
    q = summary[("ak-tilek", "truck_loaded", "queue_max")]
    assert f(q) > 0 and "worst queues" in text
    w = summary[("ak-tilek", "truck_loaded", "wait_mean_h")]
    assert with_interval(f(w), f(w, "ci_low"), f(w, "ci_high")) in text
    # cargo held up and turned back, units that gave up and turned back
    held = summary[("all", "all", "cargo_value_days_delayed")]
    assert f(held) > 0 and money(f(held), "USD") in text and "× days" in text
    lost = summary[("all", "all", "cargo_value_lost")]
    assert f(lost) > 0 and "Cargo turned back" in text and money(f(lost), "USD") in text
    assert f(summary[("all", "all", "reneged")]) > 0 and "gave up waiting" in text
    assert f(summary[("all", "all", "balked")]) > 0 and "turned back at the queue" in text


def test_the_cost_chart_has_its_numbers_beside_it_and_says_what_the_cost_includes(results):
    from bordersim.report import figures as rf
    from bordersim.report.data import load_results

    page = (results / "report.html").read_text(encoding="utf-8")
    costs = page[page.index("id='costs'"):page.index("id='queues'")]
    assert "figures/costs.png" in costs
    cells = text_of(costs)
    table = read(results, "costs.csv")
    for key in (("ak-tilek", "truck_loaded"), ("all", "all")):
        t = table[(*key, "total")]
        assert with_interval(f(t), f(t, "ci_low"), f(t, "ci_high"),
                             money_value=True).replace("95% CI ", "") in cells
    fig = rf.costs(load_results(results))
    title = " ".join(fig._suptitle.get_text().split())
    for words in ("waiting time", "cargo held up", "spoiled perishables", "trips given up"):
        assert words in title
    assert "Cost of waiting" not in title


@pytest.mark.parametrize("fmt", ["svg", "both"])
def test_figures_as_svg_or_both_and_the_page_shows_them(results, tmp_path, fmt):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(results, folder)
    res = invoke("report", folder, "--format", fmt)
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in (folder / "figures").iterdir())
    svgs = [n for n in files if n.endswith(".svg")]
    pngs = [n for n in files if n.endswith(".png")]
    assert svgs and (pngs == [] if fmt == "svg" else len(pngs) == len(svgs))
    for name in svgs:
        root = ET.parse(folder / "figures" / name).getroot()
        assert root.tag.endswith("svg")
        assert "<text" in (folder / "figures" / name).read_text()     # text stays text
    page = (folder / "report.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)"', page)
    shown = "svg" if fmt == "svg" else "png"
    assert srcs and all(s.startswith("figures/") and s.endswith(f".{shown}") for s in srcs)
    if fmt == "both":
        assert all(f'href="{s[:-4]}.svg"' in page for s in srcs)
    before = {n: (folder / "figures" / n).read_bytes() for n in svgs}
    invoke("report", folder, "--format", fmt)
    assert {n: (folder / "figures" / n).read_bytes() for n in svgs} == before  # reproducible


@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_a_self_contained_page_carries_its_figures(results, tmp_path, fmt, magic):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(results, folder)
    res = invoke("report", folder, "--self-contained", "--format", fmt)
    assert res.exit_code == 0, res.output
    page = (folder / "report.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)"', page)
    mime = "image/png" if fmt == "png" else "image/svg+xml"
    assert srcs and all(s.startswith(f"data:{mime};base64,") for s in srcs)
    assert "figures/" not in page
    for s in srcs:
        assert base64.b64decode(s.split(",", 1)[1])[:5].startswith(magic)
    moved = tmp_path / "alone.html"                  # the page on its own still has them
    moved.write_text(page, encoding="utf-8")
    assert len(re.findall(r"data:image", moved.read_text())) == len(srcs)


def test_report_refuses_an_unknown_format_and_crossing_outside_sweeps(results):
    res = invoke("report", results, "--format", "gif")
    assert res.exit_code == 2 and "gif" in res.output
    res = invoke("report", results, "--crossing", "ak-tilek")
    assert res.exit_code == 2 and "sweep" in res.output
    res = invoke("report", results, "--metric", "wait_mean_h")
    assert res.exit_code == 2 and "compare and sweep" in res.output


def test_summary_intervals_of_counts_never_go_below_zero(results):
    """Few replications and rare events: the raw t-interval of a count would reach below
    zero; summary.csv, costs.csv and the page cut it there."""
    from bordersim.stats import t_interval

    with open(results / "replications.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    clipped = 0
    for (c, k, m), r in read(results, "summary.csv").items():
        if r["ci_low"] == "":
            continue
        assert float(r["ci_low"]) >= 0, (c, k, m, r)
        raw = t_interval([float(x[m]) for x in rows if (x["crossing"], x["class"]) == (c, k)])
        assert float(r["ci_high"]) == pytest.approx(raw.ci_high)
        if raw.ci_low < 0:
            clipped += 1
            assert float(r["ci_low"]) == 0
    assert clipped > 0          # the case the cut is for did occur here
    for r in read(results, "costs.csv").values():
        assert r["ci_low"] == "" or float(r["ci_low"]) >= 0
    page = (results / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"\(-\d|–-\d|\(95% CI -", page)


@pytest.fixture(scope="module")
def compared(results, tmp_path_factory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("cmp")
    more = yaml.safe_load(yaml.safe_dump(SCENARIO, allow_unicode=True))
    more["name"] = "more-booths"
    more["crossings"]["ak-tilek"]["stages"][0]["lanes"][1]["booths"] = 4
    (d / "s.yaml").write_text(yaml.safe_dump(SCENARIO, allow_unicode=True))
    (d / "more.yaml").write_text(yaml.safe_dump(more, allow_unicode=True))
    res = invoke("compare", d / "s.yaml", d / "more.yaml", "--workers", "1", "--out",
                 d / "cmp", "--metric", "wait_mean_h", "--metric", "reneged")
    assert res.exit_code == 0, res.output
    assert invoke("report", d / "cmp").exit_code == 0
    return d / "cmp", res.output


def test_compare_leads_with_total_cost_and_currency_then_the_metrics_asked_for(compared):
    folder, output = compared
    lines = [x for x in output.splitlines() if x.strip()]
    first = next(i for i, x in enumerate(lines) if x.startswith("more-booths - message"))
    assert lines[first + 1].startswith("total cost: message USD ")
    assert "difference" in lines[first + 1] and "95% CI" in lines[first + 1]
    blocks = [x for x in lines if x.endswith(":") and ", " in x]
    assert [b.rsplit(", ", 1)[1] for b in blocks] == ["cost_total:", "wait_mean_h:", "reneged:"]
    assert blocks[0].startswith("total cost (USD)")
    index = json.loads((folder / "compare.json").read_text())
    assert index["metrics"] == ["cost_total", "wait_mean_h", "reneged"]


def test_compare_report_leads_with_cost_with_readable_labels(compared):
    folder, _ = compared
    page = (folder / "report.html").read_text(encoding="utf-8")
    summary = text_of(summary_section(page))
    assert re.search(r"more-booths costs USD [\d.,]+( million)? (less|more) than message", summary)
    srcs = re.findall(r'<img src="figures/([^"]+)"', page)
    assert srcs[:3] == ["diff_cost_total.png", "diff_wait_mean_h.png", "diff_reneged.png"]
    from bordersim.report import compare as rc

    rows = rc._read_rows(folder)
    from bordersim.loading import load_scenario

    fig = rc.forest(rows, "wait_mean_h", "message", ["more-booths"], {"more-booths": True},
                    "USD", load_scenario(folder / "message" / "scenario.resolved.yaml").scenario)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "Ak-Tilek (KG) → Karasu (KZ) · truck_loaded" in labels
    assert "mean wait" in fig._suptitle.get_text() and "wait_mean_h" not in fig.axes[0].get_xlabel()


def test_sweep_report_draws_every_crossing_and_leaves_out_flat_panels(tmp_path):
    spec = yaml.safe_load(yaml.safe_dump(SCENARIO, allow_unicode=True))
    spec["replications"] = 2
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    booths = "crossings.ak-tilek.stages.0.lanes.1.booths"
    res = invoke("sweep", tmp_path / "s.yaml", "--vary", f"{booths}=2,3", "--workers", "1",
                 "-q", "--metrics", "wait_mean_h,cost_total", "--out", tmp_path / "sw")
    assert res.exit_code == 0, res.output
    assert invoke("report", tmp_path / "sw").exit_code == 0
    from bordersim.report import sweep as rs

    sw = rs._Sweep(tmp_path / "sw")
    drawn, flat = rs._panels(sw, "wait_mean_h", None, None)
    # trucks at Ak-Tilek respond to their booths; Chaldybar's cars never see them
    assert ("ak-tilek", "truck_loaded") in drawn and ("all", "all") in drawn
    assert ("chaldybar", "car") in flat
    page = (tmp_path / "sw" / "report.html").read_text(encoding="utf-8")
    assert "Left out, as they change by less than 1%" in page
    assert "Chaldybar" not in text_of(page.split("Left out")[0].split("<h2")[-1])
    # total cost leads; readable axes
    assert page.index("total cost (USD)") < page.index("mean wait (h)")
    fig = rs._response_figure(sw, "wait_mean_h", 0, drawn)
    assert fig.axes[0].get_xlabel().startswith("booths of lane freight, kz-entry at")
    assert booths not in fig.axes[0].get_xlabel()
    # --metric draws those metrics only; a results folder has no such choice
    res = invoke("report", tmp_path / "sw", "--metric", "wait_mean_h")
    assert res.exit_code == 0
    page = (tmp_path / "sw" / "report.html").read_text(encoding="utf-8")
    assert "mean wait (h)" in page and "total cost (USD)</h2>" not in page
    assert invoke("report", tmp_path / "sw", "--metric", "wait_mean").exit_code == 2
    # --crossing draws only that crossing
    res = invoke("report", tmp_path / "sw", "--crossing", "chaldybar")
    assert res.exit_code == 0
    drawn, flat = rs._panels(sw, "wait_mean_h", None, ["chaldybar"])
    assert drawn == [] and all(c == "chaldybar" for c, _ in flat)
