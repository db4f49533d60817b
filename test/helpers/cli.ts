import {ChildProcess, spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..')
export const CLI = join(REPO_ROOT, 'bin', 'run.js')

export interface CliResult {
  status: number | null
  stdout: string
  stderr: string
}

/** Runs the built CLI (`node bin/run.js ...`) to completion. */
export function runCli(args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: {...process.env, ...options.env},
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 300_000,
  })
  return {status: result.status, stdout: result.stdout, stderr: result.stderr}
}

/** Starts the CLI without waiting, for tests that signal or talk to it. */
export function startCli(args: string[], options: {cwd?: string; env?: NodeJS.ProcessEnv} = {}) {
  return spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: {...process.env, ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/**
 * Runs the built CLI to completion without blocking the event loop: prefer it to runCli in
 * tests that run the CLI many times, since vitest's worker times out ("Timeout calling
 * onTaskUpdate") when spawnSync keeps its event loop blocked for a minute.
 */
export function runCliAsync(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return runCommand(process.execPath, [CLI, ...args], options)
}

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Run as this user and group (the tests run as root): how another account sees the files. */
  uid?: number
  gid?: number
}

/** Runs any command to completion without blocking the event loop (see runCliAsync). */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<CliResult> {
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO_ROOT,
    env: {...process.env, ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid === undefined ? {} : {uid: options.uid}),
    ...(options.gid === undefined ? {} : {gid: options.gid}),
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (status) => resolve({status, stdout, stderr}))
  })
}

/** Collects a child's stdout and stderr, and resolves `match` once its stdout matches `pattern`. */
export function waitForOutput(child: ChildProcess, pattern: RegExp): {output: () => string; match: Promise<RegExpExecArray>} {
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const match = new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk
      const found = pattern.exec(stdout)
      if (found) resolve(found)
    })
    child.once('exit', (code) => reject(new Error(`exited (${code}) before printing ${pattern}: ${stdout}${stderr}`)))
  })
  return {output: () => `${stdout}${stderr}`, match}
}

/** A fresh temporary folder, and a function that removes it. */
export function makeTempDir(prefix = 'mnist-rnn-test-'): {dir: string; cleanup: () => void} {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return {dir, cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

/** Non-empty lines of a stream's text. */
export function linesOf(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '')
}

/** Collects a child's output and resolves once a line matches `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp): {output: () => string; line: Promise<RegExpExecArray>} {
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const line = new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk
      const match = pattern.exec(stdout)
      if (match) resolve(match)
    })
    child.once('exit', (code) => reject(new Error(`the command exited (${code}) before printing ${pattern}: ${stdout}${stderr}`)))
  })
  return {output: () => `${stdout}${stderr}`, line}
}
