"""The README's "Python" section runs as written (in a fresh interpreter, so its own import
is what registers the Auto classes) and prints what its comments say."""

import os
import re
import subprocess
import sys

from util import ROOT

BUNDLED = "panda-lite-mini-preview"


def section_code(heading: str) -> str:
    """The Python code blocks of one README "## heading" section, joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(rf"^## {heading}\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, f"README.md has no '## {heading}' section"
    return "\n".join(re.findall(r"^```python\n(.*?)^```", section.group(1), re.S | re.M))


def expected_output(code: str) -> list[str]:
    """The comments after each `print(...)` line: what the example says it prints."""
    return re.findall(r"^print\(.*\)  # (.*)$", code, re.M)


def test_the_python_section_runs_and_prints_what_it_says(tmp_path, tiny_checkpoint):
    code = section_code("Python")
    assert BUNDLED in code and "AutoModel.from_pretrained" in code
    script = tmp_path / "readme_example.py"
    script.write_text(code.replace(f'"{BUNDLED}"', repr(str(tiny_checkpoint))))  # the tiny one is faster
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected_output(code)
