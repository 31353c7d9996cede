"""The benchmark scripts: run_all's README tables rendered from rows (no
benchmark run), run_accelerator's and scaling's prepro-only quick modes in a
subprocess (the peers are not installed in the test environment)."""
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))

import run_all  # noqa: E402  pylint: disable=wrong-import-position
import run_accelerator  # noqa: E402  pylint: disable=wrong-import-position

SPEC = {"t": {"time": "ms", "header": ("| workload | prepro | Keras 3 | other |", "|---|---:|---:|---|"),
              "rows": [
                  (r"thing apply \d+", ["Thing apply, big", "{sec:prepro}", "{ratio:keras}",
                                        "NumPy {ratio:numpy}"]),
                  (r"thing apply \d+", ["same, from a list (list of str: {sec:prepro, list})",
                                        "{sec:prepro, list}", "{x:keras|prepro, list}", ""]),
                  (r"pipe \d+", ["Pipe", "{rate:prepro} docs/s",
                                 "{rate:tf} docs/s ({faster:tf})", "{keep}"]),
              ]}}

README = """intro
<!-- bench:start t -->
| workload | prepro | Keras 3 | other |
|---|---:|---:|---|
| Thing apply, big | 1 ms | 2.0x | NumPy 3.0x |
| a line no template describes | 1 s | | |
| same, from a list (list of str: 9 ms) | 9 ms | 1.0x | |
| Pipe | 10 docs/s | 20 docs/s | measured elsewhere |
<!-- bench:end t -->
outro
"""


def _rows(bench, **impls):
  ref = impls["prepro"] if "prepro" in impls else next(iter(impls.values()))
  return [{"benchmark": bench, "impl": k, "seconds": v, "ratio_vs_prepro": v / ref}
          for k, v in impls.items()]


def test_render_fills_the_rows_and_keeps_the_rest():
  rows = _rows("thing apply 1000", prepro=0.0053, keras=0.0212, numpy=0.0046,
               **{"prepro, list": 0.040})
  pipe = _rows("pipe 50", prepro=2.0, tf=0.4)
  pipe[0]["items_per_s"], pipe[1]["items_per_s"] = 36_123.0, 176_400.0
  out = run_all.render_readme(README, rows + pipe, SPEC)
  assert out.startswith("intro\n<!-- bench:start t -->\n")
  assert out.endswith("<!-- bench:end t -->\noutro\n")
  lines = out.split("\n")
  assert "| Thing apply, big | 5.3 ms | 4.0x | NumPy **0.87x** |" in lines
  # The label's own placeholder is filled; A|B is A's time over B's.
  assert "| same, from a list (list of str: 40 ms) | 40 ms | 0.53x | |" in lines
  # Rates; a faster peer is said so; {keep} keeps the README's cell.
  assert ("| Pipe | 36,100 docs/s | 176,000 docs/s (**5.0x faster**) | measured elsewhere |"
          in lines)
  assert "| a line no template describes | 1 s | | |" in lines
  assert lines.index("| a line no template describes | 1 s | | |") == 5


def test_render_keeps_lines_whose_rows_are_missing():
  only_pipe = _rows("pipe 50", prepro=2.0, tf=0.4)  # no items_per_s: no rate
  assert run_all.render_readme(README, only_pipe, SPEC) == README
  partial = _rows("thing apply 7", prepro=0.01, keras=0.02)  # numpy missing
  assert run_all.render_readme(README, partial, SPEC) == README
  assert run_all.render_readme("no markers here\n", partial, SPEC) == "no markers here\n"


def test_render_is_stable():
  rows = _rows("thing apply 1000", prepro=0.0053, keras=0.0212, numpy=0.0046,
               **{"prepro, list": 0.040})
  once = run_all.render_readme(README, rows, SPEC)
  assert run_all.render_readme(once, rows, SPEC) == once


def test_formats():
  assert [run_all.format_seconds(s) for s in (0.0004, 0.0053, 0.0896, 1.84)] == [
      "0.40 ms", "5.3 ms", "90 ms", "1.84 s"]
  assert run_all.format_seconds(0.115, "s") == "0.115 s"
  assert [run_all.format_ratio(r) for r in (0.862, 1.02, 13.78, 143.3)] == [
      "0.86x", "1.02x", "13.8x", "143x"]
  assert run_all.format_rate(66_734.0) == "66,700"


def test_readme_templates_match_the_readme():
  """Every template's label finds exactly one line of its marked table, so a
  full `make bench` rewrites every row (the README's wording is the label)."""
  text = (ROOT / "README.md").read_text()
  for name, spec in run_all.README_TABLES.items():
    start, end = f"<!-- bench:start {name} -->", f"<!-- bench:end {name} -->"
    assert start in text and end in text, name
    block = text.split(start, 1)[1].split(end, 1)[0]
    firsts = [ln.strip("|").split(" | ")[0].strip() for ln in block.strip().split("\n")[2:]]
    for _, cells in spec["rows"]:
      regex = run_all._label_regex(cells[0])  # pylint: disable=protected-access
      assert sum(bool(regex.match(f)) for f in firsts) == 1, cells[0]


def test_peak_bandwidth_table():
  assert run_accelerator.peak_bandwidth_gbs("NVIDIA H200") == 4800
  assert run_accelerator.peak_bandwidth_gbs("NVIDIA H100 80GB HBM3") == 3350
  assert run_accelerator.peak_bandwidth_gbs("NVIDIA A100-SXM4-80GB") == 2039
  assert run_accelerator.peak_bandwidth_gbs("NVIDIA A100-SXM4-40GB") == 1555
  assert run_accelerator.peak_bandwidth_gbs("NVIDIA L4") == 300
  assert run_accelerator.peak_bandwidth_gbs("NVIDIA L40S") == 864
  assert run_accelerator.peak_bandwidth_gbs("TPU v4") == 1228
  assert run_accelerator.peak_bandwidth_gbs("TPU v5 lite") == 819
  assert run_accelerator.peak_bandwidth_gbs("cpu") is None


def test_accelerator_script_quick_prepro_only(tmp_path):
  out = tmp_path / "acc.md"
  # A subset of the cases keeps this short; RandAugment's compile alone is
  # tens of seconds on two cores.
  done = subprocess.run(
      [sys.executable, str(BENCH / "run_accelerator.py"), "--quick", "--prepro-only",
       "--only", "recipe32", "normalization", "hashing", "integer_lookup",
       "--budget", "120", "--out", str(out)],
      capture_output=True, text=True, timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-2000:]
  text = out.read_text()
  assert text.startswith("# Device benchmarks: ")
  assert "| workload | implementation | ms | throughput | ratio vs prepro |" in text
  for bench in ("flip+rotation+zoom 16x32x32x3", "normalization apply", "hash ",
                "integer_lookup apply"):
    assert re.search(rf"^\| {re.escape(bench)}.*\| prepro", text, re.M), bench
  assert "GB/s" in text and "keras" not in text.split("| workload")[1].split("\n\n")[0]


def test_scaling_script_quick_prepro_only(tmp_path):
  done = subprocess.run(
      [sys.executable, str(BENCH / "scaling.py"), "--quick", "--prepro-only",
       "--panels", "vocabulary", "--out-dir", str(tmp_path)],
      capture_output=True, text=True, timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-2000:]
  assert (tmp_path / "vocabulary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert (tmp_path / "overview.png").exists()
  lines = (tmp_path / "scaling.csv").read_text().splitlines()
  assert lines[0] == "panel,impl,size,items,seconds,seconds_per_item"
  impls = {ln.split(",")[1] for ln in lines[1:]}
  assert "prepro" in impls and "keras" not in impls
