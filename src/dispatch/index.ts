// Signed dispatch: Airlock's word, checkable offline, that a run may use the private side.
export {
  DISPATCH_KEY_FILE,
  type DispatchKeyPair,
  dispatchKeyId,
  dispatchPublicKeyPem,
  loadOrCreateDispatchKey,
  parsePublicKey,
} from "./keys.js";
export {
  type DispatchClaims,
  DispatchError,
  type DispatchExpectation,
  type DispatchRejection,
  signDispatch,
  verifyDispatch,
} from "./token.js";
