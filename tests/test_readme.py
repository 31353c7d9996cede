"""The README's quickstart code runs as written (both blocks, in order)."""
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run():
  blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
  assert len(blocks) >= 2, "the README should show a functional and a Flax quickstart"
  namespace = {}
  for block in blocks:
    exec(compile(block, str(README), "exec"), namespace)  # pylint: disable=exec-used
  # What the quickstart claims, checked.
  assert namespace["ids"].shape == (1, 32)
  assert namespace["pc"].get_vocabulary(namespace["text_state"])[:2] == ["", "[UNK]"]
  assert namespace["out"].shape == (64, 32, 32, 3)
