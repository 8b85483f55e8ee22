// Your details → Two-step login: the contacts and their verification, the authenticator
// app (QR code, the secret as text, the first code), passkeys (add, rename, remove),
// recovery codes (shown once: copy, download, print), the step asked first and the codes
// fallback.
//
// Every change needs a recent password or passkey (the API answers 403
// reauthentication_required): the dialog asks for it, then the change is tried once more.

import { ApiError, call } from "../assets/api.js";
import { clearText, initI18n, onLanguageChange, setText, t } from "../assets/i18n.js";
import {
  countdown,
  digitsOnly,
  formatDateTime,
  formatDuration,
  showError,
  showStatus,
} from "../assets/ui.js";
import { createPasskey, getPasskey, passkeyDeclined, passkeysSupported } from "../assets/webauthn.js";

const $ = (id) => document.getElementById(id);
const LOGIN_PAGE = "./";

const state = {
  account: null,
  factors: null, // GET /factors
  enrollment: null, // {factor_id, secret, otpauth_uri, qr_svg, expires_at} while setting up
  codes: null, // recovery codes just issued; never fetched again
  contact: null, // {kind: "email"|"phone", change_id?, expires_at?, value?}
  passkey: null, // the passkey a rename or removal dialog is about: {id, name}
  stops: { enroll: null, contact: null },
  busy: false,
};

function toLogin(reason) {
  window.location.replace(`${LOGIN_PAGE}?reason=${reason}`);
}

/** Errors any call may meet, shown in `scope`'s alert region. */
function commonFailure(error, scope = "") {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "not_authenticated") toLogin("session");
  else if (error.status === 0) showError("err.network", {}, scope);
  else if (error.code === "csrf_rejected") showError("err.csrf_rejected", {}, scope);
  else if (error.status === 429) showError("err.code_limit", {}, scope);
  else if (error.status === 503) showError("err.unavailable", {}, scope);
  else showError("err.generic", { status: error.status }, scope);
}

function clearScope(scope) {
  showError(null, {}, scope);
  showStatus(null, {}, scope);
}

// --- re-authentication ("sudo mode") ----------------------------------------------------

let reauthPending = null; // {resolve, returnFocus}

/** Ask for the password in a modal dialog; resolves true once the API accepted it. */
function askPassword() {
  const dialog = $("reauth-dialog");
  return new Promise((resolve) => {
    reauthPending = { resolve, returnFocus: document.activeElement };
    showError(null, {}, "reauth");
    $("reauth-password").value = "";
    // A passkey of the account confirms as well as the password does.
    const passkeys = state.factors ? state.factors.passkeys.length : 0;
    $("reauth-passkey").hidden = !(passkeys && passkeysSupported());
    dialog.showModal();
    $("reauth-password").focus();
  });
}

function closeReauth(result) {
  const pending = reauthPending;
  reauthPending = null;
  $("reauth-password").value = "";
  const dialog = $("reauth-dialog");
  if (dialog.open) dialog.close();
  if (!pending) return;
  if (pending.returnFocus && pending.returnFocus.isConnected) pending.returnFocus.focus();
  pending.resolve(result);
}

async function submitReauth() {
  const password = $("reauth-password").value;
  if (!password) {
    showError("err.wrong_password", {}, "reauth");
    $("reauth-password").focus();
    return;
  }
  $("reauth-submit").disabled = true;
  try {
    await call("POST", "/session/reauthenticate", { body: { password } });
    closeReauth(true);
  } catch (error) {
    if (error instanceof ApiError && error.code === "invalid_credentials") {
      showError("err.wrong_password", {}, "reauth");
      $("reauth-password").value = "";
      $("reauth-password").focus();
    } else if (error instanceof ApiError && error.status === 429) {
      showError("err.password_limit", {}, "reauth");
    } else if (error instanceof ApiError && error.code === "not_authenticated") {
      toLogin("session");
    } else {
      commonFailure(error, "reauth");
    }
  } finally {
    $("reauth-submit").disabled = false;
  }
}

