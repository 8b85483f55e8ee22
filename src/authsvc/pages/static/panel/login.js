// Sign-in: login and password, then the second step the account asks for (a code sent by
// e-mail or SMS, the authenticator app, a passkey, or a recovery code); a passkey alone
// (the button, or the browser's autofill on the login field); and the password reset
// ("Forgot your password?"): login, then the code with the new password.

import { ApiError, call } from "../assets/api.js";
import { clearText, initI18n, onLanguageChange, setText } from "../assets/i18n.js";
import {
  clearMessages,
  countdown,
  digitsOnly,
  formatDuration,
  showError,
  showStatus,
  weakPasswordReason,
} from "../assets/ui.js";
import { autofillAvailable, getPasskey, passkeyDeclined, passkeysSupported } from "../assets/webauthn.js";

const $ = (id) => document.getElementById(id);
const VIEWS = [
  "login-view",
  "verify-view",
  "app-view",
  "recovery-view",
  "passkey-view",
  "reset-view",
  "reset-code-view",
];
const ACCOUNT_PAGE = "./code.html";
const POLL_MS = 1000;
// Overload is brief by design (the service sheds load); give up retrying after this many.
const MAX_AUTO_RETRIES = 5;

const state = {
  // {challenge_id, factor, factors, channel, destination, expires_at, resend_after, sms_unavailable?}
  challenge: null,
  attemptsLeft: null,
  delivery: "queued",
  otherChannelUnavailable: false,
  resendBlocked: false, // the resend cap was reached
  stops: [], // countdowns of the code window
  loginWaitStop: null,
  pollTimer: null,
  autoRetries: 0,
  busy: false,
  // The pending conditional-mediation request: {controller, done} (done settles after abort).
  autofill: null,
};

/** Show one of the page's views and hide the others. */
function showView(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
}

// --- step 1: login and password ---------------------------------------------------------

function setLoginBusy(busy) {
  state.busy = busy;
  $("login-submit").disabled = busy || state.loginWaitStop !== null;
}

function waitBeforeLogin(seconds, { autoRetry }) {
  stopLoginWait();
  const wait = $("login-wait");
  wait.hidden = false;
  state.loginWaitStop = countdown(
    Date.now() + seconds * 1000,
    (left) => setText(wait, autoRetry ? "common.retrying" : "common.wait", { time: formatDuration(left) }),
    () => {
      stopLoginWait();
      if (autoRetry) submitLogin();
    },
  );
  $("login-submit").disabled = true;
}

function stopLoginWait() {
  if (state.loginWaitStop) state.loginWaitStop();
  state.loginWaitStop = null;
  const wait = $("login-wait");
  wait.hidden = true;
  clearText(wait);
  $("login-submit").disabled = state.busy;
}

async function submitLogin() {
  if (state.busy || state.loginWaitStop) return;
  const login = $("login").value.trim();
  const password = $("password").value;
  if (!login || !password) {
    showError("login.missing");
    (login ? $("password") : $("login")).focus();
    return;
  }
  showError(null);
  showStatus("login.checking");
  setLoginBusy(true);
  // The password was chosen over the autofill's passkeys: that request is not needed now.
  await stopAutofill();
  try {
    const challenge = await call("POST", "/login", { body: { login, password } });
    state.autoRetries = 0;
    $("password").value = "";
    openSecondStep(challenge);
  } catch (error) {
    showStatus(null);
    loginFailed(error);
  } finally {
    setLoginBusy(false);
  }
  if (!$("login-view").hidden) startAutofill();
}

function loginFailed(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.status === 401) {
    showError("err.invalid_credentials");
    $("password").value = "";
    $("password").focus();
  } else if (error.code === "password_reset_required") {
    // After "this wasn't me": the right password, but a new one must be set first.
    $("password").value = "";
    openReset("err.password_reset_required", $("login").value.trim());
  } else if (error.status === 429) {
    showError("err.too_many_attempts");
    waitBeforeLogin(error.retryAfter ?? 60, { autoRetry: false });
  } else if (error.status === 503 && state.autoRetries < MAX_AUTO_RETRIES) {
    state.autoRetries += 1;
    showError(error.code === "overloaded" ? "err.overloaded" : "err.database_unavailable");
    waitBeforeLogin(error.retryAfter ?? 2, { autoRetry: true });
  } else {
    state.autoRetries = 0;
    reportOther(error);
  }
}

function reportOther(error) {
  if (error.status === 0) showError("err.network");
  else if (error.code === "csrf_rejected") showError("err.csrf_rejected");
  else showError("err.generic", { status: error.status });
}

