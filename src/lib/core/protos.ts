import {fileURLToPath} from 'node:url'

/** The repo's `proto/` folder (three levels up from both src/lib/core and dist/lib/core). */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto', import.meta.url))
