// Passkeys through the browser's own WebAuthn API, no library: the API speaks the WebAuthn
// JSON forms (PublicKeyCredentialCreationOptionsJSON, PublicKeyCredential.toJSON()), which
// recent browsers convert themselves; older ones get the few lines of base64url below.

/**
 * Whether this browser can use passkeys here: a secure context with WebAuthn, opened at a
 * domain name (a relying party id is never an IP address, so http://127.0.0.1 cannot work).
 */
export function passkeysSupported() {
  const host = window.location.hostname;
  const ipAddress = /^[\d.]+$/.test(host) || host.startsWith("[");
  return typeof window.PublicKeyCredential === "function" && Boolean(navigator.credentials) && !ipAddress;
}

/** Whether the login field can offer passkeys in its autofill (conditional mediation). */
export async function autofillAvailable() {
  if (!passkeysSupported()) return false;
  const check = window.PublicKeyCredential.isConditionalMediationAvailable;
  if (typeof check !== "function") return false;
  try {
    return await check.call(window.PublicKeyCredential);
  } catch {
    return false;
  }
}

/**
 * The customer (or the browser) did not let the request finish: cancelled, timed out,
 * no matching passkey, no user verification, or aborted by the page.
 */
export function passkeyDeclined(error) {
  return error instanceof DOMException && ["NotAllowedError", "AbortError"].includes(error.name);
}

// --- base64url, for browsers without the JSON helpers ---------------------------------

function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function withIds(descriptors) {
  return (descriptors || []).map((descriptor) => ({ ...descriptor, id: fromBase64url(descriptor.id) }));
}

function creationOptions(json) {
  const parse = window.PublicKeyCredential.parseCreationOptionsFromJSON;
  if (typeof parse === "function") return parse.call(window.PublicKeyCredential, json);
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: withIds(json.excludeCredentials),
  };
}

function requestOptions(json) {
  const parse = window.PublicKeyCredential.parseRequestOptionsFromJSON;
  if (typeof parse === "function") return parse.call(window.PublicKeyCredential, json);
  return { ...json, challenge: fromBase64url(json.challenge), allowCredentials: withIds(json.allowCredentials) };
}

function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const { response } = credential;
  const json = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
    response: { clientDataJSON: toBase64url(response.clientDataJSON) },
  };
  if (response.attestationObject) {
    json.response.attestationObject = toBase64url(response.attestationObject);
    if (typeof response.getTransports === "function") json.response.transports = response.getTransports();
  } else {
    json.response.authenticatorData = toBase64url(response.authenticatorData);
    json.response.signature = toBase64url(response.signature);
    if (response.userHandle) json.response.userHandle = toBase64url(response.userHandle);
  }
  return json;
}

// --- the two ceremonies -------------------------------------------------------------------

/** navigator.credentials.create() with the API's options; the new credential as JSON. */
export async function createPasskey(optionsJSON) {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(optionsJSON) });
  return credentialJSON(credential);
}

/**
 * navigator.credentials.get() with the API's options; the assertion as JSON. `mediation:
 * "conditional"` waits for a pick from the login field's autofill; `signal` aborts it.
 */
export async function getPasskey(optionsJSON, { signal, mediation } = {}) {
  const request = { publicKey: requestOptions(optionsJSON) };
  if (signal) request.signal = signal;
  if (mediation) request.mediation = mediation;
  const credential = await navigator.credentials.get(request);
  return credentialJSON(credential);
}