/** The reauthentication dialog's other way: one of the account's passkeys. */
async function reauthWithPasskey() {
  $("reauth-passkey").disabled = true;
  showError(null, {}, "reauth");
  try {
    const { options } = await call("POST", "/session/reauthenticate/options");
    const passkey = await getPasskey(options);
    await call("POST", "/session/reauthenticate", { body: { passkey } });
    closeReauth(true);
  } catch (error) {
    if (passkeyDeclined(error)) showError("passkey.declined", {}, "reauth");
    else if (!(error instanceof ApiError)) showError("passkey.failed", {}, "reauth");
    else if (error.code === "not_authenticated") toLogin("session");
    else if (error.code === "invalid_passkey") showError("err.passkey_not_accepted", {}, "reauth");
    else if (error.code === "passkey_counter_regressed")
      showError("err.passkey_counter_regressed", {}, "reauth");
    else commonFailure(error, "reauth");
  } finally {
    $("reauth-passkey").disabled = false;
  }
}

/**
 * Run `operation` (a function returning the call's promise); after 403
 * reauthentication_required ask for the password and run it once more.
 * Resolves with its result, or undefined when the customer cancelled.
 */
async function withReauth(operation) {
  try {
    return await operation();
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "reauthentication_required") throw error;
  }
  if (!(await askPassword())) return undefined;
  return operation();
}

/** One change at a time: `work` runs with `scope`'s messages cleared; failures land there. */
async function change(scope, work, onFailure) {
  if (state.busy) return;
  state.busy = true;
  clearScope(scope);
  try {
    await work();
  } catch (error) {
    if (!onFailure || !onFailure(error)) commonFailure(error, scope);
  } finally {
    state.busy = false;
  }
}

// --- the overview ---------------------------------------------------------------------------

async function loadFactors() {
  state.factors = await call("GET", "/factors");
  render();
}

function render() {
  if (!state.factors) return;
  renderContacts();
  renderApp();
  renderPasskeys();
  renderCodes();
  renderPreferred();
}

function renderContacts() {
  const { email, phone } = state.factors;
  $("email-value").textContent = email.address;
  setText($("email-state"), email.verified ? "contacts.verified" : "contacts.unverified");
  $("email-state").dataset.state = email.verified ? "verified" : "unverified";
  const phoneState = $("phone-state");
  if (phone) {
    $("phone-value").textContent = phone.number;
    setText(phoneState, phone.verified ? "contacts.verified" : "contacts.unverified");
    phoneState.dataset.state = phone.verified ? "verified" : "unverified";
    phoneState.hidden = false;
    setText($("change-phone"), "contacts.change_phone");
  } else {
    setText($("phone-value"), "contacts.no_phone");
    phoneState.hidden = true;
    setText($("change-phone"), "contacts.add_phone");
  }
}

function renderApp() {
  const { totp } = state.factors;
  const enrolling = state.enrollment !== null;
  if (totp) {
    const params = { since: formatDateTime(totp.created_at) };
    if (totp.last_used_at) {
      setText($("totp-state"), "totp.on_used", { ...params, used: formatDateTime(totp.last_used_at) });
    } else {
      setText($("totp-state"), "totp.on", params);
    }
  } else {
    setText($("totp-state"), enrolling ? "totp.pending" : "totp.off");
  }
  $("totp-state").dataset.state = totp ? "on" : "off";
  $("totp-start").hidden = Boolean(totp) || enrolling;
  $("totp-remove").hidden = !totp;
  $("enroll").hidden = !enrolling;
}

/** The app or a passkey: what recovery codes, the fallback and a strong login rest on. */
function hasStrongFactor() {
  return Boolean(state.factors.totp) || state.factors.passkeys.length > 0;
}

function renderCodes() {
  const { recovery_codes: codes } = state.factors;
  const strong = hasStrongFactor();
  if (codes) {
    const params = { n: codes.remaining, created: formatDateTime(codes.created_at) };
    setText($("codes-state"), codes.remaining <= 3 ? "codes.few_left" : "codes.left", params);
  } else {
    setText($("codes-state"), strong ? "codes.none" : "codes.need_app");
  }
  // A new set needs a strong factor (the API answers strong_factor_required otherwise).
  $("codes-new").hidden = !strong;
  const list = $("codes-list");
  list.replaceChildren();
  for (const code of state.codes || []) {
    const item = document.createElement("li");
    item.textContent = code;
    list.append(item);
  }
  $("codes-box").hidden = !state.codes;
}