// --- step 2: the second step the challenge asks for ---------------------------------------

/** What `/login` (or a resend) asked for: the app and recovery codes send nothing. */
function openSecondStep(challenge) {
  if (challenge.factor === "totp") openAppStep(challenge);
  else if (challenge.factor === "passkey") openPasskeyStep(challenge);
  else if (challenge.factor === "recovery_code") openRecoveryStep(challenge);
  else openCodeWindow(challenge);
}

function accepts(factor) {
  return Boolean(state.challenge && (state.challenge.factors || []).includes(factor));
}

/** The links to the other second steps this challenge accepts. */
function renderOtherSteps() {
  // The passkey needs its options in the challenge (and a browser that can use them).
  const passkey = accepts("passkey") && Boolean(state.challenge.passkey_options) && passkeysSupported();
  for (const view of ["code", "app", "recovery"]) $(`${view}-use-passkey`).hidden = !passkey;
  $("code-use-app").hidden = !accepts("totp");
  $("code-use-recovery").hidden = !accepts("recovery_code");
  $("app-use-recovery").hidden = !accepts("recovery_code");
  $("recovery-use-app").hidden = !accepts("totp");
  $("passkey-use-app").hidden = !accepts("totp");
  $("passkey-use-recovery").hidden = !accepts("recovery_code");
  // Codes by e-mail or SMS are offered only when kept as a fallback.
  const channel = state.challenge.channel;
  for (const id of ["app-use-code", "passkey-use-code"]) {
    const codeButton = $(id);
    codeButton.hidden = !(channel && accepts(channel));
    if (!codeButton.hidden) setText(codeButton, `verify.switch.${channel}`);
  }
}

/** The challenge's expiry, shown in `element` of a step that sends nothing. */
function startExpiry(elementId, key = "verify.expires_in") {
  stopTimers();
  state.stops.push(
    countdown(
      new Date(state.challenge.expires_at),
      (left) => setText($(elementId), key, { time: formatDuration(left) }),
      () => backToLogin("err.challenge_expired"),
    ),
  );
}

function openProofStep(challenge, view, field) {
  stopPolling();
  state.challenge = challenge;
  showView(view);
  $(field).value = "";
  renderOtherSteps();
  renderAttempts();
  showStatus(null);
  $(field).focus();
}

function openAppStep(challenge) {
  openProofStep(challenge, "app-view", "app-code");
  startExpiry("app-expiry");
  if (!$("app-use-code").hidden) waitBeforeCodeInstead(new Date(challenge.resend_after));
}

/** The passkey step: the browser asks for the passkey once the customer presses the button. */
function openPasskeyStep(challenge) {
  stopPolling();
  state.challenge = challenge;
  showView("passkey-view");
  renderOtherSteps();
  renderAttempts();
  showStatus(null);
  $("passkey-use").disabled = !passkeysSupported();
  if (!passkeysSupported()) showError("passkey.unsupported");
  startExpiry("passkey-expiry", "passkey.expires_in");
  if (!$("passkey-use-code").hidden) {
    waitBeforeCodeInstead(new Date(challenge.resend_after), "passkey");
  }
  (passkeysSupported() ? $("passkey-use") : $("passkey-back")).focus();
}

/** A code instead of the app or passkey obeys the resend cooldown: the button waits it out. */
function waitBeforeCodeInstead(until, view = "app") {
  const button = $(`${view}-use-code`);
  const wait = $(`${view}-code-wait`);
  button.disabled = true;
  state.stops.push(
    countdown(
      until,
      (left) => {
        wait.hidden = left <= 0;
        if (left > 0) setText(wait, "verify.resend_wait", { time: formatDuration(left) });
      },
      () => {
        clearText(wait);
        wait.hidden = true;
        button.disabled = false;
      },
    ),
  );
}

function openRecoveryStep(challenge) {
  openProofStep(challenge, "recovery-view", "recovery-code");
  startExpiry("recovery-expiry");
}

/** Leave the app or the recovery code for another step; attempts already made still count. */
function switchStep(open) {
  showError(null);
  open(state.challenge);
}

