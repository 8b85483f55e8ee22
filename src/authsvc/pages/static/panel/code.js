// Your details → Authorization code: generate, show, revoke; the history of support checks;
// who is signed in and Log out; the account's sessions; changing the password.

import { ApiError, call } from "../assets/api.js";
import { clearText, initI18n, onLanguageChange, setText, t } from "../assets/i18n.js";
import {
  countdown,
  formatDateTime,
  formatDuration,
  formatTime,
  groupCode,
  showError,
  showStatus,
  weakPasswordReason,
} from "../assets/ui.js";

const $ = (id) => document.getElementById(id);
const LOGIN_PAGE = "./";

const state = {
  account: null,
  session: null,
  shown: null, // {code, expires_at} right after generation; gone after a reload
  current: null, // GET /auth-codes/current
  history: [],
  sessions: [],
  stopExpiry: null,
  stopPasswordWait: null,
  sessionsBusy: false,
  passwordBusy: false,
  stopWait: null,
  busy: false,
};

function toLogin(reason) {
  window.location.replace(`${LOGIN_PAGE}?reason=${reason}`);
}

/** Errors every call on this page may meet, shown in `scope`'s alert region; true when handled. */
function commonFailure(error, scope = "") {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "not_authenticated") {
    toLogin("session");
    return true;
  }
  if (error.status === 0) showError("err.network", {}, scope);
  else if (error.code === "csrf_rejected") showError("err.csrf_rejected", {}, scope);
  else if (error.status === 503) showError("err.unavailable", {}, scope);
  else showError("err.generic", { status: error.status }, scope);
  return true;
}

// --- the code ---------------------------------------------------------------------------

function renderCode() {
  if (state.stopExpiry) state.stopExpiry();
  state.stopExpiry = null;
  const shown = state.shown;
  const current = state.current;
  $("code-shown").hidden = !shown;
  $("revoke").hidden = !(shown || (current && current.active));
  const stateText = $("code-state");
  if (shown) {
    $("code-value").textContent = groupCode(shown.code);
    const until = formatTime(shown.expires_at);
    state.stopExpiry = countdown(
      new Date(shown.expires_at),
      (left) => setText($("code-expiry"), "code.valid_for", { time: formatDuration(left), until }),
      () => {
        state.shown = null;
        state.current = { active: false };
        renderCode();
        setText($("code-state"), "code.expired");
      },
    );
    clearText(stateText);
  } else if (current && current.active) {
    const params = { until: formatTime(current.expires_at) };
    setText(stateText, "code.active_until", params);
  } else {
    setText(stateText, "code.none");
  }
}

async function loadCurrent() {
  state.current = await call("GET", "/auth-codes/current");
  renderCode();
}

function waitBeforeGenerating(seconds) {
  if (state.stopWait) state.stopWait();
  const wait = $("generate-wait");
  wait.hidden = false;
  $("generate").disabled = true;
  state.stopWait = countdown(
    Date.now() + seconds * 1000,
    (left) => setText(wait, "common.wait", { time: formatDuration(left) }),
    () => {
      state.stopWait = null;
      wait.hidden = true;
      clearText(wait);
      $("generate").disabled = false;
    },
  );
}

async function generate() {
  if (state.busy || state.stopWait) return;
  const password = $("password").value;
  if (!password) {
    showError("err.wrong_password");
    $("password").focus();
    return;
  }
  state.busy = true;
  $("generate").disabled = true;
  showError(null);
  showStatus("code.generating");
  try {
    const created = await call("POST", "/auth-codes", { body: { password } });
    state.shown = { code: created.code, expires_at: created.expires_at };
    state.current = { active: true, created_at: created.created_at, expires_at: created.expires_at };
    showStatus(null);
    renderCode();
    $("copy").focus();
  } catch (error) {
    showStatus(null);
    if (error instanceof ApiError && error.code === "invalid_credentials") {
      showError("err.wrong_password");
      $("password").focus();
    } else if (error instanceof ApiError && (error.status === 429 || error.status === 503)) {
      showError(error.status === 429 ? "err.code_limit" : "err.overloaded");
      waitBeforeGenerating(error.retryAfter ?? 30);
    } else {
      commonFailure(error);
    }
  } finally {
    // The password was needed once; do not leave it in the form.
    $("password").value = "";
    state.busy = false;
    if (!state.stopWait) $("generate").disabled = false;
  }
}