function renderPreferred() {
  const { preferred, codes_fallback: fallback, phone, totp, passkeys } = state.factors;
  const usable = {
    email: true,
    sms: Boolean(phone && phone.verified),
    totp: Boolean(totp),
    passkey: passkeys.length > 0,
  };
  for (const factor of ["passkey", "totp", "email", "sms"]) {
    const radio = $(`preferred-${factor}`);
    radio.checked = factor === preferred;
    radio.disabled = !usable[factor];
  }
  $("codes-fallback").checked = fallback;
  // The fallback only means something once a strong factor is there.
  const strong = hasStrongFactor();
  $("codes-fallback").disabled = !strong;
  setText($("codes-fallback-hint"), strong ? "preferred.fallback_hint" : "preferred.fallback_needs_app");
}

// --- passkeys -----------------------------------------------------------------------------

const MAX_PASSKEYS = 10; // the API's limit (409 passkey_limit_reached beyond it)

function textElement(tag, className, key, params = {}) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  setText(element, key, params);
  return element;
}

/** One passkey: its name, when it was added and last used, whether it is synced. */
function passkeyItem(passkey) {
  const item = document.createElement("li");
  item.className = "passkey";
  item.dataset.passkeyId = passkey.id;
  const name = document.createElement("h3");
  name.className = "passkey-name";
  name.textContent = passkey.name; // the customer's text: never markup
  const synced = textElement("span", "badge", passkey.backed_up ? "passkeys.synced" : "passkeys.device_only");
  synced.dataset.state = passkey.backed_up ? "synced" : "device";
  name.append(" ", synced);
  const created = textElement("p", "hint passkey-created", "passkeys.created", {
    when: formatDateTime(passkey.created_at),
  });
  const used = passkey.last_used_at
    ? textElement("p", "hint passkey-used", "passkeys.last_used", { when: formatDateTime(passkey.last_used_at) })
    : textElement("p", "hint passkey-used", "passkeys.never_used");
  const actions = document.createElement("div");
  actions.className = "actions";
  const rename = textElement("button", "secondary small", "passkeys.rename");
  rename.type = "button";
  rename.setAttribute("aria-label", t("passkeys.rename_named", { name: passkey.name }));
  rename.addEventListener("click", () => openRename(passkey));
  const remove = textElement("button", "danger small", "passkeys.remove");
  remove.type = "button";
  remove.setAttribute("aria-label", t("passkeys.remove_named", { name: passkey.name }));
  remove.addEventListener("click", () => openRemove(passkey));
  actions.append(rename, remove);
  item.append(name, created, used, actions);
  return item;
}

function renderPasskeys() {
  const { passkeys } = state.factors;
  const supported = passkeysSupported();
  if (passkeys.length) setText($("passkeys-state"), "passkeys.count", { n: passkeys.length });
  else setText($("passkeys-state"), supported ? "passkeys.none" : "passkeys.unsupported");
  $("passkeys-list").replaceChildren(...passkeys.map(passkeyItem));
  $("passkeys-list").hidden = passkeys.length === 0;
  const adding = !$("passkey-add-form").hidden;
  $("passkey-add").hidden = !supported || adding || passkeys.length >= MAX_PASSKEYS;
}

function openAddPasskey() {
  clearScope("passkeys");
  $("passkey-name").value = "";
  $("passkey-add-form").hidden = false;
  $("passkey-add").hidden = true;
  $("passkey-name").focus();
}

function closeAddPasskey() {
  $("passkey-add-form").hidden = true;
  $("passkey-name").value = "";
  renderPasskeys();
  if (!$("passkey-add").hidden) $("passkey-add").focus();
}

/** What the browser or the API said about a passkey that was not added, renamed or removed. */
function passkeyFailure(error, scope = "passkeys") {
  if (passkeyDeclined(error)) showError("passkey.declined", {}, scope);
  else if (error instanceof DOMException && error.name === "InvalidStateError")
    showError("passkeys.already_here", {}, scope); // this authenticator holds one of ours
  else if (!(error instanceof ApiError)) showError("passkey.failed", {}, scope);
  else if (error.code === "invalid_passkey") showError("err.passkey_invalid", {}, scope);
  else if (error.code === "passkey_challenge_expired") showError("err.passkey_expired", {}, scope);
  else if (error.code === "passkey_limit_reached") showError("err.passkey_limit", {}, scope);
  else if (error.code === "passkey_not_found") {
    showError("err.passkey_not_found", {}, scope);
    loadFactors().catch(commonFailure);
  } else return false;
  return true;
}

