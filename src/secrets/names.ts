// Names of sets and keys as the store accepts them. Keys become environment variable or file
// names in the sandbox, so they follow the environment-variable rule.
import { SecretsError } from "./errors.js";

const SET_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkSetName(set: string): void {
  if (!SET_RE.test(set) || set.length > 100) {
    throw new SecretsError(
      `${JSON.stringify(set.slice(0, 100))} is not a secret set name: start with a letter or digit and use only letters, digits, "_", "." and "-"`,
    );
  }
}

export function checkKeyName(key: string): void {
  if (!KEY_RE.test(key) || key.length > 200) {
    throw new SecretsError(
      `${JSON.stringify(key.slice(0, 100))} is not a secret key name: keys become environment variables, so they must match [A-Za-z_][A-Za-z0-9_]*`,
    );
  }
}

/** Largest value accepted; environment variables much larger than this break exec anyway. */
export const MAX_VALUE_BYTES = 1 << 20;

/** Refuses values that cannot be delivered. The message describes, never quotes, the value. */
export function checkValue(set: string, key: string, value: string, file: boolean): void {
  if (value.length === 0) {
    throw new SecretsError(`refusing an empty value for ${set}/${key}: give the value on stdin`);
  }
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES) {
    throw new SecretsError(
      `the value of ${set}/${key} is larger than 1 MiB; deliver it another way`,
    );
  }
  if (!file && value.includes("\0")) {
    throw new SecretsError(
      `the value of ${set}/${key} contains a NUL byte, which an environment variable cannot hold: store it with --file`,
    );
  }
}