/** Submit the app's code or a recovery code; a wrong one counts as an attempt. */
async function submitProof(kind) {
  if (state.busy) return;
  const app = kind === "app";
  const field = $(app ? "app-code" : "recovery-code");
  const typed = app ? digitsOnly(field.value) : field.value.trim();
  if (app && typed.length !== 6) {
    showError("verify.need_six");
    field.focus();
    return;
  }
  if (!app && !typed) {
    showError("recovery.missing");
    field.focus();
    return;
  }
  const submit = $(app ? "app-submit" : "recovery-submit");
  state.busy = true;
  submit.disabled = true;
  showError(null);
  showStatus("verify.checking");
  const body = { challenge_id: state.challenge.challenge_id };
  body[app ? "code" : "recovery_code"] = typed;
  try {
    await call("POST", "/login/verify", { body });
    stopTimers();
    window.location.assign(ACCOUNT_PAGE);
  } catch (error) {
    showStatus(null);
    proofFailed(error, field, app ? "err.invalid_app_code" : "err.invalid_recovery_code");
  } finally {
    state.busy = false;
    submit.disabled = false;
  }
}

function proofFailed(error, field, invalidKey) {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "invalid_code") {
    state.attemptsLeft = error.problem.attempts_left ?? null;
    renderAttempts();
    if (state.attemptsLeft === 0) {
      backToLogin("err.challenge_exhausted");
      return;
    }
    showError(invalidKey, { n: state.attemptsLeft ?? "?" });
    field.select();
    field.focus();
  } else if (error.code === "factor_not_allowed") {
    showError("err.factor_not_allowed");
  } else if (!leaveEndedChallenge(error)) {
    reportOther(error);
  }
}

/** The passkey step: the browser's request with the challenge's options, then /login/verify. */
async function submitPasskeyProof() {
  if (state.busy || !state.challenge) return;
  const button = $("passkey-use");
  state.busy = true;
  button.disabled = true;
  showError(null);
  showStatus("passkey.waiting");
  const challengeId = state.challenge.challenge_id;
  await stopAutofill();
  try {
    const passkey = await getPasskey(state.challenge.passkey_options);
    showStatus("passkey.checking");
    await call("POST", "/login/verify", { body: { challenge_id: challengeId, passkey } });
    stopTimers();
    window.location.assign(ACCOUNT_PAGE);
  } catch (error) {
    showStatus(null);
    if (passkeyDeclined(error)) showError("passkey.declined");
    else if (error instanceof ApiError && error.code === "invalid_code") {
      state.attemptsLeft = error.problem.attempts_left ?? null;
      renderAttempts();
      if (state.attemptsLeft === 0) backToLogin("err.challenge_exhausted");
      else showError("err.invalid_passkey_step", { n: state.attemptsLeft ?? "?" });
    } else if (error instanceof ApiError) {
      if (error.code === "factor_not_allowed") showError("err.factor_not_allowed");
      else if (!leaveEndedChallenge(error)) reportOther(error);
    } else {
      showError("passkey.failed");
    }
  } finally {
    state.busy = false;
    button.disabled = false;
    if (!$("passkey-view").hidden) button.focus();
  }
}

/** The app or passkey is not at hand: a code by e-mail or SMS, when kept as a fallback. */
async function sendCodeInstead() {
  if (state.busy) return;
  state.busy = true;
  showError(null);
  const { challenge_id: challengeId, channel } = state.challenge;
  try {
    const challenge = await call("POST", "/login/resend", {
      body: { challenge_id: challengeId, channel },
    });
    stopTimers();
    openCodeWindow(challenge);
    showStatus("verify.resent_instead");
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const view = $("app-view").hidden ? "passkey" : "app";
    if (error.code === "factor_not_allowed") {
      $(`${view}-use-code`).hidden = true;
      showError("err.factor_not_allowed");
      if (view === "app") $("app-code").focus();
    } else if (error.code === "resend_too_soon") {
      showError("err.resend_too_soon");
      waitBeforeCodeInstead(Date.now() + (error.retryAfter ?? 5) * 1000, view);
    } else if (error.code === "resend_limit_reached") {
      $(`${view}-use-code`).hidden = true;
      showError("err.resend_limit_reached");
    } else if (!leaveEndedChallenge(error)) {
      reportOther(error);
    }
  } finally {
    state.busy = false;
  }
}

// --- the code window (e-mail or SMS) ---------------------------------------------------------

function otherChannel() {
  return state.challenge.channel === "email" ? "sms" : "email";
}

function openCodeWindow(challenge) {
  showView("verify-view");
  $("code").value = "";
  state.attemptsLeft = null;
  state.resendBlocked = false;
  state.otherChannelUnavailable = false;
  applyChallenge(challenge);
  renderOtherSteps();
  showStatus(null);
  $("code").focus();
}

/** Show a fresh challenge (after the login or a resend) and follow its delivery. */
function applyChallenge(challenge) {
  state.challenge = challenge;
  // The code meant for SMS went by e-mail (an SMS budget of the hour is spent, or the
  // number is no longer accepted): asking for SMS again would only do the same.
  if (challenge.sms_unavailable) state.otherChannelUnavailable = true;
  state.delivery = "queued";
  renderChallenge();
  startTimers();
  startPolling();
}

