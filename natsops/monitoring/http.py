"""The HTTP transport: one server's monitoring endpoints (``/varz``, ``/jsz``, ``/healthz``...).

:class:`MonitorClient` fetches one server's endpoints with httpx. Transport problems become
:class:`~natsops.errors.Unreachable` / :class:`~natsops.errors.Timeout`; an HTTP error or a body
that is not JSON becomes :class:`~natsops.errors.ServerError`. ``/healthz`` is special: a 503 with
a JSON body is an answer ("not healthy"), not an error, so :meth:`MonitorClient.healthz` returns
a :class:`Health` for it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from natsops.errors import ServerError, Timeout, Unreachable, UsageError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ENDPOINTS",
    "Health",
    "MonitorClient",
    "ServerSummary",
]

ENDPOINTS = (
    "varz", "connz", "routez", "gatewayz", "leafz", "subsz", "accountz", "accstatz", "jsz",
    "healthz", "raftz",
)  # fmt: skip


@dataclass(frozen=True)
class Health:
    """One ``/healthz`` answer."""

    ok: bool
    status: str
    http_status: int
    error: str | None = None
    errors: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class ServerSummary:
    """The facts bootstrap and ``cluster status`` show about one server, from varz and jsz."""

    name: str
    server_id: str
    version: str
    cluster: str | None
    jetstream: bool
    meta_leader: str | None
    meta_cluster_size: int | None
    connections: int
    raw_varz: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)


def peer_chain(resp: httpx.Response) -> list[dict[str, Any]]:
    """The certificates the server sent in the TLS handshake of ``resp`` (leaf first): subject,
    issuer, SANs and not_after of each; the verified chain when the ssl module offers it (its
    last element is then the trusted CA), else the leaf only."""
    from natsops.tls import cert_info

    stream = resp.extensions.get("network_stream")
    so = stream.get_extra_info("ssl_object") if stream is not None else None
    if so is None:
        return []
    pems: list[bytes] = []
    for obj in (so, getattr(so, "_sslobj", None)):  # public from Python 3.13, private before
        fn = getattr(obj, "get_verified_chain", None) or getattr(
            obj, "get_unverified_chain", None)
        chain = fn() if fn is not None else None
        if chain:
            pems = [str(c.public_bytes()).encode() for c in chain]
            break
    if not pems:
        import ssl

        der = so.getpeercert(True)
        pems = [ssl.DER_cert_to_PEM_cert(der).encode()] if der else []
    out = []
    for pem in pems:
        i = cert_info(pem)
        out.append({"subject": i.subject, "issuer": i.issuer, "is_ca": i.is_ca,
                    "dns_names": list(i.dns_names), "ip_addresses": list(i.ip_addresses),
                    "not_after": i.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return out


def _bool_params(params: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        if v is None or v is False:
            continue
        out[k] = "true" if v is True else str(v)
    return out


class MonitorClient:
    """Async client for one server's HTTP monitoring port.

    Use as ``async with MonitorClient("http://127.0.0.1:8222") as mon: await mon.varz()``.
    ``transport`` is a seam for tests (``httpx.MockTransport``); respx works too.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: Any = True,
    ) -> None:
        import httpx

        if "://" not in base_url:
            base_url = "http://" + base_url
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"invalid monitor URL {base_url!r}: use http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.requests = 0  # HTTP requests sent (doctor reports its request count)
        # https: what the monitor's TLS handshake showed (its certificate chain, leaf first)
        self.tls_chain: list[dict[str, Any]] | None = None
        if self.base_url.startswith("http://") and verify is True:
            # plain HTTP never uses TLS; building the default SSL context costs 20-40 ms/client
            verify = False
        self._client = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=transport, verify=verify
        )

    async def __aenter__(self) -> MonitorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        import httpx

        url = f"{self.base_url}/{path}"
        self.requests += 1
        try:
            resp = await self._client.get("/" + path, params=_bool_params(params or {}))
        except httpx.TimeoutException:
            raise Timeout(f"{url}: no answer within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach monitor {url}: {exc or type(exc).__name__}") from None
        if self.tls_chain is None and self.base_url.startswith("https://"):
            self.tls_chain = peer_chain(resp)
        text = resp.text
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            body = None
            if resp.status_code < 400:
                raise ServerError(
                    f"{url}: answer is not JSON ({text[:60].strip()!r})",
                    hint="is this a nats-server monitoring port?",
                ) from None
        if resp.status_code >= 400 and not (path == "healthz" and isinstance(body, dict)):
            detail = text.strip().splitlines()[0][:200] if text.strip() else resp.reason_phrase
            raise ServerError(f"{url}: HTTP {resp.status_code}: {detail}")
        if body is None or not isinstance(body, dict):
            raise ServerError(f"{url}: unexpected answer {text[:60].strip()!r}")
        return resp.status_code, body

    async def get(self, endpoint: str, **params: Any) -> dict[str, Any]:
        """Fetch one endpoint's JSON document (``varz``, ``jsz``, ``connz``...)."""
        if endpoint not in ENDPOINTS:
            raise UsageError(f"unknown monitoring endpoint {endpoint!r}")
        _, body = await self._get(endpoint, params)
        return dict(body)

    async def varz(self) -> dict[str, Any]:
        return await self.get("varz")

    async def jsz(self, **params: Any) -> dict[str, Any]:
        return await self.get("jsz", **params)

    async def connz(self, **params: Any) -> dict[str, Any]:
        return await self.get("connz", **params)

    async def routez(self, **params: Any) -> dict[str, Any]:
        return await self.get("routez", **params)

    async def leafz(self, **params: Any) -> dict[str, Any]:
        return await self.get("leafz", **params)

    async def gatewayz(self, **params: Any) -> dict[str, Any]:
        return await self.get("gatewayz", **params)

    async def accountz(self, **params: Any) -> dict[str, Any]:
        return await self.get("accountz", **params)

    async def healthz(self, **params: Any) -> Health:
        """``/healthz`` (full by default; pass e.g. ``js_enabled_only=True``)."""
        q = {k.replace("_", "-"): v for k, v in params.items()}
        status, body = await self._get("healthz", q)
        errors = body.get("errors") or ()
        return Health(
            ok=status == 200 and body.get("status") == "ok",
            status=str(body.get("status", "")),
            http_status=status,
            error=body.get("error"),
            errors=tuple(errors),
        )

    async def summary(self) -> ServerSummary:
        """varz plus the meta-leader view from jsz."""
        varz = await self.varz()
        js = bool(varz.get("jetstream", {}).get("config")) if "jetstream" in varz else False
        meta_leader = None
        meta_size = None
        if js:
            jsz = await self.jsz()
            meta = jsz.get("meta_cluster") or {}
            meta_leader = meta.get("leader") or None
            meta_size = meta.get("cluster_size")
        cluster = (varz.get("cluster") or {}).get("name") or None
        return ServerSummary(
            name=str(varz.get("server_name", "")),
            server_id=str(varz.get("server_id", "")),
            version=str(varz.get("version", "")),
            cluster=cluster,
            jetstream=js,
            meta_leader=meta_leader,
            meta_cluster_size=meta_size,
            connections=int(varz.get("connections", 0)),
            raw_varz=varz,
        )
