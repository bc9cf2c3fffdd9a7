// Lint for lib/, test/ and scripts/: typescript-eslint's recommended rules, the type-aware
// rules that catch promise and type mistakes, no import cycles in lib/, and the layer rule
// of ARCHITECTURE.md (a folder imports only from folders to its left). Formatting is
// prettier's job (.prettierrc.json), so no rule here is about layout.
import { defineConfig, globalIgnores } from 'eslint/config';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * lib/'s folders from the bottom up. A folder may import from earlier entries only; folders
 * in the same entry may not import each other (with the one exception below).
 */
const LAYERS = [['errors'], ['native'], ['model-files', 'audio'], ['transcription'], ['stream'], ['model'], ['tools'], ['server', 'queue'], ['cli']];

/** The package entries re-export everything and sit above every folder: nothing imports them. */
const ENTRY_POINTS = ['lib/index.ts', 'lib/tools/index.ts', 'lib/server/index.ts', 'lib/queue/index.ts'];

/** model-files/ needs whisper's sample rate and PCM checks, and nothing else of audio/. */
const SIDEWAYS = { 'model-files': { from: 'audio', except: ['./pcm.ts'] } };

function layerZones() {
  const zones = [];
  LAYERS.forEach((layer, level) => {
    const above = LAYERS.slice(level + 1).flat();
    for (const folder of layer) {
      const target = `lib/${folder}`;
      const message = `lib/${folder}/ may import only from folders to its left in ARCHITECTURE.md's layers`;
      if (above.length > 0) zones.push({ target, from: above.map((other) => `lib/${other}`), message });
      for (const sibling of layer.filter((other) => other !== folder)) {
        const allowed = SIDEWAYS[folder]?.from === sibling ? SIDEWAYS[folder].except : [];
        zones.push({
          target,
          from: `lib/${sibling}`,
          ...(allowed.length > 0 ? { except: allowed } : {}),
          message: allowed.length > 0 ? `lib/${folder}/ may import only ${allowed.join(', ')} from lib/${sibling}/` : message,
        });
      }
      zones.push({ target, from: ENTRY_POINTS, message: 'the package entries only re-export; import the module itself' });
    }
  });
  return zones;
}

/**
 * Core rules that catch bugs in JavaScript and TypeScript alike and that the code already
 * follows. The type checker covers the rest of eslint:recommended for .ts files
 * (typescript-eslint's eslintRecommended turns those off there).
 */
const CORE_RULES = {
  'default-case-last': 'error',
  eqeqeq: ['error', 'always', { null: 'ignore' }],
  'no-constant-binary-expression': 'error',
  'no-constant-condition': ['error', { checkLoops: false }],
  'no-debugger': 'error',
  'no-dupe-else-if': 'error',
  'no-duplicate-case': 'error',
  'no-empty': ['error', { allowEmptyCatch: true }],
  'no-fallthrough': 'error',
  'no-self-assign': 'error',
  'no-self-compare': 'error',
  'no-sparse-arrays': 'error',
  'no-template-curly-in-string': 'error',
  'no-unsafe-finally': 'error',
  'no-unmodified-loop-condition': 'error',
  'no-unsafe-negation': 'error',
  'no-unsafe-optional-chaining': 'error',
  'no-useless-catch': 'error',
  'no-var': 'error',
  'prefer-const': ['error', { destructuring: 'all' }],
  'use-isnan': 'error',
  'valid-typeof': 'error',
};

/** Node's globals for the .mjs/.cjs scripts, which no type checker reads: this Node's own, and CommonJS's. */
const NODE_GLOBALS = Object.fromEntries(
  [...Object.getOwnPropertyNames(globalThis), '__dirname', '__filename', 'exports', 'module', 'require'].map((name) => [name, 'readonly']),
);

export default defineConfig(
  globalIgnores(['deps/', 'build/', 'build-*/', 'dist/', 'prebuilds/', 'coverage/', 'packages/*/prebuilds/', 'api/']),
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  {
    files: ['**/*.{ts,mts,cts}'],
    extends: [tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      ...CORE_RULES,
      // Type-aware rules that find real bugs (a promise nobody awaits, awaiting a non-promise,
      // throwing a non-Error) for the price of one type-checker run.
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-for-in-array': 'error',
      '@typescript-eslint/no-implied-eval': 'error',
      // A caught `unknown` is rethrown as it came: a listener's own error goes back to its caller.
      '@typescript-eslint/only-throw-error': ['error', { allowThrowingAny: false, allowThrowingUnknown: true }],
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      // `return promise` inside try/catch skips the catch and the finally's timing.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // "[object Object]" in a message or a sum that concatenates.
      '@typescript-eslint/restrict-template-expressions': 'error',
      '@typescript-eslint/restrict-plus-operands': 'error',
      '@typescript-eslint/no-base-to-string': 'error',
      // An `any` must not be called or dug into unchecked (JSON.parse, require, caught errors).
      '@typescript-eslint/no-unsafe-call': 'error',
      '@typescript-eslint/no-unsafe-member-access': 'error',
      '@typescript-eslint/no-unsafe-argument': 'error',
      '@typescript-eslint/no-unsafe-return': 'error',
      '@typescript-eslint/no-redundant-type-constituents': 'error',
      '@typescript-eslint/no-duplicate-type-constituents': 'error',
      '@typescript-eslint/consistent-type-exports': ['error', { fixMixedExportsWithInlineTypeSpecifier: true }],
      // Deprecated APIs of Node, vitest and our own, before an upgrade removes them.
      '@typescript-eslint/no-deprecated': 'error',
      // tsconfig's noUnusedLocals/noUnusedParameters already fail the build; this adds the
      // _-prefix convention for parameters an interface forces on a function.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_$', caughtErrors: 'none', ignoreRestSiblings: true }],
      // `import type` and inline `type` specifiers, as the code writes them, so type-only
      // imports vanish from the emitted JavaScript. `typeof import('...')` stays allowed.
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
    },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { sourceType: 'module', globals: NODE_GLOBALS },
    rules: {
      ...CORE_RULES,
      'no-undef': 'error',
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_$', caughtErrors: 'none', ignoreRestSiblings: true }],
      'no-redeclare': 'error',
      'no-unreachable': 'error',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    plugins: { 'import-x': importX },
    settings: {
      // Without these two, import-x skips .ts files when it follows imports, and no-cycle
      // silently finds nothing.
      'import-x/extensions': ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.mts', '.cts'] },
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.mjs', '.json', '.node'] })],
    },
    rules: {
      'import-x/first': 'error',
      'import-x/no-duplicates': 'error',
      'import-x/no-self-import': 'error',
      'import-x/no-useless-path-segments': 'error',
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      // Test helpers may pass JSON.parse results around; the library may not.
      '@typescript-eslint/no-unsafe-assignment': 'error',
      'import-x/no-cycle': ['error', { maxDepth: Infinity }],
      'import-x/no-mutable-exports': 'error',
      'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: layerZones() }],
    },
  },
  {
    // Consumer code for the type tests: it imports the package the ways users do, CommonJS
    // `import x = require()` and value imports of classes included, each next to its checks.
    files: ['test/types/**'],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/consistent-type-imports': 'off',
      'import-x/first': 'off',
    },
  },
);
