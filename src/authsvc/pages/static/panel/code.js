// Your details → Authorization code: generate, show, revoke; the history of support checks;
// who is signed in and Log out.

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
} from "../assets/ui.js";

const $ = (id) => document.getElementById(id);
const LOGIN_PAGE = "./";

const state = {
  account: null,
  session: null,
  shown: null, // {code, expires_at} right after generation; gone after a reload
  current: null, // GET /auth-codes/current
  history: [],
  stopExpiry: null,
  stopWait: null,
  busy: false,
};

function toLogin(reason) {
  window.location.replace(`${LOGIN_PAGE}?reason=${reason}`);
}

/** Errors every call on this page may meet; true when handled. */
function commonFailure(error) {
  if (!(error instanceof ApiError)) throw error;
  if (error.code === "not_authenticated") {
    toLogin("session");
    return true;
  }
  if (error.status === 0) showError("err.network");
  else if (error.code === "csrf_rejected") showError("err.csrf_rejected");
  else showError("err.generic", { status: error.status });
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

// --- wiring -----------------------------------------------------------------------------

async function init() {
  initI18n();
  onLanguageChange(() => {
    renderSession();
    renderCode();
    renderHistory();
  });
  $("generate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    generate();
  });
  $("revoke").addEventListener("click", revoke);
  $("copy").addEventListener("click", copyCode);
  $("logout").addEventListener("click", logout);
  try {
    const me = await call("GET", "/session");
    state.account = me.account;
    state.session = me.session;
    renderSession();
    await Promise.all([loadCurrent(), loadHistory()]);
  } catch (error) {
    commonFailure(error);
  }
}

init();
