"""README's language table lists every language the registry defines, and nothing else."""
import re
from pathlib import Path

from sandbox import registry

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_language_has_its_row():
    rows = set(re.findall(r"^\| `([a-z0-9_]+)` \|", README.read_text(), flags=re.MULTILINE))
    assert rows == {lang.id for lang in registry()}
