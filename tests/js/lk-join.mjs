#!/usr/bin/env node
// lk-join.mjs: joins real LiveKit rooms with the official client SDK
// (@livekit/rtc-node, pinned in package.json), to prove that the tokens
// callsig mints admit exactly the right people.
//
//   node lk-join.mjs SPEC.json [--result FILE]
//
// SPEC.json:
//   { "url": "ws://127.0.0.1:PORT", "timeout_ms": 20000,
//     "checks": [
//       { "name": "1:1 call", "expect": "join",
//         "participants": [
//           { "identity": "alice", "token": "...", "room": "R", "sees": ["bob"] },
//           { "identity": "bob",   "token": "...", "room": "R", "sees": ["alice"] } ],
//         "not_seen_by": [] },
//       { "name": "expired token", "expect": "refused", "identity": "alice",
//         "token": "..." } ] }
//
// Checks run in order; participants of a "join" check stay connected until
// the end, so a later check can prove it does not reach them.
//   join:    every participant connects (autoSubscribe, no dynacast); the
//            room joined must be "room"; each waits until it sees every
//            identity of "sees"; each sends one reliable data packet and
//            must receive the packet of every identity of "sees"; then the
//            other identities it sees must be exactly "sees". Identities in
//            "not_seen_by" (connected by earlier checks) must neither see
//            this check's participants nor receive their packets; those in
//            "also_seen_by" must see them and receive their packets.
//   refused: connect() must fail; the server's reason is reported.
//   session: every participant connects (in the order given; "room" must
//            be the room joined) and stays connected until its own end:
//              "leave_when": FILE  it disconnects itself once FILE exists;
//                                  being disconnected by the server first
//                                  fails the check;
//              "until_disconnected": true  it waits for the server to
//                                  disconnect it (the run's timeout fails
//                                  the check).
//            While it runs, one "RESULT" line per event is written at once
//            (so that a test can act on them): {"event":"connected",
//            identity, room, sees, ms}, {"event":"sees", identity, other}
//            (another participant is visible: one line for each already
//            in the room at connect, then one per arrival), {"event":"unsees",
//            identity, other}, {"event":"disconnected", identity, reason,
//            reason_name (rtc-node's DisconnectReason), by: "self"|"server",
//            connected_ms}. "ms" is since the start of the run, "at" the
//            wall clock (ISO 8601).
//
// Output: one line per check and a last line, each "RESULT " + JSON, on
// stdout (the SDK logs JSON lines to stdout too) and, with --result, in
// FILE. Exit 0 when every check passed, 1 when one failed or the whole run
// timed out, 2 on a usage error or a missing SDK.
//
// Tokens and secrets are never printed.

import { readFileSync, appendFileSync, writeFileSync, existsSync } from 'node:fs';

const USAGE = 'usage: node lk-join.mjs SPEC.json [--result FILE]';

let rtc;
try {
  rtc = await import('@livekit/rtc-node');
} catch (err) {
  process.stderr.write(
    `lk-join: @livekit/rtc-node not found (${err.code ?? err.message}); ` +
      'run: npm ci --prefix tests/js\n');
  process.exit(2);
}
const { Room, RoomEvent, DisconnectReason, dispose } = rtc;

const args = process.argv.slice(2);
let specPath;
let resultPath;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--result' && i + 1 < args.length) resultPath = args[++i];
  else if (!specPath && !args[i].startsWith('--')) specPath = args[i];
  else {
    process.stderr.write(USAGE + '\n');
    process.exit(2);
  }
}
if (!specPath) {
  process.stderr.write(USAGE + '\n');
  process.exit(2);
}
let spec;
try {
  spec = JSON.parse(readFileSync(specPath, 'utf8'));
} catch (err) {
  process.stderr.write(`lk-join: cannot read ${specPath}: ${err.message}\n`);
  process.exit(2);
}
if (resultPath) writeFileSync(resultPath, '');

const started = Date.now();
const timeoutMs = spec.timeout_ms ?? 20000;
// The server's 401 body quotes the whole token; never print one.
const oneLine = (s) => String(s).replace(/[\r\n]+/g, ' ')
  .replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '<token>');

function emit(obj) {
  const line = 'RESULT ' + JSON.stringify(obj) + '\n';
  process.stdout.write(line);
  if (resultPath) appendFileSync(resultPath, line);
}
const result = emit;

