// The lint gate: typescript-eslint's recommended rules, no import cycles, and layers that point one way.
import js from '@eslint/js'
import globals from 'globals'
import importX from 'eslint-plugin-import-x'
import tseslint from 'typescript-eslint'

/**
 * src/lib's folders from the bottom up: each may import only from those before it.
 * `commands/` sits above all of them.
 */
const LIB_LAYERS = ['core', 'backend.ts', 'data', 'model', 'training', 'evaluation', 'export', 'serving', 'client', 'jobs', 'cli']
/** Inside serving/, likewise: the vocabulary, engines' workers, the core, the front ends, the server. */
const SERVING_LAYERS = [['api.ts', 'options.ts'], ['inference'], ['core'], ['rest', 'grpc'], ['server.ts', 'banner.ts', 'shutdown.ts']]

function layerZones(base, layers) {
  const zones = []
  layers.forEach((layer, index) => {
    const higher = layers.slice(index + 1).flat()
    if (higher.length === 0) return
    for (const target of [layer].flat()) {
      zones.push({
        target: `${base}/${target}`,
        from: higher.map((name) => `${base}/${name}`),
        message: `${target} is below ${higher.join(', ')} in the layering (see ARCHITECTURE.md)`,
      })
    }
  })
  return zones
}

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', 'coverage/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {languageOptions: {globals: {...globals.node}}},
  {
    files: ['src/**/*.ts'],
    plugins: {'import-x': importX},
    settings: {
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver': {typescript: {project: './tsconfig.json'}},
    },
    rules: {
      'import-x/no-cycle': ['error', {ignoreExternal: true}],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {target: './src/lib', from: './src/commands', message: 'the library never imports a command'},
            ...layerZones('./src/lib', LIB_LAYERS),
            ...layerZones('./src/lib/serving', SERVING_LAYERS),
          ],
        },
      ],
    },
  },
  {
    // The drawing page's modules run in the browser, not in Node.
    files: ['src/ui/**/*.js'],
    languageOptions: {globals: {...globals.browser}},
  },
  {
    // Tests assert the ANSI colour codes that eval and the progress bars print.
    files: ['test/**/*.ts'],
    rules: {'no-control-regex': 'off'},
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
    },
  },
)