async function revoke() {
  showError(null);
  try {
    await call("DELETE", "/auth-codes/current");
    state.shown = null;
    state.current = { active: false };
    renderCode();
    showStatus("code.revoked");
    $("password").focus();
  } catch (error) {
    commonFailure(error);
  }
}

async function copyCode() {
  const code = state.shown ? state.shown.code : "";
  try {
    await navigator.clipboard.writeText(code);
    showStatus("code.copied");
  } catch {
    // Clipboard refused (permissions, insecure context): select it for a manual copy.
    const range = document.createRange();
    range.selectNodeContents($("code-value"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    showStatus("code.copy_failed");
  }
}

// --- history and session ----------------------------------------------------------------

function resultText(result) {
  const key = `result.${result}`;
  const text = t(key);
  return text === key ? result : text;
}

function renderHistory() {
  const rows = $("history-rows");
  rows.replaceChildren();
  for (const entry of state.history) {
    const row = document.createElement("tr");
    row.dataset.result = entry.result;
    const cells = [
      ["history.when", formatDateTime(entry.verified_at)],
      ["history.tool", entry.support_client],
      ["history.purpose", entry.purpose || t("history.no_purpose")],
      ["history.result", resultText(entry.result)],
    ];
    for (const [labelKey, text] of cells) {
      const cell = document.createElement("td");
      cell.dataset.label = t(labelKey); // shown as a caption on narrow screens
      cell.textContent = text;
      row.append(cell);
    }
    rows.append(row);
  }
  $("history").hidden = state.history.length === 0;
  $("history-empty").hidden = state.history.length !== 0;
}

async function loadHistory() {
  state.history = await call("GET", "/auth-codes/history?limit=20");
  renderHistory();
}

function renderSession() {
  if (!state.account) return;
  setText($("who"), "session.signed_in_as", { login: state.account.login });
  $("session-login").textContent = state.account.login;
  $("session-email").textContent = state.account.email;
  $("session-expires").textContent = formatDateTime(state.session.expires_at);
}

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

// --- sessions -----------------------------------------------------------------------------

/** The API names devices in English ("Firefox 120 on Windows"): say it in the page's language. */
function deviceText(device) {
  if (!device || device === "Unknown device") return t("sessions.unknown_device");
  const match = device.match(/^(.+) on (.+)$/);
  const browser = (found) =>
    found.startsWith("Unknown browser") ? t("sessions.unknown_browser") : found;
  if (!match) return browser(device);
  return t("sessions.device", { browser: browser(match[1]), system: match[2] });
}

function renderSessions() {
  const list = $("sessions");
  list.replaceChildren();
  for (const entry of state.sessions) {
    const item = document.createElement("li");
    item.className = "session";
    item.dataset.current = String(entry.current);
    const about = document.createElement("div");
    const device = document.createElement("p");
    device.className = "session-device";
    device.id = `session-${entry.id}`;
    const name = document.createElement("strong");
    name.textContent = deviceText(entry.device);
    device.append(name);
    if (entry.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = t("sessions.this_device");
      device.append(" ", badge);
    }
    const facts = document.createElement("p");
    facts.className = "hint";
    facts.textContent = t("sessions.facts", {
      ip: entry.ip,
      last_used: formatDateTime(entry.last_used_at),
      created: formatDateTime(entry.created_at),
    });
    about.append(device, facts);
    item.append(about);
    if (!entry.current) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "danger small";
      button.textContent = t("sessions.sign_out");
      // Which session: the device line, read after the button's own name.
      button.setAttribute("aria-describedby", device.id);
      button.addEventListener("click", () => endSession(entry));
      item.append(button);
    }
    list.append(item);
  }
  const others = state.sessions.some((entry) => !entry.current);
  $("sessions-end-others").hidden = !others;
  $("sessions-alone").hidden = others || state.sessions.length === 0;
}

async function loadSessions() {
  state.sessions = await call("GET", "/sessions");
  renderSessions();
}

/** After a sign-out the button pressed is gone: the focus goes to the section's heading. */
async function reloadSessions() {
  try {
    await loadSessions();
  } catch (error) {
    commonFailure(error, "sessions");
  }
  if (focusLost()) $("sessions-heading").focus();
}

/** The focused element was removed or hidden (the browser then leaves it on the body). */
function focusLost() {
  const focused = document.activeElement;
  return (
    !focused ||
    focused === document.body ||
    !focused.isConnected ||
    focused.closest("[hidden]") !== null
  );
}

async function endSession(entry) {
  if (state.sessionsBusy) return;
  state.sessionsBusy = true;
  showError(null, {}, "sessions");
  showStatus(null, {}, "sessions");
  try {
    await call("DELETE", `/sessions/${encodeURIComponent(entry.id)}`);
    showStatus("sessions.signed_out", { device: deviceText(entry.device) }, "sessions");
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      showStatus("sessions.gone", {}, "sessions"); // it ended meanwhile: the list will say so
    } else {
      commonFailure(error, "sessions");
    }
  } finally {
    state.sessionsBusy = false;
  }
  await reloadSessions();
}

