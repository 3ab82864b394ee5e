#!/usr/bin/env node
// Runs the node test files (every *.test.mjs here, or those named on the command line)
// one after another, so that the timing-sensitive ones (timeouts, token expiry, slow
// consumers) do not compete with each other; exits non-zero if any file fails.
// Works with Node 18 and later (no --test-concurrency needed).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const PER_FILE_TIMEOUT_MS = 180_000 * Number(process.env.TEST_TIMEOUT_SCALE ?? 1); // make tsan-test: 2

if (!existsSync(path.join(here, 'node_modules', 'ws')) || !existsSync(path.join(here, 'node_modules', 'jose'))) {
  console.error('tests/node: node_modules is missing; run scripts/node-deps.sh (npm ci in tests/node)');
  process.exit(1);
}

const files = process.argv.length > 2
  ? process.argv.slice(2).map((f) => path.resolve(f))
  : readdirSync(here)
      .filter((f) => f.endsWith('.test.mjs'))
      .sort()
      .map((f) => path.join(here, f));

function runFile(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', file], {
      cwd: here,
      stdio: 'inherit',
    });
    const timer = setTimeout(() => {
      console.error(`tests/node: ${path.basename(file)} took over ${PER_FILE_TIMEOUT_MS / 1000} s; killing it`);
      child.kill('SIGKILL');
    }, PER_FILE_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ file: path.basename(file), ok: code === 0, code, signal, ms: Date.now() - t0 });
    });
  });
}

const results = [];
for (const f of files) {
  console.log(`\n=== ${path.basename(f)}`);
  results.push(await runFile(f));
}
console.log('\n=== summary');
for (const r of results)
  console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.file} (${(r.ms / 1000).toFixed(1)} s)${r.ok ? '' : ` exit ${r.code ?? r.signal}`}`);
const total = results.reduce((s, r) => s + r.ms, 0);
console.log(`${results.filter((r) => r.ok).length}/${results.length} files passed in ${(total / 1000).toFixed(1)} s`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
