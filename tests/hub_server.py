"""A small Hugging Face Hub on 127.0.0.1 for tests: serves local folders under Hub repo ids through the endpoints
huggingface_hub 2.x calls for model_info / hf_hub_download / snapshot_download (selected with HF_ENDPOINT).

    with HubServer({"Salesforce/blip-image-captioning-base": folder}) as hub:
        os.environ["HF_ENDPOINT"] = hub.url

Endpoints: GET /api/models/{repo}[/revision/{rev}] (model_info, with sizes, blob ids and LFS sha256),
GET /api/models/{repo}/tree/{rev} (list_repo_tree), HEAD and GET /{repo}/resolve/{rev}/{path} with X-Repo-Commit,
ETag / X-Linked-Etag, X-Linked-Size and Range requests. Faults for tests: ``drop_after[(repo, path)] = n`` closes
the connection after n bytes of the next full GET of that file (a dropped download), ``corrupt.add((repo, path))``
serves it with one byte flipped, ``tokens[repo] = "hf_..."`` answers 401 unless that bearer token is sent,
``slow[(repo, path)] = s`` pauses s seconds after each 64 KB sent.
Every request is recorded in ``requests`` as (method, path, headers).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".model")  # stored with LFS, as on the Hub


class HubServer:
    def __init__(self, repos: dict[str, Path]):
        self.repos = {repo: Path(folder) for repo, folder in repos.items()}
        self.drop_after: dict[tuple[str, str], int] = {}
        self.corrupt: set[tuple[str, str]] = set()
        self.tokens: dict[str, str] = {}
        self.slow: dict[tuple[str, str], float] = {}  # seconds to wait after each 64 KB of that file
        self.sent: dict[tuple[str, str], int] = {}  # bytes of each file sent so far
        self.requests: list[tuple[str, str, dict]] = []
        self._files: dict[str, dict[str, dict]] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # -- repo contents ------------------------------------------------------------------------------------------
    def commit(self, repo: str) -> str:
        return hashlib.sha1(repo.encode() + b"".join(f["oid"].encode() for f in self.files(repo).values())).hexdigest()

    def files(self, repo: str) -> dict[str, dict]:
        """path -> {size, oid (git blob sha1), sha256 (LFS files), local}"""
        with self._lock:
            if repo not in self._files:
                root, found = self.repos[repo], {}
                for path in sorted(p for p in root.rglob("*") if p.is_file()):
                    data = path.read_bytes()
                    name = path.relative_to(root).as_posix()
                    found[name] = {"size": len(data), "local": path,
                                   "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
                                   "sha256": hashlib.sha256(data).hexdigest() if name.endswith(LFS_SUFFIXES) else None}
                self._files[repo] = found
            return self._files[repo]

    def sibling(self, name: str, meta: dict) -> dict:
        entry = {"rfilename": name, "size": meta["size"], "blobId": meta["oid"]}
        if meta["sha256"]:
            entry["lfs"] = {"size": meta["size"], "sha256": meta["sha256"], "pointerSize": 134}
        return entry

    # -- server -------------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "HubServer":
        hub = self

        class Handler(_Handler):
            server_hub = hub

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="hub-server", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def downloads(self, method: str = "GET") -> list[tuple[str, str | None]]:
        """(path, Range header) of every file request."""
        return [(path, headers.get("range")) for m, path, headers in self.requests if m == method and "/resolve/" in path]


class _Handler(BaseHTTPRequestHandler):
    server_hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: the test output is for the tests
        pass

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    # -- routing ------------------------------------------------------------------------------------------------
    def _route(self, head: bool) -> None:
        hub = self.server_hub
        path = unquote(urlparse(self.path).path)
        hub.requests.append(("HEAD" if head else "GET", path, {k.lower(): v for k, v in self.headers.items()}))
        api = re.fullmatch(r"/api/models/(.+?)(?:/revision/([^/]+)|/tree/([^/]+)(?:/.*)?)?", path)
        resolve = re.fullmatch(r"/(?:models/)?(.+?)/resolve/([^/]+)/(.+)", path)
        repo = (api or resolve).group(1) if (api or resolve) else None
        if repo not in hub.repos:
            return self._error(404, "RepoNotFound", f"Repository Not Found for url: {self.path}.")
        wanted = hub.tokens.get(repo)
        if wanted and self.headers.get("Authorization") != f"Bearer {wanted}":
            return self._error(401, "GatedRepo", f"Access to model {repo} is restricted. You must have access to it "
                                                 "and be authenticated to access it. Please log in.")
        revision = (api.group(2) or api.group(3)) if api else resolve.group(2)
        if revision not in (None, "main", hub.commit(repo)):
            return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        if api and api.group(3):
            files = hub.files(repo)
            tree = [{"type": "file", "oid": m["oid"], "size": m["size"], "path": name,
                     **({"lfs": {"oid": m["sha256"], "size": m["size"], "pointerSize": 134}} if m["sha256"] else {})}
                    for name, m in files.items()]
            return self._json(tree, head)
        if api:
            files = hub.files(repo)
            return self._json({"id": repo, "modelId": repo, "sha": hub.commit(repo), "private": False,
                               "gated": "manual" if wanted else False, "tags": [],
                               "siblings": [hub.sibling(n, m) for n, m in files.items()]}, head)
        return self._file(repo, resolve.group(3), head)

    def _file(self, repo: str, name: str, head: bool) -> None:
        hub = self.server_hub
        meta = hub.files(repo).get(name)
        if meta is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("X-Error-Message", f"{name} does not exist")
            self.send_header("X-Repo-Commit", hub.commit(repo))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = meta["local"].read_bytes()
        if (repo, name) in hub.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        etag = meta["sha256"] or meta["oid"]
        start, status = 0, 200
        ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "") or "")
        if ranged and not head:
            start, status = int(ranged.group(1)), 206
        self.send_response(status)
        self.send_header("X-Repo-Commit", hub.commit(repo))
        self.send_header("ETag", f'"{etag}"')
        if meta["sha256"]:
            self.send_header("X-Linked-Etag", f'"{etag}"')
            self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        cut = None if head or status == 206 else hub.drop_after.pop((repo, name), None)
        if cut is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        if cut is not None:  # the connection drops mid-file, as a flaky network would
            self.wfile.write(data[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        pause = hub.slow.get((repo, name))
        for offset in range(start, len(data), 1 << 16):
            self.wfile.write(data[offset:offset + (1 << 16)])
            hub.sent[(repo, name)] = hub.sent.get((repo, name), 0) + len(data[offset:offset + (1 << 16)])
            if pause:
                time.sleep(pause)  # a slow link, so a test can kill the client mid-file

    def _json(self, value, head: bool) -> None:
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Error-Message", message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
