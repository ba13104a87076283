/**
 * Layering rules of the code base, checked by `npm test` (scripts/test.sh → npm run lint:layers)
 * with dependency-cruiser, which resolves imports as TypeScript does (type-only imports count).
 * docs/architecture.md shows the packages; each rule says which seam it keeps.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles: a cycle makes load order matter. A type that one side declares and the other implements (a worker protocol, the Source a template asks for) is erased at build time and allowed.',
      from: {},
      to: {circular: true, viaOnly: {dependencyTypesNot: ['type-only']}},
    },
    {
      name: 'sdk-stands-alone',
      severity: 'error',
      comment:
        '@plakar/sdk is what third-party plugins install: only its own modules and node built-ins (vitest, an optional peer, for the suites under testing/).',
      from: {path: '^core/sdk/src/', pathNot: '^core/sdk/src/testing/'},
      to: {pathNot: ['^core/sdk/src/'], dependencyTypesNot: ['core']},
    },
    {
      name: 'sdk-index-without-vitest',
      severity: 'error',
      comment: 'Only @plakar/sdk/testing may load vitest: a plugin at run time never does.',
      from: {path: '^core/sdk/src/', pathNot: '^core/sdk/src/testing/'},
      to: {path: 'node_modules/vitest/'},
    },
    {
      name: 'sdk-testing-only-vitest',
      severity: 'error',
      comment: 'The conformance suites use vitest and the SDK, nothing else.',
      from: {path: '^core/sdk/src/testing/'},
      to: {pathNot: ['^core/sdk/src/', 'node_modules/vitest/'], dependencyTypesNot: ['core']},
    },
    {
      name: 'engine-knows-no-cli',
      severity: 'error',
      comment:
        'The engine knows nothing of oclif, the CLI, any plugin or the libraries plugins share: connectors reach it through the SDK contracts.',
      from: {path: '^core/engine/src/'},
      to: {path: ['^core/cli/', '^plugins/', '^templates/', '^lib/', 'node_modules/@oclif/', 'node_modules/tsyringe/']},
    },
    {
      name: 'agent-knows-no-cli',
      severity: 'error',
      comment:
        'The agent (task files, schedules, history, the daemon loop) knows no oclif, no CLI and no plugin: it gets connectors, passphrases and policies through the TaskHost contract the CLI implements.',
      from: {path: '^core/agent/src/'},
      to: {path: ['^core/cli/', '^plugins/', '^templates/', 'node_modules/@oclif/', 'node_modules/tsyringe/', 'node_modules/@plakar/cli/']},
    },
    {
      name: 'engine-knows-no-agent',
      severity: 'error',
      comment: 'The agent is built on the engine; the engine never reaches into the agent.',
      from: {path: '^core/engine/src/'},
      to: {path: ['^core/agent/', 'node_modules/@plakar/agent/']},
    },
    {
      name: 'cli-knows-no-plugin',
      severity: 'error',
      comment: 'The CLI finds plugins through oclif and the connector registry, never by importing one (or what they share).',
      from: {path: '^core/cli/src/'},
      to: {path: ['^plugins/', '^templates/', '^lib/']},
    },
    {
      name: 'plugins-import-only-the-sdk',
      severity: 'error',
      comment:
        'A plugin (first-party or template) builds against @plakar/sdk (and the libraries under lib/, which build against it too), never the engine or the CLI, as a third-party one must.',
      from: {path: '^(plugins|templates)/'},
      to: {path: ['^core/engine/', '^core/cli/', 'node_modules/@plakar/(engine|cli)/']},
    },
    {
      name: 'plugins-know-no-other-plugin',
      severity: 'error',
      comment:
        'Plugins know nothing of each other: code two plugins share belongs in the SDK, or in a library under lib/ when it is of use to some plugins only (lib/s3-client for plugins/s3 and plugins/glacier).',
      from: {path: '^(plugins|templates)/([^/]+)/'},
      to: {path: '^(plugins|templates)/', pathNot: '^$1/$2/'},
    },
    {
      name: 'libraries-import-only-the-sdk-and-aws',
      severity: 'error',
      comment:
        'A library under lib/ is shared by plugins: it builds on @plakar/sdk (not its testing suites) and the AWS SDK, node built-ins and its own modules, nothing else: no plugin, no other library, no engine or CLI.',
      from: {path: '^lib/([^/]+)/src/'},
      to: {
        pathNot: ['^lib/$1/src/', '^core/sdk/src/(?!testing/)', 'node_modules/@aws-sdk/', 'node_modules/@smithy/'],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'format-does-not-import-tree',
      severity: 'error',
      comment: 'The tree is built on the format (codec, summaries); the format never reaches into the tree.',
      from: {path: '^core/engine/src/format/'},
      to: {path: '^core/engine/src/tree/'},
    },
    {
      name: 'lower-layers-do-not-import-the-engine',
      severity: 'error',
      comment: 'format, crypto, chunking, tree and repository are below engine/: they never import it.',
      from: {path: '^core/engine/src/(format|crypto|chunking|tree|repository)/'},
      to: {path: '^core/engine/src/engine/'},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves (a missing dependency in package.json shows here first).',
      from: {},
      to: {couldNotResolve: true},
    },
  ],
  options: {
    doNotFollow: {path: ['node_modules', '/dist/']},
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.layers.json'},
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'node', 'default'],
      mainFields: ['module', 'main'],
      extensions: ['.ts', '.js', '.d.ts'],
    },
    // The workspaces are linked into node_modules: resolve them to their real folders.
    preserveSymlinks: false,
    combinedDependencies: false,
  },
}
