// Pipelines the config and pipeline tests share.

/** The pipeline of DESIGN.md's configuration sketch. */
export const SEED = `# .airlock.yml
version: 1

secrets:
  functional-tests:
    backend: embedded
    env_override: false

trust:
  orgs: [example-org]
  permission: write
  bots: ["dependabot[bot]"]
  approval: per-commit

selection:
  label_prefix: test-
  aliases: { do: digitalocean, scw: scaleway }

jobs:
  build-lint-unit:
    network: true
    run: |
      npm ci
      npm run lint
      npm test
  security-audit:
    run: ./scripts/audit.sh
  functional:
    needs: [build-lint-unit]
    matrix:
      provider: [aws, digitalocean, scaleway]
      kind: [infra, self-hosted, managed-services]
    name: \${provider}-\${kind}
    tags: ["\${provider}", "\${kind}"]
    secrets: [functional-tests]
    network: true
    timeout: 120m
    reports: [reports/*.xml]
    run: ./tests/functional.sh "\${provider}" "\${kind}"
`;
