import {existsSync} from 'node:fs'
import {Browser, ConsoleMessage, Page, chromium} from 'playwright-core'

/**
 * Headless Chromium for the end-to-end tests: Debian's `chromium` package driven by
 * playwright-core (no browser download). `.ci/run` installs the package when it is missing.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Flags for a quiet, offline, sandbox-free headless run (CI runs as root in a container). */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH)
}

export async function launchChromium(): Promise<Browser> {
  if (!chromiumInstalled()) {
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  }
  return chromium.launch({executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true})
}

/** What a page did that a test may want to assert never happened. */
export interface PageProblems {
  /** console.error messages and uncaught exceptions. */
  errors: string[]
  /** URLs the page requested, other than those `allowed` says it may. */
  requests: string[]
}

/**
 * A new page of the given viewport that records console errors, uncaught exceptions and every
 * request (the page's own URL and data: URLs are allowed unless `allowed` says otherwise).
 */
export async function openRecordedPage(
  browser: Browser,
  options: {width: number; height: number; deviceScaleFactor?: number; allowed?: (url: string) => boolean},
): Promise<{page: Page; problems: PageProblems}> {
  const context = await browser.newContext({viewport: {width: options.width, height: options.height}, deviceScaleFactor: options.deviceScaleFactor ?? 1})
  const page = await context.newPage()
  const problems: PageProblems = {errors: [], requests: []}
  page.on('console', (message: ConsoleMessage) => {
    if (message.type() === 'error') problems.errors.push(message.text())
  })
  page.on('pageerror', (error) => problems.errors.push(error.message))
  let firstUrl: string | undefined
  const allowed = options.allowed ?? ((url: string) => url === firstUrl || url.startsWith('data:'))
  page.on('request', (request) => {
    firstUrl ??= request.url()
    if (!allowed(request.url())) problems.requests.push(request.url())
  })
  return {page, problems}
}
