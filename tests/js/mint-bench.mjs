#!/usr/bin/env node
// mint-bench.mjs: how many LiveKit access tokens per second the official
// server SDK (livekit-server-sdk, pinned in package.json) mints on this
// machine, with the claims tests/bench/bench_core.c gives callsig's minter
// (identity, name, metadata, room join grant, 1 h TTL), so that
// scripts/bench.sh calls can print the ratio in the same run.
//
//   node mint-bench.mjs [SECONDS]   prints "sdk mint N tokens/s"

const { AccessToken } = await import('livekit-server-sdk');
const seconds = Number(process.argv[2] || 3);

async function mint() {
  const at = new AccessToken('APIkey', '0123456789abcdef0123456789abcdef', {
    identity: 'bob',
    name: 'Bob',
    metadata: '{"userID":"bob"}',
    ttl: 3600,
  });
  at.addGrant({ roomJoin: true, room: 'room-0123456789' });
  return at.toJwt();
}

for (let i = 0; i < 2000; i++) await mint(); // JIT warm-up
let n = 0;
const t0 = process.hrtime.bigint();
const end = t0 + BigInt(Math.round(seconds * 1e9));
while (process.hrtime.bigint() < end) {
  for (let i = 0; i < 100; i++) await mint();
  n += 100;
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`sdk mint ${Math.round(n / secs)} tokens/s (livekit-server-sdk, node ${process.version})`);