function renderChallenge() {
  const { channel, destination } = state.challenge;
  setText($("sent-to"), `verify.sent.${channel}`, { destination });
  setText($("switch-channel"), `verify.switch.${otherChannel()}`);
  $("switch-channel").hidden = state.otherChannelUnavailable;
  renderSmsNote();
  renderDelivery();
  renderAttempts();
}

/** Why the code came by e-mail when the account's codes go by SMS, or nothing. */
function renderSmsNote() {
  const note = $("sms-note");
  const reason = state.challenge.sms_unavailable;
  if (reason === "number_not_accepted") setText(note, "verify.sms_unavailable.number_not_accepted");
  else if (reason) setText(note, "verify.sms_unavailable.limited");
  else clearText(note);
  note.hidden = !reason;
}

function renderDelivery() {
  const element = $("delivery");
  element.dataset.state = state.delivery;
  const key =
    state.delivery === "failed"
      ? `verify.delivery.failed.${state.challenge.channel}`
      : `verify.delivery.${state.delivery}`;
  setText(element, key);
}

function renderAttempts() {
  // The challenge's attempts are shared by every step; each view shows the count.
  for (const id of ["attempts-left", "app-attempts-left", "recovery-attempts-left", "passkey-attempts-left"]) {
    const element = $(id);
    if (state.attemptsLeft === null) clearText(element);
    else setText(element, "verify.attempts_left", { n: state.attemptsLeft });
  }
}

function stopTimers() {
  for (const stop of state.stops) stop();
  state.stops = [];
}

function startTimers() {
  stopTimers();
  const { expires_at: expiresAt, resend_after: resendAfter } = state.challenge;
  state.stops.push(
    countdown(
      new Date(expiresAt),
      (left) => setText($("code-expiry"), "verify.expires_in", { time: formatDuration(left) }),
      () => backToLogin("err.challenge_expired"),
    ),
  );
  const wait = $("resend-wait");
  setResendEnabled(false);
  state.stops.push(
    countdown(
      new Date(resendAfter),
      (left) => {
        wait.hidden = left <= 0;
        if (left > 0) setText(wait, "verify.resend_wait", { time: formatDuration(left) });
      },
      () => {
        clearText(wait);
        wait.hidden = true;
        setResendEnabled(true);
      },
    ),
  );
}

function setResendEnabled(enabled) {
  $("resend").disabled = !enabled || state.resendBlocked;
  $("switch-channel").disabled = !enabled || state.resendBlocked;
}

function stopPolling() {
  if (state.pollTimer !== null) window.clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function startPolling() {
  stopPolling();
  const challengeId = state.challenge.challenge_id;
  const poll = async () => {
    state.pollTimer = null;
    let status;
    try {
      status = await call("GET", `/login/challenges/${encodeURIComponent(challengeId)}`);
    } catch (error) {
      if (state.challenge?.challenge_id !== challengeId) return;
      if (error instanceof ApiError && error.status === 404) {
        backToLogin("err.challenge_expired");
        return;
      }
      state.pollTimer = window.setTimeout(poll, POLL_MS * 3); // a hiccup: keep following
      return;
    }
    if (state.challenge?.challenge_id !== challengeId || $("verify-view").hidden) return;
    const before = state.delivery;
    state.delivery = status.delivery;
    // Attempts are shown once a wrong code was typed; the server's count is the truth.
    if (state.attemptsLeft !== null) state.attemptsLeft = status.attempts_left;
    renderDelivery();
    renderAttempts();
    if (status.delivery === "failed" && before !== "failed" && !state.otherChannelUnavailable) {
      showError(`verify.failed_offer.${state.challenge.channel}`);
    }
    // Delivered: nothing more will change until a resend starts a new message.
    if (status.delivery !== "sent") state.pollTimer = window.setTimeout(poll, POLL_MS);
  };
  state.pollTimer = window.setTimeout(poll, 300);
}

async function submitCode() {
  if (state.busy) return;
  const code = digitsOnly($("code").value);
  if (code.length !== 6) {
    showError("verify.need_six");
    $("code").focus();
    return;
  }
  state.busy = true;
  $("verify-submit").disabled = true;
  showError(null);
  showStatus("verify.checking");
  try {
    await call("POST", "/login/verify", {
      body: { challenge_id: state.challenge.challenge_id, code },
    });
    stopTimers();
    stopPolling();
    window.location.assign(ACCOUNT_PAGE);
  } catch (error) {
    showStatus(null);
    codeFailed(error);
  } finally {
    state.busy = false;
    $("verify-submit").disabled = false;
  }
}

function codeFailed(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "invalid_code") {
    state.attemptsLeft = error.problem.attempts_left ?? null;
    renderAttempts();
    if (state.attemptsLeft === 0) {
      backToLogin("err.challenge_exhausted");
      return;
    }
    showError("err.invalid_code", { n: state.attemptsLeft ?? "?" });
    $("code").select();
    $("code").focus();
  } else if (error.code === "factor_not_allowed") {
    showError("err.factor_not_allowed");
  } else if (!leaveEndedChallenge(error)) {
    reportOther(error);
  }
}