/** Name it, confirm it is you, then the browser creates the passkey and the API keeps it. */
function addPasskey() {
  const name = $("passkey-name").value.trim();
  if (!name) {
    showError("passkeys.name_missing", {}, "passkeys");
    $("passkey-name").focus();
    return;
  }
  change(
    "passkeys",
    async () => {
      const started = await withReauth(() => call("POST", "/factors/passkeys/options"));
      if (!started) return;
      showStatus("passkeys.creating", {}, "passkeys");
      const credential = await createPasskey(started.options);
      const added = await withReauth(() =>
        call("POST", "/factors/passkeys", { body: { name, credential } }),
      );
      if (!added) return;
      $("passkey-add-form").hidden = true;
      $("passkey-name").value = "";
      await loadFactors();
      showStatus("passkeys.added", { name: added.name }, "passkeys");
      if (added.recovery_codes) showCodes(added.recovery_codes);
      else $("passkeys-heading").focus();
    },
    (error) => {
      showStatus(null, {}, "passkeys");
      return passkeyFailure(error);
    },
  );
}

function openRename(passkey) {
  state.passkey = passkey;
  showError(null, {}, "passkey-rename");
  $("passkey-new-name").value = passkey.name;
  $("passkey-rename-dialog").showModal();
  $("passkey-new-name").select();
}

function renamePasskey() {
  const { id } = state.passkey;
  const name = $("passkey-new-name").value.trim();
  if (!name) {
    showError("passkeys.name_missing", {}, "passkey-rename");
    $("passkey-new-name").focus();
    return;
  }
  $("passkey-rename-dialog").close();
  change(
    "passkeys",
    async () => {
      const renamed = await withReauth(() =>
        call("PATCH", `/factors/passkeys/${encodeURIComponent(id)}`, { body: { name } }),
      );
      if (!renamed) return;
      await loadFactors();
      showStatus("passkeys.renamed", { name: renamed.name }, "passkeys");
      $("passkeys-heading").focus();
    },
    (error) => passkeyFailure(error),
  );
}

function openRemove(passkey) {
  state.passkey = passkey;
  setText($("passkey-remove-text"), "passkeys.remove_text", { name: passkey.name });
  $("passkey-remove-dialog").showModal();
  $("passkey-remove-cancel").focus();
}

function removePasskey() {
  const { id, name } = state.passkey;
  $("passkey-remove-dialog").close();
  change(
    "passkeys",
    async () => {
      const done = await withReauth(async () => {
        await call("DELETE", `/factors/passkeys/${encodeURIComponent(id)}`);
        return true;
      });
      if (!done) return;
      await loadFactors();
      showStatus("passkeys.removed", { name }, "passkeys");
      $("passkeys-heading").focus();
    },
    (error) => passkeyFailure(error),
  );
}

// --- the authenticator app --------------------------------------------------------------------

