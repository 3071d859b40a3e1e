#!/usr/bin/env python3
"""One phone of the peer-to-peer test: a WebRTC peer (aiortc) that reaches
the other phone only through callsig.

It talks to its driver (tests/scenario/p2p.c) with one JSON object per line:
the driver places the call through callsig over Kafka and forwards what
callsig answers; the peer asks the driver to send custom signals. Nothing
else carries the offer, the answer or the ICE candidates.

    driver -> peer  {"type": "ice", "servers": [{"urls": [...], "username":
                     ..., "credential": ...}]}   (from the invite/accept reply)
                    {"type": "start"}             (caller: the call was accepted)
                    {"type": "signal", "from": U, "info": S}  (a 1605 notification)
    peer -> driver  {"type": "custom", "info": S} (send S as a custom signal)
                    {"type": "done", "ok": bool, "received": S, "ms": N,
                     "local": T, "remote": T, "error": S}

customInfo is JSON: {"kind": "offer"|"answer", "sdp": S} with the SDP's
candidates removed, {"kind": "candidate", "candidate": S, "sdpMid": S,
"sdpMLineIndex": N} per ICE candidate, and {"kind": "end"} after the last.
Only relay candidates exist (iceTransportPolicy relay), so the connection
must go through the TURN server with callsig's credentials.

Usage: peer.py caller|callee USER [TIMEOUT_S]
"""
import asyncio
import json
import sys
import time

from aiortc import (RTCConfiguration, RTCIceServer, RTCIceTransportPolicy,
                    RTCPeerConnection, RTCSessionDescription)
from aiortc.sdp import candidate_from_sdp


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def split_sdp(sdp):
    """The SDP without candidate lines, and the candidates as
    (candidate, sdpMid, sdpMLineIndex)."""
    lines, cands = [], []
    mline, mid = -1, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            mline += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[6:]
        if line.startswith("a=candidate:"):
            cands.append((line[2:], mline))
            continue
        if line.startswith("a=end-of-candidates"):
            continue
        lines.append(line)
    # the mid of each m-line, for the candidates
    mids, idx = {}, -1
    for line in lines:
        if line.startswith("m="):
            idx += 1
        elif line.startswith("a=mid:"):
            mids[idx] = line[6:]
    return "\r\n".join(lines) + "\r\n", [(c, mids.get(i), i) for c, i in cands]


async def main():
    role, user = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader),
                                 sys.stdin)
    pc = None
    done = asyncio.get_running_loop().create_future()
    t0 = None
    state = {"received": None}

    def finish(ok, error=""):
        if done.done():
            return
        local = remote = ""
        try:
            conn = pc.sctp.transport.transport._connection
            pair = next(iter(conn._nominated.values()))
            local = pair.local_candidate.type
            remote = pair.remote_candidate.type
        except Exception:  # noqa: BLE001 (no pair: not connected)
            pass
        done.set_result({"type": "done", "ok": ok, "received": state["received"],
                         "ms": int((time.monotonic() - (t0 or time.monotonic())) * 1000),
                         "local": local, "remote": remote, "error": error})

    async def send_description():
        sdp, cands = split_sdp(pc.localDescription.sdp)
        if not any(" typ relay" in c for c, _, _ in cands):
            # the TURN server refused the allocation (wrong credentials):
            # nothing could ever connect
            finish(False, "no relay candidate: the TURN server refused the allocation")
        emit({"type": "custom", "info": json.dumps(
            {"kind": pc.localDescription.type, "sdp": sdp})})
        for cand, mid, index in cands:
            if " typ relay" not in cand:
                continue  # never offered: relay only
            emit({"type": "custom", "info": json.dumps(
                {"kind": "candidate", "candidate": cand, "sdpMid": mid,
                 "sdpMLineIndex": index})})
        emit({"type": "custom", "info": json.dumps({"kind": "end"})})

    def make_pc(servers):
        conf = RTCConfiguration(
            iceServers=[RTCIceServer(urls=s["urls"], username=s.get("username") or None,
                                     credential=s.get("credential") or None)
                        for s in servers if s.get("username")],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY)
        p = RTCPeerConnection(conf)

        @p.on("iceconnectionstatechange")
        def on_ice():
            if p.iceConnectionState == "failed":
                finish(False, "ICE failed")

        return p

    def wire_channel(channel, greeting):
        @channel.on("open")
        def on_open():
            channel.send(greeting)

        @channel.on("message")
        def on_message(message):
            state["received"] = message
            if role == "callee":
                channel.send(greeting)
            # give the last message time to leave before reporting
            loop.call_later(0.2, finish, True)

        if channel.readyState == "open":
            on_open()

    async def handle(msg):
        nonlocal pc, t0
        kind = msg["type"]
        if kind == "ice":
            if not any(s.get("username") for s in msg["servers"]):
                finish(False, "no TURN server in the reply")
            pc = make_pc(msg["servers"])
        elif kind == "start":
            t0 = time.monotonic()
            channel = pc.createDataChannel("chat")
            wire_channel(channel, "hello from " + user)
            await pc.setLocalDescription(await pc.createOffer())
            await send_description()
        elif kind == "signal":
            sig = json.loads(msg["info"])
            if sig["kind"] == "offer":
                t0 = t0 or time.monotonic()

                @pc.on("datachannel")
                def on_channel(channel):
                    wire_channel(channel, "hello from " + user)

                await pc.setRemoteDescription(RTCSessionDescription(sig["sdp"], "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await send_description()
            elif sig["kind"] == "answer":
                await pc.setRemoteDescription(RTCSessionDescription(sig["sdp"], "answer"))
            elif sig["kind"] == "candidate":
                cand = candidate_from_sdp(sig["candidate"].split(":", 1)[1])
                cand.sdpMid = sig["sdpMid"]
                cand.sdpMLineIndex = sig["sdpMLineIndex"]
                await pc.addIceCandidate(cand)
            elif sig["kind"] == "end":
                await pc.addIceCandidate(None)

    async def read_loop():
        while True:
            line = await reader.readline()
            if not line:
                finish(False, "driver closed stdin")
                return
            try:
                await handle(json.loads(line))
            except Exception as e:  # noqa: BLE001 (reported to the driver)
                finish(False, "%s: %s" % (type(e).__name__, e))

    task = asyncio.ensure_future(read_loop())
    await asyncio.wait([done], timeout=timeout)
    finish(False, "not connected within %g s" % timeout)
    emit(done.result())
    task.cancel()
    if pc:
        await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