// A challenge that is over (exhausted, expired, used or unknown) sends the customer back
// to the login form with the reason; true when it did.
function leaveEndedChallenge(error) {
  if (error.code === "challenge_exhausted") {
    backToLogin("err.challenge_exhausted");
  } else if (error.status === 410 || error.status === 404) {
    backToLogin("err.challenge_expired");
  } else {
    return false;
  }
  return true;
}

async function resend(channel) {
  if (state.busy) return;
  state.busy = true;
  setResendEnabled(false);
  showError(null);
  const body = { challenge_id: state.challenge.challenge_id };
  if (channel) body.channel = channel;
  try {
    const challenge = await call("POST", "/login/resend", { body });
    applyChallenge(challenge);
    $("code").value = "";
    showStatus("verify.resent");
    $("code").focus();
  } catch (error) {
    resendFailed(error);
  } finally {
    state.busy = false;
  }
}

function resendFailed(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "resend_too_soon") {
    showError("err.resend_too_soon");
    const wait = $("resend-wait");
    wait.hidden = false;
    state.stops.push(
      countdown(
        Date.now() + (error.retryAfter ?? 5) * 1000,
        (left) => setText(wait, "verify.resend_wait", { time: formatDuration(left) }),
        () => {
          wait.hidden = true;
          setResendEnabled(true);
        },
      ),
    );
  } else if (error.code === "resend_limit_reached") {
    state.resendBlocked = true;
    showError("err.resend_limit_reached");
  } else if (error.code === "factor_not_allowed") {
    state.resendBlocked = true;
    showError("err.factor_not_allowed");
  } else if (error.code === "channel_unavailable") {
    state.otherChannelUnavailable = true;
    $("switch-channel").hidden = true;
    showError("err.channel_unavailable");
    setResendEnabled(true);
    $("resend").focus();
  } else if (!leaveEndedChallenge(error)) {
    reportOther(error);
    setResendEnabled(true);
  }
}

function backToLogin(reasonKey) {
  stopTimers();
  stopPolling();
  state.challenge = null;
  stopResetTimers();
  showView("login-view");
  clearMessages();
  if (reasonKey) showError(reasonKey);
  $("password").value = "";
  ($("login").value ? $("password") : $("login")).focus();
  startAutofill();
}

// --- a passkey alone: the button, or the login field's autofill ------------------------------

/** Sign in with the flow's assertion; lands on the account page like any sign-in. */
async function finishPasskeySignIn(flowId, credential) {
  showStatus("passkey.checking");
  await call("POST", "/login/passkey", { body: { flow_id: flowId, credential } });
  window.location.assign(ACCOUNT_PAGE);
}

function passkeySignInFailed(error) {
  showStatus(null);
  if (passkeyDeclined(error)) {
    showError("passkey.declined");
  } else if (!(error instanceof ApiError)) {
    showError("passkey.failed");
  } else if (error.code === "invalid_passkey") {
    // An unknown (or removed) passkey, or one used without user verification.
    showError("err.passkey_not_accepted");
  } else if (error.code === "passkey_counter_regressed") {
    showError("err.passkey_counter_regressed");
  } else if (error.code === "passkey_challenge_expired") {
    showError("err.passkey_expired");
  } else if (error.code === "passkey_sign_in_disabled") {
    $("passkey-signin").hidden = true;
    showError("err.passkey_sign_in_disabled");
  } else if (error.code === "password_reset_required") {
    openReset("err.password_reset_required", "");
  } else if (error.status === 429) {
    showError("err.too_many_attempts");
  } else if (error.status === 503) {
    showError("err.unavailable");
  } else {
    reportOther(error);
  }
}