async function endOtherSessions() {
  if (state.sessionsBusy) return;
  state.sessionsBusy = true;
  showError(null, {}, "sessions");
  showStatus(null, {}, "sessions");
  try {
    await call("DELETE", "/sessions");
    showStatus("sessions.others_signed_out", {}, "sessions");
  } catch (error) {
    commonFailure(error, "sessions");
  } finally {
    state.sessionsBusy = false;
  }
  await reloadSessions();
}

// --- password change --------------------------------------------------------------------------

function waitBeforePasswordChange(seconds) {
  if (state.stopPasswordWait) state.stopPasswordWait();
  const wait = $("password-wait");
  wait.hidden = false;
  $("change-password").disabled = true;
  state.stopPasswordWait = countdown(
    Date.now() + seconds * 1000,
    (left) => setText(wait, "common.wait", { time: formatDuration(left) }),
    () => {
      state.stopPasswordWait = null;
      wait.hidden = true;
      clearText(wait);
      $("change-password").disabled = false;
    },
  );
}

async function changePassword() {
  if (state.passwordBusy || state.stopPasswordWait) return;
  const password = $("current-password").value;
  const newPassword = $("new-password").value;
  if (!password || !newPassword) {
    showError("password.missing", {}, "password");
    (password ? $("new-password") : $("current-password")).focus();
    return;
  }
  state.passwordBusy = true;
  $("change-password").disabled = true;
  showError(null, {}, "password");
  showStatus("password.saving", {}, "password");
  try {
    await call("POST", "/password", { body: { password, new_password: newPassword } });
    $("current-password").value = "";
    $("new-password").value = "";
    showStatus("password.changed", {}, "password");
    // Every other session ended with the old password.
    await reloadSessions();
  } catch (error) {
    showStatus(null, {}, "password");
    passwordChangeFailed(error);
  } finally {
    state.passwordBusy = false;
    if (!state.stopPasswordWait) $("change-password").disabled = false;
  }
}

function passwordChangeFailed(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "invalid_credentials") {
    showError("err.wrong_current_password", {}, "password");
    $("current-password").value = "";
    $("current-password").focus();
  } else if (error.code === "weak_password") {
    const [key, params] = weakPasswordReason(error.problem);
    showError(key, params, "password");
    $("new-password").select();
    $("new-password").focus();
  } else if (error.status === 429) {
    showError("err.password_limit", {}, "password");
    $("current-password").value = "";
    waitBeforePasswordChange(error.retryAfter ?? 60);
  } else if (error.status === 503) {
    showError("err.unavailable", {}, "password");
    waitBeforePasswordChange(error.retryAfter ?? 5);
  } else {
    commonFailure(error, "password");
  }
}

// --- wiring -----------------------------------------------------------------------------

async function init() {
  initI18n();
  onLanguageChange(() => {
    renderSession();
    renderCode();
    renderHistory();
    renderSessions();
  });
  $("generate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    generate();
  });
  $("revoke").addEventListener("click", revoke);
  $("copy").addEventListener("click", copyCode);
  $("logout").addEventListener("click", logout);
  $("sessions-end-others").addEventListener("click", endOtherSessions);
  $("password-form").addEventListener("submit", (event) => {
    event.preventDefault();
    changePassword();
  });
  try {
    const me = await call("GET", "/session");
    state.account = me.account;
    state.session = me.session;
    renderSession();
    await Promise.all([loadCurrent(), loadHistory(), loadSessions()]);
  } catch (error) {
    commonFailure(error);
  }
}

init();
