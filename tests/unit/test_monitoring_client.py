"""The HTTP monitoring client's edge cases (respx: no server behaviour is mocked here, only
transport failures and malformed answers a real server would not give)."""

from __future__ import annotations

import httpx
import pytest
import respx

from natsops.errors import ServerError, Timeout, Unreachable, UsageError
from natsops.monitoring import MonitorClient

BASE = "http://mon.test:8222"


@respx.mock
async def test_timeout_is_a_timeout_error() -> None:
    respx.get(f"{BASE}/varz").mock(side_effect=httpx.ReadTimeout("slow"))
    async with MonitorClient(BASE, timeout=0.5) as mon:
        with pytest.raises(Timeout, match=r"no answer within 0\.5s"):
            await mon.varz()


@respx.mock
async def test_connection_refused_is_unreachable() -> None:
    respx.get(f"{BASE}/varz").mock(side_effect=httpx.ConnectError("refused"))
    async with MonitorClient(BASE) as mon:
        with pytest.raises(Unreachable, match="cannot reach monitor"):
            await mon.varz()


@respx.mock
async def test_http_500_is_server_error() -> None:
    respx.get(f"{BASE}/jsz").mock(return_value=httpx.Response(500, text="boom\nmore"))
    async with MonitorClient(BASE) as mon:
        with pytest.raises(ServerError, match="HTTP 500: boom"):
            await mon.jsz()


@respx.mock
@pytest.mark.parametrize("body", ['{"server_id": "x", "trunc', "<html>not nats</html>", "[1, 2]"])
async def test_garbage_is_server_error(body: str) -> None:
    respx.get(f"{BASE}/varz").mock(return_value=httpx.Response(200, text=body))
    async with MonitorClient(BASE) as mon:
        with pytest.raises(ServerError):
            await mon.varz()


@respx.mock
async def test_unhealthy_healthz_is_an_answer_not_an_error() -> None:
    respx.get(f"{BASE}/healthz").mock(return_value=httpx.Response(
        503, json={"status": "unavailable", "error": "JetStream is still recovering meta layer"}))
    async with MonitorClient(BASE) as mon:
        h = await mon.healthz()
    assert not h.ok and h.http_status == 503
    assert h.error == "JetStream is still recovering meta layer"


@respx.mock
async def test_healthz_params_use_dashes() -> None:
    route = respx.get(f"{BASE}/healthz").mock(return_value=httpx.Response(200, json={"status": "ok"}))
    async with MonitorClient(BASE) as mon:
        assert (await mon.healthz(js_enabled_only=True)).ok
    assert route.calls.last.request.url.params["js-enabled-only"] == "true"


@respx.mock
async def test_unknown_fields_are_kept_and_summary_tolerates_missing_ones() -> None:
    respx.get(f"{BASE}/varz").mock(return_value=httpx.Response(
        200, json={"server_name": "n9", "version": "2.99.0", "brand_new_field": {"x": 1}}))
    async with MonitorClient(BASE) as mon:
        s = await mon.summary()
    assert s.name == "n9" and s.version == "2.99.0" and not s.jetstream
    assert s.raw_varz["brand_new_field"] == {"x": 1}


async def test_bad_urls_and_endpoints() -> None:
    with pytest.raises(UsageError):
        MonitorClient("ftp://x")
    async with MonitorClient("127.0.0.1:1") as mon:
        with pytest.raises(UsageError, match="unknown monitoring endpoint"):
            await mon.get("nopez")