/** The button: a modal request for any of this site's passkeys, after the autofill's ends. */
async function passkeySignIn() {
  if (state.busy) return;
  state.busy = true;
  $("passkey-login").disabled = true;
  showError(null);
  showStatus("passkey.waiting");
  // One WebAuthn request at a time: the autofill's must be over before the modal one.
  await stopAutofill();
  let signedIn = false;
  try {
    const flow = await call("POST", "/login/passkey/options");
    const credential = await getPasskey(flow.options);
    await finishPasskeySignIn(flow.flow_id, credential);
    signedIn = true;
  } catch (error) {
    passkeySignInFailed(error);
  } finally {
    state.busy = false;
    $("passkey-login").disabled = false;
  }
  if (!signedIn && !$("login-view").hidden) startAutofill();
}

/**
 * Passkeys in the login field's autofill (conditional mediation): the request waits until
 * the customer picks one there, and is aborted when the password or the button is used.
 */
async function startAutofill() {
  if (state.autofill || !(await autofillAvailable())) return;
  // Checked after the wait: the customer may have moved on meanwhile.
  if (state.autofill || state.busy || $("login-view").hidden) return;
  const controller = new AbortController();
  let settle;
  const done = new Promise((resolve) => {
    settle = resolve;
  });
  state.autofill = { controller, done };
  let picked = false;
  let restart = false;
  try {
    const flow = await call("POST", "/login/passkey/options");
    if (controller.signal.aborted) return;
    const credential = await getPasskey(flow.options, {
      signal: controller.signal,
      mediation: "conditional",
    });
    picked = true;
    state.autofill = null;
    state.busy = true;
    showError(null);
    await finishPasskeySignIn(flow.flow_id, credential);
  } catch (error) {
    if (controller.signal.aborted || !(error instanceof ApiError)) {
      // Aborted by the page, or the browser's own refusal (no usable passkey here): silent.
      return;
    }
    // A flow that outlived its 5 minutes is replaced silently. A picked passkey that was
    // refused is said, and the autofill offered again (another passkey may work); a
    // refused request for options (throttled, turned off) is not retried in a loop.
    if (error.code === "passkey_challenge_expired") restart = true;
    else if (picked) {
      passkeySignInFailed(error);
      restart = true;
    } else if (error.code === "passkey_sign_in_disabled") {
      $("passkey-signin").hidden = true;
    }
  } finally {
    settle();
    if (state.autofill && state.autofill.controller === controller) state.autofill = null;
    if (picked) state.busy = false;
  }
  if (restart && !$("login-view").hidden) startAutofill();
}

/** Abort the autofill's pending request and wait until the browser has let it go. */
async function stopAutofill() {
  const pending = state.autofill;
  if (!pending) return;
  state.autofill = null;
  pending.controller.abort();
  await pending.done;
}

// --- password reset ("Forgot your password?") -------------------------------------------

const reset = {
  login: "",
  current: null, // {reset_id, expires_at, resend_after}
  attemptsLeft: null,
  resendBlocked: false, // the resend cap was reached
  stops: [], // countdowns of the code step
  waitStop: null, // a refused request's countdown
  busy: false,
};

/**
 * The first step: the login. `reasonKey` says why it opened when the customer did not ask
 * (a refused sign-in, a reset that is over); `login` fills the field.
 */
function openReset(reasonKey, login = reset.login) {
  stopResetTimers();
  reset.current = null;
  showView("reset-view");
  clearMessages();
  if (reasonKey) showError(reasonKey);
  $("reset-login").value = login;
  (login && !$("reset-submit").disabled ? $("reset-submit") : $("reset-login")).focus();
}

function stopResetWait() {
  if (reset.waitStop) reset.waitStop();
  reset.waitStop = null;
  const wait = $("reset-wait");
  wait.hidden = true;
  clearText(wait);
  $("reset-submit").disabled = reset.busy;
}

function waitBeforeReset(seconds) {
  stopResetWait();
  const wait = $("reset-wait");
  wait.hidden = false;
  $("reset-submit").disabled = true;
  reset.waitStop = countdown(
    Date.now() + seconds * 1000,
    (left) => setText(wait, "common.wait", { time: formatDuration(left) }),
    stopResetWait,
  );
}

async function requestReset() {
  if (reset.busy || reset.waitStop) return;
  const login = $("reset-login").value.trim();
  if (!login) {
    showError("reset.missing_login");
    $("reset-login").focus();
    return;
  }
  reset.busy = true;
  $("reset-submit").disabled = true;
  showError(null);
  showStatus("reset.sending");
  try {
    const opened = await call("POST", "/password/reset", { body: { login } });
    reset.login = login;
    openResetCode(opened);
  } catch (error) {
    showStatus(null);
    resetRequestFailed(error);
  } finally {
    reset.busy = false;
    if (!reset.waitStop) $("reset-submit").disabled = false;
  }
}

