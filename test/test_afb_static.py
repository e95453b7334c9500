"""Static files from --roothttp and --alias: index, redirects, 404, and no escape from the root.

Embedded only by nature: this is the embedded binder's own file server; the libafb host
hands --roothttp/--alias to the framework's (docs/hosts.md).
"""
import asyncio
import os

import aiohttp
import pytest
from afbserver import binder_running, http_url, run


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<p>home</p>")
    (root / "sub" / "index.html").write_text("<p>sub</p>")
    (root / "file.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("SECRET")
    os.symlink(tmp_path / "secret.txt", root / "out-link")
    os.symlink(tmp_path, root / "out-dir")
    os.symlink(root / "file.txt", root / "in-link")
    alias = tmp_path / "alias"
    alias.mkdir()
    (alias / "a.json").write_text("{}")
    return tmp_path


async def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """Send the request line verbatim: HTTP clients would normalise the dots away."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    answer = await reader.read()
    writer.close()
    return int(answer.split(b" ", 2)[1]), answer


def serve(tree, requests):
    async def scenario():
        async with binder_running(roothttp=str(tree / "root"), aliases=[("/al", str(tree / "alias"))]) as (binder, _):
            return [await raw_get(binder.ports[0], target) for target in requests]
    return run(scenario())


def test_files_index_redirect_and_missing(tree):
    answers = serve(tree, ["/", "/file.txt", "/sub/", "/sub?x=1", "/missing", "/al/a.json", "/in-link"])
    assert answers[0][0] == 200 and answers[0][1].endswith(b"<p>home</p>")
    assert answers[1][0] == 200 and b"Content-Type: text/plain" in answers[1][1]
    assert answers[2][0] == 200 and answers[2][1].endswith(b"<p>sub</p>")
    assert answers[3][0] == 301 and b"Location: /sub/?x=1\r\n" in answers[3][1]
    assert answers[4][0] == 404
    assert answers[5][0] == 200 and b"application/json" in answers[5][1]
    assert answers[6][0] == 200 and answers[6][1].endswith(b"inside")


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/out-link", "/out-dir/secret.txt",
    "/al/../root/../secret.txt", "/al/%2e%2e/secret.txt",
])
def test_nothing_outside_the_root(tree, target):
    [(status, answer)] = serve(tree, [target])
    assert status in (403, 404) and b"SECRET" not in answer


def test_only_get_and_etag(tree):
    async def scenario():
        async with binder_running(roothttp=str(tree / "root")) as (binder, _), aiohttp.ClientSession() as session:
            async with session.get(http_url(binder, "/file.txt")) as first:
                etag = first.headers["ETag"]
            async with session.get(http_url(binder, "/file.txt"), headers={"If-None-Match": etag}) as second:
                cached = second.status
            async with session.request("HEAD", http_url(binder, "/file.txt")) as head:
                head_status = head.status
            async with session.post(http_url(binder, "/file.txt")) as post:
                post_status = post.status
            return cached, head_status, post_status
    assert run(scenario()) == (304, 400, 404)
