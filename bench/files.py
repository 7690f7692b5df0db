"""Benchmark: project file requests as a project grows from 10 to 2000 files, through the service.

One project is filled with files of --size-kb each (256 KiB by default; the enterprise tier allows
2000 of 1 MiB) plus one 2-byte file. At each size it times, over HTTP (median of --repeat):
reading the 2-byte file, listing the files (a page: metadata of the first 100), the project list
and the project's detail. None of them reads any content but the one asked for, so the first three
stay flat; the detail lists every file's metadata and grows with that alone.

Usage: python -m bench.files [--counts 10,100,1000,2000] [--size-kb 256] [--repeat 20]
"""
from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .run_bench import bench_stack

CLIENTS = 4  # writes of one user are serialised by the service; a few clients keep it busy


class Client:
    def __init__(self, base: str, key: str):
        self.base, self.session = f"{base}/codestudio", requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        while True:
            response = self.session.request(method, f"{self.base}/{path}", **kwargs)
            if response.status_code != 429:
                assert response.status_code < 300, response.text
                return response
            time.sleep(float(response.headers.get("Retry-After", "1")))

    def timed(self, path: str, repeat: int, **params) -> float:
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            self.call("GET", path, params=params)
            times.append(time.perf_counter() - start)
        return statistics.median(times)


def fill(base: str, key: str, project_id: str, names: range, content: str) -> None:
    def create(chunk: list[int]) -> None:
        client = Client(base, key)
        for i in chunk:
            client.call("POST", "file/create", json={"project_id": project_id, "filename": f"data/f{i:04d}.txt",
                                                     "content": content})

    chunks = [list(names)[n::CLIENTS] for n in range(CLIENTS)]
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(create, chunks))


def measure(client: Client, project_id: str, repeat: int) -> dict[str, float]:
    return {"read": client.timed("file/read", repeat, project_id=project_id, filename="small.txt"),
            "file/list": client.timed("file/list", repeat, project_id=project_id),
            "project/list": client.timed("project/list", repeat),
            "project": client.timed(f"project/{project_id}", repeat)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="10,100,1000,2000")
    parser.add_argument("--size-kb", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=20)
    opts = parser.parse_args()
    counts = [int(c) for c in opts.counts.split(",")]
    content = "x" * (opts.size_kb * 1024)
    with bench_stack() as (base, key):
        client = Client(base, key)
        project_id = client.call("POST", "project/create", json={"name": "bench-files"}).json()["id"]
        client.call("POST", "file/create", json={"project_id": project_id, "filename": "small.txt", "content": "hi"})
        results, filled = {}, 1
        for count in counts:
            start = time.perf_counter()
            fill(base, key, project_id, range(filled, count), content)
            filled = count
            measure(client, project_id, 3)  # warm-up
            results[count] = measure(client, project_id, opts.repeat)
            print(f"{count:5d} files of {opts.size_kb} KiB (filled in {time.perf_counter() - start:5.1f} s): "
                  + "  ".join(f"{name} {seconds * 1000:7.2f} ms" for name, seconds in results[count].items()),
                  flush=True)
        first, last = results[counts[0]], results[counts[-1]]
        print(f"ratio {counts[-1]}/{counts[0]}: "
              + "  ".join(f"{name} {last[name] / first[name]:.2f}x" for name in first))


if __name__ == "__main__":
    main()
