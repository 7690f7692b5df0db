"""The Python library layer (sandbox/layers/python.txt, installed by `make toolchains`): importable in
the python jail, read-only there, and listed by GET /codestudio/languages/<id>/packages (docs/packages.md)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sandbox.registry import TOOLCHAINS_DIR

pytestmark = pytest.mark.sandbox  # the toolchains through the API: the stores behind it do not matter, one CI pass

PINS = Path(__file__).resolve().parents[2] / "sandbox" / "layers" / "python.txt"
LAYER = Path(TOOLCHAINS_DIR) / "python-libs"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict[str, str]:
    pins = (re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line) for line in PINS.read_text().splitlines())
    return {canonical(m.group(1)): m.group(2) for m in pins if m}


@pytest.fixture(autouse=True)
def layer_installed():
    if not (LAYER / "numpy").is_dir():
        pytest.fail(f"the Python library layer is not installed at {LAYER}: run `make toolchains`")


def ok(result) -> str:
    assert result["status"] == "success", result
    return result["stdout"]


def test_numpy_arithmetic(run):
    out = ok(run("python", "import numpy as np\na = np.arange(12).reshape(3, 4)\n"
                           "print(int(a.sum()), a.T.shape, round(float(np.linalg.det(np.eye(3) * 2)), 6))"))
    assert out.split() == ["66", "(4,", "3)", "8.0"]


def test_pandas_groupby(run):
    code = ("import pandas as pd\n"
            "df = pd.DataFrame({'k': ['a', 'b', 'a', 'b', 'c'], 'v': [1, 2, 3, 4, 5]})\n"
            "print(df.groupby('k')['v'].sum().to_dict())")
    assert ok(run("python", code)).strip() == "{'a': 4, 'b': 6, 'c': 5}"


def test_matplotlib_saves_a_png_artifact_and_show_returns(run, client, user):
    code = ("import os\nimport matplotlib.pyplot as plt\n"
            "os.makedirs('/work/out', exist_ok=True)\n"
            "plt.plot([0, 1, 2, 3], [1, 4, 9, 16])\nplt.title('squares')\n"
            "plt.savefig('/work/out/plot.png')\nplt.show()\nprint('shown', plt.get_backend().lower())")
    result = run("python", code, limits={"timeout": 10})
    assert ok(result).split() == ["shown", "agg"]
    (png,) = [a for a in result["artifacts"] if a["name"] == "plot.png"]
    assert png["mime"] == "image/png" and png["size"] > 1000
    response = client.get(png["url"], headers=user["headers"])
    assert response.status_code == 200 and response.data[:8] == PNG_SIGNATURE


def test_sklearn_fits_a_tiny_dataset(run):
    code = ("from sklearn.linear_model import LinearRegression\n"
            "m = LinearRegression().fit([[0], [1], [2], [3]], [1, 3, 5, 7])\n"
            "print(round(float(m.coef_[0]), 6), round(float(m.intercept_), 6), int(m.predict([[10]])[0]))")
    assert ok(run("python", code)).split() == ["2.0", "1.0", "21"]


def test_the_packages_endpoint_lists_the_pinned_versions(client, worker):
    response = client.get("/codestudio/languages/python/packages")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    listed = {canonical(p["name"]): p["version"] for p in body["packages"]}
    assert body["language"] == "python" and listed["numpy"] == pinned()["numpy"]
    assert all(listed.get(name) == version for name, version in pinned().items()), (pinned(), listed)
    (entry,) = [lang for lang in client.get("/codestudio/languages").get_json() if lang["id"] == "python"]
    assert entry["packages"] == len(body["packages"])
    assert client.get("/codestudio/languages/py3/packages").get_json()["language"] == "python"
    missing = client.get("/codestudio/languages/no-such-language/packages")
    assert missing.status_code == 404 and missing.get_json()["code"] == "unknown_language"


def test_the_layer_is_read_only_inside_the_jail(run):
    code = ("import errno, os\nfor path in ('/opt/toolchains/python-libs/planted.py',\n"
            "             '/opt/toolchains/python-libs/numpy/__init__.py'):\n"
            "    try:\n        open(path, 'a').write('x')\n        print('wrote', path)\n"
            "    except OSError as exc:\n        print(errno.errorcode[exc.errno])")
    new_file, existing = ok(run("python", code)).split()
    assert new_file == "EROFS" and existing in ("EROFS", "EACCES")  # owned by root, and mounted read-only
    assert not (LAYER / "planted.py").exists()


def test_pip_install_fails_without_hanging(run):
    code = ("import subprocess, sys, time\nstart = time.monotonic()\n"
            "r = subprocess.run([sys.executable, '-m', 'pip', 'install', '--retries', '0', '--timeout', '3', 'six'],\n"
            "                   capture_output=True, text=True, timeout=20)\n"
            "print(r.returncode, round(time.monotonic() - start))")
    out = ok(run("python", code, limits={"timeout": 30}))
    returncode, seconds = (int(x) for x in out.split())
    assert returncode != 0 and seconds < 20, out


def test_the_big_imports_fit_the_smallest_tier_defaults(run, make_user):
    """pandas and matplotlib import under the free tier's default limits; the times are reported."""
    free = make_user("free")
    code = ("import json, time\nt = {}\nfor name in ('numpy', 'pandas', 'matplotlib.pyplot'):\n"
            "    start = time.perf_counter()\n    __import__(name)\n"
            "    t[name] = round(time.perf_counter() - start, 3)\nprint(json.dumps(t))")
    result = run("python", code, headers=free["headers"])
    times = json.loads(ok(result))
    print("import seconds in the jail:", times, "run seconds", result["execution_time"], "peak KiB",
          result["memory_kb"], "of", result["memory_mb"], "MiB, timeout", result["timeout"])
    assert set(times) == {"numpy", "pandas", "matplotlib.pyplot"} and result["memory_kb"] < result["memory_mb"] * 1024