function resetRequestFailed(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.status === 429) {
    showError("err.reset_too_many");
    waitBeforeReset(error.retryAfter ?? 60);
  } else if (error.status === 503) {
    showError("err.unavailable");
    waitBeforeReset(error.retryAfter ?? 5);
  } else {
    reportOther(error);
  }
}

/** The second step: the code that was sent, and the new password. */
function openResetCode(opened) {
  reset.current = opened;
  reset.attemptsLeft = null;
  reset.resendBlocked = false;
  showView("reset-code-view");
  setText($("reset-sent"), "reset.sent", { login: reset.login });
  $("reset-code").value = "";
  $("reset-password").value = "";
  renderResetAttempts();
  startResetTimers();
  showStatus(null);
  $("reset-code").focus();
}

function renderResetAttempts() {
  const element = $("reset-attempts-left");
  if (reset.attemptsLeft === null) clearText(element);
  else setText(element, "verify.attempts_left", { n: reset.attemptsLeft });
}

function stopResetTimers() {
  for (const stop of reset.stops) stop();
  reset.stops = [];
}

function startResetTimers() {
  stopResetTimers();
  const { expires_at: expiresAt, resend_after: resendAfter } = reset.current;
  reset.stops.push(
    countdown(
      new Date(expiresAt),
      (left) =>
        setText($("reset-code-expiry"), "verify.expires_in", { time: formatDuration(left) }),
      () => openReset("err.reset_expired"),
    ),
  );
  waitBeforeResetResend(new Date(resendAfter));
}

function waitBeforeResetResend(until) {
  const wait = $("reset-resend-wait");
  $("reset-resend").disabled = true;
  reset.stops.push(
    countdown(
      until,
      (left) => {
        wait.hidden = left <= 0;
        if (left > 0) setText(wait, "verify.resend_wait", { time: formatDuration(left) });
      },
      () => {
        clearText(wait);
        wait.hidden = true;
        $("reset-resend").disabled = reset.resendBlocked;
      },
    ),
  );
}

async function confirmReset() {
  if (reset.busy || !reset.current) return;
  const code = digitsOnly($("reset-code").value);
  const newPassword = $("reset-password").value;
  if (code.length !== 6) {
    showError("verify.need_six");
    $("reset-code").focus();
    return;
  }
  if (!newPassword) {
    showError("reset.missing_password");
    $("reset-password").focus();
    return;
  }
  reset.busy = true;
  $("reset-confirm").disabled = true;
  showError(null);
  showStatus("reset.saving");
  try {
    await call("POST", "/password/reset/confirm", {
      body: { reset_id: reset.current.reset_id, code, new_password: newPassword },
    });
    finishReset();
  } catch (error) {
    showStatus(null);
    confirmFailed(error);
  } finally {
    reset.busy = false;
    $("reset-confirm").disabled = false;
  }
}

function confirmFailed(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "invalid_code") {
    reset.attemptsLeft = error.problem.attempts_left ?? null;
    renderResetAttempts();
    if (reset.attemptsLeft === 0) {
      openReset("err.reset_exhausted");
      return;
    }
    showError("err.invalid_code", { n: reset.attemptsLeft ?? "?" });
    $("reset-code").select();
    $("reset-code").focus();
  } else if (error.code === "weak_password") {
    // The code was right and still works; only the password needs another try.
    const [key, params] = weakPasswordReason(error.problem);
    showError(key, params);
    $("reset-password").select();
    $("reset-password").focus();
  } else if (!leaveEndedReset(error)) {
    if (error.status === 503) showError("err.unavailable");
    else reportOther(error);
  }
}

// A reset that is over (expired, used, exhausted or unknown) goes back to its first step
// with the reason; true when it did.
function leaveEndedReset(error) {
  if (error.code === "reset_not_found") {
    openReset("err.reset_not_found");
  } else if (error.code === "reset_expired") {
    const reason = error.problem.reason;
    if (reason === "used") openReset("err.reset_used");
    else if (reason === "exhausted") openReset("err.reset_exhausted");
    else openReset("err.reset_expired");
  } else {
    return false;
  }
  return true;
}

async function resendReset() {
  if (reset.busy || !reset.current) return;
  reset.busy = true;
  $("reset-resend").disabled = true;
  showError(null);
  try {
    const opened = await call("POST", "/password/reset/resend", {
      body: { reset_id: reset.current.reset_id },
    });
    reset.current = opened;
    startResetTimers();
    $("reset-code").value = "";
    showStatus("verify.resent");
    $("reset-code").focus();
  } catch (error) {
    resendResetFailed(error);
  } finally {
    reset.busy = false;
  }
}

