"""Talking to real replicas as people do: WebSockets, and a browser-like HTTP session.

``Socket`` wraps a ``websockets`` connection with the waits tests need (the
next frame of a type, everything until quiet, the close code). ``WebSession``
signs in over HTTP with cookies and CSRF like a browser, using only the
standard library, so a test can log out or use the admin on a given replica.
"""

import asyncio
import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request

import websockets


class Socket:
    def __init__(self, connection, hello: dict) -> None:
        self.connection = connection
        self.hello = hello
        self._refs = 0

    @classmethod
    async def open(cls, url: str, headers: dict[str, str]) -> "Socket":
        connection = await websockets.connect(url, additional_headers=headers, open_timeout=10)
        hello = json.loads(await asyncio.wait_for(connection.recv(), 10))
        assert hello["type"] == "hello", hello
        return cls(connection, hello)

    async def send(self, frame: dict) -> None:
        await self.connection.send(json.dumps(frame))

    async def next(self, wanted: str, timeout: float = 10, **match) -> dict:
        """The next frame of that type (and those field values), skipping the others."""

        async def wait() -> dict:
            while True:
                frame = json.loads(await self.connection.recv())
                if frame["type"] == wanted and all(frame.get(k) == v for k, v in match.items()):
                    return frame

        return await asyncio.wait_for(wait(), timeout)

    async def request(self, frame: dict, timeout: float = 10) -> dict:
        """Send a frame; its reply or error (matched by ref)."""
        self._refs += 1
        ref = f"r{self._refs}"
        await self.send({**frame, "ref": ref})

        async def wait() -> dict:
            while True:
                reply = json.loads(await self.connection.recv())
                if reply.get("ref") == ref:
                    return reply

        return await asyncio.wait_for(wait(), timeout)

    async def until_quiet(self, quiet: float = 0.5) -> list[dict]:
        """Every frame that arrives until none has for `quiet` seconds."""
        frames = []
        while True:
            try:
                frames.append(json.loads(await asyncio.wait_for(self.connection.recv(), quiet)))
            except TimeoutError:
                return frames

    async def settled(self) -> list[dict]:
        """Everything this socket was sent before now (a ping's pong comes after it all)."""
        self._refs += 1
        ref = f"settle{self._refs}"
        await self.send({"type": "ping", "ref": ref})
        frames = []
        while (frame := json.loads(await asyncio.wait_for(self.connection.recv(), 10))).get(
            "ref"
        ) != ref:
            frames.append(frame)
        return frames

    async def is_open(self) -> bool:
        try:
            return (await self.request({"type": "ping"}, timeout=5))["type"] == "pong"
        except websockets.ConnectionClosed:
            return False

    async def close_code(self, timeout: float = 10) -> int | None:
        """Wait until the server closes the socket; the code it closed with."""

        async def drain() -> None:
            try:
                while True:
                    await self.connection.recv()
            except websockets.ConnectionClosed:
                pass

        await asyncio.wait_for(drain(), timeout)
        return self.connection.close_code

    async def close(self) -> None:
        await self.connection.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def people_with_tokens(make_user, token_for, names: tuple[str, ...]) -> dict:
    """Those users, onboarded (in `general`), each with ``headers`` carrying a new API token."""
    from asgiref.sync import sync_to_async

    result = {}
    for name in names:
        user = await sync_to_async(make_user)(name)
        user.headers = bearer(await sync_to_async(token_for)(user))
        result[name] = user
    return result


async def open_socket(replica, token: str):
    """A plain ``websockets`` connection to the replica with a bearer token, past its `hello`."""
    socket = await websockets.connect(
        replica.ws_url, additional_headers=bearer(token), open_timeout=10
    )
    hello = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert hello["type"] == "hello"
    return socket


async def next_frame(socket, wanted: str, timeout: float = 10, **match) -> dict:
    """The next frame of that type (and those field values) on a plain connection."""

    async def wait() -> dict:
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == wanted and all(frame.get(k) == v for k, v in match.items()):
                return frame

    return await asyncio.wait_for(wait(), timeout)


def password_for_replicas(user, raw: str) -> None:
    """Store a password the replicas accept (sync).

    tests/settings.py hashes with the fast MD5 hasher, which the replicas
    (project.settings) do not accept; PBKDF2 is their default.
    """
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(raw, hasher.salt())
    # update(), not save(): the account's first password, not a change that would
    # revoke its API tokens and close its sockets (accounts/signals.py).
    type(user).objects.filter(pk=user.pk).update(password=user.password)


class WebSession:
    """A browser's cookies against one replica: sign in, post forms with their CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.cookies if c.name == name), "")

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base_url + path))

    def post(self, path: str, data: dict | list[tuple[str, str]]) -> tuple[int, str]:
        if not self.cookie("csrftoken"):
            self.get("/accounts/login/")
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        body = urllib.parse.urlencode([*fields, ("csrfmiddlewaretoken", self.cookie("csrftoken"))])
        request = urllib.request.Request(
            self.base_url + path,
            data=body.encode(),
            headers={"Origin": self.base_url, "Referer": self.base_url + path},
        )
        return self._open(request)

    def sign_in(self, username: str, password: str, *, path: str = "/accounts/login/") -> None:
        fields = {"login": username} if path.startswith("/accounts") else {"username": username}
        status, page = self.post(path, {**fields, "password": password})
        assert status == 302 and self.cookie("sessionid"), (
            f"signing in as {username} failed ({status}): {page[:3000]}"
        )

    def socket_headers(self) -> dict[str, str]:
        """What the browser sends on the WebSocket handshake: the cookie and its Origin."""
        return {"Cookie": f"sessionid={self.cookie('sessionid')}", "Origin": self.base_url}

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def admin_errors(page: str) -> list[str]:
    return re.findall(r'class="errorlist[^"]*"><li>(.*?)</li>', page)


async def handshake_status(url: str, headers: dict[str, str]) -> int:
    """A WebSocket handshake's HTTP status: 101 if it opened (then closed), else the refusal."""
    try:
        socket = await websockets.connect(url, additional_headers=headers, open_timeout=10)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await socket.close()
    return 101


def json_request(
    method: str, url: str, headers: dict[str, str], body: dict | None = None, timeout: float = 20
):
    """One JSON request to a replica: (status, decoded body), errors included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
