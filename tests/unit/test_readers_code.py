"""The ``[text] code`` setting reaches code blocks in documents, exactly as in plain text.

The Markdown and HTML readers hand code on as fenced blocks; the speakable pass then skips
them, says "Code block." or reads them. Checked end to end through ``voxtray clean``, which
prints what a voice would be given, with a settings file of the test's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from voxtray.core import cli

MARKDOWN = """\
# Notes

Before the code.

```python
fenced_call(1)
```

Between the blocks.

    indented_call(2)

~~~
```
nested_call(3)
~~~

After the code.
"""

HTML = """\
<html><body><main>
<p>Before the code.</p>
<pre><code class="language-python">html_call(4)
</code></pre>
<div class="highlight"><pre>pygments_call(5)</pre></div>
<p>Between the blocks.</p>
<pre>A poem in pre
  is read as it stands.</pre>
<p>After the code.</p>
</main></body></html>
"""

CALLS = {
    "notes.md": ["fenced_call", "indented_call", "nested_call"],
    "page.html": ["html_call", "pygments_call"],
}


def clean(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    mode: str,
) -> str:
    for folder in ("CONFIG", "STATE", "CACHE", "DATA"):
        monkeypatch.setenv(f"XDG_{folder}_HOME", str(tmp_path / folder.lower()))
    settings = tmp_path / "config" / "voxtray" / "settings.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(f'[text]\ncode = "{mode}"\n', encoding="utf-8")
    path = tmp_path / name
    path.write_text(MARKDOWN if name.endswith(".md") else HTML, encoding="utf-8")
    code = cli.main(["clean", "--plain", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize("name", ["notes.md", "page.html"])
@pytest.mark.parametrize("mode", ["skip", "announce", "read"])
def test_code_blocks_follow_the_code_setting(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    mode: str,
) -> None:
    said = clean(tmp_path, monkeypatch, capsys, name, mode)
    assert "Before the code." in said and "Between the blocks." in said
    assert "After the code." in said
    calls = [call for call in CALLS[name] if call in said]
    announced = said.count("Code block.")
    if mode == "skip":
        assert (calls, announced) == ([], 0), said
    elif mode == "announce":
        assert (calls, announced) == ([], len(CALLS[name])), said
    else:
        assert (calls, announced) == (CALLS[name], 0), said
    assert "```" not in said and "~~~" not in said
    if name == "page.html":
        assert "A poem in pre is read as it stands." in said.replace("\n", " ")