function resendResetFailed(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "resend_too_soon") {
    showError("err.resend_too_soon");
    waitBeforeResetResend(Date.now() + (error.retryAfter ?? 5) * 1000);
  } else if (error.code === "resend_limit_reached") {
    reset.resendBlocked = true;
    showError("err.reset_resend_limit");
  } else if (!leaveEndedReset(error)) {
    if (error.status === 503) showError("err.unavailable");
    else reportOther(error);
    $("reset-resend").disabled = false;
  }
}

/** The new password is set; it signs nobody in, so back to the sign-in form with it. */
function finishReset() {
  stopResetTimers();
  reset.current = null;
  $("reset-code").value = "";
  $("reset-password").value = "";
  showView("login-view");
  clearMessages();
  showStatus("reset.done");
  $("login").value = reset.login;
  $("password").value = "";
  $("password").focus();
  startAutofill();
}

function leaveReset() {
  const typed = $("reset-login").value.trim();
  if (typed && !$("login").value) $("login").value = typed;
  backToLogin(null);
}

// --- wiring -----------------------------------------------------------------------------

function reasonFromUrl() {
  const reason = new URLSearchParams(window.location.search).get("reason");
  if (reason === "logout") showStatus("login.logged_out");
  else if (reason === "session") showError("err.session");
}

async function redirectIfSignedIn() {
  try {
    await call("GET", "/session");
    window.location.replace(ACCOUNT_PAGE);
    return true;
  } catch {
    // not signed in (401) or unreachable: the form is what the customer needs
    return false;
  }
}

function init() {
  initI18n();
  onLanguageChange(() => {
    if (state.challenge) renderChallenge();
  });
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.autoRetries = 0;
    submitLogin();
  });
  $("verify-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitCode();
  });
  // Pasted "123 456" or "123-456" becomes the six digits.
  $("code").addEventListener("input", () => {
    const digits = digitsOnly($("code").value);
    if ($("code").value !== digits) $("code").value = digits;
  });
  $("app-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitProof("app");
  });
  $("recovery-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitProof("recovery");
  });
  $("app-code").addEventListener("input", () => {
    const digits = digitsOnly($("app-code").value);
    if ($("app-code").value !== digits) $("app-code").value = digits;
  });
  for (const id of ["code-use-recovery", "app-use-recovery"]) {
    $(id).addEventListener("click", () => switchStep(openRecoveryStep));
  }
  for (const id of ["code-use-app", "recovery-use-app"]) {
    $(id).addEventListener("click", () => switchStep(openAppStep));
  }
  $("app-use-code").addEventListener("click", sendCodeInstead);
  $("passkey-use-code").addEventListener("click", sendCodeInstead);
  $("passkey-use").addEventListener("click", submitPasskeyProof);
  for (const id of ["code-use-passkey", "app-use-passkey", "recovery-use-passkey"]) {
    $(id).addEventListener("click", () => switchStep(openPasskeyStep));
  }
  $("passkey-use-app").addEventListener("click", () => switchStep(openAppStep));
  $("passkey-use-recovery").addEventListener("click", () => switchStep(openRecoveryStep));
  $("passkey-back").addEventListener("click", () => backToLogin(null));
  if (passkeysSupported()) {
    $("passkey-signin").hidden = false;
    $("passkey-login").addEventListener("click", passkeySignIn);
  }
  $("app-back").addEventListener("click", () => backToLogin(null));
  $("recovery-back").addEventListener("click", () => backToLogin(null));
  $("resend").addEventListener("click", () => resend(null));
  $("switch-channel").addEventListener("click", () => resend(otherChannel()));
  $("back").addEventListener("click", () => backToLogin(null));
  $("forgot").addEventListener("click", () => {
    stopAutofill();
    openReset(null, $("login").value.trim());
  });
  $("reset-form").addEventListener("submit", (event) => {
    event.preventDefault();
    requestReset();
  });
  $("reset-code-form").addEventListener("submit", (event) => {
    event.preventDefault();
    confirmReset();
  });
  $("reset-code").addEventListener("input", () => {
    const digits = digitsOnly($("reset-code").value);
    if ($("reset-code").value !== digits) $("reset-code").value = digits;
  });
  $("reset-resend").addEventListener("click", resendReset);
  $("reset-back").addEventListener("click", leaveReset);
  $("reset-code-back").addEventListener("click", leaveReset);
  reasonFromUrl();
  redirectIfSignedIn().then((signedIn) => {
    if (!signedIn) startAutofill();
  });
}

init();