// Resolves when pred() holds, checking on every room event and every 50 ms;
// rejects with @what after @ms.
function until(pred, ms, what) {
  return new Promise((resolve, reject) => {
    if (pred()) return resolve();
    const t0 = Date.now();
    const iv = setInterval(() => {
      if (pred()) {
        clearInterval(iv);
        resolve();
      } else if (Date.now() - t0 > ms) {
        clearInterval(iv);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 50);
  });
}

// Every connected participant, by identity: { room, got: Map(check -> Set(sender)) }.
const live = new Map();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function connectOne(p) {
  const room = new Room();
  const entry = { identity: p.identity, room, got: new Map(), seenEver: new Set() };
  room.on(RoomEvent.ParticipantConnected, (rp) => entry.seenEver.add(rp.identity));
  room.on(RoomEvent.DataReceived, (payload, participant) => {
    let msg;
    try {
      msg = JSON.parse(decoder.decode(payload));
    } catch {
      return;
    }
    const from = participant?.identity ?? '?';
    if (!entry.got.has(msg.check)) entry.got.set(msg.check, new Set());
    entry.got.get(msg.check).add(from);
  });
  const t0 = Date.now();
  await room.connect(spec.url, p.token, { autoSubscribe: true, dynacast: false });
  entry.connectMs = Date.now() - t0;
  for (const id of room.remoteParticipants.keys()) entry.seenEver.add(id);
  return entry;
}

async function runJoin(check, remaining) {
  const t00 = Date.now();
  const entries = await Promise.all(check.participants.map(connectOne));
  const out = [];
  for (const [i, p] of check.participants.entries()) {
    const e = entries[i];
    live.set(p.identity, e);
    if (p.room && e.room.name !== p.room) {
      throw new Error(`${p.identity} joined room ${e.room.name}, not ${p.room}`);
    }
  }
  const sees = (p, e) => () => (p.sees ?? []).every((id) => e.room.remoteParticipants.has(id));
  await Promise.all(check.participants.map((p, i) =>
    until(sees(p, entries[i]), remaining(), `${p.identity} to see ${(p.sees ?? []).join(',')}`)));
  const seesMs = Date.now() - t00;
  // Everyone who must see each other sends one packet tagged with the check:
  // this check's participants and those of "also_seen_by".
  const alsoIds = check.also_seen_by ?? [];
  for (const other of alsoIds) {
    if (!live.get(other)) throw new Error(`also_seen_by: ${other} is not connected`);
  }
  const ids0 = check.participants.map((p) => p.identity);
  await Promise.all(alsoIds.map((other) => until(
    () => ids0.every((id) => live.get(other).room.remoteParticipants.has(id)),
    remaining(), `${other} to see ${ids0.join(',')}`)));
  const payload = (id) => encoder.encode(JSON.stringify({ check: check.name, from: id }));
  await Promise.all([...ids0, ...alsoIds].map((id) =>
    live.get(id).room.localParticipant.publishData(payload(id), { reliable: true })));
  const t0 = Date.now();
  const gotAll = (p, e) => () =>
    (p.sees ?? []).every((id) => e.got.get(check.name)?.has(id));
  await Promise.all(check.participants.map((p, i) =>
    until(gotAll(p, entries[i]), remaining(), `${p.identity} to receive data from ${(p.sees ?? []).join(',')}`)));
  const dataMs = Date.now() - t0;

  // Those connected earlier must get this check's participants' packets.
  await Promise.all(alsoIds.map((other) => until(
    () => ids0.every((id) => live.get(other).got.get(check.name)?.has(id)),
    remaining(), `${other} to receive data from ${ids0.join(',')}`)));

  // Those who must stay apart: give a stray join or packet time to arrive.
  const apart = check.not_seen_by ?? [];
  if (apart.length) await new Promise((r) => setTimeout(r, Math.min(1000, remaining())));
  const ids = new Set(check.participants.map((p) => p.identity));
  for (const other of apart) {
    const o = live.get(other);
    if (!o) throw new Error(`not_seen_by: ${other} is not connected`);
    for (const id of ids) {
      if (o.room.remoteParticipants.has(id) || o.seenEver.has(id)) {
        throw new Error(`${other} (room ${o.room.name}) saw ${id}`);
      }
    }
    const got = o.got.get(check.name);
    if (got && got.size) throw new Error(`${other} received data of this check from ${[...got]}`);
  }
  for (const [i, p] of check.participants.entries()) {
    const e = entries[i];
    const others = [...e.room.remoteParticipants.keys()].sort();
    const want = [...(p.sees ?? [])].sort();
    if (JSON.stringify(others) !== JSON.stringify(want)) {
      throw new Error(`${p.identity} sees [${others}], expected exactly [${want}]`);
    }
    const me = e.room.localParticipant;
    out.push({
      identity: p.identity,
      name: me.name ?? '',
      room: e.room.name,
      sees: others,
      data_from: [...(e.got.get(check.name) ?? [])].sort(),
      connect_ms: e.connectMs,
    });
  }
  return { participants: out, sees_ms: seesMs, data_ms: dataMs };
}

async function runRefused(check, remaining) {
  const room = new Room();
  const t0 = Date.now();
  let timer;
  try {
    await Promise.race([
      room.connect(spec.url, check.token, { autoSubscribe: true, dynacast: false }),
      new Promise((_, rej) => {
        timer = setTimeout(() => rej(new Error('connect neither failed nor succeeded')),
          remaining());
      }),
    ]);
  } catch (err) {
    clearTimeout(timer);
    if (/neither failed/.test(err.message)) throw err;
    return { refused: true, reason: oneLine(err.message), ms: Date.now() - t0 };
  }
  clearTimeout(timer);
  const joined = room.name;
  await room.disconnect().catch(() => {});
  throw new Error(`${check.identity ?? 'token'} was admitted to room ${joined}`);
}

async function runSession(check, remaining) {
  const ms = () => Date.now() - started;
  // Event lines also carry the wall clock ("at"), to line them up with the
  // worker's log of the webhooks.
  const result = (obj) => emit({ ...obj, at: new Date().toISOString() });
  const ends = [];
  const out = [];
  for (const p of check.participants) {
    const room = new Room();
    let resolveEnd;
    const end = new Promise((r) => { resolveEnd = r; });
    const st = { by: null, reason: null, connectedAt: 0 };
    room.on(RoomEvent.ParticipantConnected, (rp) =>
      result({ event: 'sees', identity: p.identity, other: rp.identity, ms: ms() }));
    room.on(RoomEvent.ParticipantDisconnected, (rp) =>
      result({ event: 'unsees', identity: p.identity, other: rp.identity, ms: ms() }));
    room.on(RoomEvent.Disconnected, (reason) => {
      const by = st.by ?? 'server';
      st.by = by;
      st.reason = reason;
      result({ event: 'disconnected', identity: p.identity, reason,
        reason_name: DisconnectReason[reason] ?? String(reason), by,
        connected_ms: Date.now() - st.connectedAt, ms: ms() });
      resolveEnd();
    });
    await room.connect(spec.url, p.token, { autoSubscribe: true, dynacast: false });
    st.connectedAt = Date.now();
    result({ event: 'connected', identity: p.identity, room: room.name,
      sees: [...room.remoteParticipants.keys()].sort(), ms: ms() });
    for (const other of room.remoteParticipants.keys()) {
      result({ event: 'sees', identity: p.identity, other, ms: ms() });
    }
    if (p.room && room.name !== p.room) {
      throw new Error(`${p.identity} joined room ${room.name}, not ${p.room}`);
    }
    live.set(p.identity, { identity: p.identity, room, got: new Map(), seenEver: new Set() });
    if (p.leave_when) {
      ends.push((async () => {
        await Promise.race([
          until(() => st.by !== null || existsSync(p.leave_when), remaining(),
            `${p.identity}'s leave signal`),
          end,
        ]);
        if (st.by === 'server') {
          throw new Error(`${p.identity} was disconnected by the server ` +
            `(${DisconnectReason[st.reason] ?? st.reason}) before leaving`);
        }
        st.by = 'self';
        await room.disconnect();
        await Promise.race([end, new Promise((r) => setTimeout(r, 2000))]);
        out.push({ identity: p.identity, by: 'self' });
      })());
    } else {
      ends.push((async () => {
        await Promise.race([end, new Promise((_, rej) => setTimeout(() =>
          rej(new Error(`${p.identity} was not disconnected by the server`)), remaining()))]);
        out.push({ identity: p.identity, by: st.by,
          reason_name: DisconnectReason[st.reason] ?? String(st.reason) });
      })());
    }
  }
  await Promise.all(ends);
  return { participants: out };
}

async function main() {
  const deadline = started + timeoutMs;
  const remaining = () => Math.max(1, deadline - Date.now());
  let failed = 0;
  const checks = spec.checks ?? [];
  for (const check of checks) {
    const t0 = Date.now();
    try {
      const r = check.expect === 'refused'
        ? await runRefused(check, remaining)
        : check.expect === 'session'
          ? await runSession(check, remaining)
          : await runJoin(check, remaining);
      result({ check: check.name, expect: check.expect, ok: true, ms: Date.now() - t0, ...r });
    } catch (err) {
      failed++;
      result({ check: check.name, expect: check.expect, ok: false, ms: Date.now() - t0,
        error: oneLine(err.message ?? err) });
      break; // later checks may depend on this one's participants
    }
  }
  result({ ok: failed === 0, checks: checks.length, failed, ms: Date.now() - started });
  return failed ? 1 : 0;
}

// A run that hangs (no answer from the server) still ends with a RESULT.
const watchdog = setTimeout(() => {
  result({ ok: false, error: `timed out after ${timeoutMs} ms`, ms: Date.now() - started });
  process.exit(1);
}, timeoutMs + 5000);

const code = await main();
clearTimeout(watchdog);
await Promise.all([...live.values()].map((e) => e.room.disconnect().catch(() => {})));
await dispose().catch(() => {});
process.exit(code);
