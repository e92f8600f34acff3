"""The HTTP monitor client and the HTTP gathering against broken answers (respx).

respx stands in only for what a real server cannot be made to do on demand: time out, answer
500, cut a JSON document short. Everything ends as a clear error or a finding, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from natsops.doctor import all_checks, run_checks
from natsops.errors import NotFound, ServerError, Timeout, Unreachable, UsageError
from natsops.monitoring import (
    GatherOptions,
    MonitorClient,
    Snapshot,
    TopOptions,
    gather,
    gather_http,
    gather_sampled,
    server_infos,
    top_frames,
    watch,
)
from natsops.monitoring.top import SORTS
from natsops.monitoring.views import SORT_KEYS

URL = "http://127.0.0.1:18222"
DATA = Path(__file__).parent / "data"


def recorded(name: str = "n1") -> dict[str, Any]:
    doc = json.loads((DATA / "healthy.json").read_text())
    return next(s for s in doc["servers"] if s["name"] == name)


def mock_server(router: respx.MockRouter, base: str, srv: dict[str, Any]) -> None:
    """Serve the documents recorded from a real server (connz/healthz variants by query)."""
    for part in ("varz", "jsz", "routez", "leafz", "gatewayz", "accountz"):
        router.get(f"{base}/{part}").mock(return_value=httpx.Response(200, json=srv[part]))
    router.get(f"{base}/connz", params={"state": "closed"}).mock(
        return_value=httpx.Response(200, json=srv["connz_closed"]))
    router.get(f"{base}/connz").mock(return_value=httpx.Response(200, json=srv["connz"]))
    router.get(f"{base}/healthz").mock(return_value=httpx.Response(200, json={"status": "ok"}))


async def test_timeout_is_a_timeout_error() -> None:
    with respx.mock:
        respx.get(f"{URL}/varz").mock(side_effect=httpx.ReadTimeout("slow"))
        async with MonitorClient(URL, timeout=0.5) as mon:
            with pytest.raises(Timeout, match=r"no answer within 0\.5s"):
                await mon.varz()


async def test_http_500_is_a_server_error() -> None:
    with respx.mock:
        respx.get(f"{URL}/jsz").mock(return_value=httpx.Response(500, text="internal boom"))
        async with MonitorClient(URL) as mon:
            with pytest.raises(ServerError, match="HTTP 500: internal boom"):
                await mon.jsz()


async def test_truncated_json_is_a_server_error() -> None:
    body = json.dumps(recorded()["varz"])[:200]
    with respx.mock:
        respx.get(f"{URL}/varz").mock(return_value=httpx.Response(200, text=body))
        async with MonitorClient(URL) as mon:
            with pytest.raises(ServerError, match="not JSON"):
                await mon.varz()


async def test_connection_refused_is_unreachable() -> None:
    with respx.mock:
        respx.get(f"{URL}/varz").mock(side_effect=httpx.ConnectError("refused"))
        async with MonitorClient(URL) as mon:
            with pytest.raises(Unreachable, match="cannot reach monitor"):
                await mon.varz()


async def test_unknown_fields_are_kept_and_ignored() -> None:
    varz = {**recorded()["varz"], "brand_new_field": {"x": 1}, "version": "2.16.0"}
    with respx.mock:
        respx.get(f"{URL}/varz").mock(return_value=httpx.Response(200, json=varz))
        async with MonitorClient(URL) as mon:
            got = await mon.varz()
    assert got["brand_new_field"] == {"x": 1}


async def test_healthz_503_is_an_answer_not_an_error() -> None:
    body = {"status": "unavailable", "error": "JetStream is still recovering meta layer"}
    with respx.mock:
        respx.get(f"{URL}/healthz").mock(return_value=httpx.Response(503, json=body))
        async with MonitorClient(URL) as mon:
            h = await mon.healthz()
    assert not h.ok
    assert h.http_status == 503
    assert "recovering" in (h.error or "")


async def test_gather_http_turns_broken_endpoints_into_findings() -> None:
    srv = recorded()
    with respx.mock(assert_all_called=False) as router:
        mock_server(router, URL, srv)  # then break three of them (same pattern: replaced)
        router.get(f"{URL}/jsz").mock(return_value=httpx.Response(500, text="boom"))
        router.get(f"{URL}/accountz").mock(side_effect=httpx.ReadTimeout("slow"))
        router.get(f"{URL}/routez").mock(return_value=httpx.Response(200, text='{"rou'))
        snap = await gather_http([URL], GatherOptions(timeout=0.5))
    assert snap.names == ("n1",)
    assert set(snap.servers[0].errors) == {"jsz", "accountz", "routez"}
    assert snap.requests == 11
    found = run_checks(snap, all_checks())
    errs = {f.evidence["part"] for f in found if f.id == "monitor-errors"}
    assert errs == {"jsz", "accountz", "routez"}


async def test_gather_http_server_without_varz_is_missing() -> None:
    other = "http://127.0.0.1:18223"
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{other}/varz").mock(side_effect=httpx.ConnectError("refused"))
        router.route(host="127.0.0.1", port=18223).mock(side_effect=httpx.ConnectError("no"))
        mock_server(router, URL, recorded())
        snap = await gather_http([URL, other], GatherOptions(expect=2))
    assert snap.names == ("n1",)
    assert other in snap.unreachable
    found = [f for f in run_checks(snap, all_checks()) if f.id == "servers-missing"]
    assert found
    assert found[0].severity.label == "fail"


async def test_gather_raises_unreachable_when_nobody_answers() -> None:
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(Unreachable, match="no server answered"):
            await gather(None, GatherOptions(), monitors=[URL])


async def test_jsz_pages_accounts() -> None:
    srv = recorded()
    page1 = {**srv["jsz"], "total": 2, "limit": 1, "offset": 0,
             "account_details": [{"name": "A", "stream_detail": [{"name": "S1"}]}]}
    page2 = {**srv["jsz"], "total": 2, "limit": 1, "offset": 1,
             "account_details": [{"name": "B", "stream_detail": [{"name": "S2"}]}]}
    with respx.mock(assert_all_called=False) as router:
        router.get(f"{URL}/jsz", params={"offset": "1"}).mock(
            return_value=httpx.Response(200, json=page2))
        router.get(f"{URL}/jsz").mock(return_value=httpx.Response(200, json=page1))
        mock_server(router, URL, {**srv, "jsz": page1})
        snap = await gather_http([URL], GatherOptions(parts=("varz", "jsz")))
    assert isinstance(snap, Snapshot)
    assert [(s.account, s.name) for s in snap.streams] == [("A", "S1"), ("B", "S2")]
    assert snap.requests == 3


# ---- gathering twice, watching, top -----------------------------------------------------------


async def test_gather_sampled_keeps_the_first_gathering_as_previous() -> None:
    with respx.mock(assert_all_called=False) as router:
        mock_server(router, URL, recorded())
        snap = await gather_sampled(None, GatherOptions(parts=("varz",)), interval=0.01,
                                    monitors=[URL])
    assert snap.previous is not None
    assert snap.previous.names == snap.names == ("n1",)
    assert snap.taken_at >= snap.previous.taken_at
    with pytest.raises(UsageError, match="above zero"):
        await gather_sampled(None, interval=0, monitors=[URL])


async def test_watch_ends_when_told_to_stop_while_waiting() -> None:
    with respx.mock(assert_all_called=False) as router:
        mock_server(router, URL, recorded())
        snaps = [s async for s in watch(None, GatherOptions(parts=("varz",)), monitors=[URL],
                                        interval=60.0, stop=lambda: True)]
    assert [s.names for s in snaps] == [("n1",)]  # did not wait the 60 s interval


async def test_top_once_is_one_frame_from_two_gatherings() -> None:
    with respx.mock(assert_all_called=False) as router:
        mock_server(router, URL, recorded())
        frames = [f async for f in top_frames(None, TopOptions(interval=0.01, once=True),
                                              monitors=[URL])]
        varz = [c for c in router.calls if c.request.url.path == "/varz"]
    assert len(frames) == 1
    assert [s["server"] for s in frames[0].servers] == ["n1"]
    assert len(varz) == 2


def test_top_options_are_checked() -> None:
    assert TopOptions.parse(sort="subs", limit=5, delay="250ms").interval == 0.25
    assert TopOptions().gather_options.parts == ("varz", "connz")
    assert TopOptions(sort="idle", limit=3).gather_options.connz_sort == "idle"
    for kw, match in (({"sort": "bogus"}, "unknown --sort 'bogus'"),
                      ({"limit": 0}, "--limit must be at least 1"),
                      ({"interval": 0}, "--delay must be above 0s and at most 1h"),
                      ({"interval": 1e99}, "--delay must be above 0s and at most 1h"),
                      ({"interval": float("nan")}, "--delay must be above 0s")):
        with pytest.raises(UsageError, match=match):
            TopOptions(**kw)  # type: ignore[arg-type]
    assert set(SORTS) == set(SORT_KEYS)


def test_server_infos_of_every_server_or_one() -> None:
    snap = Snapshot.from_dict(json.loads((DATA / "healthy.json").read_text()))
    assert list(server_infos(snap)) == list(snap.names)
    one = server_infos(snap, snap.names[0])
    assert list(one) == [snap.names[0]]
    assert one[snap.names[0]]["server"]["name"] == snap.names[0]
    with pytest.raises(NotFound, match="did not answer"):
        server_infos(snap, "nope")
