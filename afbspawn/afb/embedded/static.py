"""Static files from --roothttp and --alias, never outside their root (spec §2.2).

Paths are resolved with realpath and must stay under the resolved root, which
refuses `..`, its encoded forms (aiohttp decodes them first) and symlinks leading out.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from aiohttp import web

CACHE_SECONDS = 100000


@dataclass(frozen=True)
class StaticRoot:
    prefix: str  # URL prefix without trailing slash ("" for --roothttp)
    directory: str  # resolved absolute directory

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


def make_root(prefix: str, directory: str) -> StaticRoot:
    return StaticRoot(prefix.rstrip("/"), os.path.realpath(directory))


def serve(root: StaticRoot, request: web.Request) -> web.StreamResponse:
    """Answer a GET under `root`: file, 301 to the slashed directory, 403 or 404."""
    relative = request.path[len(root.prefix):]
    if ".." in relative.split("/") or "\0" in relative:
        raise web.HTTPForbidden()
    target = os.path.realpath(os.path.join(root.directory, relative.lstrip("/")))
    if target != root.directory and not target.startswith(root.directory + os.sep):
        raise web.HTTPForbidden()
    try:
        info = os.stat(target)
    except FileNotFoundError:
        raise web.HTTPNotFound() from None
    except OSError:
        raise web.HTTPForbidden() from None
    if stat.S_ISDIR(info.st_mode):
        if not request.path.endswith("/"):
            location = _local(request.path) + "/" + (f"?{request.query_string}" if request.query_string else "")
            raise web.HTTPMovedPermanently(location)
        return serve_file(os.path.join(target, "index.html"), request)
    return serve_file(target, request)


def serve_file(path: str, request: web.Request) -> web.StreamResponse:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise web.HTTPNotFound() from None
    if not stat.S_ISREG(info.st_mode) or not os.access(path, os.R_OK):
        raise web.HTTPForbidden()
    # FileResponse adds the ETag and answers a matching If-None-Match with 304
    return web.FileResponse(path, headers={"Cache-Control": f"max-age={CACHE_SECONDS}"})


def _local(path: str) -> str:
    """`path` with one leading slash: `//host` or `/\\host` in a Location would leave the site."""
    return "/" + path.lstrip("/\\")
