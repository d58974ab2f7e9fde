// A functional test's secret loader: environment variables win, the rest comes from Vault
// through VAULT_ADDR/VAULT_TOKEN. It never prints a value.
const REQUIRED = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "SCALEWAY_SECRET_KEY"];

async function vaultRead(path) {
  const res = await fetch(`${process.env.VAULT_ADDR}/v1/${path}`, {
    headers: { "X-Vault-Token": process.env.VAULT_TOKEN ?? "" },
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, data: body?.data?.data ?? null };
}

async function loadSecrets() {
  const fromVault = await vaultRead("secret/data/functional-tests");
  if (fromVault.status !== 200)
    throw new Error(`reading the test secrets from Vault: HTTP ${fromVault.status}`);
  const out = {};
  for (const k of REQUIRED) {
    out[k] = process.env[k] ?? fromVault.data?.[k];
    if (!out[k]) throw new Error(`missing ${k}: neither in the environment nor in Vault`);
  }
  return out;
}

const secrets = await loadSecrets();
console.log(`loaded ${Object.keys(secrets).length} secrets from Vault`);

// Least privilege: the job's token must not read anything else.
if (process.env.OUTSIDE_PATH) {
  const outside = await vaultRead(process.env.OUTSIDE_PATH);
  if (outside.status !== 403)
    throw new Error(`expected 403 outside the policy, got ${outside.status}`);
  console.log(`outside the policy: denied (${outside.status}), as it should be`);
}

// ... the real tests would use `secrets` here ...
console.log("functional tests passed");
