import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {Worker, WorkerOptions} from 'node:worker_threads'

/**
 * Starts a worker thread on a module of this library. Built (`dist/`), the module is the `.js`
 * beside its caller; run from TypeScript sources (tests, `tsx`), only the `.ts` exists, so the
 * worker first registers tsx's loader and then imports it.
 */
export function startModuleWorker(moduleUrl: URL, options: WorkerOptions): Worker {
  if (existsSync(fileURLToPath(moduleUrl))) return new Worker(moduleUrl, options)
  const sourceUrl = new URL(moduleUrl.href.replace(/\.js$/, '.ts'))
  if (!existsSync(fileURLToPath(sourceUrl))) throw new Error(`worker module ${fileURLToPath(moduleUrl)} not found (build with tsc)`)
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json')
  const tsxApi = pathToFileURL(join(dirname(tsxPackage), 'dist', 'esm', 'api', 'index.mjs')).href
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({register}) => { register(); return import(${JSON.stringify(sourceUrl.href)}) })`
  return new Worker(bootstrap, {...options, eval: true})
}
