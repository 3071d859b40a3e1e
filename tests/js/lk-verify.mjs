#!/usr/bin/env node
// lk-verify.mjs: verifies LiveKit access tokens with the official server
// SDK's TokenVerifier (livekit-server-sdk, pinned in package.json), so the
// C tests can prove that callsig's tokens are accepted by LiveKit's code.
//
//   node lk-verify.mjs [--strict] <token> <apiKey> <apiSecret>
//     exit 0: the verified claims, one line of JSON, on stdout
//     exit 1: "lk-verify: FAIL <code>: <message>" on stderr
//     exit 2: usage error, or the SDK is not installed
//
//   node lk-verify.mjs [--strict] --batch   < lines "token apiKey apiSecret"
//     one stdout line per token, in input order: the claims JSON or
//     "FAIL <code>: <message>"; blank lines are skipped. Exit 0 if every
//     token verified, 1 if any failed, 2 if a line was malformed.
//
// TokenVerifier allows 10 s of clock skew and any HS* alg. --strict adds
// what a current LiveKit server (v1.13+) enforces: alg exactly HS256 and a
// 60 s leeway.
//
// Tokens and secrets are never printed.

const USAGE =
  'usage: node lk-verify.mjs [--strict] <token> <apiKey> <apiSecret>\n' +
  '       node lk-verify.mjs [--strict] --batch  (stdin: "token apiKey apiSecret" lines)';

let TokenVerifier;
try {
  ({ TokenVerifier } = await import('livekit-server-sdk'));
} catch (err) {
  process.stderr.write(
    `lk-verify: livekit-server-sdk not found (${err.code ?? err.message}); ` +
      'run: npm ci --prefix tests/js\n');
  process.exit(2);
}

function oneLine(s) {
  return String(s).replace(/[\r\n]+/g, ' ');
}

function headerAlg(token) {
  const head = token.split('.')[0];
  try {
    return JSON.parse(Buffer.from(head, 'base64url').toString('utf8')).alg;
  } catch {
    return undefined;
  }
}

// Resolves to { ok: true, claims } or { ok: false, code, message }.
async function verify(token, apiKey, apiSecret, strict) {
  try {
    if (strict) {
      const alg = headerAlg(token);
      if (alg !== 'HS256') {
        return { ok: false, code: 'ERR_STRICT_ALG', message: `alg ${alg} is not HS256` };
      }
    }
    const verifier = new TokenVerifier(apiKey, apiSecret);
    const claims = await verifier.verify(token, strict ? 60 : undefined);
    return { ok: true, claims };
  } catch (err) {
    return {
      ok: false,
      code: err?.code ?? err?.name ?? 'ERROR',
      message: oneLine(err?.message ?? err),
    };
  }
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv) {
  let strict = false;
  let batch = false;
  const rest = [];
  for (const arg of argv) {
    if (arg === '--strict') strict = true;
    else if (arg === '--batch') batch = true;
    else if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    } else if (arg.startsWith('--')) {
      process.stderr.write(`lk-verify: unknown option ${arg}\n${USAGE}\n`);
      return 2;
    } else rest.push(arg);
  }

  if (!batch) {
    if (rest.length !== 3 || rest.some((a) => a === '')) {
      process.stderr.write(USAGE + '\n');
      return 2;
    }
    const r = await verify(rest[0], rest[1], rest[2], strict);
    if (!r.ok) {
      process.stderr.write(`lk-verify: FAIL ${r.code}: ${r.message}\n`);
      return 1;
    }
    process.stdout.write(JSON.stringify(r.claims) + '\n');
    return 0;
  }

  if (rest.length !== 0) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  let status = 0;
  const out = [];
  for (const line of (await readStdin()).split('\n')) {
    const fields = line.trim().split(/\s+/).filter((f) => f !== '');
    if (fields.length === 0) continue;
    if (fields.length !== 3) {
      out.push('FAIL USAGE: expected "token apiKey apiSecret"');
      status = 2;
      continue;
    }
    const r = await verify(fields[0], fields[1], fields[2], strict);
    if (r.ok) {
      out.push(JSON.stringify(r.claims));
    } else {
      out.push(`FAIL ${r.code}: ${r.message}`);
      if (status === 0) status = 1;
    }
  }
  process.stdout.write(out.length ? out.join('\n') + '\n' : '');
  return status;
}

// Set the exit code and let stdout drain (process.exit() may cut a pipe).
process.exitCode = await main(process.argv.slice(2));
