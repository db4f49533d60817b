import {existsSync} from 'node:fs'
import {Browser, chromium} from 'playwright-core'

/** Debian's `chromium` package (`apt-get install -y chromium`); CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Headless, no sandbox (tests run as root in containers), and nothing that reaches the network
 * on its own: the only requests are the ones a test makes.
 */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** True when the Chromium binary is installed. */
export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH)
}

/** Launches headless Chromium; the caller closes it (`browser.close()`). */
export async function launchBrowser(): Promise<Browser> {
  if (!chromiumInstalled()) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`)
  return chromium.launch({executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS})
}

/** Runs `use` with a fresh headless Chromium and closes it afterwards, whatever happens. */
export async function withBrowser<T>(use: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await launchBrowser()
  try {
    return await use(browser)
  } finally {
    await browser.close()
  }
}