/** The QR code comes as an SVG document: shown as an image, so no markup enters the page. */
function svgDataUrl(svg) {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

/** "JBSWY3DPEHPK3PXP" -> "JBSW Y3DP EHPK 3PXP", easier to type into an app. */
function groupSecret(secret) {
  return secret.replace(/(.{4})(?=.)/g, "$1 ");
}

function stopEnrollTimer() {
  if (state.stops.enroll) state.stops.enroll();
  state.stops.enroll = null;
}

function showEnrollment() {
  const enrollment = state.enrollment;
  $("totp-qr").src = svgDataUrl(enrollment.qr_svg);
  $("totp-qr").alt = t("totp.qr_alt");
  $("totp-secret").textContent = groupSecret(enrollment.secret);
  $("totp-secret").dataset.secret = enrollment.secret;
  $("enroll-code").value = "";
  stopEnrollTimer();
  state.stops.enroll = countdown(
    new Date(enrollment.expires_at),
    (left) => setText($("totp-enroll-expiry"), "totp.enroll_expires", { time: formatDuration(left) }),
    () => endEnrollment("err.enrollment_expired"),
  );
  renderApp();
  $("enroll-heading").focus();
}

function endEnrollment(reasonKey) {
  stopEnrollTimer();
  state.enrollment = null;
  $("totp-qr").removeAttribute("src");
  $("totp-secret").textContent = "";
  delete $("totp-secret").dataset.secret;
  renderApp();
  if (reasonKey) showError(reasonKey, {}, "app");
  if (!$("totp-start").hidden) $("totp-start").focus();
}

function startEnrollment() {
  change(
    "app",
    async () => {
      const enrollment = await withReauth(() => call("POST", "/factors/totp"));
      if (!enrollment) return;
      state.enrollment = enrollment;
      showEnrollment();
    },
    (error) => {
      if (error instanceof ApiError && error.code === "totp_already_enrolled") {
        showError("err.totp_already_enrolled", {}, "app");
        loadFactors().catch(commonFailure);
        return true;
      }
      return false;
    },
  );
}

function confirmEnrollment() {
  const code = digitsOnly($("enroll-code").value);
  if (code.length !== 6) {
    showError("verify.need_six", {}, "app");
    $("enroll-code").focus();
    return;
  }
  const factorId = state.enrollment.factor_id;
  change(
    "app",
    async () => {
      const confirmed = await withReauth(() =>
        call("POST", `/factors/totp/${encodeURIComponent(factorId)}/confirm`, { body: { code } }),
      );
      if (!confirmed) return;
      endEnrollment(null);
      showStatus("totp.enabled", {}, "app");
      await loadFactors();
      if (confirmed.recovery_codes) showCodes(confirmed.recovery_codes);
    },
    (error) => {
      if (!(error instanceof ApiError)) return false;
      if (error.code === "invalid_code") {
        showError("err.enroll_invalid_code", {}, "app");
        $("enroll-code").select();
        $("enroll-code").focus();
      } else if (error.code === "enrollment_expired" || error.code === "enrollment_not_found") {
        endEnrollment("err.enrollment_expired");
      } else if (error.code === "totp_already_enrolled") {
        endEnrollment("err.totp_already_enrolled");
        loadFactors().catch(commonFailure);
      } else {
        return false;
      }
      return true;
    },
  );
}

function removeApp() {
  change(
    "app",
    async () => {
      const done = await withReauth(async () => {
        await call("DELETE", "/factors/totp");
        return true;
      });
      if (!done) return;
      state.codes = null;
      await loadFactors();
      showStatus("totp.removed", {}, "app");
      $("totp-start").focus();
    },
    (error) => {
      if (error instanceof ApiError && error.code === "factor_not_enrolled") {
        loadFactors().catch(commonFailure);
        return true;
      }
      return false;
    },
  );
}

// --- recovery codes ---------------------------------------------------------------------------

/** A set just issued: shown until the customer says it is saved, and never again. */
function showCodes(codes) {
  state.codes = codes;
  renderCodes();
  $("codes-box-heading").focus();
}

function newCodes() {
  change(
    "codes",
    async () => {
      const created = await withReauth(() => call("POST", "/factors/recovery-codes"));
      if (!created) return;
      await loadFactors();
      showStatus("codes.replaced", {}, "codes");
      showCodes(created.recovery_codes);
    },
    (error) => {
      if (error instanceof ApiError && error.code === "strong_factor_required") {
        showError("err.strong_factor_required", {}, "codes");
        return true;
      }
      return false;
    },
  );
}

function codesText() {
  const login = state.account ? state.account.login : "";
  const lines = [t("codes.file_title", { login }), t("codes.file_note"), "", ...state.codes];
  return `${lines.join("\n")}\n`;
}

async function copyCodes() {
  try {
    await navigator.clipboard.writeText(state.codes.join("\n"));
    showStatus("codes.copied", {}, "codes");
  } catch {
    // Clipboard refused (permissions, insecure context): select them for a manual copy.
    const range = document.createRange();
    range.selectNodeContents($("codes-list"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    showStatus("code.copy_failed", {}, "codes");
  }
}

function downloadCodes() {
  const blob = new Blob([codesText()], { type: "text/plain;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `recovery-codes-${state.account ? state.account.login : "authsvc"}.txt`;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its own copy; the URL is not needed after this turn.
  window.setTimeout(() => URL.revokeObjectURL(url), 0);
  showStatus("codes.downloaded", {}, "codes");
}

function printCodes() {
  // The print stylesheet shows only the codes while this class is on the body.
  document.body.classList.add("print-codes");
  window.print();
}

function codesSaved() {
  state.codes = null;
  renderCodes();
  showStatus(null, {}, "codes");
  $("codes-heading").focus();
}

// --- the step asked first ---------------------------------------------------------------------

function savePreferred() {
  const chosen = document.querySelector('input[name="preferred"]:checked');
  if (!chosen) {
    showError("err.factor_not_enrolled", {}, "preferred");
    return;
  }
  const body = { factor: chosen.value };
  if (!$("codes-fallback").disabled) body.codes_fallback = $("codes-fallback").checked;
  change(
    "preferred",
    async () => {
      const factors = await withReauth(() => call("PUT", "/factors/preferred", { body }));
      if (!factors) return;
      state.factors = factors;
      render();
      showStatus("preferred.saved", {}, "preferred");
    },
    (error) => {
      if (!(error instanceof ApiError)) return false;
      if (error.code === "factor_not_enrolled") showError("err.factor_not_enrolled", {}, "preferred");
      else if (error.code === "factor_not_allowed")
        showError("err.preferred_not_allowed", {}, "preferred");
      else return false;
      return true;
    },
  );
}

// --- contacts (a change is confirmed with a code sent to the new address) -------------------

function stopContactTimer() {
  if (state.stops.contact) state.stops.contact();
  state.stops.contact = null;
}

function openContactForm(kind) {
  stopContactTimer();
  clearScope("contacts");
  state.contact = { kind };
  const input = $("contact-value");
  input.value = "";
  input.type = kind === "email" ? "email" : "tel";
  input.autocomplete = kind === "email" ? "email" : "tel";
  setText($("contact-label"), kind === "email" ? "contacts.new_email" : "contacts.new_phone");
  setText($("contact-hint"), kind === "email" ? "contacts.email_hint" : "contacts.phone_hint");
  $("contact-form").hidden = false;
  $("contact-confirm-form").hidden = true;
  input.focus();
}

function closeContactForms() {
  stopContactTimer();
  state.contact = null;
  $("contact-form").hidden = true;
  $("contact-confirm-form").hidden = true;
}

/** 422: the address or number is not one we accept (the phone rules: mobile, allowed country). */
function contactRefused(error) {
  if (!(error instanceof ApiError) || error.status !== 422) return false;
  showError(state.contact.kind === "email" ? "err.invalid_email" : "err.invalid_phone", {}, "contacts");
  $("contact-value").focus();
  return true;
}

function requestContactChange() {
  const { kind } = state.contact;
  const value = $("contact-value").value.trim();
  if (!value) {
    showError(kind === "email" ? "err.invalid_email" : "err.invalid_phone", {}, "contacts");
    $("contact-value").focus();
    return;
  }
  const body = kind === "email" ? { email: value } : { phone: value };
  change(
    "contacts",
    async () => {
      const started = await withReauth(() => call("POST", `/account/${kind}`, { body }));
      if (!started) return;
      state.contact = { kind, value, ...started };
      $("contact-form").hidden = true;
      $("contact-confirm-form").hidden = false;
      setText($("contact-sent"), `contacts.sent.${kind}`, { destination: value });
      $("contact-code").value = "";
      stopContactTimer();
      state.stops.contact = countdown(
        new Date(started.expires_at),
        (left) => setText($("contact-expiry"), "verify.expires_in", { time: formatDuration(left) }),
        () => {
          closeContactForms();
          showError("err.contact_change_expired", {}, "contacts");
        },
      );
      $("contact-code").focus();
    },
    contactRefused,
  );
}

function confirmContactChange() {
  const code = digitsOnly($("contact-code").value);
  if (code.length !== 6) {
    showError("verify.need_six", {}, "contacts");
    $("contact-code").focus();
    return;
  }
  const { kind, change_id: changeId } = state.contact;
  change(
    "contacts",
    async () => {
      const done = await withReauth(async () => {
        await call("POST", `/account/${kind}/confirm`, { body: { change_id: changeId, code } });
        return true;
      });
      if (!done) return;
      closeContactForms();
      await loadFactors();
      showStatus(`contacts.changed.${kind}`, {}, "contacts");
      $(kind === "email" ? "change-email" : "change-phone").focus();
    },
    (error) => {
      if (!(error instanceof ApiError)) return false;
      if (error.code === "invalid_code") {
        const left = error.problem.attempts_left;
        if (left === 0) {
          closeContactForms();
          showError("err.contact_change_exhausted", {}, "contacts");
        } else {
          showError("err.invalid_code", { n: left ?? "?" }, "contacts");
          $("contact-code").select();
          $("contact-code").focus();
        }
      } else if (error.status === 404 || error.status === 410) {
        closeContactForms();
        showError("err.contact_change_expired", {}, "contacts");
      } else {
        return false;
      }
      return true;
    },
  );
}

// --- wiring -------------------------------------------------------------------------------------

async function logout() {
  try {
    await call("POST", "/logout");
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "not_authenticated") {
      commonFailure(error);
      return;
    }
  }
  toLogin("logout");
}

function onSubmit(id, handler) {
  $(id).addEventListener("submit", (event) => {
    event.preventDefault();
    handler();
  });
}

function onDigits(id) {
  $(id).addEventListener("input", () => {
    const digits = digitsOnly($(id).value);
    if ($(id).value !== digits) $(id).value = digits;
  });
}

async function init() {
  initI18n();
  onLanguageChange(() => {
    if (state.account) setText($("who"), "session.signed_in_as", { login: state.account.login });
    if (state.enrollment) $("totp-qr").alt = t("totp.qr_alt");
    render();
  });
  $("logout").addEventListener("click", logout);
  onSubmit("reauth-form", submitReauth);
  $("reauth-cancel").addEventListener("click", () => closeReauth(false));
  $("reauth-passkey").addEventListener("click", reauthWithPasskey);
  $("passkey-add").addEventListener("click", openAddPasskey);
  onSubmit("passkey-add-form", addPasskey);
  $("passkey-add-cancel").addEventListener("click", closeAddPasskey);
  onSubmit("passkey-rename-form", renamePasskey);
  $("passkey-rename-cancel").addEventListener("click", () => $("passkey-rename-dialog").close());
  onSubmit("passkey-remove-form", removePasskey);
  $("passkey-remove-cancel").addEventListener("click", () => $("passkey-remove-dialog").close());
  // Escape closes a modal dialog: that is a cancel too.
  $("reauth-dialog").addEventListener("close", () => closeReauth(false));
  $("totp-start").addEventListener("click", startEnrollment);
  onSubmit("enroll-form", confirmEnrollment);
  onDigits("enroll-code");
  $("enroll-cancel").addEventListener("click", () => endEnrollment(null));
  $("totp-remove").addEventListener("click", removeApp);
  $("codes-new").addEventListener("click", newCodes);
  $("codes-copy").addEventListener("click", copyCodes);
  $("codes-download").addEventListener("click", downloadCodes);
  $("codes-print").addEventListener("click", printCodes);
  $("codes-done").addEventListener("click", codesSaved);
  window.addEventListener("afterprint", () => document.body.classList.remove("print-codes"));
  onSubmit("preferred-form", savePreferred);
  $("change-email").addEventListener("click", () => openContactForm("email"));
  $("change-phone").addEventListener("click", () => openContactForm("phone"));
  onSubmit("contact-form", requestContactChange);
  onSubmit("contact-confirm-form", confirmContactChange);
  onDigits("contact-code");
  $("contact-cancel").addEventListener("click", closeContactForms);
  $("contact-confirm-cancel").addEventListener("click", closeContactForms);
  try {
    const me = await call("GET", "/session");
    state.account = me.account;
    setText($("who"), "session.signed_in_as", { login: me.account.login });
    await loadFactors();
  } catch (error) {
    commonFailure(error);
  }
  clearText($("status"));
}

init();
